"""The service factory: the one place that opens the store and creates the model client.

The CLI and the UI both receive a :class:`Services` instead of building engines or clients themselves, so a
test (or the console) decides once which database file and which provider are used, and nothing is created at
import time. The model client is ``None`` when no provider is configured: the console still starts, the store
and personas still work, and drafting says clearly that a provider is needed.
"""

from __future__ import annotations

from dataclasses import dataclass

from support_console.config import Settings
from support_console.llm import ModelClient
from support_console.personas import PersonaSet, load_personas
from support_console.store import Store


@dataclass
class Services:
    """Everything long-lived that the CLI and the app share, built once by :func:`build_services`."""

    settings: Settings
    store: Store
    personas: PersonaSet
    client: ModelClient | None

    def reload_personas(self) -> PersonaSet:
        """Re-read the persona files, so an edited persona takes effect without restarting the console."""
        self.personas = load_personas(self.settings.persona_dirs)
        return self.personas

    async def aclose(self) -> None:
        """Close the model client (its HTTP pool belongs to the running event loop), then the store."""
        if self.client is not None:
            await self.client.aclose()
        self.close()

    def close(self) -> None:
        """Close the store.

        The model client is asynchronous; close it with :meth:`aclose` inside the event loop that used it.
        Its pool holds no open request once a stream has finished, so a plain ``close`` at exit loses nothing.
        """
        self.store.close()


def build_services(settings: Settings) -> Services:
    """Open the store and load the personas; create the model client only when a provider is configured.

    The client builds its SDK object lazily, so this never touches the network.
    """
    store = Store.open(settings.db_url)
    try:
        personas = load_personas(settings.persona_dirs)
    except BaseException:
        store.close()
        raise
    client = ModelClient(settings.provider) if settings.provider.configured else None
    return Services(settings=settings, store=store, personas=personas, client=client)
