"""A TextArea that holds the text as it is and never writes a character a terminal would act on.

Display safety stays out of the text: what the agent sees and edits is what is sent. Two rules make that
safe:

* escape sequences and the controls a terminal acts on never enter the document: pasted text loses them
  (``core.safe_text.without_controls``) and the agent is told how many went;
* bidi override and isolate controls (U+202A-E, U+2066-9) may be in the text (a mixed-direction reply can
  need them) but TextArea would write them to the terminal raw (its ``get_line`` builds a ``rich.Text`` from
  the line as is), so each is drawn as a visible symbol instead, one for one, so that every column the
  editor computes still points at the same character. Direction marks (LRM, RLM, ALM) are drawn as they are.
"""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import events
from textual.binding import Binding, BindingsMap, BindingType
from textual.message import Message
from textual.widgets import TextArea

from support_console.core.safe_text import pictured, without_controls


def removed_note(count: int, source: str) -> str:
    """How the agent is told that escape sequences were dropped from ``source`` (model or pasted text)."""
    return f"{count:,} escape sequence{'s' if count != 1 else ''} removed from {source}"


LEFT_TO_THE_SCREEN = ("f6", "f7", "ctrl+a")
"""TextArea's keys a SafeTextArea gives up: F6 (select line) and F7 (select all) are the screen's status
keys, which must work while the agent types; ctrl+a (line start, also on Home) selects all, as everywhere."""


OWN_BINDINGS: list[BindingType] = [Binding("ctrl+a", "select_all", "Select all", show=False, id="select_all")]
"""SafeTextArea's own keys: kept by its subclasses too (the draft's editor)."""


class SafeTextArea(TextArea):
    """TextArea whose pasted text loses escape sequences and whose lines are drawn terminal-safe."""

    BINDINGS: ClassVar[list[BindingType]] = OWN_BINDINGS

    class TypingRefused(Message):
        """A key that types was pressed while the text is read-only (a draft streaming or being sent): the
        text area drops it, so whoever locked the text says why."""

    async def _on_key(self, event: events.Key) -> None:
        if self.read_only and (event.is_printable or event.key == "enter"):
            self.post_message(self.TypingRefused())
        await super()._on_key(event)

    @classmethod
    def _merge_bindings(cls) -> BindingsMap:
        """TextArea's bindings without the keys left to the screen, then this class's own."""
        merged = super()._merge_bindings()
        own = [b for b in OWN_BINDINGS if isinstance(b, Binding)]
        keys = {
            key: [b for b in bindings if key not in LEFT_TO_THE_SCREEN or b in own]
            for key, bindings in merged.key_to_bindings.items()
        }
        return BindingsMap.from_keys({key: bindings for key, bindings in keys.items() if bindings})

    async def _on_paste(self, event: events.Paste) -> None:
        event.prevent_default()  # the base class would insert the raw text
        if self.read_only:
            return
        text, removed = without_controls(event.text)
        result = self.replace(text, *self.selection)
        self.move_cursor(result.end_location)
        self.focus()
        if removed:
            self.notify(removed_note(removed, "the pasted text") + ".", severity="warning", markup=False)

    def get_line(self, line_index: int) -> Text:
        """The line as drawn: bidi controls (and anything else unsafe) as visible symbols, same length."""
        return Text(pictured(self.document.get_line(line_index)), end="", no_wrap=True)
