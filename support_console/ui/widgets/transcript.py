"""The transcript of one conversation, a page at a time, with at most a few pages mounted.

Only the newest page is read when a conversation opens, so a 10,000-message history opens as fast as a short
one; older pages are read when the agent asks (key or click on the marker at the top), in a thread.

Why a window: every mounted message is a widget that Textual lays out again when the transcript changes, so a
transcript that kept every page it ever loaded got slower page by page (6 s for page 90 of a 10,000-message
conversation). At most :data:`WINDOW_PAGES` pages are mounted; loading an older page unmounts the newest one
(a marker at the bottom offers it back), so every page costs the same whatever came before.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from rich.text import Text
from textual import events, work
from textual.containers import VerticalScroll
from textual.widgets import Static

from support_console.core.safe_text import visible
from support_console.core.vocabulary import (
    ROLE_AGENT,
    ROLE_CUSTOMER,
    ROLE_NOTE,
    STATE_DISCARDED,
    STATE_DRAFT,
    STATE_SENT,
)
from support_console.ui.widgets.text import timestamp

PAGE = 100
WINDOW_PAGES = 3
"""Pages mounted at most: enough to scroll through comfortably, few enough to keep each page's cost flat."""
FIRST_SHOWN = 24
"""Messages of a conversation just opened that are mounted for its first frame, the newest (more than the
tallest screen shows of them); the older ones of the page are mounted right after that frame, so a customer
opens in the time of what the agent sees, not of a whole page of widgets."""

HEADINGS = {ROLE_CUSTOMER: "Customer", ROLE_NOTE: "Internal note", ROLE_AGENT: "Reply sent"}
HIDDEN_STATES = (STATE_DRAFT, STATE_DISCARDED)  # drafts live in the draft pane, discarded ones nowhere


class ShownMessage(Protocol):
    """What the transcript shows of a message (the store's Message has it)."""

    @property
    def id(self) -> int | None: ...
    @property
    def role(self) -> str: ...
    @property
    def state(self) -> str: ...
    @property
    def text(self) -> str: ...
    @property
    def persona_id(self) -> str | None: ...
    @property
    def approved_by(self) -> str | None: ...
    @property
    def approved_at(self) -> datetime | None: ...
    @property
    def created_at(self) -> datetime | None: ...


PageLoader = Callable[[int, int | None, int], Sequence[ShownMessage]]
"""(conversation_id, before_id, limit) -> up to ``limit`` messages older than ``before_id``, oldest first
(the store's ``page_messages``); blocking, so the transcript calls it in a thread."""


def reaches_model(message: ShownMessage) -> bool:
    """Customer messages and sent replies are what the model sees; notes never."""
    return message.role == ROLE_CUSTOMER or message.state == STATE_SENT


def render_message(message: ShownMessage) -> Text:
    """One transcript entry: a header (who, persona, when) and the literal text."""
    text = Text()
    when = timestamp(message.approved_at or message.created_at) if message.role == ROLE_AGENT else ""
    when = when or timestamp(message.created_at)
    heading = HEADINGS.get(message.role, visible(message.role))
    text.append(heading, style="bold italic" if message.role == ROLE_NOTE else "bold")
    if message.role == ROLE_AGENT:
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

    def __init__(self, message: ShownMessage) -> None:
        super().__init__(render_message(message), markup=False, classes=f"message -{message.role}")
        self.message_id = message.id
        self.message_text = message.text
        self.reaches_model = reaches_model(message)


class PageMarker(Static):
    """At the top: how many older messages are not shown; at the bottom, newer ones. A click loads a page."""

    def __init__(self, *, older: bool) -> None:
        super().__init__(classes="earlier" if older else "later", markup=False)
        self.older = older

    def on_click(self, event: events.Click) -> None:
        event.stop()
        transcript = self.parent
        if isinstance(transcript, Transcript):
            if self.older:
                transcript.load_earlier()
            else:
                transcript.load_later()


@dataclass
class _Page:
    """A page as read: the ``before_id`` that reads it again, how many messages it has, and, while it is
    mounted, its messages and their views (an unmounted page keeps neither: it is read again if needed)."""

    before_id: int | None
    count: int
    oldest_id: int | None
    messages: list[ShownMessage] | None = None
    views: list[MessageView] = field(default_factory=list)


