"""The logs screen: every conversation, newest activity first, with filters and full-text search.

The main app pushes ``LogsScreen(services)``. The conversation list is paged (``widgets/logs_tables.py``);
search shows hits with highlighted snippets, and Enter opens the read-only audit view (``screens/audit.py``)
at the conversation, or at the hit's message. The store queries behind it take milliseconds (an index walk for
the list, FTS5 for search: see ``benchmarks/bench_logs.py``), so they run on the event loop directly.
"""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import Footer, Input, Static

from support_console.core.errors import SupportConsoleError
from support_console.store.conversation_list import LogFilters, count_conversations, list_conversations
from support_console.store.search import search
from support_console.ui.widgets.logs_filters import LogsFilterBar
from support_console.ui.widgets.logs_tables import ConversationTable, HitsTable
from support_console.workflows.services import Services

#: Most hits shown for one search (newest first); refine the words or filters to see older ones.
SEARCH_LIMIT = 200

LOGS_BINDINGS: list[Binding] = [
    Binding("escape", "back", "Back", id="logs_back"),
    Binding("slash", "focus_search", "Search", id="logs_search"),
    Binding("f", "focus_filters", "Filters", id="logs_filters"),
    Binding("s", "stats", "Stats", id="logs_stats"),
]


class LogsScreen(Screen[None]):
    """Browse, filter and search all conversations; open one read-only with its audit trail."""

    BINDINGS: ClassVar[list[BindingType]] = list(LOGS_BINDINGS)
    DEFAULT_CSS = """
    LogsScreen #logs-search { margin: 0 0 0 0; }
    LogsScreen #logs-status { height: 1; padding: 0 1; color: $text-muted; }
    LogsScreen ConversationTable, LogsScreen HitsTable { height: 1fr; }
    LogsScreen HitsTable { display: none; }
    LogsScreen.searching HitsTable { display: block; }
    LogsScreen.searching ConversationTable { display: none; }
    """

    def __init__(self, services: Services) -> None:
        super().__init__()
        self.services = services
        self.filters = LogFilters()
        self.query_text = ""

    def compose(self) -> ComposeResult:
        with Vertical(id="logs-body"):
            yield Input(
                placeholder="search all messages ⏎  (all words; refund* matches a prefix)", id="logs-search"
            )
            # The loaded personas, not a DISTINCT over all conversations (that scan costs ~100 ms at 100,000).
            yield LogsFilterBar([p.id for p in self.services.personas.ordered()], id="logs-filters")
            yield Static(id="logs-status")
            yield ConversationTable(id="logs-table")
            # HitsTable is mounted by the first search: the screen opens faster without it.
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = "Conversation logs"
        self.reload()
        self.query_one(ConversationTable).focus()

    # -- loading -------------------------------------------------------------------------------------------

    def reload(self) -> None:
        """Show the conversations, or the search hits, for the current filters."""
        if self.query_text:
            self._run_search()
            return
        self.remove_class("searching")
        store, filters = self.services.store, self.filters
        try:
            total = count_conversations(store, filters)
            self.query_one(ConversationTable).reset(
                lambda offset, limit: list_conversations(store, filters, offset, limit), total
            )
        except SupportConsoleError as exc:
            self.notify(str(exc), severity="error", markup=False)
            return
        noun = "conversation" if total == 1 else "conversations"
        self._status(
            f"{total:,} {noun}, most recent activity first" + (" (filtered)" if self._filtered() else "")
        )

    def _run_search(self) -> None:
        f = self.filters
        try:
            hits = search(
                self.services.store,
                self.query_text,
                customer=f.customer,
                persona=f.persona,
                since=f.since,
                limit=SEARCH_LIMIT,
            )
        except SupportConsoleError as exc:
            self.notify(str(exc), severity="error", markup=False)
            return
        self.add_class("searching")
        existing = self.query(HitsTable)
        if existing:
            existing.first().show(hits)
        else:
            self.query_one("#logs-body", Vertical).mount(HitsTable(hits, id="logs-hits"))
        status = Text(f"{len(hits)}{'+' if len(hits) == SEARCH_LIMIT else ''} hits for ")
        status.append(self.query_text, style="bold")
        status.append(" — Enter opens the conversation at the hit, Esc returns to the list")
        self._status(status)

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
        self.reload()
        if self.query_text:
            self.call_after_refresh(lambda: self.query_one(HitsTable).focus())
        else:
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

    def action_focus_search(self) -> None:
        self.query_one("#logs-search", Input).focus()

    def action_focus_filters(self) -> None:
        self.query_one("#filter-customer", Input).focus()

    def action_stats(self) -> None:
        from support_console.ui.widgets.logs_stats import StatsScreen

        self.app.push_screen(StatsScreen(self.services.store, self.filters.since, self.filters.until))
