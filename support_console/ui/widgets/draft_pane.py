"""The draft pane: what the model wrote (or the agent types), editable, with its context and outcome.

Streaming is coalesced: deltas are buffered and flushed into the TextArea at most once per frame, because one
TextArea edit per token costs a re-wrap and a repaint each and makes a fast stream ~20x slower to show.

Why a flush costs the same however long the reply: while the model writes, the (read-only) editor holds only
the newest few screens of text, and the whole text is kept as a list of pieces. TextArea re-wraps the line
an edit touches and, for every row it draws, joins the whole document and divides the row's whole line, so
a 5 MB reply shown whole made each frame cost seconds. The editor gets all of the text once, when the model
stops and the agent may edit, unless it is too long for that (``long_text``): then the editor holds the part
around the cursor and the pane the text before and after it, so a key costs the same however long the draft.

What the agent sees is what is sent: the text is the model's, except escape sequences and the other controls
a terminal acts on, which are dropped (also when split across deltas) and counted, and the agent is told.
The pane knows nothing of the store or the model; the draft column drives it and saves what it reports.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.timer import Timer
from textual.widgets import Static, TextArea

from support_console.core.safe_text import split_unfinished, visible, without_controls
from support_console.ui.widgets.draft_editor import DraftEditor
from support_console.ui.widgets.long_text import index_of, location_of, too_long, window
from support_console.ui.widgets.safe_text_area import removed_note

FRAME = 1 / 60
EDIT_SAVE_DELAY = 0.5
#: The status of a pane without a draft.
NO_DRAFT: Final = "No draft yet."
TAIL_MIN = 1_000
"""Characters the editor holds at least while streaming or editing a long draft (see ``_keep``)."""
MODEL_TEXT = "the model's text"
EDITED = "Edited by you"
SELECTED_PART = (
    "This draft is too long to be edited whole: only the part shown is selected, the rest stays as it is."
)


@dataclass(frozen=True)
class Meter:
    """The token meter: what the last prepared request cost against its budget."""

    prompt_tokens: int
    budget: int
    kept: int
    dropped: int
    truncated: bool
    window_known: bool = True  # False: the budget rests on a guessed window (the notice says how to set it)
    estimated: bool = False  # the count is tiktoken's estimate of the server's tokenizer

    def render(self) -> str:
        about = "≈" if self.estimated else ""
        parts = [f"prompt {about}{self.prompt_tokens:,} / {self.budget:,} tokens"]
        if not self.window_known:
            parts.append("window unknown")  # the notice shown with it says how to set it
        if self.dropped:
            parts.append(f"{self.dropped:,} older message{'s' if self.dropped != 1 else ''} trimmed")
        if self.truncated:
            parts.append("one message truncated")
        return " · ".join(parts)


@dataclass(frozen=True)
class ShownDraft:
    """What the pane showed before a stream: shown again, as it was, when the stream wrote nothing."""

    text: str
    model_text: str | None  # None for a reply written by hand
    removed: int  # escape sequences dropped from the model's text (its status said so)


class DraftPane(Vertical):
    """Header (persona, model, meter), the editable draft, and a status line."""

    class Edited(Message):
        """The agent changed the draft text (debounced), so it can be saved crash-safely."""

        def __init__(
            self, pane: DraftPane, conversation_id: int | None, draft_id: int | None, text: str
        ) -> None:
            super().__init__()
            self.pane = pane
            self.conversation_id = conversation_id
            self.draft_id = draft_id
            self.text = text

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.conversation_id: int | None = None  # set by the screen: which conversation the draft belongs to
        self.draft_id: int | None = None
        self.streaming = False
        self.removed = 0  # escape sequences dropped from the model's text of the draft shown
        self._model_text: str | None = None  # None for a reply written by hand
        self._parts: list[str] = []  # the model's text while it streams (joined on demand, once)
        self._tail = ""  # the newest text, which is all the editor holds while streaming
        self._tail_cut = False
        self._before = ""  # a long draft's text before the part the editor holds (see ``long_text``)
        self._after = ""  # ... and after it
        self._carry = ""  # an escape sequence split across deltas, waiting for its end
        self._pending: list[str] = []
        self._saved_text = ""
        self._flush_timer: Timer | None = None
        self._edit_timer: Timer | None = None
        self._persona = "—"
        self._model = "—"
        self._meter: Meter | None = None
        self._status = ("", False)
        self._status_while: str | None = None  # the text a status is about (it goes when the text changes)
        self._edited_shown = False  # the status says the agent edited the model's draft

    def compose(self) -> ComposeResult:
        yield Static(id="draft-header", markup=False)
        editor = DraftEditor(id="draft-editor", soft_wrap=True, tab_behavior="focus")
        editor.border_title = "Draft"
        yield editor
        yield Static(id="draft-status", markup=False)

    def on_mount(self) -> None:
        self._render_header()
        self.set_status(NO_DRAFT)

    @property
    def editor(self) -> TextArea:
        return self.query_one("#draft-editor", TextArea)

    @property
    def text(self) -> str:
        """The draft's text: while streaming, all that came so far (the editor shows its newest part); a long
        draft's text around the part the editor holds, with that part as edited."""
        if self.streaming:
            return self.model_text or ""
        if self.windowed:
            return self._before + self.editor.text + self._after
        return self.editor.text

    @property
    def windowed(self) -> bool:
        """True when the draft is too long to be held whole: the editor holds the part around the cursor."""
        return bool(self._before or self._after)

    @property
    def model_text(self) -> str | None:
        """What the model wrote, minus escape sequences; None for a reply written by hand."""
        if self._parts:
            self._model_text = (self._model_text or "") + "".join(self._parts)
            self._parts.clear()
        return self._model_text

    @property
    def received(self) -> bool:
        """Some of the model's text came during this stream (shown, or waiting for the next frame)."""
        return bool(self._pending or self._parts or self._model_text or self._carry)

    def shown(self) -> ShownDraft:
        """The draft as shown now, to show again if a stream that replaces it writes nothing."""
        return ShownDraft(self.text, self.model_text, self.removed)

    @property
    def edited(self) -> bool:
        """True when the text differs from what the model wrote (or, by hand, when anything was typed)."""
        model_text = self.model_text
        if model_text is None:
            return bool(self.text.strip())
        return not self._holds(model_text)

    @property
    def meter(self) -> Meter | None:
        """The token meter shown, if a request has been measured for this conversation and persona."""
        return self._meter

    @property
    def dirty(self) -> bool:
        """True when the text on screen has not been reported as saved."""
        return not self._holds(self._saved_text)

    def _holds(self, other: str) -> bool:
        """True when the draft's text is ``other``: a long draft is compared part by part, never joined
        (each key asks, and joining 5 MB costs a key milliseconds)."""
        if self.streaming or not self.windowed:
            return self.text == other
        before, middle, after = self._before, self.editor.text, self._after
        if len(before) + len(middle) + len(after) != len(other):
            return False
        return other.startswith(before) and other.startswith(middle, len(before)) and other.endswith(after)

    # -- header and status -------------------------------------------------------------------------------

    def show_context(self, persona: str, model: str | None, meter: Meter | None = None) -> None:
        self._persona = persona
        self._model = model or "no model configured"
        if meter is not None:
            self._meter = meter
        self._render_header()

    def clear_meter(self) -> None:
        self._meter = None
        self._render_header()

    def _render_header(self) -> None:
        header = Text()
        header.append("Persona ", style="dim")
        header.append(visible(self._persona), style="bold")
        header.append("  Model ", style="dim")
        header.append(visible(self._model))
        header.append("\n")
        header.append(
            self._meter.render() if self._meter else "prompt tokens: generate to measure", style="dim"
        )
        self.query_one("#draft-header", Static).update(header)

    @property
    def status(self) -> str:
        """The status line as set (without the "Edited by you" in front of it)."""
        return self._status[0]

    @property
    def status_is_error(self) -> bool:
        """Whether the status line says something failed (a save, a send)."""
        return self._status[1]

    def set_status(self, status: str, *, error: bool = False, while_text: str | None = None) -> None:
        """Show ``status``; with ``while_text``, only while the draft holds that text (a status about an
        edit, such as "ctrl+z undoes it", would be wrong once the agent undoes it or types on)."""
        self._status = (status, error)
        self._status_while = while_text
        self._show_status()

    def _show_status(self) -> None:
        """The status as set, after "Edited by you" while the model's draft differs from what it wrote."""
        status, error = self._status
        if self._edited_shown:
            status = f"{EDITED} · {status}" if status else EDITED  # first: a narrow line crops its end
        widget = self.query_one("#draft-status", Static)
        widget.update(Text(visible(status)))
        widget.set_class(error, "-error")

    # -- streaming -------------------------------------------------------------------------------------

    def begin_stream(self, status: str = "Generating…", *, keep_draft_id: bool = True) -> None:
        """Empty the editor and lock it while the model writes (the agent edits once it stops)."""
        if not keep_draft_id:
            self.draft_id = None
        self._pending.clear()
        self.streaming = True
        self._model_text, self._parts, self._tail, self._tail_cut, self._carry = "", [], "", False, ""
        self._before = self._after = ""
        self._edited_shown = False
        self.removed = 0
        self.editor.read_only = True
        self.editor.load_text("")
        self._saved_text = ""
        self.editor.set_class(True, "-streaming")  # on the editor alone: restyling the pane costs a frame
        self.set_status(status)

    def feed(self, delta: str) -> None:
        """Buffer a delta; a one-shot timer moves everything buffered into the editor a frame later.

        Between deltas no timer runs, so a slow stream leaves the app idle.
        """
        if not delta:
            return
        self._pending.append(delta)
        if self._flush_timer is None:
            self._flush_timer = self.set_timer(FRAME, self._flush)

    def _flush(self, *, final: bool = False) -> None:
        """Move what was buffered into the editor: work in proportion to what came, not to the whole text."""
        if self._flush_timer is not None:
            self._flush_timer.stop()
            self._flush_timer = None
        if not self._pending and not (final and self._carry):
            return
        raw = self._carry + "".join(self._pending)
        self._pending.clear()
        ready, self._carry = (raw, "") if final else split_unfinished(raw)
        chunk, removed = without_controls(ready)
        self.removed += removed
        if chunk:
            self._parts.append(chunk)
            self._show_tail(chunk)

    def _keep(self) -> int:
        """Characters that fill the editor: it holds between that and twice that. No more: a row drawn costs
        TextArea a division of its whole line, so a key costs the rows shown times the rows of the line."""
        size = self.editor.size
        return max(TAIL_MIN, size.width * size.height)

    def _show_tail(self, chunk: str) -> None:
        editor = self.editor
        keep = self._keep()
        if len(self._tail) + len(chunk) <= 2 * keep:
            self._tail += chunk
            editor.insert(chunk, editor.document.end)
        else:  # start the view further on: a bounded reload every `keep` characters
            tail = (self._tail + chunk)[-keep:]
            newline = tail.find("\n", 0, keep // 2)
            self._tail = tail[newline + 1 :] if newline >= 0 else tail
            self._tail_cut = True
            editor.load_text(self._tail)
            editor.border_subtitle = "newest text shown; all of it once the model stops"
        editor.scroll_end(animate=False, immediate=True)

    def end_stream(self, status: str, *, error: bool = False) -> None:
        """Show everything that came, unlock the editor and say how it ended."""
        self._flush(final=True)
        self.streaming = False
        editor = self.editor
        if self._tail_cut:
            editor.border_subtitle = ""
        text = self.model_text or ""
        if too_long(text):  # the newest part, in a fresh history (see below)
            self._show_window(text, len(text))
        else:
            if self._tail_cut or editor.text:
                # The whole text, once, as one edit in a fresh history: the generation is one undo step
                # (the streamed chunks were each an edit, and ctrl+z removed the last word).
                editor.load_text("")
                editor.insert(text)
            editor.move_cursor(editor.document.end)
        self._tail, self._tail_cut = "", False
        editor.read_only = False
        editor.scroll_end(animate=False, immediate=True)
        # The text's wrapped height is known only after the next layout: scroll again then, so the draft
        # always ends at its last line (not at where the end was before the last chunk was laid out).
        editor.call_after_refresh(editor.scroll_cursor_visible, animate=False)
        editor.set_class(False, "-streaming")
        self.set_status(self._with_removed(status), error=error)
        if self.removed:
            self.notify(removed_note(self.removed, MODEL_TEXT) + ".", severity="warning", markup=False)

    def _with_removed(self, status: str) -> str:
        """The status, and how many escape sequences were dropped from the model's text (if any)."""
        if not self.removed:
            return status
        note = removed_note(self.removed, MODEL_TEXT)
        return f"{note} · {status}" if status else note  # first: a narrow status line crops its end

    def end_stream_unchanged(
        self, shown: ShownDraft, draft_id: int | None, status: str, *, error: bool = False
    ) -> None:
        """The model wrote nothing: unlock the editor and show the draft from before the stream again, as
        it was (its model text too, so an edit still shows as one), and say how the stream ended."""
        self._flush(final=True)
        self.streaming = False
        self.editor.set_class(False, "-streaming")
        self.editor.border_subtitle = ""
        self.load_draft(shown.text, draft_id=draft_id, model_text=shown.model_text, status="")
        self.removed = shown.removed  # counted from the raw text, which the pane no longer has
        self._edited_shown = shown.model_text is not None and self.edited
        self.set_status(self._with_removed(status), error=error)

    def mark_saved(self, draft_id: int | None, text: str | None = None) -> None:
        """The store holds ``text`` (the text on screen if None) for ``draft_id``: only later changes count
        as unsaved. The text is passed when the save was asked for earlier: the agent may have typed since."""
        self.draft_id = draft_id
        self._saved_text = self.text if text is None else text

    def hold(self, status: str) -> None:
        """Lock the editor while the draft is being sent (what is sent is what the agent saw)."""
        self.editor.read_only = True
        self.set_status(status)

    def release(self, status: str, *, error: bool = False) -> None:
        """Unlock the editor after :meth:`hold` (the reply was not sent: the text stays)."""
        self.editor.read_only = False
        self.set_status(status, error=error)

    # -- whole drafts ----------------------------------------------------------------------------------

    def load_draft(self, text: str, *, draft_id: int | None, model_text: str | None, status: str) -> None:
        """Show a saved draft (restored after a restart) without asking the model for anything."""
        self._pending.clear()
        shown, removed = without_controls(text)
        self._parts.clear()
        self._model_text = None
        if model_text is not None:
            self._model_text, removed = without_controls(model_text)
        self.removed = removed
        self._edited_shown = False  # until the agent changes what is shown (a restored draft says so)
        self.editor.read_only = False
        if too_long(shown):
            self._show_window(shown, len(shown))
        else:
            self._before = self._after = ""
            self.editor.border_subtitle = ""
            self.editor.load_text(shown)
            self.editor.move_cursor(self.editor.document.end)  # ready to continue typing where it ends
        self.mark_saved(draft_id)
        self.set_status(self._with_removed(status) if status else status)

    def clear_draft(self, status: str = NO_DRAFT) -> None:
        self.load_draft("", draft_id=None, model_text=None, status=status)

    # -- a long draft ----------------------------------------------------------------------------------

    def _show_window(self, text: str, centre: int) -> None:
        """Hold the part of ``text`` around ``centre`` in the editor (a fresh history), the cursor at
        ``centre``, and keep the rest; the border says which part is shown."""
        editor = self.editor
        start, end = window(text, centre, self._keep())
        self._before, self._after = text[:start], text[end:]
        editor.load_text(text[start:end])
        editor.move_cursor(location_of(editor.document, centre - start))
        editor.scroll_cursor_visible(center=True, animate=False)
        editor.border_subtitle = (
            f"long draft, {len(text):,} characters: from character {start + 1:,} shown; "
            "move up or down for the rest"
        )

    def on_text_area_selection_changed(self, event: TextArea.SelectionChanged) -> None:
        """Near an edge of the part a long draft's editor holds, hold the part around the cursor instead."""
        if not self.windowed or self.streaming:
            return
        editor = self.editor
        selection = editor.selection
        if selection.start != selection.end:  # selecting: the part stays, and says what is selected
            if sorted(selection) == [(0, 0), editor.document.end]:
                self.notify(SELECTED_PART, severity="warning", markup=False)
            return
        index = index_of(editor.document, selection.end)
        margin = self._keep() // 3
        if (index < margin and self._before) or (len(editor.text) - index < margin and self._after):
            self._show_window(self.text, len(self._before) + index)

    # -- agent edits -----------------------------------------------------------------------------------

    def on_text_area_changed(self, event: TextArea.Changed) -> None:
        event.stop()
        if self.streaming:
            return
        edited = self.model_text is not None and self.edited  # a draft by hand is all the agent's anyway
        outdated = self._status_while is not None and self.text != self._status_while
        if outdated:
            self._status, self._status_while = ("", False), None
        if outdated or edited != self._edited_shown:
            self._edited_shown = edited
            self._show_status()
        if not self.dirty:
            return
        if self._edit_timer is not None:
            self._edit_timer.stop()
        self._edit_timer = self.set_timer(EDIT_SAVE_DELAY, self._report_edit)

    def _report_edit(self) -> None:
        self._edit_timer = None
        if self.dirty and not self.streaming:
            self.post_message(self.Edited(self, self.conversation_id, self.draft_id, self.text))

    def take_unsaved_edit(self) -> str | None:
        """The edited text not yet reported, if any; cancels the pending report (the caller saves it now)."""
        if self._edit_timer is not None:
            self._edit_timer.stop()
            self._edit_timer = None
        return self.text if self.dirty and not self.streaming else None
