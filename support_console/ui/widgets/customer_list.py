"""The customer list: a filter box over customers, open conversations first, with open/unread counts.

The rows are read in a thread (the loader is a blocking store read), so typing in the filter box never waits
for the database; a newer read replaces an older one still running.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
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

from support_console.core.errors import SupportConsoleError
from support_console.core.safe_text import visible

if TYPE_CHECKING:
    from support_console.store import CustomerSummary

FILTER_DELAY = 0.15

SummaryLoader = Callable[[str], Sequence["CustomerSummary"]]
"""(filter text) -> the rows to list; blocking (it reads the store), so the list calls it in a thread."""


def render_summary(summary: CustomerSummary) -> Text:
    """Name and email, then the counts the agent triages by."""
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


class CustomerList(Vertical):
    """Filter input and the list; Enter on a customer posts :class:`CustomerList.Selected`."""

    class Selected(Message):
        """The agent chose a customer to work on."""

        def __init__(self, customer_id: int) -> None:
            super().__init__()
            self.customer_id = customer_id

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("down", "focus_list", "To the list", show=False, id="customers_down")
    ]

    class Loaded(Message):
        """The list shows the rows of a fresh read (the first one, a filter, a refresh)."""

    def __init__(self, loader: SummaryLoader, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._loader = loader
        self._timer: Timer | None = None
        self.customer_ids: list[int] = []
        self.loading = False
        self.empty_hint = "No customers match."  # the screen names its add-customer key here

    def compose(self) -> ComposeResult:
        yield Input(placeholder="Filter: name or email", id="customer-filter")
        yield OptionList(id="customer-options")

    def on_mount(self) -> None:
        self.border_title = "Customers"  # the screen fills the list once it has set empty_hint

    @property
    def query_text(self) -> str:
        return self.query_one("#customer-filter", Input).value

    def refresh_list(self, select_id: int | None = None, *, then_select_single: bool = False) -> None:
        """Reload from the store in a thread, keeping (or moving) the highlight."""
        self.loading = True
        self._load(self.query_text, select_id, then_select_single)

    @work(exclusive=True, group="customers", exit_on_error=False)
    async def _load(self, query: str, select_id: int | None, then_select_single: bool) -> None:
        try:
            summaries = await asyncio.to_thread(self._loader, query)
        except SupportConsoleError as error:
            self.loading = False
            self.notify(str(error), severity="error", markup=False)
            return
        self._show(summaries, select_id)
        self.loading = False
        self.post_message(self.Loaded())
        if then_select_single and len(self.customer_ids) == 1:
            self.post_message(self.Selected(self.customer_ids[0]))

    def _show(self, summaries: Sequence[CustomerSummary], select_id: int | None) -> None:
        options = self.query_one("#customer-options", OptionList)
        keep = select_id
        if keep is None and options.highlighted_option is not None and options.highlighted_option.id:
            keep = int(options.highlighted_option.id)
        self.customer_ids = [s.customer.id for s in summaries if s.customer.id is not None]
        options.clear_options()
        options.add_options(
            [Option(render_summary(s), id=str(s.customer.id)) for s in summaries if s.customer.id is not None]
        )
        if not self.customer_ids:
            options.add_option(Option(Text(self.empty_hint, style="italic"), disabled=True))
        if keep is not None and keep in self.customer_ids:
            options.highlighted = self.customer_ids.index(keep)
        elif self.customer_ids:
            options.highlighted = 0

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
            self.post_message(self.Selected(int(event.option.id)))

    def action_focus_list(self) -> None:
        """Down from the filter box moves into the list (the list's own Down moves the highlight)."""
        self.query_one("#customer-options", OptionList).focus()

    def focus_filter(self) -> None:
        self.query_one("#customer-filter", Input).focus()
