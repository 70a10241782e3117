"""The transcript of one conversation, loaded a page at a time.

Only the newest page is read when a conversation opens, so a 10,000-message history opens as fast as a short
one; older pages are read when the agent asks (key or click on the marker at the top).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

from rich.text import Text
from textual import events
from textual.containers import VerticalScroll
from textual.widget import Widget
from textual.widgets import Static

from support_console.core.safe_text import visible
from support_console.ui.widgets.text import timestamp

if TYPE_CHECKING:
    from support_console.store.tables import Message

PAGE = 100


class MessagePages(Protocol):
    """What the transcript needs from the store (the Store satisfies it)."""

    def page_messages(
        self, conversation_id: int, before_id: int | None = None, limit: int = 100
    ) -> list[Message]: ...

    def count_messages(self, conversation_id: int) -> int: ...


def render_message(message: Message) -> Text:
    """One transcript entry: a header (who, persona, when) and the literal text."""
    text = Text()
    when = timestamp(message.approved_at or message.created_at) if message.role == "agent" else ""
    when = when or timestamp(message.created_at)
    if message.role == "customer":
        text.append("Customer", style="bold")
    elif message.role == "note":
        text.append("Internal note", style="bold italic")
    else:
        text.append("Reply sent", style="bold")
        if message.persona_id:
            text.append(f" · persona {visible(message.persona_id)}")
        if message.approved_by:
            text.append(f" · by {visible(message.approved_by)}")
    text.append(f"  {when}", style="dim")
    text.append("\n")
    text.append(visible(message.text))
    return text


class MessageView(Static):
    """One message; its CSS class says who wrote it."""

    def __init__(self, message: Message) -> None:
        super().__init__(render_message(message), markup=False, classes=f"message -{message.role}")
        self.message_id = message.id
        self.message_text = message.text
        self.reaches_model = message.role == "customer" or message.state == "sent"


class EarlierMarker(Static):
    """At the top: how many older messages are not loaded yet; a click loads a page."""

    def on_click(self, event: events.Click) -> None:
        event.stop()
        transcript = self.parent
        if isinstance(transcript, Transcript):
            transcript.load_earlier()


class Transcript(VerticalScroll):
    """Customer messages, sent replies and notes of the current conversation, oldest at the top.

    Children are tracked by reference, not DOM id, because removal is asynchronous and a conversation can be
    reopened before its old widgets are gone.
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._pages: MessagePages | None = None
        self.conversation_id: int | None = None
        self.load_key = "ctrl+up"  # the screen sets the key bound to "load earlier" (it can be rebound)
        self.oldest_id: int | None = None
        self.earlier = 0
        self._views: dict[int, MessageView] = {}
        self._marker: EarlierMarker | None = None
        self._context_marker: Static | None = None
        self._trim_context: tuple[int, int] | None = None  # (first_kept_id, dropped)

    def _reset(self) -> None:
        self.remove_children()
        self._views = {}
        self._marker = None
        self._context_marker = None
        self._trim_context = None

    def show_conversation(self, pages: MessagePages, conversation_id: int) -> None:
        """Replace the transcript with the newest page of ``conversation_id``."""
        self._reset()
        self._pages = pages
        self.conversation_id = conversation_id
        page = pages.page_messages(conversation_id, None, PAGE)
        total = pages.count_messages(conversation_id)
        self.earlier = max(0, total - len(page)) if len(page) >= PAGE else 0
        self.oldest_id = page[0].id if page else None
        self._marker = EarlierMarker(classes="earlier", markup=False)
        self.mount(self._marker)
        self.mount_all(self._make_views(page))
        self._update_marker()
        self.call_after_refresh(self.scroll_end, animate=False)

    def clear(self, hint: str = "Select a customer to see their conversation.") -> None:
        self._reset()
        self.conversation_id = None
        self.mount(Static(hint, classes="hint", markup=False))

    def _make_views(self, messages: Sequence[Message]) -> list[Widget]:
        views: list[Widget] = []
        for message in messages:
            if message.state in ("draft", "discarded") or message.id is None:
                continue
            view = MessageView(message)
            self._views[message.id] = view
            views.append(view)
        return views

    def _update_marker(self) -> None:
        if self._marker is not None:
            self._marker.display = self.earlier > 0
            self._marker.update(
                f"▲ {self.earlier:,} earlier messages · {self.load_key} or click to load more"
            )
        self._place_context_marker()

    def load_earlier(self) -> int:
        """Load the page before the oldest shown message; returns how many messages came."""
        if self._pages is None or self.conversation_id is None or self.oldest_id is None or not self.earlier:
            return 0
        page = self._pages.page_messages(self.conversation_id, self.oldest_id, PAGE)
        self.earlier = 0 if len(page) < PAGE else max(0, self.earlier - len(page))
        anchor = self._views.get(self.oldest_id)
        if page:
            self.oldest_id = page[0].id
            views = self._make_views(page)
            if views:
                self.mount_all(views, after=self._marker)
        self._update_marker()
        if anchor is not None:
            self.call_after_refresh(self.scroll_to_widget, anchor, animate=False, top=True)
        return len(page)

    def append(self, message: Message) -> None:
        """Add a new message at the bottom and show it."""
        if self.conversation_id is None:
            return
        self.query(".hint").remove()
        if self.oldest_id is None:
            self.oldest_id = message.id
        self.mount_all(self._make_views([message]))
        self.call_after_refresh(self.scroll_end, animate=False)

    def set_context(self, first_kept_id: int | None, dropped: int) -> None:
        """Mark where the model's context starts: the ``dropped`` messages above it were not sent."""
        self._trim_context = (first_kept_id, dropped) if first_kept_id is not None and dropped else None
        self._place_context_marker()

    def _place_context_marker(self) -> None:
        if self._context_marker is not None:
            self._context_marker.remove()
            self._context_marker = None
        if self._trim_context is None:
            return
        first_kept_id, dropped = self._trim_context
        view = self._views.get(first_kept_id)
        if view is None:
            return
        label = f"── {dropped:,} earlier message{'s' if dropped != 1 else ''} not sent to the model ──"
        self._context_marker = Static(label, classes="context-marker", markup=False)
        self.mount(self._context_marker, before=view)
