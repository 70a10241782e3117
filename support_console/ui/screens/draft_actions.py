"""The drafting half of the main screen: generate, stop, regenerate, edit, approve & send, discard.

Everything that talks to the model runs in one exclusive worker, so the event loop keeps answering keys while
a draft streams, and "stop" is a worker cancel (the Drafter saves what came when cancelled). Edits are saved
as the agent types (debounced by the pane), so a crash loses at most half a second of typing.
"""

from __future__ import annotations

import asyncio
from contextlib import suppress
from dataclasses import replace
from typing import TYPE_CHECKING

from textual import on, work
from textual.screen import Screen
from textual.worker import Worker

from support_console.core.errors import SupportConsoleError
from support_console.llm import LLMError, TextDelta
from support_console.ui.screens.bindings import BINDINGS_BY_ID
from support_console.ui.widgets.customer_list import CustomerList
from support_console.ui.widgets.draft_pane import DraftPane, Meter
from support_console.ui.widgets.incoming import IncomingBox
from support_console.ui.widgets.status import finish_status
from support_console.ui.widgets.transcript import Transcript
from support_console.workflows.drafting import Drafter

if TYPE_CHECKING:
    from support_console.store import Conversation, Customer
    from support_console.workflows.drafting import PreparedDraft
    from support_console.workflows.services import Services

NO_PROVIDER_HINT = (
    "Generation is off: no model provider is configured. Write the reply by hand ({write}) and approve it "
    "({approve}); run `support-console config` for how to configure a provider, then restart the console."
)


