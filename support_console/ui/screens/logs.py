"""The logs screen: every conversation, newest activity first, with filters and full-text search.

The main app pushes ``LogsScreen(services)``. The conversation list is paged (``widgets/logs_tables.py``);
search shows hits with highlighted snippets, and Enter opens the read-only audit view (``screens/audit.py``)
at the conversation, or at the hit's message. The store queries behind it usually take milliseconds (an
index walk for the list, FTS5 for search: see ``benchmarks/bench_logs.py``), but a database another process
is writing to (an import) or a server across the network can make any of them wait, so they run in threads
and the screen never waits on the database. A result that arrives after the agent changed the filters or
the query is dropped.

A first page is read in a thread of its own (:func:`_read_ahead`) whose result a worker awaits. The
screen's own is started when the screen is made, so that the read overlaps building the screen (tens of
milliseconds on the event loop). The mounted screen waits for it up to :data:`FIRST_FRAME_WAIT` before its
first frame, so that the table is laid out and drawn once, with the rows (drawing a screenful of cells
is the largest part of opening the logs); a page that takes longer is shown when it is in.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import suppress
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.widgets import Input, Static

from support_console.core.errors import SupportConsoleError
from support_console.store import LogFilters
from support_console.ui.screens.laid_out_once import LaidOutOnce
from support_console.ui.screens.reply_to import ReplyTo
from support_console.ui.widgets.footer import KeyFooter
from support_console.ui.widgets.logs_filters import LogsFilterBar
from support_console.ui.widgets.logs_tables import PAGE_SIZE, ConversationTable, HitsTable
from support_console.ui.widgets.text_input import TextInput
from support_console.workflows.services import Services

if TYPE_CHECKING:
    from support_console.store import ConversationRow, SearchHit

#: A page of the list as read: the filters it was read for, how many match, the first rows.
Listed = tuple[LogFilters, int, "list[ConversationRow]"]

#: Most hits shown for one search (newest first); refine the words or filters to see older ones.
SEARCH_LIMIT = 200
#: Longest the screen's first frame waits for its first page (seconds). The page is usually in well before
#: this, and then drawn with the screen, once; a slower one (a busy database) comes when it is read.
FIRST_FRAME_WAIT = 0.1

LOGS_BINDINGS: list[Binding] = [
    Binding("escape", "back", "Back", id="logs_back"),
    Binding("slash", "focus_search", "Search", id="logs_search"),
    Binding("f", "focus_filters", "Filters", id="logs_filters"),
    Binding("s", "stats", "Stats", id="logs_stats"),
    Binding("r", "reply", "Reply in the console", id="logs_reply"),
]


class LogsScreen(LaidOutOnce[None]):
    """Browse, filter and search all conversations; open one read-only with its audit trail."""

    BINDINGS: ClassVar[list[BindingType]] = list(LOGS_BINDINGS)
    AUTO_FOCUS = "#logs-table"
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (110, "-wide")]  # noqa: RUF012 (Textual declares it)
    DEFAULT_CSS = """
    LogsScreen #logs-search { margin: 0 0 0 0; }
    LogsScreen #logs-status { height: 1; padding: 0 1; color: $text-muted; }
    LogsScreen ConversationTable, LogsScreen HitsTable { height: 1fr; }
    LogsScreen HitsTable { display: none; }
    LogsScreen.searching HitsTable { display: block; }
    LogsScreen.searching ConversationTable { display: none; }
    LogsScreen.-narrow LogsFilterBar Select { width: 17; }
    LogsScreen.-narrow LogsFilterBar #filter-since { width: 14; }
    LogsScreen.-narrow LogsFilterBar #filter-until { width: 14; }
    """

    def __init__(self, services: Services) -> None:
        super().__init__()
        self.services = services
        self.filters = LogFilters()
        self.query_text = ""
        self._read_ahead = _read_ahead(services, self.filters)

    def compose(self) -> ComposeResult:
        self.set_breakpoint_class()
        with Vertical(id="logs-body"):
            yield TextInput(
                placeholder="search all messages ⏎  (all words; refund* matches a prefix)", id="logs-search"
            )
            # The loaded personas, not a DISTINCT over all conversations (that scan costs ~100 ms at 100,000).
            yield LogsFilterBar([p.id for p in self.services.personas.ordered()], id="logs-filters")
            yield Static(id="logs-status")
            yield ConversationTable(id="logs-table")
            # HitsTable is mounted by the first search: the screen opens faster without it.
        yield KeyFooter(keys_in_first_frame=True)

    async def on_mount(self) -> None:
        self.sub_title = "Conversation logs"
        reading = asyncio.wrap_future(self._read_ahead)
        await asyncio.wait((reading,), timeout=FIRST_FRAME_WAIT)
        if reading.done():
            self._show_read(reading)  # before the first frame, which then draws the table once, with it
        else:
            self._show_when_read(reading)

    # -- loading -------------------------------------------------------------------------------------------

    def reload(self) -> None:
        """Show the conversations, or the search hits, for the current filters (read in a thread)."""
        if self.query_text:
            self._search(self.query_text, self.filters)
            return
        self.remove_class("searching")
        self._show_when_read(asyncio.wrap_future(_read_ahead(self.services, self.filters)))

    @work(exclusive=True, group="logs", exit_on_error=False)
    async def _show_when_read(self, reading: asyncio.Future[Listed]) -> None:
        """A first page being read in its thread (the screen's own, read ahead; or the filters' new one),
        shown when it is in; a reload meanwhile (the agent filtered or searched again) cancels this wait."""
        with suppress(Exception):  # its outcome is told below; a cancel goes on, and cancels the future too
            await reading
        self._show_read(reading)

    def _show_read(self, read: asyncio.Future[Listed]) -> None:
        """A first page that has been read: shown, or why it could not be read told."""
        try:
            listed = read.result()
        except SupportConsoleError as exc:
            self._failed(exc)
            return
        self._listed(*listed)

    def _listed(self, filters: LogFilters, total: int, first: list[ConversationRow]) -> None:
        if not self.is_attached or filters != self.filters or self.query_text:
            return  # out of date: the agent moved on
        store = self.services.store
        self.query_one(ConversationTable).reset(
            lambda offset, limit: store.list_conversations(filters, offset, limit), total, first
        )
        noun = "conversation" if total == 1 else "conversations"
        self._status(
            f"{total:,} {noun}, most recent activity first" + (" (filtered)" if self._filtered() else "")
        )

    @work(thread=True, exclusive=True, group="logs", exit_on_error=False)
    def _search(self, query: str, filters: LogFilters) -> None:
        try:
            hits = self.services.store.search(
                query, customer=filters.customer, persona=filters.persona, since=filters.since,
                limit=SEARCH_LIMIT,
            )  # fmt: skip
        except SupportConsoleError as exc:
            self._deliver(self._failed, exc)
            return
        self._deliver(self._found, query, filters, hits)

    def _found(self, query: str, filters: LogFilters, hits: list[SearchHit]) -> None:
        if not self.is_attached or query != self.query_text or filters != self.filters:
            return  # out of date
        self.add_class("searching")
        existing = self.query(HitsTable)
        if existing:
            existing.first().show(hits)
        else:
            self.query_one("#logs-body", Vertical).mount(HitsTable(hits, id="logs-hits"))
        more = "+" if len(hits) == SEARCH_LIMIT else ""
        status = Text(f"{len(hits)}{more} {'hit' if len(hits) == 1 else 'hits'} for ")
        status.append(query, style="bold")
        status.append(" — Enter opens the conversation at the hit, Esc returns to the list")
        self._status(status)
        if self.focused is None or (isinstance(self.focused, Input) and self.focused.id == "logs-search"):
            self.call_after_refresh(lambda: self.query_one(HitsTable).focus())

    def _deliver(self, callback: Callable[..., object], *args: object) -> None:
        """From a worker thread: run ``callback(*args)`` on the event loop (nothing if the app closed)."""
        with suppress(RuntimeError):
            self.app.call_from_thread(callback, *args)

    def _failed(self, exc: SupportConsoleError) -> None:
        self.notify(str(exc), severity="error", markup=False)

    def _filtered(self) -> bool:
        return self.filters != LogFilters()

    def _status(self, text: str | Text) -> None:
        self.query_one("#logs-status", Static).update(Text(text) if isinstance(text, str) else text)

    # -- events --------------------------------------------------------------------------------------------

    def on_logs_filter_bar_changed(self, event: LogsFilterBar.Changed) -> None:
        self.filters = event.filters
        self.reload()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id != "logs-search":
            return
        event.stop()
        self.query_text = event.value.strip()
        self.reload()  # the hits take the focus when they arrive
        if not self.query_text:
            self.query_one(ConversationTable).focus()

    def on_conversation_table_opened(self, event: ConversationTable.Opened) -> None:
        self._open(event.conversation_id, None)

    def on_hits_table_opened(self, event: HitsTable.Opened) -> None:
        self._open(event.conversation_id, event.message_id)

    def _open(self, conversation_id: int, message_id: int | None) -> None:
        from support_console.ui.screens.audit import AuditScreen

        self.app.push_screen(AuditScreen(self.services, conversation_id, message_id=message_id))

    # -- actions -------------------------------------------------------------------------------------------

    def action_back(self) -> None:
        """Esc: leave the search results first, then the screen."""
        if self.query_text:
            self.query_text = ""
            self.query_one("#logs-search", Input).value = ""
            self.reload()
            self.query_one(ConversationTable).focus()
            return
        self.dismiss()

    def action_reply(self) -> None:
        """Open the highlighted conversation (or search hit's) in the main screen, to reply to it."""
        hits = self.query(HitsTable)
        table = hits.first() if self.has_class("searching") and hits else self.query_one(ConversationTable)
        conversation_id = table.highlighted_conversation()
        if conversation_id is None:
            self.notify("There is no conversation here to reply to.", markup=False)
            return
        self.post_message(ReplyTo(conversation_id))

    def action_focus_search(self) -> None:
        self.query_one("#logs-search", Input).focus()

    def action_focus_filters(self) -> None:
        self.query_one("#filter-customer", Input).focus()

    def action_stats(self) -> None:
        from support_console.ui.screens.stats import StatsScreen

        self.app.push_screen(StatsScreen(self.services, self.filters.since, self.filters.until))


def _first_page(services: Services, filters: LogFilters) -> Listed:
    """How many conversations match, and the first page of them (blocking, the store's opening included:
    off the event loop)."""
    store = services.store
    return filters, store.count_conversations(filters), store.list_conversations(filters, 0, PAGE_SIZE)


def _read_ahead(services: Services, filters: LogFilters) -> Future[Listed]:
    """:func:`_first_page` started now in a thread of its own (which ends with it): never on the event
    loop; the screen awaits its result (in ``on_mount`` for a moment, then in ``_show_when_read``)."""
    reader = ThreadPoolExecutor(max_workers=1, thread_name_prefix="logs-first-page")
    try:
        return reader.submit(_first_page, services, filters)
    finally:
        reader.shutdown(wait=False)
