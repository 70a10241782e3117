"""The rewrite preview: the model's rewrite streams in over the draft as a word diff against the text it
rewrites, with what the preservation check flagged, until the agent accepts, retries or rejects it.

Why a screen over the draft: the draft must not change until the agent accepts, and nothing typed may go into
it meanwhile; the diff shows both texts anyway. The screen streams through the :class:`RewriteSession`
(which records everything) and dismisses with the agent's choice; the draft column applies an accept.

Streaming is coalesced: deltas are joined and the diff redrawn at most every :data:`REDRAW` seconds (a word
diff per token would cost a diff and a repaint each). The model's text is shown literally (rich Text,
``safe_text.visible``). Esc stops a streaming rewrite (what came is recorded) and rejects one that ended.
"""

from __future__ import annotations

import asyncio
from typing import ClassVar, Literal

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.timer import Timer
from textual.widgets import Static

from support_console.core.errors import SupportConsoleError
from support_console.core.safe_text import visible
from support_console.llm import LLMError
from support_console.ui.screens.audit import diff_text
from support_console.ui.widgets.footer import KeyFooter
from support_console.workflows.rewrite_session import ConsoleRewrite, RewriteSession

Choice = Literal["accept", "retry", "reject"]
REDRAW = 0.05


class RewritePreview(ModalScreen[Choice]):
    """Streams one rewrite and shows it; dismisses with ``accept`` (only a complete rewrite), ``retry`` or
    ``reject``."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "accept", "Accept", id="rewrite_accept"),
        Binding("r", "retry", "Retry", id="rewrite_retry"),
        Binding("escape", "reject", "Stop / reject", id="rewrite_reject"),
        Binding("plus", "rate(1)", "Thumbs up", id="rewrite_thumbs_up"),
        Binding("minus", "rate(-1)", "Thumbs down", id="rewrite_thumbs_down"),
    ]

    def __init__(self, rewrites: RewriteSession, rewrite: ConsoleRewrite, target: str) -> None:
        super().__init__()
        self.rewrites = rewrites
        self.rewrite = rewrite
        self.target = target
        self.streaming = False
        self._redraw: Timer | None = None

    def compose(self) -> ComposeResult:
        with Vertical(id="rewrite-preview", classes="dialog"):
            title = f"Rewrite {self.target}: {visible(self.rewrite.tool.name)}"
            yield Static(title, classes="dialog-title", markup=False)
            with VerticalScroll(id="rewrite-diff-scroll"):
                yield Static(id="rewrite-diff", markup=False)
            yield Static(id="rewrite-flags", markup=False)
            yield Static(id="rewrite-status", markup=False)
        yield KeyFooter(keys_in_first_frame=True)

    def on_mount(self) -> None:
        self._show_diff()
        self._set_status("Rewriting… (esc stops)")
        self.streaming = True
        self._stream()

    @property
    def diff(self) -> Static:
        return self.query_one("#rewrite-diff", Static)

    def _set_status(self, status: str, *, error: bool = False) -> None:
        widget = self.query_one("#rewrite-status", Static)
        widget.update(Text(visible(status)))
        widget.set_class(error, "-error")

    def _show_diff(self) -> None:
        self._redraw = None
        rewrite = self.rewrite
        outcome = rewrite.outcome
        shown = outcome.text if outcome else rewrite.prepared.assemble("".join(rewrite.pieces))
        original = rewrite.original
        self.diff.update(diff_text(original, shown) if shown.strip() else Text(visible(original)))

    def _more(self) -> None:
        if self._redraw is None:
            self._redraw = self.set_timer(REDRAW, self._show_diff)

    @work(exclusive=True, group="rewrite", exit_on_error=False)
    async def _stream(self) -> None:
        try:
            async for _piece in self.rewrites.stream(self.rewrite):
                self._more()
        except LLMError as error:
            self._ended(f"The rewrite failed: {error} · r retries, esc rejects.", error=True)
            return
        except asyncio.CancelledError:
            self._ended("Stopped: the partial rewrite is not applied · r retries, esc rejects.", error=True)
            raise
        except SupportConsoleError as error:
            self._ended(f"The rewrite failed: {error}", error=True)
            return
        outcome = self.rewrite.outcome
        if outcome is None:
            return
        if outcome.refused:
            self._ended("The model refused to rewrite this · r retries, esc rejects.", error=True)
        elif outcome.cut_off:
            cut = "The rewrite was cut off at the reply limit: select less text · esc rejects."
            self._ended(cut, error=True)
        else:
            self._ended(
                "enter accepts (ctrl+z in the draft undoes it) · r retries · esc rejects · + / - rate it."
            )

    def _ended(self, status: str, *, error: bool = False) -> None:
        self.streaming = False
        if self._redraw is not None:
            self._redraw.stop()
        self._show_diff()
        self._show_flags()
        self._set_status(status, error=error)
        self.refresh_bindings()

    def _show_flags(self) -> None:
        outcome = self.rewrite.outcome
        widget = self.query_one("#rewrite-flags", Static)
        findings = outcome.findings if outcome is not None else ()
        if not findings:
            widget.update(Text("Links, prices, ids and numbers: all kept." if outcome else ""))
            widget.set_class(False, "-error")
            return
        text = Text(f"Check before you accept ({len(findings)}):", style="bold")
        for finding in findings:
            text.append("\n⚠ " + visible(str(finding)))
        widget.update(text)
        widget.set_class(True, "-error")

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "accept":
            return not self.streaming and self.rewrite.acceptable
        if action in ("retry", "rate"):
            return not self.streaming
        return True

    def action_accept(self) -> None:
        if not self.streaming and self.rewrite.acceptable:
            self.dismiss("accept")

    def action_retry(self) -> None:
        if not self.streaming:
            self.dismiss("retry")

    def action_rate(self, rating: int) -> None:
        """Thumbs up or down on this rewrite (whatever is then chosen), with an optional reason."""
        from support_console.ui.screens.rating import ask_rating

        if self.streaming:
            return
        ask_rating(self.app, rating, lambda reason: self._rate(rating, reason), what="rewrite")

    @work(group="rating", exit_on_error=False)
    async def _rate(self, rating: int, reason: str) -> None:
        try:
            done = await self.rewrites.rate(self.rewrite, rating, reason)
        except SupportConsoleError as error:
            self.notify(str(error), severity="error", markup=False)
            return
        thumb = "up" if rating > 0 else "down"
        saved = f"Thumbs {thumb} saved for this rewrite." if done else "This rewrite has no record to rate."
        self.notify(saved, markup=False)

    def action_reject(self) -> None:
        if self.streaming:
            self.rewrites.stop()
            return
        self.dismiss("reject")
