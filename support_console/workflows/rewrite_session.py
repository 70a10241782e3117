"""Rewriting the open draft in the console: prepared and recorded on the session's thread, streamed.

Why here and not in the console: what a rewrite sends, what it records and how it ends are the same whoever
shows it, and plain tests drive it without Textual. The console's preview only shows what this says.

Why a generation record per rewrite: the audit trail must show every request to the model, and a rewrite's
text goes into no draft until the agent accepts it, so the record keeps it (``output_text``), saved while it
grows (at most every ``save_every`` seconds, never waited for) so a crash keeps what came, and the agent's
verdict (``outcome``) once they accept or reject it.

Why the draft is never touched here: accepting puts the text into the editor (one undo step); the edit is
saved as every edit is. This module only records that it was accepted.

Threading is the :class:`DraftSession`'s: every store call and the request's preparation run on its
:class:`StoreQueue` (one thread, in order, after an edit save asked for before it), the model's deltas on
the event loop; nothing here blocks the loop.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, Mapping
from concurrent.futures import Future
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from support_console.core.rewrite_tools import RewriteTool, ToolSet, load_tools
from support_console.core.vocabulary import (
    GENERATION_REWRITE,
    OUTCOME_ACCEPTED,
    OUTCOME_REJECTED,
    STOPPED_NOTE,
    ErrorKind,
)
from support_console.llm import LLMError, RefusalDelta
from support_console.workflows.draft_session import NotReady, wait
from support_console.workflows.drafting import choose_persona, no_provider_message
from support_console.workflows.rewriting import (
    PreparedRewrite,
    RewriteOutcome,
    finish_rewrite,
    prepare_rewrite,
    rewrite_model,
)

if TYPE_CHECKING:
    from support_console.llm import StreamResult
    from support_console.workflows.draft_session import DraftSession
    from support_console.workflows.services import Services

__all__ = ["ConsoleRewrite", "RewriteSession"]

SAVE_EVERY = 0.5
"""Seconds between saves of a streaming rewrite's text (a crash loses at most this much of it)."""


@dataclass
class ConsoleRewrite:
    """One rewrite of the open draft: its request, its generation record, and how it ended.

    ``selection`` is where the rewritten text came from in the editor (None: the whole draft);
    ``generation_id`` is None until its record is written (queued behind the request) or if the store
    refused it; ``text`` is what streamed so far; ``outcome`` is set once the model is done."""

    prepared: PreparedRewrite
    generation_id: int | None
    inputs: Mapping[str, str]
    selection: tuple[tuple[int, int], tuple[int, int]] | None
    text: str = ""
    outcome: RewriteOutcome | None = None
    error: str | None = None
    error_kind: ErrorKind | None = None
    pieces: list[str] = field(default_factory=list)

    @property
    def tool(self) -> RewriteTool:
        return self.prepared.tool

    @property
    def original(self) -> str:
        return self.prepared.original

    @property
    def acceptable(self) -> bool:
        """Only a complete rewrite may replace the text: not a stopped, failed, refused or cut-off one."""
        outcome = self.outcome
        return (
            outcome is not None
            and self.error_kind is None
            and not outcome.refused
            and not outcome.cut_off
            and bool(outcome.text.strip())
        )


