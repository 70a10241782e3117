"""The console's one-line text box: ctrl+a selects all, as in every other text box of the console.

Textual's Input binds ctrl+a to "go to the start" (an Emacs habit), so in the queue's filter or the logs'
search ctrl+a, backspace deleted nothing while the same keys cleared the draft and the incoming box (see
``SafeTextArea``). ``home`` still goes to the start.
"""

from __future__ import annotations

from typing import ClassVar

from textual.binding import Binding, BindingsMap, BindingType
from textual.widgets import Input


class TextInput(Input):
    """Input whose ctrl+a selects all instead of moving to the start."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+a", "select_all", "Select all", show=False, id="select_all"),
    ]

    @classmethod
    def _merge_bindings(cls) -> BindingsMap:
        """Input's bindings with ctrl+a taken from "home" (which keeps its own key), then this class's."""
        merged = super()._merge_bindings()
        own = [b for b in cls.__dict__.get("BINDINGS", []) if isinstance(b, Binding)]
        keys = {
            key: [b for b in bindings if key != "ctrl+a" or b in own]
            for key, bindings in merged.key_to_bindings.items()
        }
        return BindingsMap.from_keys({key: bindings for key, bindings in keys.items() if bindings})
