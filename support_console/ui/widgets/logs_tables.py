"""The logs screen's two tables: conversations (paged as the cursor nears the end) and search hits.

Paging: the table never holds more than the pages the agent has scrolled through; the first page is one
index walk in the store (see ``store/conversation_list.py``), so 100,000 conversations open as fast as 100.
The screen hands over the first page; the next ones are read in a thread worker as the cursor nears the end,
so scrolling never waits on the database. Cells are
``rich.text.Text`` built with :func:`~support_console.ui.widgets.text.literal`, so customer text is never
markup.
Search hits show the snippet with the matched words styled by span, never by markup.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import suppress
from typing import TYPE_CHECKING

from rich.text import Text
from textual import work
from textual.message import Message
from textual.widgets import DataTable

from support_console.core.errors import SupportConsoleError
from support_console.core.safe_text import visible
from support_console.ui.widgets.text import literal, timestamp

if TYPE_CHECKING:
    from support_console.store import ConversationRow, SearchHit

PAGE_SIZE = 60  # more than a tall terminal shows; the next page loads as the cursor nears the end
#: Load the next page when the cursor comes this close to the last loaded row.
PREFETCH_ROWS = 20

PageLoader = Callable[[int, int], "list[ConversationRow]"]  # (offset, limit) -> rows


CUSTOMER_WIDTH = 30
"""Characters of "name <email>" a row shows (the audit view shows all of it)."""


def one_line(text: str, width: int = 80) -> str:
    """Whitespace collapsed to single spaces, cut to ``width`` characters."""
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def _flat(text: str) -> str:
    """One line, control characters made visible (slicing happened before, so spans stay right)."""
    return visible(text.replace("\r", " ").replace("\n", " ").replace("\t", " "))


def snippet_text(hit: SearchHit, style: str = "bold reverse") -> Text:
    """The hit's snippet on one line with each highlight span styled (no markup is ever parsed)."""
    text = Text()
    last = 0
    for start, end in hit.highlights:
        text.append(_flat(hit.snippet[last:start]))
        text.append(_flat(hit.snippet[start:end]), style=style)
        last = end
    text.append(_flat(hit.snippet[last:]))
    return text


class ConversationTable(DataTable[Text | str]):
    """All conversations matching the filters, newest activity first; loads pages on demand."""

    class Opened(Message):
        """The agent chose a conversation (Enter)."""

        def __init__(self, conversation_id: int) -> None:
            super().__init__()
            self.conversation_id = conversation_id

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)
        self.loader: PageLoader | None = None
        self.total = 0
        self.loaded = 0
        self._generation = 0  # which result set the rows belong to (a page read for an older one is dropped)
        self._reading = False

    def on_mount(self) -> None:
        # The customer is cut to CUSTOMER_WIDTH so that at 80 columns a row still shows when, who, what
        # state and which persona without scrolling sideways.
        self.add_columns("last activity", "customer", "status", "persona", "msgs", "latest message")

    def reset(self, loader: PageLoader, total: int, first: list[ConversationRow]) -> None:
        """Show a new result set: its first page now, the rest read as the cursor moves down."""
        self.loader, self.total, self.loaded = loader, total, 0
        self._generation += 1
        self._reading = False
        self.clear()
        self._add(first)

    def load_more(self) -> None:
        """Read the next page in a thread (once at a time); it is added when it arrives."""
        if self.loader is None or self.loaded >= self.total or self._reading:
            return
        self._reading = True
        self._read_page(self.loader, self._generation, self.loaded)

    @work(thread=True, group="logs-page", exit_on_error=False)
    def _read_page(self, loader: PageLoader, generation: int, offset: int) -> None:
        try:
            rows = loader(offset, PAGE_SIZE)
        except SupportConsoleError as exc:
            with suppress(RuntimeError):
                self.app.call_from_thread(self._failed, generation, exc)
            return
        with suppress(RuntimeError):  # the app closed meanwhile
            self.app.call_from_thread(self._arrived, generation, offset, rows)

    def _arrived(self, generation: int, offset: int, rows: list[ConversationRow]) -> None:
        if not self.is_attached or generation != self._generation or offset != self.loaded:
            return  # a page of an older result set, or the screen is gone
        self._reading = False
        self._add(rows)
        if rows and self.cursor_row >= self.loaded - PREFETCH_ROWS:
            self.load_more()  # the cursor moved on while the page was read

    def _failed(self, generation: int, exc: SupportConsoleError) -> None:
        if generation == self._generation:
            self._reading = False
            self.notify(str(exc), severity="error", markup=False)

    def _add(self, rows: list[ConversationRow]) -> None:
        for row in rows:
            self.add_row(
                timestamp(row.last_activity),
                literal(one_line(f"{row.customer_name} <{row.customer_email}>", CUSTOMER_WIDTH)),
                row.status,
                row.persona_id or "—",
                str(row.messages),
                literal(one_line(row.preview, 60), style="dim"),
                key=str(row.conversation_id),
            )
        self.loaded += len(rows)
        if not rows:  # the set shrank since it was counted
            self.total = self.loaded

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.cursor_row >= self.loaded - PREFETCH_ROWS:
            self.load_more()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        if event.row_key.value is not None:
            self.post_message(self.Opened(int(event.row_key.value)))

    def highlighted_conversation(self) -> int | None:
        """The conversation of the row under the cursor (None when the table is empty)."""
        if not self.row_count:
            return None
        key = self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value
        return int(key) if key is not None else None


class HitsTable(DataTable[Text | str]):
    """Search hits, newest first, with highlighted snippets."""

    class Opened(Message):
        """The agent chose a hit (Enter): open its conversation at that message."""

        def __init__(self, conversation_id: int, message_id: int) -> None:
            super().__init__()
            self.conversation_id = conversation_id
            self.message_id = message_id

    def __init__(self, hits: list[SearchHit] | None = None, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)
        self.hits: dict[str, SearchHit] = {}
        self._first = hits or []

    def on_mount(self) -> None:
        self.add_columns("time", "customer", "role", "match")
        self.show(self._first)

    def show(self, hits: list[SearchHit]) -> None:
        self.clear()
        self.hits = {str(hit.message_id): hit for hit in hits}
        for hit in hits:
            self.add_row(
                timestamp(hit.happened_at),
                literal(one_line(f"{hit.customer_name} <{hit.customer_email}>", CUSTOMER_WIDTH)),
                hit.role,
                snippet_text(hit),
                key=str(hit.message_id),
            )

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        hit = self.hits.get(str(event.row_key.value))
        if hit is not None:
            self.post_message(self.Opened(hit.conversation_id, hit.message_id))

    def highlighted_conversation(self) -> int | None:
        """The conversation of the hit under the cursor (None when there are no hits)."""
        if not self.row_count:
            return None
        hit = self.hits.get(str(self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value))
        return hit.conversation_id if hit is not None else None
