"""Canned replies in the draft column: ``/name`` + Tab or Enter, or the picker key, inserts one; a macro's
status is set when the reply is sent; "adapt" drafts a reply with the model using one as guidance.

Kept beside the draft column (which owns the editor and the session) so the column's file stays about
drafting. Macro files are read in a thread (at mount and each time the picker opens or a name is not known
yet), never on the event loop. Inserting is one edit between two undo checkpoints, saved as every edit is.
A placeholder with no value stays visible in the text, and the send guard refuses the reply until it is
filled in.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from support_console.core.macros import Macro, MacroSet, load_macros
from support_console.ui.widgets.draft_editor import DraftEditor
from support_console.workflows.send_guard import unfilled_placeholders

if TYPE_CHECKING:
    from support_console.ui.widgets.draft_column import DraftColumn

Location = tuple[int, int]


class DraftMacros:
    """The canned replies of one draft column, and the status the reply's macro sets when it is sent."""

    def __init__(self, column: DraftColumn) -> None:
        self.column = column
        self.macros = MacroSet({})
        self.status_on_send: tuple[str, str] | None = None  # (status, macro id) of the inserted macro
        self._told: set[str] = set()

    @property
    def editor(self) -> DraftEditor:
        editor = self.column.pane.editor
        assert isinstance(editor, DraftEditor)
        return editor

    async def load(self) -> MacroSet:
        """Read the macro files (in a thread); the editor learns the names Enter completes."""
        self.macros = await asyncio.to_thread(load_macros, self.column.services.settings.macro_dirs)
        self.editor.macro_names = frozenset(self.macros.macros)
        for problem in self.macros.problems:
            if str(problem) not in self._told:  # once per console: the file is named with its field
                self._told.add(str(problem))
                self.column.notify(f"Canned reply not loaded: {problem}", severity="warning", markup=False)
        return self.macros

    def forget(self) -> None:
        """The draft was sent, discarded or left: its macro's status no longer applies."""
        self.status_on_send = None

    def typed(self, event: DraftEditor.SlashTyped) -> None:
        """``/name`` + Tab or Enter in the draft: insert that macro (or open the picker for ``/`` alone or a
        name that is not one)."""
        self.column.run_worker(
            self._typed(event.name, event.start, event.end), group="macro", exit_on_error=False
        )

    async def _typed(self, name: str, start: Location, end: Location) -> None:
        macros = await self.load()
        macro = macros.macros.get(name)
        if macro is not None:
            self.insert(macro, start, end)
            return
        await self._pick(name, (start, end))

    def pick(self) -> None:
        """The picker key: choose a macro for the cursor (or the selection) in the draft."""
        column = self.column
        if column.streaming or column.sending:
            column.notify(
                "Wait for the draft to finish streaming or sending.", severity="warning", markup=False
            )
            return
        editor = self.editor
        span = sorted((editor.selection.start, editor.selection.end))
        column.run_worker(self._pick("", (span[0], span[1])), group="macro", exit_on_error=False)

    async def _pick(self, typed: str, span: tuple[Location, Location]) -> None:
        macros = await self.load()
        if not macros.macros:
            self.column.notify(
                "No canned replies: add *.toml files to the macros folder (`support-console macros list`).",
                severity="warning",
                markup=False,
            )
            return
        from support_console.ui.screens.macro_picker import MacroPicker  # its first use: not needed at start

        chosen = await self.column.app.push_screen_wait(MacroPicker(macros.ordered(), typed))
        if chosen is None:
            self.editor.focus()
            return
        macro = macros.macros[chosen[0]]
        if chosen[1] == "adapt":
            from support_console.workflows.canned import guidance

            self.column.generate(guidance=(macro.id, guidance(macro, self.column.session)))
            return
        self.insert(macro, *span)

    def insert(self, macro: Macro, start: Location, end: Location) -> None:
        """Put the filled-in macro where ``/name`` (or the selection) was, as one undo step."""
        editor = self.editor
        if editor.read_only:
            return
        from support_console.workflows.canned import macro_values  # on the first insert, not at start

        text = macro.render(macro_values(self.column.session))
        around = editor.get_text_range((0, 0), start) + editor.get_text_range(end, editor.document.end)
        whole = not around.strip()  # nothing else in the draft: this macro is the whole reply
        if editor.get_text_range((start[0], 0), start).strip():
            text = "\n\n" + text  # after words on the same line: a paragraph of its own, not glued on
        editor.history.checkpoint()
        result = editor.replace(text, start, end)
        editor.history.checkpoint()
        editor.move_cursor(result.end_location)
        editor.focus()
        if macro.status:
            self.status_on_send = (macro.status, macro.id)
        elif whole:  # the macro is the whole reply now: an earlier one's status went with its text
            self.status_on_send = None
        self.column.pane.set_status(self._inserted(macro, text))

    @staticmethod
    def _inserted(macro: Macro, text: str) -> str:
        parts = [f"Inserted /{macro.id}."]
        unfilled = unfilled_placeholders(text)
        if unfilled:
            names = ", ".join("{{ " + name + " }}" for name in unfilled)
            parts.append(f"Fill in {names} before sending.")
        if macro.status:
            parts.append(f"Sending marks the conversation {macro.status}.")
        return " ".join(parts)