class RewriteSession:
    """The rewrite tools of one :class:`DraftSession`, and the refine instructions given per draft."""

    def __init__(self, services: Services, session: DraftSession) -> None:
        self._services = services
        self._session = session
        self._tools: ToolSet | None = None
        self._history: dict[tuple[int | None, int | None], list[str]] = {}
        self._task: asyncio.Task[object] | None = None

    # -- tools and the refine history ------------------------------------------------------------------

    async def tools(self, *, reload: bool = False) -> ToolSet:
        """The bundled and user tools (read from disk in a thread, once, or again with ``reload``)."""
        if self._tools is None or reload:
            self._tools = await asyncio.to_thread(load_tools, self._services.settings.tool_dirs)
        return self._tools

    def history(self) -> list[str]:
        """The instructions given to tools with inputs for the draft held now, newest first."""
        return list(reversed(self._history.get(self._draft_key(), [])))

    def _draft_key(self) -> tuple[int | None, int | None]:
        return (self._session.conversation_id, self._session.draft_id)

    def _remember(self, inputs: Mapping[str, str]) -> None:
        instruction = inputs.get("instruction", "").strip()
        if not instruction:
            return
        kept = self._history.setdefault(self._draft_key(), [])
        if instruction in kept:
            kept.remove(instruction)
        kept.append(instruction)

    # -- one rewrite -----------------------------------------------------------------------------------

    async def prepare(
        self,
        tool: RewriteTool,
        text: str,
        inputs: Mapping[str, str] | None = None,
        selection: tuple[tuple[int, int], tuple[int, int]] | None = None,
    ) -> ConsoleRewrite:
        """Build the request for ``text`` and queue its generation record, after every store call asked for
        before it (an edit save: the record then names the draft). Raises NotReady without a conversation
        or a provider, NothingToRewrite, ToolError for a missing input, ContextBudgetError."""
        if self._services.client is None:
            raise NotReady("provider", no_provider_message(self._services.settings.provider))
        values = dict(inputs or {})
        return await self._session.queue.run(lambda: self._prepare(tool, text, values, selection))

    def _prepare(
        self,
        tool: RewriteTool,
        text: str,
        inputs: dict[str, str],
        selection: tuple[tuple[int, int], tuple[int, int]] | None,
    ) -> ConsoleRewrite:
        session = self._session
        conversation_id = session.conversation_id
        if conversation_id is None:
            raise NotReady("conversation", "There is no conversation yet: add the customer's message first.")
        persona = choose_persona(self._services.personas, "", requested=session.persona_id)
        prepared = prepare_rewrite(tool, text, rewrite_model(self._services.settings, persona), inputs)
        self._remember(inputs)
        rewrite = ConsoleRewrite(prepared, None, inputs, selection)
        parameters = {**prepared.request.params, **({"inputs": inputs} if inputs else {})}
        draft_id, agent = session.draft_id, session.agent_name or None

        def start() -> None:
            rewrite.generation_id = self._services.store.start_generation(
                conversation_id,
                draft_id=draft_id,
                persona_id=persona.id,
                model=prepared.model.name,
                parameters=parameters,
                kind=GENERATION_REWRITE,
                tool_id=tool.id,
                agent=agent,
            )

        # Queued, not waited for: the request goes out without waiting for the database, and every save of
        # the rewrite's text and its verdict runs after this on the same thread. If the store refuses it,
        # the rewrite still works, unrecorded, as a draft is saved without its generation.
        self._session.queue.submit(start)
        return rewrite

    async def stream(
        self, rewrite: ConsoleRewrite, *, save_every: float = SAVE_EVERY
    ) -> AsyncGenerator[str, None]:
        """Send the rewrite and yield its text as it comes; its record keeps the growing text.

        Ends with ``rewrite.outcome`` set (the assembled, checked rewrite). On LLMError the partial text is
        recorded with the error and the error re-raised; cancelled (:meth:`stop`), what came is recorded as
        stopped."""
        client = self._services.client
        if client is None:
            message = no_provider_message(self._services.settings.provider)
            raise LLMError(message, kind=ErrorKind.NOT_CONFIGURED)
        self._task = asyncio.current_task()
        pieces = rewrite.pieces
        next_save = time.monotonic() + save_every
        saving: Future[None] | None = None
        try:
            async with aclosing(client.stream(rewrite.prepared.request)) as events:
                async for event in events:
                    if isinstance(event, RefusalDelta):
                        continue
                    pieces.append(event.text)
                    now = time.monotonic()
                    if now >= next_save and (saving is None or saving.done()):
                        saving = self._record(rewrite, final=False)
                        next_save = now + save_every
                    yield event.text
                result = client.last_result
        except LLMError as exc:
            rewrite.error, rewrite.error_kind = str(exc), exc.kind
            self._record(rewrite, result=client.last_result)
            raise
        except (asyncio.CancelledError, GeneratorExit):
            rewrite.error, rewrite.error_kind = STOPPED_NOTE, ErrorKind.STOPPED
            self._record(rewrite)
            raise
        finally:
            self._task = None
            rewrite.text = "".join(pieces)
        rewrite.outcome = finish_rewrite(rewrite.prepared, result)
        self._record(rewrite, result=result)

    def stop(self) -> bool:
        """Stop the rewrite streaming now (what came is recorded); False when none streams."""
        task = self._task
        if task is None or task.done():
            return False
        task.cancel()
        return True

    def _record(
        self, rewrite: ConsoleRewrite, *, result: StreamResult | None = None, final: bool = True
    ) -> Future[None]:
        """Queue a save of the rewrite's text on its record (joined on the saving thread, not the loop)."""
        pieces = rewrite.pieces
        upto = len(pieces)
        usage = None
        if result is not None and result.usage is not None:
            usage = (result.usage.prompt_tokens, result.usage.completion_tokens)
        finish = result.finish_reason if result is not None else None
        error, kind = rewrite.error, rewrite.error_kind
        if result is not None and result.refused and error is None:
            error, kind = f"The model refused: {result.refusal}", ErrorKind.REFUSED

        def save() -> None:
            generation_id = rewrite.generation_id  # set by the record's start, queued before
            if generation_id is None:
                return
            text = rewrite.outcome.text if final and rewrite.outcome else "".join(pieces[:upto])
            self._services.store.record_output(
                generation_id, text, finish_reason=finish, usage=usage, error=error, error_kind=kind,
                final=final,
            )  # fmt: skip

        return self._session.queue.submit(save)

    async def decide(self, rewrite: ConsoleRewrite, *, accepted: bool) -> None:
        """Record the agent's verdict on the rewrite (after its last save: same queue, in order)."""
        outcome = OUTCOME_ACCEPTED if accepted else OUTCOME_REJECTED

        def decide() -> None:
            if rewrite.generation_id is not None:
                self._services.store.set_outcome(rewrite.generation_id, outcome)

        await wait(self._session.queue.submit(decide))

    async def rate(self, rewrite: ConsoleRewrite, rating: int, reason: str) -> bool:
        """Thumbs up (+1) or down (-1) on the rewrite itself, with an optional reason (the stats count it per
        tool); False when it has no record to rate. After its last save: same queue, in order."""
        agent = self._session.agent_name or None

        def rate() -> bool:
            if rewrite.generation_id is None:
                return False
            self._services.store.rate_generation(rewrite.generation_id, rating, reason=reason, agent=agent)
            return True

        return await wait(self._session.queue.submit(rate))

    async def idle(self) -> None:
        """Wait for every save queued so far (tests, and before quitting)."""
        await self._session.queue.idle()
