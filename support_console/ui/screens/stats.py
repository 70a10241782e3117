"""Agent-assist stats over the logs screen's date range: per persona and per agent (a modal).

The figures and their definitions come from ``Store.stats`` (``store/stats.py``); this only shows them. They
are read in a thread worker (a scan of the period's AI drafts), so the screen opens at once and fills in.
"""

from __future__ import annotations

from contextlib import suppress
from datetime import datetime
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Static

from support_console.core.errors import SupportConsoleError
from support_console.ui.widgets.text import literal
from support_console.workflows.services import Services

if TYPE_CHECKING:
    from support_console.store import LogStats, QualityRow, QualityStats, StatsRow

_COLUMNS = (
    "drafts",
    "generations",
    "sent",
    "unchanged",
    "acceptance",
    "edit rate",
    "content filter",
    "errors",
)


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.0%}"


def stats_cells(row: StatsRow) -> tuple[Text | str, ...]:
    """One table row: the key shown literally, then the figures."""
    drafts = "—" if row.drafts is None else str(row.drafts)
    return (
        literal(row.key),
        drafts,
        "—" if row.generations is None else str(row.generations),
        str(row.sent),
        str(row.unchanged),
        _pct(row.acceptance),
        _pct(row.edit_rate),
        str(row.content_filtered),
        str(row.errors),
    )


QUALITY_COLUMNS = (
    "drafts", "as-is", "light edit", "rewritten", "discarded", "median edit", "median to send", "👍", "👎",
)  # fmt: skip


def quality_cells(group: str, row: QualityRow) -> tuple[Text | str, ...]:
    """One row of the draft-quality table (store/quality.py has the definitions)."""
    distance = "—" if row.median_edit_distance is None else f"{row.median_edit_distance:.0%}"
    seconds = "—" if row.median_seconds_to_send is None else f"{row.median_seconds_to_send:.0f} s"
    return (
        literal(f"{group}: {row.key}"), str(row.drafts), str(row.sent_as_is), str(row.lightly_edited),
        str(row.rewritten), str(row.discarded), distance, seconds, str(row.thumbs_up), str(row.thumbs_down),
    )  # fmt: skip


def quality_groups(quality: QualityStats) -> list[tuple[str, list[QualityRow]]]:
    return [
        ("persona", quality.by_persona), ("tool", quality.by_tool), ("model", quality.by_model),
        ("agent", quality.by_agent),
    ]  # fmt: skip


class StatsScreen(ModalScreen[None]):
    """Drafts, sent, unchanged (acceptance), edit rate, content-filter and error counts."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "dismiss", "Close", id="logs_stats_close")]
    DEFAULT_CSS = """
    StatsScreen { align: center middle; }
    StatsScreen > Vertical { width: 90%; height: auto; max-height: 90%; border: round $primary;
                              background: $surface; padding: 1 2; }
    StatsScreen DataTable { height: auto; max-height: 14; margin-bottom: 1; }
    StatsScreen .stats-title { text-style: bold; }
    """

    def __init__(self, services: Services, since: datetime | None, until: datetime | None) -> None:
        super().__init__()
        self.services, self.since, self.until = services, since, until
        self.result: LogStats | None = None  # set once the figures have arrived

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(self._period(), classes="stats-title")
            yield Static("Per persona", classes="stats-title")
            yield DataTable(id="stats-persona", cursor_type="none")
            yield Static("Per agent (who approved; drafts cannot be attributed)", classes="stats-title")
            yield DataTable(id="stats-agent", cursor_type="none")
            yield Static("Draft quality (per persona, rewrite tool, model, agent)", classes="stats-title")
            yield DataTable(id="stats-quality", cursor_type="none")
            yield Static(
                "acceptance = sent unchanged ÷ sent; edit rate = mean share of the model's text changed. "
                "Esc closes."
            )

    def _period(self) -> Text:
        def day(moment: datetime | None, empty: str) -> str:
            return moment.strftime("%Y-%m-%d") if moment else empty

        start, end = day(self.since, "the beginning"), day(self.until, "now")
        return Text(f"Agent-assist stats from {start} until {end}")

    def on_mount(self) -> None:
        for table_id, title in (("#stats-persona", "persona"), ("#stats-agent", "agent")):
            self.query_one(table_id, DataTable).add_columns(title, *_COLUMNS)
        self.query_one("#stats-quality", DataTable).add_columns("group", *QUALITY_COLUMNS)
        self._read()

    @work(thread=True, exclusive=True, exit_on_error=False)
    def _read(self) -> None:
        try:
            result = self.services.store.stats(self.since, self.until)
            quality = self.services.store.quality_stats(self.since, self.until)
        except SupportConsoleError as exc:
            with suppress(RuntimeError):
                self.app.call_from_thread(self.notify, str(exc), severity="error", markup=False)
            return
        with suppress(RuntimeError):  # the app closed meanwhile
            self.app.call_from_thread(self._show, result, quality)

    def _show(self, result: LogStats, quality: QualityStats | None = None) -> None:
        if not self.is_attached:
            return  # closed before the figures arrived
        for table_id, rows in (("#stats-persona", result.by_persona), ("#stats-agent", result.by_agent)):
            table = self.query_one(table_id, DataTable)
            for row in rows:
                table.add_row(*stats_cells(row))
        table = self.query_one("#stats-quality", DataTable)
        for group, group_rows in quality_groups(quality) if quality is not None else ():
            for quality_row in group_rows:
                table.add_row(*quality_cells(group, quality_row))
        self.result = result
