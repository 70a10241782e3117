"""Team mode on the main screen: take next, release and reassign, what other consoles changed (the queue
and the open transcript refresh in place), who else is on the open conversation, and the feed's connection.

A mixin of :class:`~support_console.ui.screens.main.MainScreen`, kept apart so the screen stays a
coordinator of columns: the keys' actions (``action_*``) and the :class:`LiveUpdates` messages'
handlers (``on_live_updates_*``, found by name) live here. Nothing here touches the draft pane: a refresh
keeps the agent's text, cursor and selection as they are.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual import work
from textual.screen import Screen

from support_console.core.errors import SupportConsoleError
from support_console.core.safe_text import visible
from support_console.core.vocabulary import ACTIVITY_DRAFTING, ACTIVITY_VIEWING
from support_console.ui.widgets.conversation import ConversationView
from support_console.ui.widgets.draft_column import DraftColumn
from support_console.ui.widgets.live import LiveUpdates
from support_console.ui.widgets.queue_list import QueueList
from support_console.workflows.draft_session import NotReady

if TYPE_CHECKING:
    from collections.abc import Callable

    from support_console.workflows.draft_session import DraftSession

    _Base = Screen[None]
else:
    _Base = object


class TeamActions(_Base):
    """Assignment keys, live updates and presence (see the module docstring)."""

    session: DraftSession
    presence_text = ""  # "Kim is drafting a reply", for the header
    live_problem: str | None = None  # the feed's lost connection, for the header

    if TYPE_CHECKING:

        def ask_agent_name(self, then: Callable[[], None] | None = None) -> None: ...
        def open_customer(self, customer_id: int, conversation_id: int | None = None) -> None: ...
        def _show_header(self) -> None: ...
        async def _mark_open_seen(self) -> bool: ...

    @property
    def live(self) -> LiveUpdates:
        return self.query_one(LiveUpdates)

    def team_header(self) -> list[str]:
        """What the header adds: who else is here, a lost feed; and tell the live thread what
        this console is doing (read by its next heartbeat)."""
        live = self.live
        drafting = self.query_one(DraftColumn)
        busy = drafting.generating or bool(drafting.pane.text.strip())
        live.conversation_id = self.session.conversation_id
        live.activity = ACTIVITY_DRAFTING if busy else ACTIVITY_VIEWING
        live.agent = self.session.agent_name
        parts = []  # (the assignee is on the conversation's title line)
        if self.presence_text:
            parts.append(self.presence_text)
        if self.live_problem is not None:
            parts.append("live updates lost: reconnecting…")
        return parts

    # -- keys ------------------------------------------------------------------------------------------

    def action_take_next(self) -> None:
        """Claim the longest-waiting unassigned conversation and open it."""
        self._take_next()

    @work(exclusive=True, group="take-next", exit_on_error=False)
    async def _take_next(self) -> None:
        try:
            row = await self.session.take_next()
        except NotReady:
            self.ask_agent_name(then=self.action_take_next)
            return
        except SupportConsoleError as error:
            self.notify(str(error), title="Nothing taken", severity="error", markup=False)
            return
        if row is None:
            self.notify("Nothing unassigned is waiting for a reply.", markup=False)
            return
        self.notify(f"Took conversation {row.conversation_id} ({visible(row.customer_name)}).", markup=False)
        self.query_one(QueueList).refresh_list()
        self.open_customer(row.customer_id, row.conversation_id)

    def action_release(self) -> None:
        """Hand the open conversation back to the unassigned queue."""
        if self._conversation_needed():
            self._assign(None)

    def action_reassign(self) -> None:
        """Give the open conversation to another agent (asked by name, checked against who works here)."""
        if self._conversation_needed():
            self._ask_assignee()

    @work(exclusive=True, group="reassign", exit_on_error=False)
    async def _ask_assignee(self) -> None:
        from support_console.ui.screens.assign import AssignScreen

        conversation_id = self.session.conversation_id
        if conversation_id is None:
            return
        current = getattr(self.session.conversation, "assignee", None)
        try:
            known = await self.session.agent_names()
        except SupportConsoleError:
            known = []  # the dialog still works: it cannot warn about an unknown name, the store matches case

        def chosen(name: str | None) -> None:
            if not name:
                return
            if self.session.conversation_id != conversation_id:  # another one was opened meanwhile
                self.notify(
                    f"Conversation {conversation_id} is no longer open: open it and reassign it again.",
                    title="Not reassigned",
                    severity="warning",
                    markup=False,
                )
                return
            self._assign(name)

        self.app.push_screen(AssignScreen(conversation_id, current, known), chosen)

    def _conversation_needed(self) -> bool:
        if self.session.conversation_id is None:
            self.notify("Open a conversation first.", severity="warning", markup=False)
            return False
        return True

    @work(group="assign", exit_on_error=False)
    async def _assign(self, assignee: str | None) -> None:
        try:
            conversation = await self.session.assign(assignee)
        except NotReady:

            def again() -> None:
                self._assign(assignee)

            self.ask_agent_name(then=again)
            return
        except SupportConsoleError as error:
            self.notify(
                str(error),
                title="Not reassigned" if assignee else "Not released",
                severity="error",
                markup=False,
            )
            return
        done = (
            f"given to {visible(conversation.assignee or '')}"
            if assignee
            else "released to the unassigned queue"
        )
        self.notify(f"Conversation {conversation.id} {done}.", markup=False)
        self.query_one(ConversationView).show_title()
        self.query_one(QueueList).refresh_list()
        self._show_header()

    # -- what the live thread tells ---------------------------------------------------------------------

    def on_live_updates_changed(self, event: LiveUpdates.Changed) -> None:
        event.stop()
        self.query_one(QueueList).refresh_list()  # keeps the highlighted row
        open_id = self.session.conversation_id
        changes = event.changes
        if open_id is not None and (changes.everything or open_id in changes.conversation_ids):
            self._reread()

    @work(exclusive=True, group="reread", exit_on_error=False)
    async def _reread(self) -> None:
        """Read the open conversation again and add what is new to the transcript (the draft stays); what
        is new is then seen."""
        try:
            reread = await self.session.reread()
        except SupportConsoleError as error:
            self.notify(str(error), severity="error", markup=False)
            return
        if reread is None or reread.conversation.id != self.session.conversation_id:
            return  # the agent opened another conversation meanwhile
        view = self.query_one(ConversationView)
        view.transcript.merge(reread.page)
        view.show_title()
        self._show_header()
        # What came is on the agent's screen now: not unread (written only if something was unseen, so two
        # consoles with the conversation open do not answer each other's "seen" for ever).
        if await self._mark_open_seen():
            self.query_one(QueueList).refresh_list()

    def on_live_updates_presence_seen(self, event: LiveUpdates.PresenceSeen) -> None:
        event.stop()
        if event.conversation_id != self.session.conversation_id:
            self.presence_text = ""
        else:
            self.presence_text = ", ".join(visible(p.describe()) for p in event.others)
        self._show_header()

    def on_live_updates_connection_changed(self, event: LiveUpdates.ConnectionChanged) -> None:
        event.stop()
        self.live_problem = event.problem
        if event.problem is not None:
            self.notify(
                f"Live updates lost ({event.problem}). Nothing you type is lost.",
                severity="warning",
                markup=False,
            )
        else:
            self.notify("Live updates are back.", markup=False)
            self._save_what_waited()
        self._show_header()

    @work(exclusive=True, group="reconnected", exit_on_error=False)
    async def _save_what_waited(self) -> None:
        """The database is back: save now what could not be saved while it was away (the newest edit, a
        model's draft), not at the agent's next key or at quit, so that a crash from here on loses none."""
        drafting = self.query_one(DraftColumn)
        drafting.save_unsaved_edit()  # reports its own failure
        try:
            await self.session.flush()
        except SupportConsoleError as error:
            self.notify(f"Could not save the draft: {error}", severity="error", markup=False)
            return
        if drafting.pane.status_is_error and not drafting.sending:  # what failed while it was away
            drafting.pane.set_status(
                f"The database is back and the draft is saved: {drafting.key('approve')} sends it."
            )
