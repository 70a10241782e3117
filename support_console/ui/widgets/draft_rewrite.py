"""Rewriting the draft in the console: pick a tool, watch the preview, accept it as one undo step.

Kept beside the draft column (which owns the editor and the session) rather than in it, so the column's file
stays about drafting. The flow runs in one worker of the column: the picker, the request (on the session's
thread), the preview screen (which streams), then the agent's choice. Only an accept changes the editor,
as one edit between two undo checkpoints (ctrl+z gives the text back), and only if the text it rewrote is
still what the editor holds there; the edit is then saved as every edit is.

The picker, the preview (with the audit's diff) and the rewrite session are imported on the first rewrite:
the console's first frame and opening a conversation need none of them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from support_console.core.errors import SupportConsoleError
from support_console.workflows.draft_session import NotReady

if TYPE_CHECKING:
    from support_console.ui.screens.rewrite_picker import ToolChoice
    from support_console.ui.widgets.draft_column import DraftColumn
    from support_console.workflows.rewrite_session import ConsoleRewrite, RewriteSession

Location = tuple[int, int]
Span = tuple[Location, Location]


class DraftRewriter:
    """The rewrite flow of one draft column."""

    def __init__(self, column: DraftColumn) -> None:
        self.column = column
        self._rewrites: RewriteSession | None = None
        self.active = False  # a picker or a preview is open

    @property
    def rewrites(self) -> RewriteSession:
        """The column's rewrite session (tools, refine history), made on the first rewrite."""
        if self._rewrites is None:
            from support_console.workflows.rewrite_session import RewriteSession

            self._rewrites = RewriteSession(self.column.services, self.column.session)
        return self._rewrites

    def start(self) -> None:
        """Open the tool picker for the selected text, or the whole draft when nothing is selected."""
        column = self.column
        pane = column.pane
        if self.active:
            return
        if column.services.client is None:
            self._warn("Rewriting needs a model provider: run `support-console config` for how to set one.")
            return
        if column.generating or column.sending:
            self._warn(f"A draft is streaming or being sent: wait for it or stop it ({column.key('stop')}).")
            return
        if pane.conversation_id is None or not pane.text.strip():
            self._warn(
                f"There is no draft to rewrite: generate one ({column.key('generate')}) or write it "
                f"({column.key('write')})."
            )
            return
        editor = pane.editor
        start, end = sorted((editor.selection.start, editor.selection.end))
        selected = editor.get_text_range(start, end)
        span: Span | None = (start, end) if selected.strip() else None
        if span is None and pane.windowed:  # the editor holds only a part of a long draft (long_text.py)
            self._warn("This draft is too long to rewrite whole: select the part to rewrite, then try again.")
            return
        text = selected if span is not None else editor.text
        column.save_unsaved_edit()  # queued before the request: its record names the saved draft
        self.active = True
        column.run_worker(self._flow(text, span), group="rewrite", exclusive=True, exit_on_error=False)

    async def _flow(self, text: str, span: Span | None) -> None:
        from support_console.ui.screens.rewrite_picker import ToolPicker

        target = "the selection" if span is not None else "the draft"
        try:
            tools = await self.rewrites.tools(reload=True)
            if tools.problems:
                self._warn(f"{len(tools.problems)} tool file problem(s): run `support-console tools check`.")
            choice = await self.column.app.push_screen_wait(
                ToolPicker(tools.ordered(), target, self.rewrites.history())
            )
            while choice is not None:
                choice = await self._once(choice, text, span, target)
        finally:
            self.active = False

    async def _once(self, choice: ToolChoice, text: str, span: Span | None, target: str) -> ToolChoice | None:
        """One rewrite: prepared, previewed, decided; the same choice again on retry, else None."""
        from support_console.ui.screens.rewrite_preview import RewritePreview

        try:
            rewrite = await self.rewrites.prepare(choice.tool, text, choice.inputs, span)
        except NotReady as error:
            self._warn(str(error))
            return None
        except SupportConsoleError as error:
            self.column.notify(str(error), title="Cannot rewrite", severity="error", markup=False)
            return None
        verdict = await self.column.app.push_screen_wait(RewritePreview(self.rewrites, rewrite, target))
        accepted = verdict == "accept" and self._apply(rewrite, text, span)
        try:
            await self.rewrites.decide(rewrite, accepted=accepted)
        except SupportConsoleError as error:
            note = f"The rewrite's outcome was not recorded: {error}"
            self.column.notify(note, severity="error", markup=False)
        pane = self.column.pane
        if accepted:
            pane.set_status(
                f"Rewrite accepted ({choice.tool.name}): ctrl+z in the draft undoes it.", while_text=pane.text
            )
        elif verdict != "retry":
            pane.set_status("Rewrite rejected: the draft is unchanged.")
        return choice if verdict == "retry" else None

    def _apply(self, rewrite: ConsoleRewrite, text: str, span: Span | None) -> bool:
        """Put the accepted rewrite into the editor as one undo step; False if the text moved meanwhile."""
        outcome = rewrite.outcome
        editor = self.column.pane.editor
        if outcome is None or self.column.pane.streaming or editor.read_only:
            return False
        start, end = span if span is not None else ((0, 0), editor.document.end)
        if editor.get_text_range(start, end) != text:
            self._warn("The draft changed while the rewrite was open: it was not applied.")
            return False
        editor.history.checkpoint()
        result = editor.replace(outcome.text, start, end)
        editor.history.checkpoint()
        editor.move_cursor(result.end_location)
        editor.focus()
        return True

    def _warn(self, message: str) -> None:
        self.column.notify(message, severity="warning", markup=False)
