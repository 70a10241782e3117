"""The service factory: the one place that opens the store and creates the model client.

The CLI and the UI both receive a :class:`Services` instead of building engines or clients themselves, so a
test (or the console) decides once which database file and which provider are used, and nothing is created at
import time. The model client is ``None`` when no provider is configured: the console still starts, the store
and personas still work, and drafting says clearly that a provider is needed.

The console builds its services with ``open_store=False``: SQLAlchemy and sqlmodel cost about half a second
to import on a cold start, so the console draws its first frame from :meth:`Services.first_queue` (a
plain read of the SQLite file) and opens the store in a thread right after; a customer opened meanwhile is
read the same way (:meth:`Services.first_conversation`). Whoever needs the store before then simply waits
for it: :attr:`Services.store` opens it on first use, once, under a lock.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from support_console.config.settings import Settings
from support_console.core.errors import StoreError
from support_console.core.personas import PersonaSet, load_personas
from support_console.llm import ModelClient
from support_console.store.first_page import (
    FirstConversation,
    read_first_conversation,
    read_first_queue,
)
from support_console.workflows.server_facts import ServerKnowledge

if TYPE_CHECKING:
    from support_console.store import Store
    from support_console.store.queue_rows import QueueRow


class ServicesClosed(RuntimeError):
    """The services were closed (the console is quitting): the store is not opened again."""


class StoreUnavailable(StoreError):
    """The store could not be opened: every later use of it raises this again, with the same sentence.

    The console ends with it (``ui/app.py``) wherever it surfaces: the opening thread, or a screen that asked
    for the store meanwhile. Its sentence never holds a password (``Store.open`` says why).
    """


class Services:
    """Everything long-lived that the CLI and the app share, built once by :func:`build_services`."""

    def __init__(self, settings: Settings, personas: PersonaSet, client: ModelClient | None) -> None:
        self.settings = settings
        self.personas = personas
        self.client = client
        #: What the compatible server said about its models (window, names), learned once per process.
        self.server_knowledge = ServerKnowledge(settings.provider)
        self._store: Store | None = None
        self._store_lock = threading.Lock()
        self._closed = False
        self._open_failure: StoreUnavailable | None = None
        #: The first page could not be read from the file: the list needs reloading once the store is open.
        self.first_page_missed = False

    @property
    def store(self) -> Store:
        """The store, opened on first use (a call from another thread waits for the one opening it)."""
        return self._store if self._store is not None else self.open_store()

    @property
    def store_is_open(self) -> bool:
        return self._store is not None

    def open_store(self) -> Store:
        """Open the store (import SQLAlchemy, connect, migrate) unless it is open; safe from any thread."""
        with self._store_lock:
            if self._store is None:
                if self._closed:
                    raise ServicesClosed("These services are closed.")
                if self._open_failure is not None:  # tried once already: say the same again, at once
                    raise StoreUnavailable(str(self._open_failure))
                from support_console.store import Store

                try:
                    self._store = Store.open(self.settings.db_url, busy_timeout=self.settings.busy_timeout)
                except StoreError as exc:
                    self._open_failure = StoreUnavailable(str(exc))
                    raise self._open_failure from None  # the chain may hold the URL: keep it out
            return self._store

    def first_conversation(
        self, customer_id: int, limit: int, conversation_id: int | None = None
    ) -> FirstConversation | None:
        """While the store is still opening, a customer's conversation (their open one, or
        ``conversation_id``) read without SQLAlchemy (None once the store is open, or when the file cannot
        answer: then ask the store)."""
        if self._store is not None:
            return None
        return read_first_conversation(self.settings.db_url, customer_id, limit, conversation_id)

    def first_queue(self, view: str, limit: int, agent: str = "") -> list[QueueRow]:
        """A work-queue view; while the store is still closed, read without SQLAlchemy.

        When the file cannot answer (none yet, not a support-console database, another database URL) the
        list is empty for now, rather than opening the store here: the console opens it in a thread after
        its first frame, then reloads the list, or ends with the store's error.
        """
        if self._store is None:
            rows = read_first_queue(self.settings.db_url, view, limit, agent)
            self.first_page_missed = rows is None
            return rows or []
        return self._store.list_queue(view, limit, agent)

    def warm_up(self) -> None:
        """Load what the first draft would otherwise load on the event loop: the model SDK (about half a
        second of imports, building its client). Blocking: call it in a thread, after the first frame.
        Nothing is sent and no file is written.

        The token tables are not loaded here: they cost about 75 MB (o200k) for a console that may never
        draft, and they are first needed by ``Drafter.prepare``, which already runs in a thread (the token
        meter or the first generate), where loading them costs about a quarter of a second once
        (benchmarks/bench_ui_memory.py, bench_ui_stream.py).
        """
        if self.client is not None:
            self.client.warm_up()

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
        """Close the store (waiting for a thread that is opening it); it is not opened again after this.

        The model client is asynchronous; close it with :meth:`aclose` inside the event loop that used it.
        Its pool holds no open request once a stream has finished, so a plain ``close`` at exit loses nothing.
        """
        with self._store_lock:
            self._closed = True
            if self._store is not None:
                self._store.close()


def build_services(settings: Settings, *, open_store: bool = True) -> Services:
    """Load the personas, open the store (now, or on first use with ``open_store=False``), and create the
    model client only when a provider is configured.

    The client builds its SDK object lazily, so this never touches the network.
    """
    services = Services(settings, load_personas(settings.persona_dirs), None)
    if open_store:
        services.open_store()
    if settings.provider.configured:
        services.client = ModelClient(settings.provider)
    return services
