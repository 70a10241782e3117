"""Thumbs up or down on the draft the pane holds, with an optional reason (the stats and exports count them).

A small question rather than a bare key: "why" is what makes a thumbs down useful to whoever tunes the
personas, and leaving it empty (enter) is one key more than the thumb itself.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from textual import on
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from support_console.ui.widgets.text_input import TextInput


class RatingScreen(ModalScreen[str | None]):
    """Dismisses with the reason ("" for none) on enter, None on escape (nothing is rated)."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel", id="rating_cancel")]

    def __init__(self, up: bool, *, what: str = "draft") -> None:
        super().__init__()
        self.up = up
        self.what = what  # what is rated, as the title names it

    def compose(self) -> ComposeResult:
        with Vertical(id="rating-dialog", classes="dialog"):
            title = f"Thumbs {'up' if self.up else 'down'} for this {self.what}"
            yield Static(title, classes="dialog-title", markup=False)
            yield TextInput("", id="rating-reason", placeholder="Why? (optional)")
            yield Static("enter saves · esc cancels", classes="dialog-hint", markup=False)

    def on_mount(self) -> None:
        self.query_one("#rating-reason", Input).focus()

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.dismiss(event.value.strip())

    def action_cancel(self) -> None:
        self.dismiss(None)


def ask_rating(app: App[Any], rating: int, then: Callable[[str], object], *, what: str = "draft") -> None:
    """Ask for the reason of a thumbs up (``rating`` 1) or down (-1) on ``what``, then call ``then`` with
    it ("" for none); nothing is called when the agent cancels. The one flow of the draft, audit and rewrite
    thumbs, which differ only in where the rating is written."""

    def answered(reason: str | None) -> None:
        if reason is not None:
            then(reason)

    app.push_screen(RatingScreen(rating > 0, what=what), answered)
