"""The customer panel: who the open customer is, their history with support, and their attributes (the values
persona placeholders such as ``{{ plan }}`` use), which the agent can edit here.

Attributes are edited as ``name = value`` lines; a ``language = de`` line sets the customer's language over
the one detected from their messages (``workflows/languages.py``), which the panel shows. The profile is read
and the attributes saved off the event loop (the read in a worker thread, the save on the draft session's
thread, so the next draft uses them). Errors show inside the dialog; nothing typed is lost.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label, Static

from support_console.core.errors import SupportConsoleError
from support_console.core.languages import language_name
from support_console.ui.widgets.safe_text_area import SafeTextArea
from support_console.ui.widgets.text import literal, timestamp
from support_console.workflows.languages import LANGUAGE_ATTRIBUTE, KnownLanguage, customer_language, set_code

if TYPE_CHECKING:
    from support_console.store import CustomerProfile
    from support_console.workflows.draft_session import DraftSession
    from support_console.workflows.services import Services


class AttributeLineError(ValueError):
    """A line of the attributes box is not ``name = value``; the message says which."""


def parse_attribute_lines(text: str) -> dict[str, str]:
    """``name = value`` lines as attributes (blank lines skipped; the value may hold ``=``)."""
    attributes: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        name, sep, value = line.partition("=")
        if not sep or not name.strip():
            raise AttributeLineError(f"Line {number} is not 'name = value': write it as plan = pro.")
        attributes[name.strip()] = value.strip()
    return attributes


def attribute_lines(attributes: dict[str, object]) -> str:
    """The attributes as the box shows them, one ``name = value`` line each."""
    return "".join(f"{name} = {value}\n" for name, value in attributes.items())


def profile_text(profile: CustomerProfile) -> Text:
    """Name, email, external id, conversations and first seen: literal text, never markup."""
    customer = profile.customer
    text = literal(customer.name, style="bold")
    text.append("\n")
    text.append(literal(customer.email))
    text.append("\n")
    text.append("External id: ", style="dim")
    text.append(literal(customer.external_id or "—"))
    text.append("\n")
    past = profile.conversations
    text.append(f"{past} conversation{'s' if past != 1 else ''} ({profile.resolved} resolved)")
    text.append(" · first seen ", style="dim")
    text.append(timestamp(profile.first_seen) if profile.first_seen else "—")
    return text


def language_text(known: KnownLanguage, agent_language: str) -> Text:
    """The customer's language, where it came from, and what follows for drafts."""
    if known.code is None:
        text = Text("Language: unknown (drafts follow yours); add a line language = CODE to set it")
    else:
        text = Text(f"Language: {language_name(known.code)} ({known.code}), {known.source}")
        if known.differs_from(agent_language):
            text.append(f" · drafts are written in it; ctrl+F2 translates a draft into {agent_language}")
        if known.source == "detected":
            text.append(" · a line language = CODE overrides it", style="dim")
    if known.ignored is not None:
        text.append("\n")
        text.append(
            literal(f"language = {known.ignored} is not a language code and is ignored"), style="yellow"
        )
    return text


class CustomerPanel(ModalScreen[bool]):
    """Dismisses with True when the attributes were saved, False otherwise."""

    #: On a short terminal (24 rows) the attributes box is smaller, so the hint below it stays on screen.
    VERTICAL_BREAKPOINTS = [(0, "-short"), (32, "-tall")]  # noqa: RUF012 (Textual declares it)
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Close", id="customer_panel_close"),
        Binding("ctrl+s", "save", "Save", id="customer_panel_save", priority=True),
    ]

    def __init__(self, services: Services, session: DraftSession) -> None:
        super().__init__()
        self._services = services
        self._session = session

    def compose(self) -> ComposeResult:
        with Vertical(id="customer-panel-dialog", classes="dialog"):
            yield Static("Customer", classes="dialog-title", markup=False)
            yield Static("Loading…", id="customer-profile", markup=False)
            yield Static("", id="customer-language", markup=False)
            yield Label("Attributes (name = value; personas use them as {{ name }})", markup=False)
            yield SafeTextArea(id="customer-attributes", soft_wrap=True, tab_behavior="focus")
            yield Static("", id="customer-panel-error", markup=False)
            yield Static("ctrl+s save · esc close", classes="dialog-hint", markup=False)

    def on_mount(self) -> None:
        customer = self._session.customer
        if customer is not None:
            self.query_one("#customer-attributes", SafeTextArea).load_text(
                attribute_lines(dict(customer.attributes))
            )
            self._read(customer.id)
        self.query_one("#customer-attributes", SafeTextArea).focus()

    @work(exclusive=True, group="customer-profile", exit_on_error=False)
    async def _read(self, customer_id: int) -> None:
        try:
            profile = await asyncio.to_thread(self._services.store.customer_profile, customer_id)
            known = await asyncio.to_thread(
                customer_language, self._services.store, profile.customer, self._session.conversation_id
            )
        except SupportConsoleError as error:
            self._error(str(error))
            return
        self.query_one("#customer-profile", Static).update(profile_text(profile))
        self.query_one("#customer-language", Static).update(language_text(known, self._agent_language))

    @property
    def _agent_language(self) -> str:
        return self._services.settings.agent_language

    def _error(self, message: str) -> None:
        self.query_one("#customer-panel-error", Static).update(message)

    def action_save(self) -> None:
        try:
            attributes = parse_attribute_lines(self.query_one("#customer-attributes", SafeTextArea).text)
        except AttributeLineError as error:
            self._error(str(error))
            return
        if set_code(attributes)[1] is not None:
            self._error(
                f"language = {attributes[LANGUAGE_ATTRIBUTE]!r} is not a language code: write a code such as "
                "de, fr or pt-br, or remove the line to detect it."
            )
            return
        self._save(attributes)

    @work(exclusive=True, group="customer-attributes", exit_on_error=False)
    async def _save(self, attributes: dict[str, str]) -> None:
        self._error("Saving…")
        try:
            await self._session.update_attributes(attributes)
        except SupportConsoleError as error:
            self._error(str(error))
            return
        self.dismiss(True)

    def action_cancel(self) -> None:
        self.dismiss(False)
