"""Streaming a generation whose text goes into no draft (a summary, a translation) and keeping it as it grows.

Why one helper: a summary and a translation are both requests whose text is the generation's own
``output_text`` (``Store.record_output``), shown beside the draft and never sent. Both must be recorded before
the request goes out (``Store.start_generation`` with their kind), saved as they stream so a crash keeps what
came, and closed with the finish reason, usage or error, so the audit trail and the stats see each one.
Saves run in order on one executor (the draft session's queue in the console, so they queue behind its other
store calls; a thread of their own in the CLI) and the stream never waits for them until the end.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, Callable
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from contextlib import aclosing
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from support_console.core.vocabulary import STOPPED_NOTE
from support_console.llm import ChatRequest, ErrorKind, LLMError, RefusalDelta, StreamEvent, StreamResult
from support_console.workflows.drafting import no_provider_message

if TYPE_CHECKING:
    from support_console.workflows.services import Services

REFUSED_OUTPUT = "The model refused this request."


@dataclass(frozen=True)
class Target:
    """What the generation is recorded as: its conversation, kind, persona and model, the draft it worked on
    (a translation's), who asked, and for a summary the newest message it read."""

    conversation_id: int
    kind: str
    persona_id: str | None
    model: str
    draft_id: int | None = None
    agent: str | None = None
    covers_message_id: int | None = None


class OutputStream:
    """One output generation at a time: after :meth:`stream`, :attr:`text` (what came), :attr:`result`
    (None when it failed or was stopped) and :attr:`generation_id` (its record)."""

    def __init__(self, services: Services, *, saves: Executor | None = None) -> None:
        self._services = services
        self._owns_saves = saves is None
        self._saves: Executor = saves or ThreadPoolExecutor(1, thread_name_prefix="output-saves")
        self._last: Future[None] | None = None
        self.generation_id: int | None = None
        self.text = ""
        self.result: StreamResult | None = None

    async def stream(
        self, request: ChatRequest, target: Target, *, save_every: float = 0.5
    ) -> AsyncGenerator[StreamEvent, None]:
        """Send ``request`` and yield the deltas; saved every ``save_every`` seconds and at the end (an error
        or a stop keeps what came, with the error, and is raised again). Ends after the final save."""
        client = self._services.client
        if client is None:
            raise LLMError(
                no_provider_message(self._services.settings.provider), kind=ErrorKind.NOT_CONFIGURED
            )
        self.generation_id, self.text, self.result = None, "", None
        self._submit(lambda: self._start(request, target))
        pieces: list[str] = []
        next_save = time.monotonic() + save_every
        try:
            async with aclosing(client.stream(request)) as events:
                async for event in events:
                    if not isinstance(event, RefusalDelta):
                        pieces.append(event.text)
                    if time.monotonic() >= next_save:
                        self._save("".join(pieces), final=False)
                        next_save = time.monotonic() + save_every
                    yield event
                result = client.last_result
        except LLMError as exc:
            self._save("".join(pieces) or exc.partial, error=str(exc), error_kind=exc.kind)
            await self._settle()
            raise
        except (asyncio.CancelledError, GeneratorExit):
            self._save("".join(pieces), error=STOPPED_NOTE, error_kind=ErrorKind.STOPPED)
            await self._settle()
            raise
        self.result = result
        usage = (result.usage.prompt_tokens, result.usage.completion_tokens) if result.usage else None
        refused = result.refused
        self._save(
            result.refusal if refused else result.text,
            finish_reason=result.finish_reason,
            usage=usage,
            error=REFUSED_OUTPUT if refused else None,
            error_kind=ErrorKind.REFUSED if refused else None,
        )
        await self._settle()

    def _start(self, request: ChatRequest, target: Target) -> None:
        store = self._services.store
        self.generation_id = store.start_generation(
            target.conversation_id, draft_id=target.draft_id, persona_id=target.persona_id,
            model=target.model, parameters=request.params, kind=target.kind, agent=target.agent,
        )  # fmt: skip
        if target.covers_message_id is not None:
            store.set_coverage(self.generation_id, target.covers_message_id)

    def _save(self, text: str, *, final: bool = True, **facts: Any) -> None:
        self.text = text

        def save() -> None:
            if self.generation_id is not None:  # the record's own write failed: nothing to attach it to
                self._services.store.record_output(self.generation_id, text, final=final, **facts)

        self._submit(save)

    def _submit(self, fn: Callable[[], None]) -> None:
        self._last = self._saves.submit(fn)

    async def _settle(self) -> None:
        last = self._last
        try:
            if last is not None:
                await asyncio.shield(asyncio.wrap_future(last))
        finally:
            if self._owns_saves:
                self._saves.shutdown(wait=False)
                self._saves = ThreadPoolExecutor(1, thread_name_prefix="output-saves")
