"""The conversation column: who it is with, the transcript, and the box for the customer's newest message.

Recording what is in the box (as a customer message or an internal note) goes through the screen's
:class:`DraftSession` (attributes down) on its thread; the column then tells the screen (messages up:
:class:`ConversationView.Recorded`) so the customer list and the draft column can follow.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Static

from support_console.core.errors import SupportConsoleError
from support_console.core.vocabulary import ROLE_CUSTOMER
from support_console.ui.widgets.incoming import IncomingBox
from support_console.ui.widgets.text import literal
from support_console.ui.widgets.transcript import Transcript

if TYPE_CHECKING:
    from support_console.store import CustomerRecord
    from support_console.ui.widgets.draft_column import KeyName
    from support_console.workflows.draft_session import DraftSession, OpenConversation, Opened
    from support_console.workflows.draft_session import Recorded as RecordedMessage


class ConversationTitle(Static):
    """One line: the conversation's status and assignee first (a long name or email is cut at the end, never
    those), then the customer, the conversation's id and the email."""

    def show(self, customer: CustomerRecord | None, conversation: OpenConversation | None) -> None:
        if customer is None:
            self.update("No customer selected")
            return
        text = Text()
        if conversation is not None:
            text.append(f" {conversation.status} ", style="bold reverse")
            text.append(" ")
            assignee = getattr(conversation, "assignee", None)  # None too before the store is open
            if assignee:  # who has it, as the queue shows it, before what a narrow line may crop
                text.append_text(literal(f"@{assignee}", style="bold"))
                text.append(" · ")
        text.append_text(literal(customer.name, style="bold"))
        if conversation is not None:
            text.append(f" · conversation {conversation.id}")
        else:
            text.append(" · no open conversation")
        text.append_text(literal(f" <{customer.email}>", style="dim"))
        self.update(text)


class ConversationView(Vertical):
    """The title, the transcript and the incoming box of the open conversation."""

    class Recorded(Message):
        """A customer message or a note from the box is in the store (and in the transcript)."""

        def __init__(self, recorded: RecordedMessage) -> None:
            super().__init__()
            self.recorded = recorded

        @property
        def role(self) -> str:
            return self.recorded.message.role

    def __init__(self, session: DraftSession, key: KeyName, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.session = session
        self.key = key
        self.recording = False

    def compose(self) -> ComposeResult:
        yield ConversationTitle(id="conversation-title", markup=False)
        yield Transcript(id="transcript")
        message, note = self.key("add_message"), self.key("add_note")
        # The footer's words, short enough for one line of the 80-column layout (the longer ones were cut).
        yield IncomingBox(f"{message} add customer msg · {note} add note", id="incoming")

    def on_mount(self) -> None:
        self.transcript.load_key = self.key("load_earlier")
        self.transcript.later_key = self.key("load_later")
        self.transcript.clear()
        self.show_title()

    @property
    def transcript(self) -> Transcript:
        return self.query_one(Transcript)

    @property
    def incoming(self) -> IncomingBox:
        return self.query_one(IncomingBox)

    def show_title(self) -> None:
        self.query_one(ConversationTitle).show(self.session.customer, self.session.conversation)

    def show_opened(self, opened: Opened) -> None:
        """A customer was opened: their conversation's newest page (or how to start one)."""
        conversation = opened.conversation
        if conversation is None or conversation.id is None:
            self.transcript.clear(
                f"No open conversation with {opened.customer.name}. Paste their message below and press "
                f"{self.key('add_message')} to start one."
            )
        else:
            self.transcript.show_conversation(conversation.id, opened.page, opened.total)
        self.show_title()

    def record(self, role: str) -> None:
        """Add the box's text to the conversation as a customer message or a note (opening one if needed)."""
        text = self.incoming.text
        if self.session.customer is None:
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
        if self.recording:
            self.notify("The previous message is still being added.", severity="warning", markup=False)
            return
        self.recording = True
        self._record(role, text)

    @work(group="record", exit_on_error=False)
    async def _record(self, role: str, text: str) -> None:
        try:
            recorded = await self.session.record(role, text)
        except SupportConsoleError as error:
            self.notify(str(error), severity="error", markup=False)
            return
        finally:
            self.recording = False
        if self.incoming.text == text:  # typed over meanwhile: keep what the agent has now
            self.incoming.clear()
        conversation_id = recorded.conversation.id
        if recorded.opened_conversation and conversation_id is not None:
            self.transcript.show_conversation(conversation_id, [], 0)
        self.transcript.append(recorded.message)
        self.show_title()
        self.post_message(self.Recorded(recorded))