class DraftActions(Screen[None]):
    """Screen state shared with :class:`MainScreen`, and the drafting actions."""

    def __init__(self, services: Services) -> None:
        super().__init__()
        self.services = services
        self.customer: Customer | None = None
        self.conversation: Conversation | None = None
        self.persona_id: str | None = None
        self._worker: Worker[None] | None = None

    @property
    def draft(self) -> DraftPane:
        return self.query_one(DraftPane)

    @property
    def transcript(self) -> Transcript:
        return self.query_one(Transcript)

    @property
    def incoming(self) -> IncomingBox:
        return self.query_one(IncomingBox)

    @property
    def customers(self) -> CustomerList:
        return self.query_one(CustomerList)

    @property
    def streaming(self) -> bool:
        return self.draft.streaming

    def key(self, binding_id: str) -> str:
        """The key an action is on now (after [keys] rebinding), as the footer shows it, for hints."""
        binding = BINDINGS_BY_ID[binding_id]
        keys = self.services.settings.keys.get(binding_id, binding.key)
        return self.app.get_key_display(replace(binding, key=keys.split(",")[0].strip(), key_display=None))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "stop":
            return self.streaming
        return True

    def action_generate(self) -> None:
        """Draft a reply with the model; a draft already in the pane is replaced (after asking, if edited)."""
        self._start_generation(confirm_edits=True)

    def action_regenerate(self) -> None:
        """A fresh draft in place of the current one (as generate), on its own key for habit's sake."""
        self._start_generation(confirm_edits=True)

    def _start_generation(self, *, confirm_edits: bool) -> None:
        if self.services.client is None:
            hint = NO_PROVIDER_HINT.format(write=self.key("write"), approve=self.key("approve"))
            self.notify(hint, title="No model provider", severity="error", timeout=10, markup=False)
            return
        if self.conversation is None or self.conversation.id is None or self.persona_id is None:
            self.notify(
                "Nothing to reply to yet: select a customer and add their message "
                f"({self.key('add_message')}) first.",
                severity="warning",
                markup=False,
            )
            return
        if self.streaming:
            self.notify(
                f"A draft is already streaming: {self.key('stop')} stops it.",
                severity="warning",
                markup=False,
            )
            return
        if confirm_edits and self.draft.edited:
            from support_console.ui.screens.confirm import ConfirmScreen

            def answered(yes: bool | None) -> None:
                if yes:
                    self._start_generation(confirm_edits=False)

            self.app.push_screen(
                ConfirmScreen("Replace your edited draft with a new one from the model?", yes="Replace"),
                answered,
            )
            return
        self._save_unsaved_edit()
        self._worker = self._generate(self.conversation.id, self.persona_id, self.draft.draft_id)

    @work(exclusive=True, group="draft", exit_on_error=False)
    async def _generate(self, conversation_id: int, persona_id: str, draft_id: int | None) -> None:
        drafter = Drafter(self.services)
        try:
            prepared = drafter.prepare(conversation_id, persona_id)
        except SupportConsoleError as error:
            self.notify(str(error), title="Cannot draft", severity="error", timeout=10, markup=False)
            return
        self._show_prepared(prepared)
        pane = self.draft
        pane.begin_stream(f"Generating… ({self.key('stop')} stops and keeps what came)")
        self.refresh_bindings()
        streamed = False
        refusal: list[str] = []
        try:
            async for event in drafter.stream(prepared, draft_id=draft_id):
                if isinstance(event, TextDelta):
                    streamed = streamed or bool(event.text)
                    pane.feed(event.text)
                else:
                    refusal.append(event.text)
        except LLMError as error:
            if not streamed:  # show what the Drafter saved: the error's partial text (or the refusal so far)
                pane.feed(error.partial or "".join(refusal))
            pane.end_stream(
                f"Failed ({error.kind}): the partial draft is kept; edit it or generate again.", error=True
            )
            pane.mark_saved(drafter.draft_id)
            self.notify(str(error), title="Model error", severity="error", timeout=12, markup=False)
            return
        except SupportConsoleError as error:  # e.g. the store refused a save: say so, keep what came
            pane.end_stream("Failed: the draft on screen is kept; edit it or generate again.", error=True)
            self.notify(str(error), title="Drafting failed", severity="error", timeout=12, markup=False)
            return
        except asyncio.CancelledError:
            pane.end_stream("Stopped: the partial draft is kept; edit it or generate again.")
            pane.mark_saved(drafter.draft_id)
            raise
        else:
            self._finished(drafter, streamed, refusal)
        finally:
            if pane.streaming:  # a bug, not a model error: unlock the editor and keep what came
                pane.end_stream("Drafting failed unexpectedly: the draft on screen is kept.", error=True)
            self.refresh_bindings()

    def _finished(self, drafter: Drafter, streamed: bool, refusal: list[str]) -> None:
        pane, result = self.draft, drafter.result
        if not streamed and refusal:  # the Drafter keeps a refusal as the draft's text, so the pane shows it
            pane.feed("".join(refusal))
        pane.end_stream(finish_status(result))
        pane.mark_saved(drafter.draft_id)
        if result is not None and result.refused:
            self.notify("The model refused to write this reply.", severity="warning", markup=False)

    def measure(self) -> None:
        """Show what the next request would cost (tokens, budget, where the context starts); sends nothing.

        Preparing reads the history and may count tokens the store has not cached yet, so it runs in a thread.
        """
        if self.services.client is None or self.streaming or self.persona_id is None:
            return
        if self.conversation is None or self.conversation.id is None:
            return
        self._measure(self.conversation.id, self.persona_id)

    @work(thread=True, exclusive=True, group="meter", exit_on_error=False)
    def _measure(self, conversation_id: int, persona_id: str) -> None:
        try:
            prepared = Drafter(self.services).prepare(conversation_id, persona_id)
        except SupportConsoleError:
            return  # generating will say what is wrong, in words, when the agent asks for a draft
        with suppress(RuntimeError):  # the app closed meanwhile
            self.app.call_from_thread(self._measured, prepared)

    def _measured(self, prepared: PreparedDraft) -> None:
        current = self.conversation.id if self.conversation is not None else None
        if self.streaming or prepared.conversation_id != current or prepared.persona.id != self.persona_id:
            return  # out of date: the agent moved on
        self._show_prepared(prepared)

    def _show_prepared(self, prepared: PreparedDraft) -> None:
        report = prepared.report
        meter = Meter(report.prompt_tokens, report.budget, report.kept, report.dropped, report.truncated)
        self.draft.show_context(prepared.persona.name, prepared.model.name, meter)
        self.transcript.set_context(report.first_kept_id, report.dropped)

    def action_stop(self) -> None:
        if self._worker is not None and self.streaming:
            self._worker.cancel()

    def action_write(self) -> None:
        if self.streaming:
            self.notify(
                f"A draft is streaming: {self.key('stop')} stops it, then edit.",
                severity="warning",
                markup=False,
            )
            return
        self.draft.editor.focus()

    @on(DraftPane.Edited)
    def _draft_edited(self, event: DraftPane.Edited) -> None:
        event.stop()
        if event.conversation_id is None or event.conversation_id != self.draft.conversation_id:
            return
        self._save_unsaved_edit()

    def _save_unsaved_edit(self) -> None:
        """Save what the agent typed into the draft (crash-safe), creating a hand-written draft if needed."""
        pane = self.draft
        text = pane.take_unsaved_edit()
        if text is None or pane.conversation_id is None:
            return
        if pane.draft_id is None and not text.strip():
            return
        try:
            draft_id = self.services.store.save_draft(
                pane.conversation_id, draft_id=pane.draft_id, text=text, persona_id=self.persona_id
            )
        except SupportConsoleError as error:
            self.notify(f"Could not save the draft: {error}", severity="error", markup=False)
            return
        pane.mark_saved(draft_id)

    def action_approve(self) -> None:
        pane = self.draft
        if self.streaming:
            self.notify(
                f"The draft is still streaming: wait for it or stop it ({self.key('stop')}) first.",
                severity="warning",
                markup=False,
            )
            return
        if self.conversation is None or self.conversation.id is None:
            self.notify(
                "There is no conversation to reply to: select a customer first.",
                severity="warning",
                markup=False,
            )
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
        pane.take_unsaved_edit()
        store = self.services.store
        try:
            draft_id = pane.draft_id
            if draft_id is None:
                draft_id = store.save_draft(self.conversation.id, text=text, persona_id=self.persona_id)
            message = store.approve_draft(draft_id, text, self.services.settings.agent_name)
        except SupportConsoleError as error:
            self.notify(str(error), title="Not sent", severity="error", markup=False)
            return
        self.app.copy_to_clipboard(text)
        self.transcript.append(message)
        pane.clear_draft("Sent. The reply is on the clipboard: paste it into your channel.")
        pane.clear_meter()
        self.measure()
        self.customers.refresh_list()
        self.notify("Reply approved and copied to the clipboard.", title="Sent", markup=False)

    def action_discard(self) -> None:
        pane = self.draft
        if self.streaming:
            self.notify(
                f"The draft is still streaming: stop it ({self.key('stop')}) first.",
                severity="warning",
                markup=False,
            )
            return
        if not pane.text.strip() and pane.draft_id is None:
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

    def _discard(self) -> None:
        pane = self.draft
        pane.take_unsaved_edit()
        if pane.draft_id is not None:
            try:
                self.services.store.discard_draft(pane.draft_id)
            except SupportConsoleError as error:
                self.notify(str(error), severity="error", markup=False)
                return
        pane.clear_draft("Draft discarded.")
        self.notify("Draft discarded.", markup=False)

    def save_before_quit(self) -> None:
        """Called by the app on quit: save any edit not yet saved."""
        self._save_unsaved_edit()
