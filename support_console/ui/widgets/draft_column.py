"""The draft column: the persona suggestion and the draft pane, and what the agent does with a draft there.

Generate, stop, regenerate, write by hand, approve & send, discard, and the token meter. The column asks the
screen's :class:`DraftSession` (attributes down) and tells the screen what changed elsewhere (messages up:
:class:`DraftColumn.ReplySent`, :class:`DraftColumn.ContextMeasured`).

Everything runs in workers and every store call on the session's thread, so keys keep working while a draft
streams or while a save waits for the database. "Stop" is a worker cancel (what came is saved). Edits are
saved as the agent types (debounced by the pane), so a crash loses at most half a second of typing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.worker import Worker

from support_console.core.errors import ConversationChanged, SupportConsoleError
from support_console.llm import LLMError, TextDelta
from support_console.ui.widgets.draft_editor import DraftEditor
from support_console.ui.widgets.draft_macros import DraftMacros
from support_console.ui.widgets.draft_pane import NO_DRAFT, DraftPane, Meter, ShownDraft
from support_console.ui.widgets.draft_rewrite import DraftRewriter
from support_console.ui.widgets.reply_out import deliver
from support_console.ui.widgets.safe_text_area import SafeTextArea
from support_console.ui.widgets.status import EMPTY_REPLY, failed_status, finish_status, kept_status
from support_console.ui.widgets.suggestion import SuggestionBanner
from support_console.workflows.draft_session import NotReady
from support_console.workflows.send_guard import placeholder_block, send_question

if TYPE_CHECKING:
    from support_console.store import Message as StoredMessage
    from support_console.workflows.draft_session import DraftSession, Generation, Opened
    from support_console.workflows.drafting import PreparedDraft
    from support_console.workflows.services import Services

NO_PROVIDER_HINT = (
    "Generation is off: no model provider is configured. Write the reply by hand ({write}) and approve it "
    "({approve}); run `support-console config` for how to configure a provider, then restart the console."
)
NOT_SAVED = "Not saved yet ({error}). It is kept here and saved when you edit, approve or discard it."

KeyName = Callable[[str], str]
"""binding id -> the key it is on now, for hints (the screen knows the [keys] rebinding)."""


#: The status when the agent stops a draft before its request was sent (a draft already in the pane stays).
STOPPED_PREPARING = "Stopped before the request was sent: the draft is unchanged."


class DraftColumn(Vertical):
    """The suggestion banner over the draft pane, and the drafting actions."""

    class ReplySent(Message):
        """The agent approved a reply: it is in the store as sent (and on the clipboard)."""

        def __init__(self, message: StoredMessage) -> None:
            super().__init__()
            self.message = message

    class NameNeeded(Message):
        """A reply was to be sent but nobody is signed in: the screen asks who is working, then the send
        carries on (``status``: the send-and-mark status it was asked with)."""

        def __init__(self, status: str | None) -> None:
            super().__init__()
            self.status = status

    class ConversationChanged(Message):
        """The send-time guard refused the draft: the conversation changed after it was written."""

    class ContextMeasured(Message):
        """A request was prepared: the ``dropped`` messages before ``first_kept_id`` do not reach the
        model."""

        def __init__(self, first_kept_id: int | None, dropped: int) -> None:
            super().__init__()
            self.first_kept_id = first_kept_id
            self.dropped = dropped

    def __init__(
        self, services: Services, session: DraftSession, key: KeyName, *, id: str | None = None
    ) -> None:
        super().__init__(id=id)
        self.services = services
        self.session = session
        self.key = key
        self.sending = False
        self.last_reply: str | None = None  # the last approved reply, for copying it again or to a file
        self._worker: Worker[None] | None = None
        self._generating = False  # preparing or streaming (not waiting for the last save: that is queued)
        self._told_typing = False  # the agent was told, this generation, why typing is not added
        self._noticed: set[str] = set()  # prepared-draft notices already shown
        #: The (draft, text) whose send risk the agent accepted: the send-time guard's refusal and a second
        #: approval then do not ask the same question again.
        self._risk_accepted: tuple[int | None, str] | None = None
        self.rewriter = DraftRewriter(self)
        self.macros = DraftMacros(self)

    def compose(self) -> ComposeResult:
        yield SuggestionBanner(id="suggestion")
        yield DraftPane(id="draft")

    def on_mount(self) -> None:
        self.run_worker(self.macros.load(), group="macro", exit_on_error=False)
        if self.services.client is None:
            write = self.key("write")
            self.pane.set_status(f"No model provider configured: write replies by hand ({write}).")

    @property
    def pane(self) -> DraftPane:
        return self.query_one(DraftPane)

    @property
    def banner(self) -> SuggestionBanner:
        return self.query_one(SuggestionBanner)

    @property
    def streaming(self) -> bool:
        return self.pane.streaming

    @property
    def generating(self) -> bool:
        """A draft is being prepared or streamed (stop cancels it). Its last save may still be waiting for
        the database afterwards: that does not count, the session queues what comes next behind it."""
        return self._generating

    # -- the conversation changed ------------------------------------------------------------------------

    def show_opened(self, opened: Opened) -> None:
        """A customer was opened: show their saved draft (never asks the model) and the persona."""
        pane = self.pane
        pane.conversation_id = opened.conversation.id if opened.conversation is not None else None
        pane.clear_meter()
        self.macros.forget()
        if opened.draft is None:
            pane.clear_draft()
        else:
            risk = self.session.send_risk(opened.draft.model_text)  # say what it is before it is read
            pane.load_draft(
                opened.draft.text,
                draft_id=opened.draft.id,
                model_text=opened.draft.model_text,
                status="Restored the saved draft (not sent yet): edit it, approve it or discard it."
                if risk is None
                else f"Restored, not sent: {risk.warning}",
            )
        self.show_persona()
        self.suggest(opened.last_customer_text)
        # No measure() here: opening a conversation must stay instant and light (the token meter needs the
        # tiktoken tables); it is measured when the agent adds a message, changes persona or drafts.

    def conversation_started(self, conversation_id: int) -> None:
        """The first message of a new conversation was recorded: drafts now belong to it."""
        self.pane.conversation_id = conversation_id

    def customer_wrote(self, text: str) -> None:
        """A customer message was added: suggest a persona for it and measure the next request."""
        self.suggest(text)
        self.pane.clear_meter()
        self.measure()

    def suggest(self, text: str) -> None:
        suggested = self.services.personas.suggest(text) if text else None
        if suggested is None or suggested.id == self.session.persona_id:
            self.banner.dismiss()
            return
        self.banner.suggest(suggested.id, suggested.name, self.key("accept_suggestion"))

    def persona_changed(self) -> None:
        """The session's persona changed (picked, accepted, or its file went away)."""
        self.banner.dismiss()
        self.pane.clear_meter()
        self.show_persona()
        self.measure()

    @work(exclusive=True, group="persona", exit_on_error=False)
    async def show_persona(self) -> None:
        """Name the persona and the model in the header; the served model needs the store (a thread)."""
        persona = self.services.personas.personas.get(self.session.persona_id or "")
        name = persona.name if persona is not None else "—"
        fallback = self.services.settings.provider.model_name if self.services.client is not None else None
        self.pane.show_context(name, fallback)
        if persona is None or self.services.client is None or not self.services.store_is_open:
            return
        model = await self.session.model_name()
        if persona.id == self.session.persona_id:  # still the persona shown
            self.pane.show_context(name, model or fallback)

    # -- generating --------------------------------------------------------------------------------------

    def generate(self, *, confirm_edits: bool = True, guidance: tuple[str, str] | None = None) -> None:
        """Draft a reply with the model; a draft already in the pane is replaced (after asking, if edited).
        ``guidance``: a canned reply to adapt (its id and the words for the model)."""
        if self.services.client is None:
            hint = NO_PROVIDER_HINT.format(write=self.key("write"), approve=self.key("approve"))
            self.notify(hint, title="No model provider", severity="error", timeout=10, markup=False)
            return
        if self.session.customer is None:  # a conversation may be on its way (a message just added)
            self._not_ready("conversation")
            return
        if self.generating or self.sending:
            what = "is already streaming" if self.generating else "is being sent"
            self.notify(f"A draft {what}: {self.key('stop')} stops it.", severity="warning", markup=False)
            return
        if confirm_edits and self.pane.edited:
            from support_console.ui.screens.confirm import ConfirmScreen

            def answered(yes: bool | None) -> None:
                if yes:
                    self.generate(confirm_edits=False, guidance=guidance)

            self.app.push_screen(
                ConfirmScreen("Replace your edited draft with a new one from the model?", yes="Replace"),
                answered,
            )
            return
        self.save_unsaved_edit()
        self._generating = True
        self._told_typing = False
        self._worker = self._generate(guidance)
        self.refresh_bindings()

    @work(exclusive=True, group="draft", exit_on_error=False)
    async def _generate(self, guidance: tuple[str, str] | None = None) -> None:
        pane = self.pane
        pane.set_status("Preparing the request…")
        try:
            try:
                generation = await self.session.prepare(guidance)
            except asyncio.CancelledError:  # stopped while the request was being prepared: nothing was sent
                pane.set_status(STOPPED_PREPARING if pane.text else "Stopped before the request was sent.")
                raise
            except NotReady as error:
                pane.set_status(NO_DRAFT if not pane.text else "The draft is unchanged.")
                self._not_ready(error.missing, str(error))
                return
            except SupportConsoleError as error:
                pane.set_status("Could not prepare the request.", error=True)
                self.notify(str(error), title="Cannot draft", severity="error", timeout=10, markup=False)
                return
            self._show_prepared(generation.prepared)
            shown = pane.shown()  # shown again if the model writes nothing
            pane.begin_stream(f"Generating… ({self.key('stop')} stops and keeps what came)")
            await self._stream(generation, shown)
        finally:
            self._generating = False
            if pane.streaming:  # a bug, not a model error: unlock the editor and keep what came
                pane.end_stream("Drafting failed unexpectedly: the draft on screen is kept.", error=True)
            self.refresh_bindings()

    async def _stream(self, generation: Generation, shown: ShownDraft) -> None:
        pane = self.pane
        streamed = False
        refusal: list[str] = []
        try:
            async for event in self.session.stream(generation):
                if isinstance(event, TextDelta):
                    streamed = streamed or bool(event.text)
                    pane.feed(event.text)
                else:
                    refusal.append(event.text)
        except LLMError as error:
            self.notify(str(error), title="Model error", severity="error", timeout=12, markup=False)
            if generation.drafter.wrote_nothing:  # the draft from before is kept as it was
                await self._unchanged(shown, str(error.kind))
                return
            if not streamed:  # show what the Drafter saves: the error's partial text (or the refusal so far)
                pane.feed(error.partial or "".join(refusal))
            kept = streamed or bool(error.partial) or bool(refusal)
            self._ended(failed_status(str(error.kind), kept, self.key("generate")), True)
            await self._settle()
            return
        except asyncio.CancelledError:
            if generation.drafter.wrote_nothing:
                await self._unchanged(shown, None)
                raise
            if pane.streaming:
                if not streamed:  # a refusal that was streaming: the Drafter keeps it as the draft's text
                    pane.feed("".join(refusal))
                self._ended("Stopped: the partial draft is kept; edit it or generate again.")
            await self._settle()
            raise
        if generation.drafter.wrote_nothing:  # finished with no text: the draft from before is kept
            await self._unchanged(shown, EMPTY_REPLY)
            return
        if not streamed and refusal:  # the Drafter keeps a refusal as the draft's text, so the pane shows it
            pane.feed("".join(refusal))
        result = self.session.result
        self._ended(finish_status(result, cut_by_window=self.session.cut_by_window))
        for warning in self.session.warnings:
            self.notify(warning[:1].upper() + warning[1:], severity="warning", timeout=15, markup=False)
        if result is not None and result.refused:
            self.notify("The model refused to write this reply.", severity="warning", markup=False)
        await self._settle()

    async def _unchanged(self, shown: ShownDraft, kind: str | None) -> None:
        """The model wrote nothing (``kind``: how it failed; None: stopped): the draft from before is shown
        again as it was, which is what the store still holds."""
        if shown.text.strip():
            status = kept_status(kind, self.key("regenerate"))
        elif kind is None:
            status = "Stopped before any text came: nothing was drafted."
        else:
            status = failed_status(kind, False, self.key("generate"))
        self.pane.end_stream_unchanged(shown, self.session.draft_id, status, error=kind is not None)
        self._generating = False
        self.refresh_bindings()
        await self._settle(shown.text)

    def _ended(self, status: str, error: bool = False) -> None:
        """The model is done: the pane is editable and approve works while the last save is queued."""
        self.pane.end_stream(status, error=error)
        self._generating = False
        self.refresh_bindings()

    async def _settle(self, saved: str | None = None) -> None:
        """Wait for the draft's last save (the pane is already editable), then say if it failed. ``saved``:
        the text the store holds for the draft (by default what the model wrote)."""
        pane = self.pane
        model_text = pane.model_text if saved is None else saved
        try:
            await self.session.settle()
        except SupportConsoleError as error:
            pane.mark_saved(self.session.draft_id, model_text)
            pane.set_status(NOT_SAVED.format(error=error), error=True)
            self.notify(str(error), title="Draft not saved yet", severity="error", timeout=12, markup=False)
            return
        pane.mark_saved(self.session.draft_id, model_text)

    def stop(self) -> None:
        """Stop the model: what came stays in the pane (and is saved) and can be edited at once."""
        if self._worker is None or not self.generating:
            return
        if self.pane.streaming and self.pane.received:  # else the stream says what it leaves, at once
            self._ended("Stopped: the partial draft is kept; edit it or generate again.")
        self._generating = False
        if not self.session.stop():  # still preparing: nothing streams yet, so the worker itself stops
            self._worker.cancel()
        self.refresh_bindings()

    def measure(self) -> None:
        """Show what the next request would cost (tokens, budget, where the context starts); sends nothing."""
        if self.services.client is None or self.streaming or self.session.persona_id is None:
            return
        if self.session.conversation_id is None:
            return
        self._measure(self.session.conversation_id, self.session.persona_id)

    @work(exclusive=True, group="meter", exit_on_error=False)
    async def _measure(self, conversation_id: int, persona_id: str) -> None:
        try:
            prepared = await self.session.measure()
        except SupportConsoleError:
            return  # generating will say what is wrong, in words, when the agent asks for a draft
        current = (self.session.conversation_id, self.session.persona_id)
        if self.streaming or (prepared.conversation_id, prepared.persona.id) != current:
            return  # out of date: the agent moved on
        if (conversation_id, persona_id) == current:
            self._show_prepared(prepared)

    def _show_prepared(self, prepared: PreparedDraft) -> None:
        report = prepared.report
        meter = Meter(
            report.prompt_tokens, report.budget, report.kept, report.dropped, report.truncated,
            prepared.model.window_known, not prepared.counts_exact,
        )  # fmt: skip
        self.pane.show_context(prepared.persona.name, prepared.model.name, meter)
        for notice in prepared.notices:
            if notice not in self._noticed:  # once per console: the meter keeps showing an unknown window
                self._noticed.add(notice)
                self.notify(notice[:1].upper() + notice[1:], severity="warning", timeout=12, markup=False)
        self.post_message(self.ContextMeasured(report.first_kept_id, report.dropped))

    def _not_ready(self, missing: str, fallback: str = "") -> None:
        """Say what is missing, with the keys that provide it."""
        words = {
            "conversation": "Nothing to reply to yet: select a customer and add their message "
            f"({self.key('add_message')}) first.",
            "reply": "There is no conversation to reply to: select a customer first.",
        }
        self.notify(words.get(missing, fallback), severity="warning", markup=False)

    # -- editing -----------------------------------------------------------------------------------------

    def write(self) -> None:
        if self.streaming:
            self.notify(
                f"A draft is streaming: {self.key('stop')} stops it, then edit.",
                severity="warning",
                markup=False,
            )
            return
        if not self.pane.text.strip():  # the status said "No draft yet": say what happens now
            self._say_writing_by_hand()
        self.pane.editor.focus()

    def _say_writing_by_hand(self) -> None:
        self.pane.set_status(
            f"Writing by hand: type the reply, then {self.key('approve')} approves and sends it."
        )

    @on(SafeTextArea.TypingRefused)
    def _typing_refused(self, event: SafeTextArea.TypingRefused) -> None:
        """Typing into a locked draft is dropped: say so (once per generation), never silently."""
        event.stop()
        if self.streaming and not self._told_typing:
            self._told_typing = True
            self.notify(
                f"The model is still writing: what you type is not added to a streaming draft. "
                f"{self.key('stop')} stops it (what came is kept); then edit.",
                severity="warning",
                markup=False,
            )
        elif self.sending:
            self.notify("The reply is being sent: it cannot be edited now.", severity="warning", markup=False)

    @on(DraftEditor.SlashTyped)
    def _slash_typed(self, event: DraftEditor.SlashTyped) -> None:
        event.stop()
        self.macros.typed(event)

    @on(DraftPane.Edited)
    def _draft_edited(self, event: DraftPane.Edited) -> None:
        event.stop()
        if event.conversation_id is None or event.conversation_id != self.session.conversation_id:
            return
        self.save_unsaved_edit()

    def save_unsaved_edit(self) -> None:
        """Save what the agent typed into the draft (crash-safe), creating a hand-written draft if needed.

        The save is queued at once (so whatever the screen asks the session next comes after it) and its
        outcome shown when it is done."""
        pane = self.pane
        text = pane.take_unsaved_edit()
        if text is None or pane.conversation_id is None or self.sending:
            return
        if pane.draft_id is None and not text.strip():
            return
        self._save_edit(self.session.save_edit(text), text)

    @work(group="edits", exit_on_error=False)
    async def _save_edit(self, saving: asyncio.Task[int | None], text: str) -> None:
        try:
            draft_id = await saving
        except SupportConsoleError as error:
            self.notify(f"Could not save the draft: {error}", severity="error", markup=False)
            return
        if self.pane.conversation_id == self.session.conversation_id and not self.sending:
            self.pane.mark_saved(draft_id, text)
            if draft_id is not None and self.pane.status == NO_DRAFT:  # typed straight into the pane
                self._say_writing_by_hand()

    # -- sending and discarding --------------------------------------------------------------------------

    def approve(self, status: str | None = None) -> None:
        """Approve & send the draft; with ``status`` the conversation is marked so in the same step."""
        pane = self.pane
        if self.streaming or self.generating:
            self.notify(
                f"The draft is still streaming: wait for it or stop it ({self.key('stop')}) first.",
                severity="warning",
                markup=False,
            )
            return
        if self.sending:
            self.notify("The reply is already being sent.", severity="information", markup=False)
            return
        if self.session.customer is None:
            self._not_ready("reply")
            return
        text = pane.text
        if not text.strip():
            self.notify(
                f"Nothing to send: the draft is empty. Generate one ({self.key('generate')}) or write it "
                f"({self.key('write')}).",
                severity="warning",
                markup=False,
            )
            return
        blocked = placeholder_block(text)
        if blocked is not None:  # never sent, not even after a question: the customer would read it
            pane.set_status(f"Not sent. {blocked}", error=True)
            self.notify(blocked, title="Not sent", severity="error", markup=False)
            return
        if status is None and self.macros.status_on_send is not None:
            status = self.macros.status_on_send[0]  # the inserted canned reply's status
        if not self.session.agent_name:  # every reply records who approved it
            self.notify("Who approves this reply? Give your name first.", severity="warning", markup=False)
            self.post_message(self.NameNeeded(status))
            return
        risk = self.session.send_risk(pane.model_text)
        warnings = [w for w in (risk.warning if risk else None, self.session.held_by_other()) if w]
        answer = (self.session.draft_id, text)
        if not warnings or self._risk_accepted == answer:  # asked once for this text: not again after a
            self._send(status)  # refusal by the send-time guard
            return
        from support_console.ui.screens.confirm import ConfirmScreen

        def answered(yes: bool | None) -> None:
            if yes:
                self._risk_accepted = answer
                self._send(status)
            else:
                self.pane.set_status(f"Not sent. {' '.join(warnings)}", error=True)

        question = send_question(warnings)
        self.app.push_screen(ConfirmScreen(question, yes="Send anyway", no="Don't send"), answered)

    def _send(self, status: str | None) -> None:
        """Start sending what the pane holds now (and mark the conversation ``status``, if given)."""
        pane = self.pane
        text = pane.text
        if self.sending or self.generating or not text.strip():
            return
        pane.take_unsaved_edit()  # what is approved supersedes what was typed before
        self.sending = True
        pane.hold("Sending…")
        self._approve(text, status)

    @work(group="send", exit_on_error=False)
    async def _approve(self, text: str, status: str | None = None) -> None:
        pane = self.pane
        try:
            message = await self.session.approve(text, status)
        except NotReady as error:
            self.sending = False
            pane.release("Not sent.")
            self._not_ready("reply" if error.missing == "conversation" else error.missing, str(error))
            return
        except ConversationChanged as changed:
            self.sending = False
            what = "; ".join(changed.changes)
            again = f"{self.key('approve')} again sends this draft anyway."
            pane.release(
                f"Not sent: the conversation changed after this draft ({what}). Read it; {again}", error=True
            )
            pane.draft_id = self.session.draft_id
            ends = '.!?"”'  # a change quoting a message may end its sentence already
            self.notify(
                f"Not sent: {what}{'' if what.endswith(tuple(ends)) else '.'}",
                title="Changed",
                severity="warning",
                markup=False,
            )
            self.post_message(self.ConversationChanged())
            return
        except SupportConsoleError as error:
            self.sending = False
            pane.release(f"Not sent: {error}", error=True)
            pane.draft_id = self.session.draft_id
            self.notify(str(error), title="Not sent", severity="error", markup=False)
            return
        self.sending = False
        self.last_reply = text
        self.macros.forget()
        pane.release("")
        marked = f" Conversation marked {status}." if status is not None else ""
        pane.clear_draft(f"Sent.{marked} Copying the reply…")
        pane.clear_meter()
        self.post_message(self.ReplySent(message))
        self.measure()
        copied = await deliver(self.app, self.services.settings.clipboard, text)
        if pane.draft_id is None and not pane.text:  # nothing new in the pane meanwhile
            pane.set_status(f"Sent.{marked} {copied.status}")
        self.notify(f"Reply approved and sent.{marked} {copied.notice}", title="Sent", markup=False)

    def discard(self) -> None:
        pane = self.pane
        if self.streaming or self.generating:
            self.notify(
                f"The draft is still streaming: stop it ({self.key('stop')}) first.",
                severity="warning",
                markup=False,
            )
            return
        if self.sending:
            self.notify("The reply is being sent: it cannot be discarded.", severity="warning", markup=False)
            return
        if not pane.text.strip() and pane.draft_id is None and not self.session.unsaved:
            self.notify("There is no draft to discard.", severity="information", markup=False)
            return
        if not pane.text.strip():
            self._discard()
            return
        from support_console.ui.screens.confirm import ConfirmScreen

        def answered(yes: bool | None) -> None:
            if yes:
                self._discard()

        self.app.push_screen(
            ConfirmScreen("Discard this draft? It will not be sent.", yes="Discard"), answered
        )

    @work(group="discard", exit_on_error=False)
    async def _discard(self) -> None:
        pane = self.pane
        pane.take_unsaved_edit()
        try:
            await self.session.discard()
        except SupportConsoleError as error:
            self.notify(str(error), severity="error", markup=False)
            return
        self.macros.forget()
        pane.clear_draft("Draft discarded.")
        self.notify("Draft discarded.", markup=False)
