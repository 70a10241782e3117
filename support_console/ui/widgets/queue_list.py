"""The work queue: conversations by view (default: those waiting for a reply, longest waiting first), and a
filter box that finds any customer by name, email or external id.

Each conversation row shows how long the customer has waited, who it is, the status (styled per status by
the component classes in ``app.tcss``) and the persona. With text in the filter box the rows are the
matching customers instead (``Store.list_customers``: the one customer filter), so a customer without a
waiting conversation is still one search away.

The rows are read in a thread (the loader is a blocking store read), so typing in the filter box never waits
for the database; a newer read replaces an older one still running.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.message import Message
from textual.timer import Timer
from textual.widgets import Input, OptionList
from textual.widgets.option_list import Option

from support_console.core.clock import utcnow
from support_console.core.errors import SupportConsoleError
from support_console.core.safe_text import visible
from support_console.core.vocabulary import STATUS_OPEN
from support_console.store.queue_rows import QUEUE_VIEWS, VIEW_TITLES, QueueRow
from support_console.ui.widgets.text_input import TextInput

if TYPE_CHECKING:
    from support_console.store import CustomerSummary

FILTER_DELAY = 0.15

QueueLoader = Callable[[str, str], Sequence["QueueRow | CustomerSummary"]]
"""(view, filter text) -> the rows to list: conversations of the view, or with a filter the matching
customers; blocking (it reads the store), so the list calls it in a thread."""


@dataclass(frozen=True)
class Entry:
    """What a row opens: a customer, and the conversation of a queue row (None: the customer's open one)."""

    customer_id: int
    conversation_id: int | None


def waited(since: datetime | None, now: datetime) -> str:
    """How long the customer has waited, as the row's fixed-width column shows it: "now", "12 min",
    "3 h", "2 d", and ">99 d" for anything longer (a queue that old needs no finer figure)."""
    if since is None:
        return ""
    seconds = max(0.0, (now - since).total_seconds())
    if seconds < 60:
        return "now"
    if seconds < 3600:
        return f"{int(seconds // 60)} min"
    if seconds < 86400:
        return f"{int(seconds // 3600)} h"
    days = int(seconds // 86400)
    return f"{days} d" if days <= 99 else ">99 d"


class QueueList(Vertical):
    """Filter input, the view's title and its rows; Enter posts :class:`QueueList.Selected`."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "queue--wait",
        "queue--open",
        "queue--pending",
        "queue--resolved",
        "queue--persona",
        "queue--unread",
    }

    class Selected(Message):
        """The agent chose a row: a conversation (``conversation_id``) or a customer to work on."""

        def __init__(self, customer_id: int, conversation_id: int | None = None) -> None:
            super().__init__()
            self.customer_id = customer_id
            self.conversation_id = conversation_id

    class Loaded(Message):
        """The list shows the rows of a fresh read (the first one, a filter, a refresh, another view)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("down", "focus_list", "To the list", show=False, id="customers_down"),
        *(
            Binding(str(n), f"show_view('{view}')", VIEW_TITLES[view], show=False, id=f"queue_view_{view}")
            for n, view in enumerate(QUEUE_VIEWS, start=1)
        ),
    ]

    def __init__(self, loader: QueueLoader, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._loader = loader
        self._timer: Timer | None = None
        self.view = QUEUE_VIEWS[0]
        self.entries: list[Entry] = []
        # A read is on its way. Not Textual's ``loading``, which covers the widget with a loading indicator:
        # the list stays as it is (and usable) until the new rows replace it.
        self.reading = False
        self.reads = 0  # reads shown so far (0: the first one is not on screen yet)
        self.empty_hint = "No customers match."  # the screen names its add-customer key here
        self.view_hint = ""  # the screen names its view key here

    def compose(self) -> ComposeResult:
        yield TextInput(placeholder="Filter: name, email, id", id="customer-filter")
        yield OptionList(id="customer-options")

    def on_mount(self) -> None:
        self._title()

    @property
    def customer_ids(self) -> list[int]:
        return [entry.customer_id for entry in self.entries]

    @property
    def query_text(self) -> str:
        return self.query_one("#customer-filter", Input).value

    def show_view(self, view: str) -> None:
        """Switch to another view (``queue_rows.QUEUE_VIEWS``) and read it; a filter typed is cleared, so
        the view is what the list shows."""
        if view not in QUEUE_VIEWS:
            raise ValueError(f"unknown queue view {view!r}")
        self.view = view
        box = self.query_one("#customer-filter", Input)
        if box.value:
            with box.prevent(Input.Changed):
                box.value = ""
        self._title()
        self.refresh_list()

    def next_view(self) -> None:
        """The view after this one, round the list."""
        self.show_view(QUEUE_VIEWS[(QUEUE_VIEWS.index(self.view) + 1) % len(QUEUE_VIEWS)])

    def action_show_view(self, view: str) -> None:
        self.show_view(view)

    def _title(self) -> None:
        title = "Customers" if self.query_text.strip() else VIEW_TITLES[self.view]
        self.border_title = title
        self.border_subtitle = self.view_hint

    def refresh_list(self, select_id: int | None = None, *, then_select_single: bool = False) -> None:
        """Reload from the store in a thread, keeping the highlight on the same conversation or customer
        (``select_id``: a customer to highlight instead)."""
        self.reading = True
        self._load(self.view, self.query_text, select_id, then_select_single)

    @work(exclusive=True, group="customers", exit_on_error=False)
    async def _load(self, view: str, query: str, select_id: int | None, then_select_single: bool) -> None:
        try:
            rows = await asyncio.to_thread(self._loader, view, query)
        except SupportConsoleError as error:
            self.reading = False
            self.notify(str(error), severity="error", markup=False)
            return
        self._show(rows, select_id)
        self.reading = False
        self.reads += 1
        self._title()
        self.post_message(self.Loaded())
        if then_select_single and len(self.entries) == 1:
            self.post_message(self.Selected(self.entries[0].customer_id, self.entries[0].conversation_id))

    def _show(self, rows: Sequence[QueueRow | CustomerSummary], select_id: int | None) -> None:
        options = self.query_one("#customer-options", OptionList)
        before = self.highlighted
        now = utcnow()
        self.entries = []
        prompts: list[Option] = []
        for row in rows:
            entry, prompt = self._row(row, now)
            if entry is not None:  # one line each, cut to the list's width by its style (app.tcss)
                self.entries.append(entry)
                prompts.append(Option(prompt, id=str(len(self.entries) - 1)))
        options.clear_options()
        options.add_options(prompts)
        if not self.entries:
            hint = self.empty_hint if self.query_text.strip() else f"Nothing here. {self.view_hint}".strip()
            options.add_option(Option(Text(hint, style="italic"), disabled=True))
            return
        keep = next((i for i, e in enumerate(self.entries) if e.customer_id == select_id), None)
        if keep is None and before is not None:
            keep = next((i for i, e in enumerate(self.entries) if e == before), None)
        options.highlighted = keep if keep is not None else 0

    def _row(self, row: QueueRow | CustomerSummary, now: datetime) -> tuple[Entry | None, Text]:
        if isinstance(row, QueueRow):
            return Entry(row.customer_id, row.conversation_id), self.render_row(row, now)
        customer = row.customer
        if customer.id is None:
            return None, Text()
        return Entry(customer.id, None), render_customer(row)

    def render_row(self, row: QueueRow, now: datetime) -> Text:
        """Wait, a dot if not seen yet, name, status, persona: on one line."""
        style = self.get_component_rich_style
        text = Text(no_wrap=True, overflow="ellipsis", end="")
        waiting = row.waiting_since if row.status == STATUS_OPEN else None  # set aside or done: not waiting
        text.append(f"{waited(waiting, now):>6} ", style=style("queue--wait"))
        text.append("•" if row.unread else " ", style=style("queue--unread"))  # not seen yet
        text.append(visible(row.customer_name), style="bold")
        status_class = f"queue--{row.status}"
        status_style = style(status_class) if status_class in self.COMPONENT_CLASSES else None
        text.append(f" {row.status}", style=status_style or "")
        if row.assignee:
            text.append(f" @{visible(row.assignee)}", style=style("queue--persona"))
        text.append(f" {visible(row.persona_id or '—')}", style=style("queue--persona"))
        return text

    @property
    def highlighted(self) -> Entry | None:
        """The row under the highlight, if any."""
        index = self.query_one("#customer-options", OptionList).highlighted
        if index is None or not 0 <= index < len(self.entries):
            return None
        return self.entries[index]

    def highlight(self, entry: Entry) -> None:
        """Put the highlight on ``entry``'s row (the conversation just opened), if it is listed."""
        index = next((i for i, e in enumerate(self.entries) if e == entry), None)
        if index is not None:
            self.query_one("#customer-options", OptionList).highlighted = index

    def step(self, delta: int, current: Entry | None) -> Entry | None:
        """The row ``delta`` rows from ``current`` (the open conversation), highlighted; when it is not
        listed, the highlighted row (or the first). None past either end."""
        options = self.query_one("#customer-options", OptionList)
        index = next((i for i, e in enumerate(self.entries) if e == current), None)
        if index is None and current is not None:
            index = next(
                (i for i, e in enumerate(self.entries) if e.customer_id == current.customer_id), None
            )
        target = index + delta if index is not None else options.highlighted or 0
        if not 0 <= target < len(self.entries):
            return None
        options.highlighted = target
        return self.entries[target]

    @on(Input.Changed, "#customer-filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        event.stop()
        if self._timer is not None:
            self._timer.stop()
        self._timer = self.set_timer(FILTER_DELAY, self.refresh_list)

    @on(Input.Submitted, "#customer-filter")
    def _filter_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if self._timer is not None:
            self._timer.stop()
        self.refresh_list(then_select_single=True)
        self.query_one("#customer-options", OptionList).focus()

    @on(OptionList.OptionSelected, "#customer-options")
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if event.option.id is not None:
            entry = self.entries[int(event.option.id)]
            self.post_message(self.Selected(entry.customer_id, entry.conversation_id))

    def action_focus_list(self) -> None:
        """Down from the filter box moves into the list (the list's own Down moves the highlight)."""
        self.focus_list()

    def focus_list(self) -> None:
        self.query_one("#customer-options", OptionList).focus()

    def focus_filter(self) -> None:
        self.query_one("#customer-filter", Input).focus()


def render_customer(summary: CustomerSummary) -> Text:
    """A customer found by the filter: name and email, then the counts the agent triages by."""
    customer = summary.customer
    text = Text(visible(customer.name), style="bold")
    counts = []
    if summary.open_conversations:
        counts.append(f"{summary.open_conversations} open")
    if summary.unread:
        counts.append(f"{summary.unread} unread")
    if counts:
        text.append(" (" + ", ".join(counts) + ")", style="italic")
    text.append(f"  {visible(customer.email)}", style="dim")
    return text
