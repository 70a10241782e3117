"""The help screen: every action and the key it is on now (after any [keys] rebinding in the config)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from rich.table import Table
from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

HELP_CHROME = 9
"""Rows the dialog needs besides the keys: borders, title, a hint of up to three lines and their margins."""

HelpRow = tuple[str, str, str]  # (keys, action description, binding id)


def help_table(rows: Sequence[HelpRow]) -> Table:
    """The keys table. Every cell is a ``Text``: a plain string in a Rich table is markup, and "[keys]" (or
    a key rebound to "[") would vanish from the screen."""
    table = Table(box=None, expand=True, show_header=True, header_style="bold")
    table.add_column(Text("Key"), no_wrap=True)
    table.add_column(Text("Action"))
    table.add_column(Text("Config id ([keys])"), style="dim", no_wrap=True)
    for keys, description, binding_id in rows:
        table.add_row(Text(keys), Text(description), Text(binding_id))
    return table


class HelpScreen(ModalScreen[None]):
    """Escape, q, F1 or ? closes it."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,f1,question_mark", "close", "Close", id="help_close")
    ]
    AUTO_FOCUS = "#help-body"  # the arrows, page up/down, home and end scroll the keys on a small terminal

    def __init__(self, rows: Sequence[HelpRow]) -> None:
        super().__init__()
        self._rows = list(rows)

    def compose(self) -> ComposeResult:
        with Vertical(id="help-dialog", classes="dialog"):
            yield Static("Keys", classes="dialog-title", markup=False)
            with VerticalScroll(id="help-body"):
                yield Static(help_table(self._rows), id="help-table")
            yield Static(
                "↑↓ PgUp PgDn scroll · esc closes. Rebind any key in the config file's [keys] table, e.g. "
                'generate = "ctrl+g". ctrl+p opens the command palette with every action and persona.',
                classes="dialog-hint",
                markup=False,
            )

    def on_resize(self, event: events.Resize) -> None:
        """The keys take what the title and the hint leave, so the dialog never runs off a small screen."""
        self.query_one("#help-body").styles.max_height = max(3, event.size.height - HELP_CHROME)

    def action_close(self) -> None:
        self.dismiss(None)
