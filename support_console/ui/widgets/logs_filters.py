"""The logs screen's filter bar: customer, persona, status and a date range.

Attributes down, messages up: the screen gives the persona ids; the bar posts
:class:`LogsFilterBar.Changed` with a complete :class:`LogFilters` whenever a filter is applied (Enter in a
text field, a choice in a select). A date that cannot be read is refused with a notification saying how to
write it.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.message import Message
from textual.widgets import Input, Select

from support_console.core.clock import as_utc
from support_console.core.vocabulary import STATUSES
from support_console.store import LogFilters
from support_console.ui.widgets.text_input import TextInput

DATE_HINT = "YYYY-MM-DD"


def parse_day(text: str) -> datetime | None:
    """``2026-10-01`` (or an ISO 8601 time) as aware UTC; None when empty; ValueError when unreadable."""
    text = text.strip()
    if not text:
        return None
    return as_utc(datetime.fromisoformat(text))


class LogsFilterBar(Horizontal):
    """Customer text, persona, status, from and to dates."""

    DEFAULT_CSS = """
    LogsFilterBar { height: auto; }
    LogsFilterBar Input { width: 1fr; }
    LogsFilterBar Select { width: 22; }
    LogsFilterBar #filter-since, LogsFilterBar #filter-until { width: 16; }
    """

    class Changed(Message):
        """The agent applied a filter; ``filters`` is the whole set now in force."""

        def __init__(self, filters: LogFilters) -> None:
            super().__init__()
            self.filters = filters

    def __init__(self, persona_ids: list[str], *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.persona_ids = persona_ids

    def compose(self) -> ComposeResult:
        yield TextInput(placeholder="customer (name, email, id) ⏎", id="filter-customer")
        yield Select([(p, p) for p in self.persona_ids], prompt="any persona", id="filter-persona")
        yield Select([(s, s) for s in STATUSES], prompt="any status", id="filter-status")
        yield TextInput(placeholder=f"from {DATE_HINT}", id="filter-since")
        yield TextInput(placeholder=f"to {DATE_HINT}", id="filter-until")

    def filters(self) -> LogFilters | None:
        """The filters as typed, or None (after telling the agent) when a date cannot be read."""
        persona = self.query_one("#filter-persona", Select).value
        status = self.query_one("#filter-status", Select).value
        try:
            since = parse_day(self.query_one("#filter-since", Input).value)
            until = parse_day(self.query_one("#filter-until", Input).value)
        except ValueError:
            self.notify(f"Dates are written {DATE_HINT}, e.g. 2026-10-01.", severity="error", markup=False)
            return None
        if until is not None and len(self.query_one("#filter-until", Input).value.strip()) <= 10:
            until += timedelta(days=1)  # "to 2026-10-31" includes that whole day
        return LogFilters(
            customer=self.query_one("#filter-customer", Input).value.strip() or None,
            persona=persona if isinstance(persona, str) else None,
            status=status if isinstance(status, str) else None,
            since=since,
            until=until,
        )

    def _apply(self) -> None:
        filters = self.filters()
        if filters is not None:
            self.post_message(self.Changed(filters))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self._apply()

    def on_select_changed(self, event: Select.Changed) -> None:
        event.stop()
        self._apply()
