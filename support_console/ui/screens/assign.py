"""Reassign: a one-line question, "give this conversation to whom?", answered with an agent's name."""

from __future__ import annotations

from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from support_console.ui.widgets.text_input import TextInput


class AssignScreen(ModalScreen[str | None]):
    """Dismisses with the name typed, or None on escape (nothing changes)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="assign_cancel"),
    ]

    def __init__(self, conversation_id: int, current: str | None) -> None:
        super().__init__()
        self._conversation_id = conversation_id
        self._current = current

    def compose(self) -> ComposeResult:
        with Vertical(id="assign-dialog", classes="dialog"):
            yield Static(
                f"Give conversation {self._conversation_id} to…", classes="dialog-title", markup=False
            )
            now = f"Assigned to {self._current} now." if self._current else "Nobody has it now."
            yield Static(now, markup=False)
            yield TextInput("", id="assign-name", placeholder="The agent's name")
            yield Static("", id="assign-error", markup=False)
            yield Static("enter assigns · esc cancels", classes="dialog-hint")

    def on_mount(self) -> None:
        self.query_one("#assign-name", Input).focus()

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        name = event.value.strip()
        if not name:
            self.query_one("#assign-error", Static).update("Type the agent's name (or press esc).")
            return
        self.dismiss(name)

    def action_cancel(self) -> None:
        self.dismiss(None)
