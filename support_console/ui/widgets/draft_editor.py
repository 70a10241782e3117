"""The draft's text area: a SafeTextArea that notices a canned reply's short name typed as ``/name``.

Why here: Tab (which moves the focus) and Enter (a new line) must be taken before the text area or the screen
act on them, and only when the word before the cursor is ``/name``. Enter is taken only for a name that is a
known canned reply (otherwise it types its line break as always); Tab after ``/`` or ``/anything`` is taken,
so ``/`` + Tab opens the canned-reply picker. The editor only says what was typed where
(:class:`DraftEditor.SlashTyped`); the draft column inserts the reply.
"""

from __future__ import annotations

import re
from collections.abc import Collection

from textual import events
from textual.message import Message

from support_console.ui.widgets.safe_text_area import SafeTextArea

_SLASH = re.compile(r"(?:^|(?<=\s))/([a-z0-9-]*)$")


class DraftEditor(SafeTextArea):
    """The draft pane's editor; ``macro_names`` (set by the column) are the names Enter completes."""

    macro_names: Collection[str] = ()

    class SlashTyped(Message):
        """``/name`` + Tab or Enter: ``start`` and ``end`` are where ``/name`` is, to be replaced."""

        def __init__(self, name: str, start: tuple[int, int], end: tuple[int, int]) -> None:
            super().__init__()
            self.name = name
            self.start = start
            self.end = end

    async def _on_key(self, event: events.Key) -> None:
        if event.key in ("tab", "enter") and not self.read_only and self.selection.is_empty:
            row, column = self.cursor_location
            found = _SLASH.search(self.document.get_line(row)[:column])
            if found is not None and (event.key == "tab" or found.group(1) in self.macro_names):
                event.prevent_default()
                event.stop()
                self.post_message(self.SlashTyped(found.group(1), (row, found.start()), (row, column)))
                return
        await super()._on_key(event)
