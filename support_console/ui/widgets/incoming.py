"""Where the agent pastes the customer's latest message (or types an internal note)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Static, TextArea

from support_console.ui.widgets.safe_text_area import SafeTextArea


class IncomingBox(Vertical):
    """A multi-line box; the screen's keys add its text as a customer message or an internal note."""

    def __init__(self, hint: str = "", *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._hint = hint

    def compose(self) -> ComposeResult:
        area = SafeTextArea(id="incoming-text", soft_wrap=True, tab_behavior="focus")
        area.border_title = "Incoming message"
        yield area
        yield Static(self._hint, id="incoming-hint", markup=False)

    @property
    def area(self) -> TextArea:
        return self.query_one("#incoming-text", TextArea)

    @property
    def text(self) -> str:
        return self.area.text

    def set_hint(self, hint: str) -> None:
        self._hint = hint
        if self.is_mounted:
            self.query_one("#incoming-hint", Static).update(hint)

    def clear(self) -> None:
        self.area.load_text("")