class Transcript(VerticalScroll):
    """Customer messages, sent replies and notes of the current conversation, oldest at the top.

    Children are tracked by reference, not DOM id, because removal is asynchronous and a conversation can be
    reopened before its old widgets are gone.
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.load_page: PageLoader | None = None  # set by the screen
        self.load_key = "ctrl+up"  # the keys bound to loading pages (they can be rebound)
        self.later_key = "ctrl+down"
        self.conversation_id: int | None = None
        self.earlier = 0  # messages older than the oldest page read
        self.reading = False  # a page is being read (not Textual's ``loading``: the transcript stays shown)
        self._pages: list[_Page] = []  # every page read, newest first
        self._top = 0  # index in _pages of the newest mounted page; pages _top .. _top+WINDOW_PAGES-1 show
        self._top_marker: PageMarker | None = None
        self._bottom_marker: PageMarker | None = None
        self._context_marker: Static | None = None
        self._trim_context: tuple[int, int] | None = None  # (first_kept_id, dropped)

    # -- what the screen asks for ------------------------------------------------------------------------

    @property
    def views(self) -> list[MessageView]:
        """The mounted messages, oldest first."""
        return [view for page in reversed(self._mounted()) for view in page.views]

    @property
    def older(self) -> int:
        """Messages older than the oldest one mounted (read or not)."""
        return self.earlier + sum(page.count for page in self._pages[self._top + WINDOW_PAGES :])

    @property
    def later(self) -> int:
        """Messages newer than the newest one mounted (unmounted to keep the window small)."""
        return sum(page.count for page in self._pages[: self._top])

    def show_conversation(self, conversation_id: int, page: Sequence[ShownMessage], total: int) -> None:
        """Replace the transcript with the newest page of ``conversation_id`` (read by the caller); ``total``
        is how many messages the conversation has."""
        self._reset()
        self.conversation_id = conversation_id
        self.earlier = max(0, total - len(page)) if len(page) >= PAGE else 0
        newest = _Page(None, len(page), page[0].id if page else None, list(page))
        newest.views = _views(page)
        self._pages = [newest]
        self._top_marker = PageMarker(older=True)
        self._bottom_marker = PageMarker(older=False)
        first, rest = newest.views[-FIRST_SHOWN:], newest.views[:-FIRST_SHOWN]
        self.mount(self._top_marker, *first, self._bottom_marker)
        self._update_markers()
        self.call_after_refresh(self.scroll_end, animate=False)
        if rest:
            self.call_after_refresh(self._mount_older, newest, rest)

    def _mount_older(self, page: _Page, views: list[MessageView]) -> None:
        """After a conversation's first frame: mount the older messages of its newest page above the rest
        (unless the agent moved on meanwhile), keeping the view at the bottom."""
        if not any(p is page for p in self._pages) or page.views[: len(views)] != views:
            return  # another conversation, or the page was unmounted
        if not page.views[len(views) :]:
            return
        anchor = page.views[len(views)]
        if not anchor.is_attached:
            return
        self.mount_all(views, before=anchor)
        self._place_context_marker()
        self.call_after_refresh(self.scroll_end, animate=False)

    def clear(self, hint: str = "Select a customer to see their conversation.") -> None:
        self._reset()
        self.conversation_id = None
        self.mount(Static(hint, classes="hint", markup=False))

    def load_earlier(self) -> None:
        """Show the page before the oldest one shown (read in a thread)."""
        if self.conversation_id is not None and not self.reading and self.older > 0:
            self.reading = True
            self._move(older=True)

    def load_later(self) -> None:
        """Show again the page after the newest one shown (unmounted to keep the window small)."""
        if self.conversation_id is not None and not self.reading and self._top > 0:
            self.reading = True
            self._move(older=False)

    def append(self, message: ShownMessage) -> None:
        """Add a new message at the bottom and show it (back at the newest page if the agent paged away).

        Messages recorded one after the other can arrive here out of order (the store's answers come back
        in order, the screen's handling of them may not), so the message goes where its id says."""
        if self.conversation_id is None or message.id is None:
            return
        self.query(".hint").remove()
        if not self._pages:
            self.show_conversation(self.conversation_id, [message], 1)
            return
        newest = self._pages[0]
        newest.count += 1
        if self._top > 0 or newest.messages is None:  # the agent paged away: back to the newest page
            newest.messages = None  # read again, with the new message
            self.reading = True
            self._move(older=False, to_newest=True)
            return
        index = len(newest.messages)
        while index > 0 and (newest.messages[index - 1].id or 0) > message.id:
            index -= 1
        newest.messages.insert(index, message)
        views = _views([message])
        if views:
            after = next((v for v in newest.views if (v.message_id or 0) > message.id), None)
            position = newest.views.index(after) if after is not None else len(newest.views)
            newest.views[position:position] = views
            self.mount_all(views, before=after if after is not None else self._bottom_marker)
        self._place_context_marker()
        self.call_after_refresh(self.scroll_end, animate=False)

    def merge(self, page: Sequence[ShownMessage]) -> None:
        """Add the messages of a fresh read of the newest page that are not shown yet (another console
        added or sent them), each where its id says; what is shown stays as it is."""
        if self.conversation_id is None or not self._pages or self._pages[0].messages is None:
            return
        known = {m.id for m in self._pages[0].messages}
        for message in page:
            if message.id not in known and message.state not in HIDDEN_STATES:
                self.append(message)

    def set_context(self, first_kept_id: int | None, dropped: int) -> None:
        """Mark where the model's context starts: the ``dropped`` messages above it were not sent."""
        self._trim_context = (first_kept_id, dropped) if first_kept_id is not None and dropped else None
        self._place_context_marker()

    # -- paging ------------------------------------------------------------------------------------------

    @work(exclusive=True, group="transcript", exit_on_error=False)
    async def _move(self, *, older: bool, to_newest: bool = False) -> None:
        """Move the window one page older or newer (or back to the newest page), reading what it needs."""
        try:
            conversation_id, loader = self.conversation_id, self.load_page
            if conversation_id is None or loader is None:
                return
            if older and self._top + WINDOW_PAGES >= len(self._pages):  # a page never read: read it now
                before = self._pages[-1].oldest_id
                if before is None:
                    return
                messages = await asyncio.to_thread(loader, conversation_id, before, PAGE)
                if conversation_id != self.conversation_id:
                    return  # the agent opened another conversation meanwhile
                self.earlier = 0 if len(messages) < PAGE else max(0, self.earlier - len(messages))
                self._pages.append(_Page(before, len(messages), messages[0].id if messages else None))
                self._pages[-1].messages = list(messages)
            top = 0 if to_newest else self._top + (1 if older else -1)
            top = max(0, min(top, max(0, len(self._pages) - WINDOW_PAGES)))
            for index, page in enumerate(self._pages[top : top + WINDOW_PAGES], start=top):
                if page.messages is None:  # the newest page holds what was added since: read all of it
                    limit = max(PAGE, page.count) if index == 0 else PAGE
                    read = await asyncio.to_thread(loader, conversation_id, page.before_id, limit)
                    page.messages, page.count = list(read), len(read)
            if conversation_id == self.conversation_id:
                self._show_window(top)
        finally:
            self.reading = False

    def _show_window(self, top: int) -> None:
        """Mount pages ``top`` .. ``top + WINDOW_PAGES - 1`` (read), unmount the others and forget their
        messages, keeping the view where the agent was looking."""
        wanted = range(top, min(top + WINDOW_PAGES, len(self._pages)))
        shown = [i for i, page in enumerate(self._pages) if page.views]
        anchor = self.views[0 if shown and max(wanted) > max(shown) else -1] if self.views else None
        for index in shown:
            if index not in wanted:
                page = self._pages[index]
                self.remove_children(page.views)
                page.views = []
                if index > 0:  # the newest page stays in memory: new messages are added to it
                    page.messages = None
        entering = [i for i in wanted if i not in shown]
        on_top = [i for i in entering if shown and i > max(shown)]  # older than what stays: above it
        for index in sorted(on_top):  # each goes right under the marker, so the oldest ends up first
            self._pages[index].views = _views(self._pages[index].messages or [])
            self.mount_all(self._pages[index].views, after=self._top_marker)
        for index in sorted((i for i in entering if i not in on_top), reverse=True):  # the newest last
            self._pages[index].views = _views(self._pages[index].messages or [])
            self.mount_all(self._pages[index].views, before=self._bottom_marker)
        self._top = top
        self._update_markers()
        if top == 0 and not shown:
            self.call_after_refresh(self.scroll_end, animate=False)
        elif anchor is not None and anchor in self.views:
            self.call_after_refresh(self.scroll_to_widget, anchor, animate=False, top=True)
        else:
            self.call_after_refresh(self.scroll_end, animate=False)

    def _mounted(self) -> list[_Page]:
        return self._pages[self._top : self._top + WINDOW_PAGES]

    # -- markers -----------------------------------------------------------------------------------------

    def _reset(self) -> None:
        self.remove_children()
        self._pages = []
        self._top = 0
        self.earlier = 0
        self._top_marker = self._bottom_marker = None
        self._context_marker = None
        self._trim_context = None

    def _update_markers(self) -> None:
        if self._top_marker is not None:
            older = self.older
            self._top_marker.display = older > 0
            self._top_marker.update(f"▲ {older:,} earlier messages · {self.load_key} or click to load more")
        if self._bottom_marker is not None:
            later = self.later
            self._bottom_marker.display = later > 0
            self._bottom_marker.update(f"▼ {later:,} newer messages · {self.later_key} or click to show them")
        self._place_context_marker()

    def _place_context_marker(self) -> None:
        if self._context_marker is not None:
            self._context_marker.remove()
            self._context_marker = None
        if self._trim_context is None:
            return
        first_kept_id, dropped = self._trim_context
        view = next((v for v in self.views if v.message_id == first_kept_id), None)
        if view is None or not view.is_attached:  # not mounted yet: placed once it is (_mount_older)
            return
        label = f"── {dropped:,} earlier message{'s' if dropped != 1 else ''} not sent to the model ──"
        self._context_marker = Static(label, classes="context-marker", markup=False)
        self.mount(self._context_marker, before=view)


def _views(messages: Sequence[ShownMessage]) -> list[MessageView]:
    """Views of the messages the transcript shows (drafts live in the draft pane, discarded ones nowhere)."""
    return [MessageView(m) for m in messages if m.state not in HIDDEN_STATES and m.id is not None]
