"""The one message the logs and audit screens send up to the app: "open this conversation to reply"."""

from __future__ import annotations

from textual.message import Message


class ReplyTo(Message):
    """The agent asked (from a search hit, the logs list or the audit view) to reply to a conversation: the
    app returns to the main screen and opens it there."""

    def __init__(self, conversation_id: int) -> None:
        super().__init__()
        self.conversation_id = conversation_id
