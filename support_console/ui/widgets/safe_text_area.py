"""A TextArea that never holds raw control characters.

TextArea writes its text to the terminal as is, so a pasted ANSI escape (common when copying from another
terminal) would restyle or garble the screen. Pasted text gets the same treatment as everything else shown:
control characters become visible symbols (newlines and tabs stay).
"""

from __future__ import annotations

from textual import events
from textual.widgets import TextArea

from support_console.core.safe_text import visible


class SafeTextArea(TextArea):
    """TextArea whose pasted text is sanitised before it enters the document."""

    async def _on_paste(self, event: events.Paste) -> None:
        event.prevent_default()  # the base class would insert the raw text
        if self.read_only:
            return
        result = self.replace(visible(event.text), *self.selection)
        self.move_cursor(result.end_location)
        self.focus()
