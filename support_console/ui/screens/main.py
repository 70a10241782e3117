"""The console's working screen: customers, the conversation, the draft.

The screen coordinates and nothing more: it owns the :class:`DraftSession` (what the agent has open), hands
it to the columns (attributes down), turns keys into their calls and passes on what one column tells the
others (messages up). The columns do the work: :class:`QueueList` (the work queue, rows read in a thread),
:class:`ConversationView` (transcript, incoming box, recording messages), :class:`DraftColumn` (drafting).
No store call runs on the event loop: the session's run on its thread, the other reads in worker threads.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING, ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Horizontal
from textual.widgets import Header

from support_console.config.settings import save_agent_name
from support_console.core.errors import SupportConsoleError
from support_console.core.safe_text import visible
from support_console.core.vocabulary import ROLE_CUSTOMER, ROLE_NOTE
from support_console.ui.screens.bindings import MAIN_BINDINGS, key_name
from support_console.ui.screens.laid_out_once import LaidOutOnce
from support_console.ui.screens.team import TeamActions
from support_console.ui.widgets.conversation import ConversationView
from support_console.ui.widgets.draft_column import DraftColumn
from support_console.ui.widgets.footer import KeyFooter
from support_console.ui.widgets.live import LiveUpdates
from support_console.ui.widgets.notices import NoticeBar
from support_console.ui.widgets.queue_list import Entry, QueueList
from support_console.ui.widgets.reply_out import deliver, open_in_editor, write_to_file
from support_console.ui.widgets.transcript import PAGE
from support_console.workflows.draft_session import DraftSession, NotReady

if TYPE_CHECKING:
    from support_console.store import CustomerRecord, CustomerSummary, Message, QueueRow
    from support_console.ui.widgets.draft_pane import DraftPane
    from support_console.ui.widgets.incoming import IncomingBox
    from support_console.ui.widgets.transcript import Transcript
    from support_console.workflows.draft_session import OpenConversation
    from support_console.workflows.services import Services

CUSTOMER_LIMIT = 100
"""Rows listed at once (a queue view's first rows, or the customers a filter finds); the filter box finds
the rest. Laying out each option costs the list time, so thousands would slow the console's start for no
use."""

WAIT_NOTICE_AFTER = 0.5
"""Seconds a store call may take before the header says the console is waiting for the database."""


class MainScreen(TeamActions, LaidOutOnce[None]):
    """The one working screen of the console."""

    BINDINGS: ClassVar[list[BindingType]] = list(MAIN_BINDINGS)
    AUTO_FOCUS = "#customer-options"
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (140, "-wide")]  # noqa: RUF012 (Textual declares it)

    def __init__(self, services: Services) -> None:
        super().__init__()
        self.services = services
        self.session = DraftSession(services)
        self._unseen: list[int] = []  # conversations opened before the store, to mark seen once it is open

    def compose(self) -> ComposeResult:
        self.set_breakpoint_class()
        yield Header()
        with Horizontal(id="body"):
            yield QueueList(self._load_queue, id="customers")
            yield ConversationView(self.session, self.key, id="conversation")
            yield DraftColumn(self.services, self.session, self.key, id="draft-column")
        yield NoticeBar(id="notices")
        yield KeyFooter()
        yield LiveUpdates(self.services)

    def on_mount(self) -> None:
        self.customers.empty_hint = f"No customers here: {self.key('add_customer')} adds one."
        self.customers.view_hint = f"{self.key('queue_view')} or 1-7: views"
        self.customers.refresh_list()
        self.drafting.show_persona()
        self._show_header()
        self.set_interval(0.25, self._show_header)

    def _load_queue(self, view: str, query: str) -> list[QueueRow] | list[CustomerSummary]:
        """The list's rows (called in a thread): a queue view needs no open store (see Services); a filter
        lists the matching customers."""
        if not query.strip():
            return self.services.first_queue(view, CUSTOMER_LIMIT, self.session.agent_name)
        return self.services.store.list_customers(query, limit=CUSTOMER_LIMIT)

    def _show_header(self) -> None:
        """The header: who is working and the open conversation's status, or that the database is busy."""
        if self.session.queue.busy_for > WAIT_NOTICE_AFTER:
            self.sub_title = "waiting for the database (another program is writing to it)…"
            return
        parts = self.team_header()  # first: who else is here is the warning that must not be cut at 80
        parts.append(f"agent: {visible(self.session.agent_name) or 'not set'}")
        conversation = self.session.conversation
        if conversation is not None:
            parts.append(f"conversation {conversation.id}: {conversation.status}")
        self.sub_title = " · ".join(parts)

    def key(self, binding_id: str) -> str:
        """The key an action is on now (after [keys] rebinding), as the footer shows it, for hints."""
        return key_name(self.app, self.services.settings.keys, binding_id)

    # -- the parts, and what the session holds (read by the app, the palette and the tests) --------------

    @property
    def notices(self) -> NoticeBar:
        return self.query_one(NoticeBar)

    @property
    def customers(self) -> QueueList:
        return self.query_one(QueueList)

    @property
    def conversation_view(self) -> ConversationView:
        return self.query_one(ConversationView)

    @property
    def drafting(self) -> DraftColumn:
        return self.query_one(DraftColumn)

    @property
    def transcript(self) -> Transcript:
        return self.conversation_view.transcript

    @property
    def incoming(self) -> IncomingBox:
        return self.conversation_view.incoming

    @property
    def draft(self) -> DraftPane:
        return self.drafting.pane

    @property
    def customer(self) -> CustomerRecord | None:
        return self.session.customer

    @property
    def conversation(self) -> OpenConversation | None:
        return self.session.conversation

    @property
    def persona_id(self) -> str | None:
        return self.session.persona_id

    @property
    def streaming(self) -> bool:
        return self.drafting.streaming

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "stop":
            return self.drafting.generating
        return True

    # -- customers -------------------------------------------------------------------------------------

    @on(QueueList.Selected)
    def _customer_selected(self, event: QueueList.Selected) -> None:
        event.stop()
        self.open_customer(event.customer_id, event.conversation_id)

    def open_customer(self, customer_id: int, conversation_id: int | None = None) -> None:
        """Show the customer's open conversation (or ``conversation_id``) and restore its saved draft (never
        asks the model); the focus goes to where the agent acts next."""
        if self.drafting.generating or self.drafting.sending:
            what = "is streaming" if self.drafting.generating else "is being sent"
            self.notify(
                f"A draft {what}: stop it ({self.key('stop')}) or let it finish before switching customers.",
                severity="warning",
                markup=False,
            )
            return
        self.drafting.save_unsaved_edit()  # queued first: the session saves it before it switches
        self._open(customer_id, conversation_id)

    @work(exclusive=True, group="open", exit_on_error=False)
    async def _open(self, customer_id: int, conversation_id: int | None = None) -> None:
        try:
            opened = await self.session.open(customer_id, PAGE, conversation_id)
        except SupportConsoleError as error:
            self.notify(str(error), title="Not opened", severity="error", markup=False)
            return
        self.transcript.load_page = self._page
        self.conversation_view.show_opened(opened)
        self.drafting.show_opened(opened)
        entry = self.open_entry
        if entry is not None:
            self.customers.highlight(entry)
        # Where the agent acts next: the reply, or the box for the customer's first message.
        (self.draft.editor if opened.conversation is not None else self.incoming.area).focus()
        conversation = opened.conversation
        if not self.services.store_is_open:  # opened from the file, the store still to open behind it:
            if conversation is not None and conversation.id is not None and conversation.unread_count:
                self._unseen.append(conversation.id)  # marked seen as soon as it is open (store_opened),
            return  # not now: opening it (SQLAlchemy's imports) would compete with drawing this conversation
        if await self._mark_open_seen():
            self.customers.refresh_list()

    @work(group="seen", exit_on_error=False)
    async def _mark_unseen(self) -> None:
        """The conversations opened before the store was: seen now, then the queue reloaded."""
        unseen, self._unseen = self._unseen, []
        agent = self.session.agent_name or None  # who saw them
        try:
            for conversation_id in unseen:
                await asyncio.to_thread(self.services.store.mark_seen, conversation_id, agent)
        except SupportConsoleError as error:
            self.notify(str(error), severity="error", markup=False)
        self.customers.refresh_list()

    @work(group="seen", exit_on_error=False)
    async def _seen_and_listed(self) -> None:
        """Mark the open conversation seen (what the agent has on screen is not unread), then reload the
        queue."""
        await self._mark_open_seen()
        self.customers.refresh_list()

    async def _mark_open_seen(self) -> bool:
        """Mark the open conversation seen; True when something in it was unseen (the queue's mark goes),
        False when nothing was, or the store refused (the agent is told)."""
        try:
            return await self.session.mark_seen()
        except SupportConsoleError as error:
            self.notify(str(error), severity="error", markup=False)
            return False

    @property
    def open_entry(self) -> Entry | None:
        """The queue row of what is open (a customer without a conversation: their customer row)."""
        if self.session.customer is None:
            return None
        return Entry(self.session.customer.id, self.session.conversation_id)

    def action_next_waiting(self) -> None:
        """Open the conversation whose customer has waited longest (not the one open now)."""
        self._next_waiting(self.session.conversation_id)

    @work(exclusive=True, group="next-waiting", exit_on_error=False)
    async def _next_waiting(self, skip: int | None) -> None:
        try:
            row = await asyncio.to_thread(self.services.store.next_waiting, skip, self.session.agent_name)
        except SupportConsoleError as error:
            self.notify(str(error), title="Not opened", severity="error", markup=False)
            return
        if row is None:
            self.notify("No other conversation is waiting for a reply (other agents' are left to them).",
                        markup=False)  # fmt: skip
            return
        self.open_customer(row.customer_id, row.conversation_id)

    def action_queue_step(self, delta: int) -> None:
        """Open the next (or previous) row of the queue; the focus stays in the conversation."""
        entry = self.customers.step(delta, self.open_entry)
        if entry is None:
            where = "end" if delta > 0 else "top"
            self.notify(f"That is the {where} of the queue.", markup=False)
            return
        self.open_customer(entry.customer_id, entry.conversation_id)

    def action_queue_view(self) -> None:
        self.customers.next_view()

    def open_conversation(self, conversation_id: int) -> None:
        """Open a conversation by id (from the logs or the audit view) to reply to it."""
        self._open_by_id(conversation_id)

    @work(exclusive=True, group="open-by-id", exit_on_error=False)
    async def _open_by_id(self, conversation_id: int) -> None:
        try:
            conversation = await asyncio.to_thread(self.services.store.get_conversation, conversation_id)
        except SupportConsoleError as error:
            self.notify(str(error), title="Not opened", severity="error", markup=False)
            return
        self.open_customer(conversation.customer_id, conversation_id)

    def action_customer_panel(self) -> None:
        from support_console.ui.screens.customer_panel import CustomerPanel

        customer = self.session.customer
        if customer is None:
            self.notify("Open a customer first: their details are shown here.", markup=False)
            return
        self.app.push_screen(CustomerPanel(self.services, self.session), self._customer_edited)

    # -- agent-assist panels and thumbs ----------------------------------------------------------------

    def action_summary(self) -> None:
        """Show the conversation's summary (stored, stale or new), to read or add as a hand-over note."""
        from support_console.ui.screens.assist_panels import SummaryPanel

        if self.session.conversation_id is None:
            self.notify("Open a conversation first: its summary is shown here.", markup=False)
            return
        self.app.push_screen(SummaryPanel(self.services, self.session), self._note_added)

    def _note_added(self, message: Message | None) -> None:
        if message is not None:
            self.transcript.append(message)
            self.notify("Summary added as an internal note (never sent to the customer).", markup=False)

    def action_translation(self) -> None:
        """Read the draft in the agent's language (it is still sent in the customer's)."""
        from support_console.ui.screens.assist_panels import TranslationView

        text = self.draft.text
        if not text.strip():
            self.notify("There is no draft to translate.", markup=False)
            return
        self.app.push_screen(TranslationView(self.services, self.session, text))

    def action_rate(self, rating: int) -> None:
        """Thumbs up (1) or down (-1) on the draft the pane holds, with an optional reason."""
        from support_console.ui.screens.rating import ask_rating

        if self.session.draft_id is None:
            self.notify("There is no model draft to rate.", markup=False)
            return
        ask_rating(self.app, rating, lambda reason: self._rate(rating, reason))

    @work(group="rating", exit_on_error=False)
    async def _rate(self, rating: int, reason: str) -> None:
        draft_id, store, agent = self.session.draft_id, self.services.store, self.session.agent_name
        if draft_id is None:
            return

        def rate() -> bool:
            generation = store.draft_generation(draft_id)
            if generation is None:
                return False
            store.rate_generation(generation, rating, reason=reason, agent=agent or None)
            return True

        try:
            done = await self.session.queue.run(rate)
        except SupportConsoleError as error:
            self.notify(str(error), title="Rating not saved", severity="error", markup=False)
            return
        thumb = "up" if rating > 0 else "down"  # the notice says it was saved (or why not)
        self.notify(f"Thumbs {thumb} saved." if done else "A hand-written draft has no generation to rate.",
                    markup=False)  # fmt: skip

    def _customer_edited(self, changed: bool | None) -> None:
        if changed:
            self.conversation_view.show_title()
            self.drafting.show_persona()
            self.notify("Customer attributes saved.", markup=False)

    def _page(self, conversation_id: int, before_id: int | None, limit: int) -> list[Message]:
        return self.services.store.page_messages(conversation_id, before_id, limit)

    def action_find_customer(self) -> None:
        self.customers.focus_filter()

    def action_add_customer(self) -> None:
        from support_console.ui.screens.add_customer import AddCustomerScreen

        async def add(name: str, email: str, external_id: str | None) -> int:
            customer = await asyncio.to_thread(self.services.store.add_customer, name, email, external_id)
            if customer.id is None:
                raise SupportConsoleError("The new customer was not stored: try again.")
            return customer.id

        def added(customer_id: int | None) -> None:
            if customer_id is not None:
                self.customers.refresh_list(select_id=customer_id)
                self.open_customer(customer_id)
                self.incoming.area.focus()

        self.app.push_screen(AddCustomerScreen(add), added)

    def action_load_earlier(self) -> None:
        self.transcript.load_earlier()

    def action_load_later(self) -> None:
        self.transcript.load_later()

    # -- incoming messages and notes -------------------------------------------------------------------

    def action_add_message(self) -> None:
        self.conversation_view.record(ROLE_CUSTOMER)

    def action_add_note(self) -> None:
        self.conversation_view.record(ROLE_NOTE)

    @on(ConversationView.Recorded)
    def _recorded(self, event: ConversationView.Recorded) -> None:
        event.stop()
        recorded = event.recorded
        if recorded.opened_conversation and recorded.conversation.id is not None:
            self.drafting.conversation_started(recorded.conversation.id)
        self._seen_and_listed()  # the agent typed it in: seen
        if event.role == ROLE_CUSTOMER:
            self.drafting.customer_wrote(recorded.message.text)
            self.notify("Customer message added.", markup=False)
        else:
            self.notify("Internal note added (never sent to the model or the customer).", markup=False)

    # -- drafting (the draft column does the work) -----------------------------------------------------

    def action_generate(self) -> None:
        """Draft a reply with the model; a draft already in the pane is replaced (after asking, if edited)."""
        self.drafting.generate()

    def action_regenerate(self) -> None:
        """A fresh draft in place of the current one (as generate), on its own key for habit's sake."""
        self.drafting.generate()

    def action_stop(self) -> None:
        self.drafting.stop()

    def action_write(self) -> None:
        self.drafting.write()

    def action_approve(self, status: str | None = None) -> None:
        """Approve & send the draft; with ``status``, also mark the conversation (one key, one step)."""
        self.drafting.approve(status)

    def action_discard(self) -> None:
        self.drafting.discard()

    def action_macro(self) -> None:
        """Insert a canned reply at the cursor (or adapt one with the model): the picker."""
        self.drafting.macros.pick()

    def action_rewrite(self) -> None:
        """Rewrite the selected text, or the whole draft, with a rewrite tool (preview first)."""
        self.drafting.rewriter.start()

    def measure(self) -> None:
        """Show what the next request would cost in the draft header; sends nothing."""
        self.drafting.measure()

    @on(DraftColumn.ReplySent)
    def _reply_sent(self, event: DraftColumn.ReplySent) -> None:
        event.stop()
        self.transcript.append(event.message)
        self.conversation_view.show_title()
        self.customers.refresh_list()
        if self.draft.editor.has_focus:  # not left in the emptied draft: a stray key there, then the send
            self.customers.focus_list()  # key, would send it as a reply of its own without a question

    @on(DraftColumn.ConversationChanged)
    def _draft_stale(self, event: DraftColumn.ConversationChanged) -> None:
        """The send-time guard refused the draft: show the agent what changed (the transcript, now)."""
        event.stop()
        self._reread()

    @on(DraftColumn.ContextMeasured)
    def _context_measured(self, event: DraftColumn.ContextMeasured) -> None:
        event.stop()
        self.transcript.set_context(event.first_kept_id, event.dropped)

    # -- the last reply, out of the console (palette commands: see reply_out.REPLY_COMMANDS) ------------

    def _last_reply(self) -> str | None:
        text = self.drafting.last_reply
        if text is None:
            self.notify("No reply has been sent in this session yet.", severity="information", markup=False)
        return text

    @work(group="reply-out", exit_on_error=False)
    async def action_copy_last_reply(self) -> None:
        text = self._last_reply()
        if text is not None:
            copied = await deliver(self.app, self.services.settings.clipboard, text)
            self.notify(copied.notice, markup=False)

    @work(group="reply-out", exit_on_error=False)
    async def action_write_last_reply(self) -> None:
        text = self._last_reply()
        if text is None:
            return
        path = await write_to_file(self.app, self.services.settings.clipboard, text)
        if path is not None:
            self.notify(f"The last reply is in {path}.", markup=False)

    @work(group="reply-out", exit_on_error=False)
    async def action_edit_last_reply(self) -> None:
        text = self._last_reply()
        if text is not None:
            await open_in_editor(self.app, self.services.settings.clipboard, text)

    # -- status ----------------------------------------------------------------------------------------

    def action_set_status(self, status: str) -> None:
        if self.session.customer is None:  # with a customer, a conversation may be on its way
            self._no_conversation_to_mark()
            return
        self._set_status(status)

    def _no_conversation_to_mark(self) -> None:
        self.notify(
            "There is no conversation to mark: select a customer with one first.",
            severity="warning",
            markup=False,
        )

    @work(group="status", exit_on_error=False)
    async def _set_status(self, status: str) -> None:
        try:
            await self.session.set_status(status)
        except NotReady:
            self._no_conversation_to_mark()
            return
        except SupportConsoleError as error:
            self.notify(str(error), title="Status not changed", severity="error", markup=False)
            return
        self.conversation_view.show_title()
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
        self.app.push_screen(PersonaPicker(personas, self.session.persona_id), self._persona_chosen)

    def _persona_chosen(self, persona_id: str | None) -> None:
        if persona_id is not None:
            self.use_persona(persona_id)

    def use_persona(self, persona_id: str) -> None:
        """Make ``persona_id`` the persona of this conversation (and of the next draft)."""
        persona = self.services.personas.personas.get(persona_id)
        if persona is None:
            self.notify(f"Persona '{persona_id}' is no longer available.", severity="error", markup=False)
            return
        self._use_persona(persona_id, persona.name)

    @work(group="persona-choice", exit_on_error=False)
    async def _use_persona(self, persona_id: str, name: str) -> None:
        try:
            await self.session.set_persona(persona_id)
        except SupportConsoleError as error:  # the persona is used anyway; only remembering it failed
            self.notify(str(error), title="Persona not remembered", severity="error", markup=False)
        self.drafting.persona_changed()
        self.notify(f"Persona: {name}", markup=False)

    def action_accept_suggestion(self) -> None:
        persona_id = self.drafting.banner.persona_id
        if persona_id is None:
            self.notify("There is no persona suggestion right now.", severity="information", markup=False)
            return
        self.use_persona(persona_id)

    def personas_reloaded(self) -> None:
        """Called by the app when persona files changed on disk."""
        self.session.personas_reloaded()
        self.drafting.show_persona()

    def store_opened(self) -> None:
        """The store finished opening after the first frame: show what needed it (the served model), and
        follow what other consoles change."""
        self.drafting.show_persona()
        self.live.start()
        if self._unseen:
            self._mark_unseen()

    # -- who is working --------------------------------------------------------------------------------

    @on(DraftColumn.NameNeeded)
    def _name_needed(self, event: DraftColumn.NameNeeded) -> None:
        event.stop()
        status = event.status
        self.ask_agent_name(then=lambda: self.drafting.approve(status))  # the send goes on, checks and all

    def ask_agent_name(self, then: Callable[[], None] | None = None) -> None:
        """Ask who is working and save it under [agent] name (asked once: the file has it from then on);
        ``then`` runs once a name is given (not when the agent closes the question)."""
        from support_console.ui.screens.agent_name import AgentNameScreen

        if any(isinstance(screen, AgentNameScreen) for screen in self.app.screen_stack):
            return
        path = self.services.settings.config_path

        async def save(name: str) -> None:
            await asyncio.to_thread(save_agent_name, path, name)

        def saved(name: str | None) -> None:
            if name is not None:
                self.session.agent_name = name.strip()
                self._show_header()
                self.notify(f"Signed in as {visible(name.strip())} (saved in {path}).", markup=False)
                if then is not None and self.session.agent_name:
                    then()

        self.app.push_screen(AgentNameScreen(save, self.session.agent_name, str(path)), saved)

    # -- quitting --------------------------------------------------------------------------------------

    async def save_before_quit(self) -> SupportConsoleError | None:
        """Save everything not saved yet (a draft stopped for the quit, the newest edit, a draft whose save
        failed); the error, if any."""
        try:
            await self.session.stream_ended()
            self.drafting.save_unsaved_edit()
            await self.session.flush()
        except SupportConsoleError as error:
            return error
        return None
