"""The console: customers and the conversation on the left, the draft on the right.

The screen coordinates; widgets only show things. This half handles the layout, customers, incoming
messages, status and personas; :class:`DraftActions` (draft_actions.py) handles everything about the draft.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import Footer, Header, Static

from support_console.core.errors import SupportConsoleError
from support_console.core.vocabulary import (
    ROLE_CUSTOMER,
    ROLE_NOTE,
    STATUS_OPEN,
    STATUS_PENDING,
    STATUS_RESOLVED,
)
from support_console.ui.screens.bindings import MAIN_BINDINGS
from support_console.ui.screens.draft_actions import DraftActions
from support_console.ui.widgets.customer_list import CustomerList
from support_console.ui.widgets.draft_pane import DraftPane, Meter
from support_console.ui.widgets.incoming import IncomingBox
from support_console.ui.widgets.suggestion import SuggestionBanner
from support_console.ui.widgets.text import literal
from support_console.ui.widgets.transcript import Transcript
from support_console.workflows.drafting import Drafter, choose_persona

if TYPE_CHECKING:
    from support_console.store import Conversation, CustomerSummary

CUSTOMER_LIMIT = 100
"""Customers listed at once (open first, newest activity first); the filter box finds the rest. Laying out
each option costs the list time, so thousands would slow the console's start for no use."""


