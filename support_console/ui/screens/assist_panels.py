"""The summary panel and the translation view: model text beside the draft, streamed, stored, never sent.

Why panels over the main screen rather than part of the draft column: what they show is read, not edited,
and the draft stays exactly as it was underneath (the sent text is always the draft's). Both stream with the
workflows' :class:`~support_console.workflows.outputs.OutputStream` on the draft session's queue (so their
saves line up behind its other store calls, off the event loop) and repaint at most :data:`FRAME` seconds
apart, however fast the tokens come. Model text is shown literally (``rich.text.Text``, visible characters).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import aclosing
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from support_console.core.errors import SupportConsoleError
from support_console.core.languages import language_name
from support_console.core.safe_text import visible
from support_console.core.vocabulary import GENERATION_TRANSLATION, ROLE_NOTE
from support_console.llm import LLMError, RefusalDelta, StreamEvent
from support_console.store.tables import Message  # the note a summary became (the panel's result)

if TYPE_CHECKING:
    from support_console.store import SummaryState
    from support_console.workflows.draft_session import DraftSession
    from support_console.workflows.services import Services

FRAME = 1 / 20


class _StreamedPanel(ModalScreen[Message | None]):
    """A modal text panel whose body grows as a stream comes (coalesced per frame)."""

    DEFAULT_CSS = """
    _StreamedPanel { align: center middle; }
    _StreamedPanel > Vertical { width: 90%; max-width: 110; height: 80%; border: round $accent;
        background: $surface; padding: 0 1; }
    _StreamedPanel .panel-title { text-style: bold; }
    _StreamedPanel .panel-status { color: $text-muted; }
    _StreamedPanel VerticalScroll { height: 1fr; }
    _StreamedPanel .dialog-hint { color: $text-muted; }
    """
    TITLE_TEXT = ""
    HINT = ""
    #: The draft's send keys (the same ids as the main screen's, so a rebinding applies here too): nothing
    #: is sent from over a panel, and the agent pressing one is told so rather than left wondering.
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "not_sent_here", "Approve & send", id="approve", show=False),
        Binding("f9", "not_sent_here", "Send & set pending", id="send_pending", show=False),
        Binding("f10", "not_sent_here", "Send & resolve", id="send_resolved", show=False),
    ]

    def __init__(self, services: Services, session: DraftSession) -> None:
        super().__init__()
        self.services, self.session = services, session
        self.text = ""
        self.streaming = False
        self._dirty = False

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(self.TITLE_TEXT, classes="panel-title", markup=False)
            yield Static("", id="panel-status", classes="panel-status", markup=False)
            with VerticalScroll():
                yield Static("", id="panel-body", markup=False)
            yield Static(self.HINT, id="panel-hint", classes="dialog-hint", markup=False)

    def on_mount(self) -> None:
        self.set_interval(FRAME, self._paint)

    def status(self, text: str) -> None:
        self.query_one("#panel-status", Static).update(Text(text))

    def grow(self, piece: str) -> None:
        self.text += piece
        self._dirty = True

    def show(self, text: str) -> None:
        self.text, self._dirty = text, True
        self._paint()

    async def stream_into(self, events: AsyncGenerator[StreamEvent, None], failure: str) -> bool:
        """Show the stream's text as it comes; False (and the error in the status line) when it failed:
        what came stays shown, and the workflow has stored it with the error."""
        self.show("")
        self.streaming = True
        try:
            async with aclosing(events) as stream:
                async for event in stream:
                    if not isinstance(event, RefusalDelta):
                        self.grow(event.text)
        except LLMError as error:
            self.status(f"{failure}: {error} What came is kept.")
            return False
        finally:
            self.streaming = False
            self._paint()
        return True

    def _paint(self) -> None:
        if self._dirty:
            self._dirty = False
            self.query_one("#panel-body", Static).update(Text(visible(self.text)))

    def hint(self, text: str) -> None:
        self.query_one("#panel-hint", Static).update(Text(text))

    def action_not_sent_here(self) -> None:
        self.notify(
            "Nothing is sent from this panel: close it (esc), then send the draft.",
            severity="warning",
            markup=False,
        )

    def action_close(self) -> None:
        if self.streaming:
            self.workers.cancel_group(self, "panel-stream")
        self.dismiss(None)


class SummaryPanel(_StreamedPanel):
    """The conversation's summary: the stored one (marked stale after a new message), generated again on a
    key, and added as an internal note on another (dismissed with the note, for the transcript)."""

    TITLE_TEXT = "Conversation summary (for a hand-over)"
    HINT = "g summarise again · n add as internal note · esc close"
    FIRST_HINT = "g summarise · esc close"  # while there is none: nothing to do again, or to add
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,ctrl+f1", "close", "Close", id="summary_close"),
        Binding("g", "summarise", "Summarise", id="summary_generate"),
        Binding("n", "add_note", "Add as note", id="summary_note"),
    ]

    def __init__(self, services: Services, session: DraftSession) -> None:
        super().__init__(services, session)
        self.state: SummaryState | None = None

    def on_mount(self) -> None:
        super().on_mount()
        self.status("Reading the stored summary…")
        self._load()

    @work(exclusive=True, group="panel-load", exit_on_error=False)
    async def _load(self) -> None:
        cid = self.session.conversation_id
        if cid is None:
            self.status("There is no conversation to summarise yet.")
            return
        try:
            self.state = await self.session.queue.run(lambda: self.services.store.latest_summary(cid))
        except SupportConsoleError as error:
            self.status(str(error))
            return
        if self.state is None:
            self.status("No summary yet: press g to summarise the conversation.")
            self.hint(self.FIRST_HINT)
            return
        self.show(self.state.text)
        self.status(self._state_line(self.state))

    @staticmethod
    def _state_line(state: SummaryState) -> str:
        when = state.started_at.strftime("%Y-%m-%d %H:%M UTC")
        line = f"Summary #{state.generation_id} of {when} · model {state.model or '—'}"
        if state.stale:
            line += f" · STALE: {state.newer_messages} newer message(s); press g to summarise again"
        if state.error:
            line += f" · incomplete: {state.error}"
        return line

    def action_summarise(self) -> None:
        if not self.streaming:
            self._summarise()

    @work(exclusive=True, group="panel-stream", exit_on_error=False)
    async def _summarise(self) -> None:
        from support_console.workflows.summarising import Summariser

        cid, persona_id = self.session.conversation_id, self.session.persona_id
        if cid is None or persona_id is None:
            self.status("Open a conversation (and pick a persona) to summarise it.")
            return
        summariser = Summariser(self.services, saves=self.session.queue)
        try:
            prepared = await self.session.queue.run(lambda: summariser.prepare(cid, persona_id))
        except SupportConsoleError as error:
            self.status(str(error))
            return
        self.status(f"Summarising {prepared.report.kept} message(s) with {prepared.model.name}…")
        events = summariser.stream(prepared, agent=self.session.agent_name or None)
        if not await self.stream_into(events, "The summary failed"):
            return
        self.state = await self.session.queue.run(lambda: self.services.store.latest_summary(cid))
        self.status(self._state_line(self.state) if self.state else "The model returned no summary.")
        self.hint(self.HINT if self.state else self.FIRST_HINT)

    def action_add_note(self) -> None:
        if self.streaming or not self.text.strip():
            self.notify("There is no finished summary to add yet.", markup=False)
            return
        self._add_note(self.text)

    @work(exclusive=True, group="panel-note", exit_on_error=False)
    async def _add_note(self, text: str) -> None:
        from support_console.workflows.summarising import summary_note

        try:
            recorded = await self.session.record(ROLE_NOTE, summary_note(text))
        except SupportConsoleError as error:
            self.status(str(error))
            return
        self.dismiss(recorded.message)


class TranslationView(_StreamedPanel):
    """The draft translated into the agent's language, to read (stored as a translation generation of the
    draft; the draft itself, in the customer's language, is what is sent). The same key closes it."""

    TITLE_TEXT = "Translation of the draft (to read: the draft itself is what is sent)"
    HINT = "esc or the same key closes"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,ctrl+f2", "close", "Close", id="translation_close"),
    ]

    def __init__(self, services: Services, session: DraftSession, draft_text: str) -> None:
        super().__init__(services, session)
        self.draft_text = draft_text

    def on_mount(self) -> None:
        super().on_mount()
        self._translate()

    @work(exclusive=True, group="panel-stream", exit_on_error=False)
    async def _translate(self) -> None:
        from support_console.workflows.drafting import Drafter
        from support_console.workflows.languages import prepare_translation
        from support_console.workflows.outputs import OutputStream, Target

        session, services = self.session, self.services
        cid, persona_id = session.conversation_id, session.persona_id
        persona = services.personas.personas.get(persona_id or "")
        if cid is None or persona is None or not self.draft_text.strip():
            self.status("There is no draft to translate.")
            return
        target = services.settings.agent_language
        try:
            model = await session.queue.run(lambda: Drafter(services).resolve_model(persona))
        except SupportConsoleError as error:
            self.status(str(error))
            return
        request = prepare_translation(self.draft_text, target, model, persona.params)
        output = OutputStream(services, saves=session.queue)
        where = Target(cid, GENERATION_TRANSLATION, persona.id, model.name, draft_id=session.draft_id,
                       agent=session.agent_name or None)  # fmt: skip
        self.status(f"Translating into {language_name(target)} with {model.name}…")
        if not await self.stream_into(output.stream(request, where), "The translation failed"):
            return
        self.status(f"Translated into {language_name(target)} · generation #{output.generation_id}")
