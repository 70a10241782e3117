"""Reassign: a one-line question, "give this conversation to whom?", answered with an agent's name.

The names agents work under here are shown and matched as every name is (``core.matching.fold``): ``LEE``
gives it to ``lee``. A name nobody has worked under is asked again (a typo would give the conversation to
nobody's "mine" view); entered twice, it is given as typed (an agent who has not started yet).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from support_console.core.matching import fold, spelled_among
from support_console.core.safe_text import visible
from support_console.ui.widgets.text_input import TextInput


class AssignScreen(ModalScreen[str | None]):
    """Dismisses with the name typed, or None on escape (nothing changes)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="assign_cancel"),
    ]

    def __init__(self, conversation_id: int, current: str | None, known: Sequence[str] = ()) -> None:
        super().__init__()
        self._conversation_id = conversation_id
        self._current = current
        self._known = tuple(known)
        self._unknown_once: str | None = None  # a name not known here, entered once: the next enter gives it

    def compose(self) -> ComposeResult:
        with Vertical(id="assign-dialog", classes="dialog"):
            yield Static(
                f"Give conversation {self._conversation_id} to…", classes="dialog-title", markup=False
            )
            now = f"Assigned to {visible(self._current)} now." if self._current else "Nobody has it now."
            yield Static(now, markup=False)
            if self._known:
                yield Static(f"Agents here: {', '.join(visible(k) for k in self._known)}", markup=False)
            yield TextInput("", id="assign-name", placeholder="The agent's name")
            yield Static("", id="assign-error", markup=False)
            yield Static("enter assigns · esc cancels", classes="dialog-hint")

    def on_mount(self) -> None:
        self.query_one("#assign-name", Input).focus()

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        name = event.value.strip()
        error = self.query_one("#assign-error", Static)
        if not name:
            error.update("Type the agent's name (or press esc).")
            return
        known = spelled_among(name, self._known)
        if known is not None or not self._known or fold(name) == self._unknown_once:
            self.dismiss(known or name)
            return
        self._unknown_once = fold(name)
        error.update(
            f"Nobody called {visible(name)!r} has worked here lately. Enter again to give it to them anyway, "
            "or correct the name."
        )

    def action_cancel(self) -> None:
        self.dismiss(None)