class MainScreen(DraftActions):
    """The one working screen of the console."""

    BINDINGS: ClassVar[list[BindingType]] = list(MAIN_BINDINGS)
    AUTO_FOCUS = "#customer-options"
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (140, "-wide")]  # noqa: RUF012 (Textual declares it)

    # -- layout ----------------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="body"):
            yield CustomerList(self._load_customers, id="customers")
            with Vertical(id="conversation"):
                yield Static(id="conversation-title", markup=False)
                yield Transcript(id="transcript")
                yield IncomingBox(
                    f"{self.key('add_message')} add as customer message · "
                    f"{self.key('add_note')} add as internal note",
                    id="incoming",
                )
            with Vertical(id="draft-column"):
                yield SuggestionBanner(id="suggestion")
                yield DraftPane(id="draft")
        yield Footer()

    def on_mount(self) -> None:
        self.customers.empty_hint = f"No customers here: {self.key('add_customer')} adds one."
        self.customers.refresh_list()
        self.transcript.load_key = self.key("load_earlier")
        self.transcript.clear()
        self._show_title()
        self._show_persona()
        if self.services.client is None:
            self.draft.set_status(
                f"No model provider configured: write replies by hand ({self.key('write')})."
            )

    def _load_customers(self, query: str) -> list[CustomerSummary]:
        if not query.strip():  # the first frame's list: needs no open store (see Services)
            return self.services.first_customers(CUSTOMER_LIMIT)
        return self.services.store.list_customers(query, limit=CUSTOMER_LIMIT)

    def store_opened(self) -> None:
        """The store finished opening after the first frame: show what needed it (the served model)."""
        self._show_persona()

    # -- what is shown ---------------------------------------------------------------------------------

    def _show_title(self) -> None:
        title = self.query_one("#conversation-title", Static)
        if self.customer is None:
            title.update("No customer selected")
            return
        text = literal(self.customer.name, style="bold")
        text.append(f" <{self.customer.email}>", style="dim")
        if self.conversation is not None:
            text.append(f" · conversation {self.conversation.id} · {self.conversation.status}")
        else:
            text.append(" · no open conversation")
        title.update(text)

    def _show_persona(self, meter: Meter | None = None) -> None:
        personas = self.services.personas
        name = "—"
        model: str | None = None
        if self.persona_id and self.persona_id in personas.personas:
            persona = personas.personas[self.persona_id]
            name = persona.name
            if self.services.client is not None and self.services.store_is_open:
                try:
                    model = Drafter(self.services).resolve_model(persona).name
                except SupportConsoleError:
                    model = None
        if model is None and self.services.client is not None:
            model = self.services.settings.provider.model_name
        self.draft.show_context(name, model, meter)

    def _default_persona(self, conversation: Conversation | None) -> str | None:
        try:
            current = conversation.persona_id if conversation is not None else None
            return choose_persona(self.services.personas, "", conversation_persona=current).id
        except SupportConsoleError:
            return None

    def _suggest(self, text: str) -> None:
        banner = self.query_one(SuggestionBanner)
        suggested = self.services.personas.suggest(text) if text else None
        if suggested is None or suggested.id == self.persona_id:
            banner.dismiss()
            return
        banner.suggest(suggested.id, suggested.name, self.key("accept_suggestion"))

    # -- customers -------------------------------------------------------------------------------------

    @on(CustomerList.Selected)
    def _customer_selected(self, event: CustomerList.Selected) -> None:
        event.stop()
        self.open_customer(event.customer_id)

    def open_customer(self, customer_id: int) -> None:
        """Show the customer's open conversation and restore its saved draft (never asks the model)."""
        if self.streaming:
            self.notify(
                f"A draft is streaming: stop it ({self.key('stop')}) or let it finish before switching "
                "customers.",
                severity="warning",
                markup=False,
            )
            return
        self._save_unsaved_edit()
        store = self.services.store
        try:
            self.customer = store.get_customer(customer_id)
            self.conversation = store.open_conversation(customer_id)
        except SupportConsoleError as error:
            self.notify(str(error), severity="error", markup=False)
            return
        self._show_conversation()

    def _show_conversation(self) -> None:
        store = self.services.store
        conversation = self.conversation
        self.persona_id = self._default_persona(conversation)
        self.draft.conversation_id = conversation.id if conversation else None
        self.draft.clear_meter()
        last_customer_text = ""
        if conversation is None or conversation.id is None:
            name = self.customer.name if self.customer else "this customer"
            self.transcript.clear(
                f"No open conversation with {name}. Paste their message below and press "
                f"{self.key('add_message')} to start one."
            )
            self.draft.clear_draft()
        else:
            self.transcript.show_conversation(store, conversation.id)
            last_customer_text = self._last_customer_text()
            draft = store.pending_draft(conversation.id)
            if draft is None:
                self.draft.clear_draft()
            else:
                if draft.persona_id and draft.persona_id in self.services.personas.personas:
                    self.persona_id = draft.persona_id
                self.draft.load_draft(
                    draft.text,
                    draft_id=draft.id,
                    model_text=(draft.original_text if draft.original_text is not None else draft.text)
                    if draft.model
                    else None,
                    status="Restored the saved draft (not sent yet): edit it, approve it or discard it.",
                )
        self._show_title()
        self._show_persona()
        self._suggest(last_customer_text)
        # No measure() here: opening a conversation must stay instant and light (the token meter needs the
        # tiktoken tables, ~75 MB); it is measured when the agent adds a message, changes persona or drafts.

    def _last_customer_text(self) -> str:
        for view in reversed(list(self.transcript.query(".-customer"))):
            message_text = getattr(view, "message_text", None)
            if isinstance(message_text, str):
                return message_text
        return ""

    def action_find_customer(self) -> None:
        self.customers.focus_filter()

    def action_add_customer(self) -> None:
        from support_console.ui.screens.add_customer import AddCustomerScreen

        def add(name: str, email: str, external_id: str | None) -> int:
            customer = self.services.store.add_customer(name, email, external_id)
            assert customer.id is not None
            return customer.id

        def added(customer_id: int | None) -> None:
            if customer_id is not None:
                self.customers.refresh_list(select_id=customer_id)
                self.open_customer(customer_id)
                self.incoming.area.focus()

        self.app.push_screen(AddCustomerScreen(add), added)

    def action_load_earlier(self) -> None:
        self.transcript.load_earlier()

    # -- incoming messages and notes -------------------------------------------------------------------

    def action_add_message(self) -> None:
        self._add_incoming(ROLE_CUSTOMER)

    def action_add_note(self) -> None:
        self._add_incoming(ROLE_NOTE)

    def _add_incoming(self, role: str) -> None:
        text = self.incoming.text
        if self.customer is None or self.customer.id is None:
            self.notify(
                f"Select a customer first ({self.key('find_customer')} finds one, "
                f"{self.key('add_customer')} adds one).",
                severity="warning",
                markup=False,
            )
            return
        if not text.strip():
            what = "the customer's message" if role == ROLE_CUSTOMER else "the note"
            self.notify(f"The box is empty: paste or type {what} first.", severity="warning", markup=False)
            self.incoming.area.focus()
            return
        store = self.services.store
        try:
            if self.conversation is None:
                self.conversation = store.current_conversation(self.customer.id, self.persona_id)
                assert self.conversation.id is not None
                self.transcript.show_conversation(store, self.conversation.id)
                self.draft.conversation_id = self.conversation.id
            assert self.conversation.id is not None
            message = store.add_message(self.conversation.id, role, text)
        except SupportConsoleError as error:
            self.notify(str(error), severity="error", markup=False)
            return
        self.incoming.clear()
        self.transcript.append(message)
        self.conversation = store.get_conversation(self.conversation.id)
        self._show_title()
        self.customers.refresh_list()
        if role == ROLE_CUSTOMER:
            self._suggest(text)
            self.draft.clear_meter()
            self.measure()
            self.notify("Customer message added.", markup=False)
        else:
            self.notify("Internal note added (never sent to the model or the customer).", markup=False)

    # -- status ----------------------------------------------------------------------------------------

    def action_set_status(self, status: str) -> None:
        if self.conversation is None or self.conversation.id is None:
            self.notify(
                "There is no conversation to mark: select a customer with one first.",
                severity="warning",
                markup=False,
            )
            return
        assert status in (STATUS_OPEN, STATUS_PENDING, STATUS_RESOLVED)
        try:
            self.services.store.set_status(self.conversation.id, status)
            self.conversation = self.services.store.get_conversation(self.conversation.id)
        except SupportConsoleError as error:
            self.notify(str(error), severity="error", markup=False)
            return
        self._show_title()
        self.customers.refresh_list()
        self.notify(f"Conversation marked {status}.", markup=False)

    # -- personas --------------------------------------------------------------------------------------

    def action_persona(self) -> None:
        from support_console.ui.screens.persona_picker import PersonaPicker

        personas = self.services.personas.ordered()
        if not personas:
            self.notify(
                "No personas are loaded: add a persona file and it will be picked up.",
                severity="error",
                markup=False,
            )
            return
        self.app.push_screen(PersonaPicker(personas, self.persona_id), self._persona_chosen)

    def _persona_chosen(self, persona_id: str | None) -> None:
        if persona_id is not None:
            self.use_persona(persona_id)

    def use_persona(self, persona_id: str) -> None:
        """Make ``persona_id`` the persona of this conversation (and of the next draft)."""
        if persona_id not in self.services.personas.personas:
            self.notify(f"Persona '{persona_id}' is no longer available.", severity="error", markup=False)
            return
        self.persona_id = persona_id
        if self.conversation is not None and self.conversation.id is not None:
            try:
                self.services.store.set_persona(self.conversation.id, persona_id)
            except SupportConsoleError as error:
                self.notify(str(error), severity="error", markup=False)
        self.query_one(SuggestionBanner).dismiss()
        self.draft.clear_meter()
        self._show_persona()
        self.measure()
        self.notify(f"Persona: {self.services.personas.personas[persona_id].name}", markup=False)

    def action_accept_suggestion(self) -> None:
        banner = self.query_one(SuggestionBanner)
        if banner.persona_id is None:
            self.notify("There is no persona suggestion right now.", severity="information", markup=False)
            return
        self.use_persona(banner.persona_id)

    def personas_reloaded(self) -> None:
        """Called by the app when persona files changed on disk."""
        if self.persona_id not in self.services.personas.personas:
            self.persona_id = self._default_persona(self.conversation)
        self._show_persona()
