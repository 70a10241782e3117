"""The logs screen's two tables: conversations (paged as the cursor nears the end) and search hits.

Paging: the table never holds more than the pages the agent has scrolled through; the first page is one
index walk in the store (see ``store/logs.py``), so 100,000 conversations open as fast as 100. Cells are
``rich.text.Text`` built with :func:`~support_console.ui.widgets.text.literal`, so customer text is never
markup.
Search hits show the snippet with the matched words styled by span, never by markup.
"""

from __future__ import annotations

from collections.abc import Callable

from rich.text import Text
from textual.message import Message
from textual.widgets import DataTable

from support_console.core.safe_text import visible
from support_console.store.conversation_list import ConversationRow
from support_console.store.search import SearchHit
from support_console.ui.widgets.text import literal, timestamp

PAGE_SIZE = 60  # more than a tall terminal shows; the next page loads as the cursor nears the end
#: Load the next page when the cursor comes this close to the last loaded row.
PREFETCH_ROWS = 20

PageLoader = Callable[[int, int], list[ConversationRow]]  # (offset, limit) -> rows


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

    def on_mount(self) -> None:
        self.add_columns("last activity", "customer", "status", "persona", "msgs", "latest message")

    def reset(self, loader: PageLoader, total: int) -> None:
        """Show a new result set: the first page now, the rest as the cursor moves down."""
        self.loader, self.total, self.loaded = loader, total, 0
        self.clear()
        self.load_more()

    def load_more(self) -> None:
        if self.loader is None or self.loaded >= self.total:
            return
        rows = self.loader(self.loaded, PAGE_SIZE)
        for row in rows:
            self.add_row(
                timestamp(row.last_activity),
                literal(f"{row.customer_name} <{row.customer_email}>"),
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
                timestamp(hit.created_at),
                literal(f"{hit.customer_name} <{hit.customer_email}>"),
                hit.role,
                snippet_text(hit),
                key=str(hit.message_id),
            )

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        hit = self.hits.get(str(event.row_key.value))
        if hit is not None:
            self.post_message(self.Opened(hit.conversation_id, hit.message_id))
