"""The streaming model client: one request in, text and refusal deltas out, an LLMError that says what to do.

Why this shape: drafting saves the draft as it grows, so the client yields deltas as they arrive and keeps the
totals (`last_result`) for the end; every failure, even mid-stream, becomes one LLMError carrying the partial
text, so nothing the model already wrote is lost. What the services really send is handled here: Azure's
first event without choices, chunks without a delta, the usage-only last chunk, refusals, content-filter
stops, `{"error": …}` events, dropped connections, and servers that answer a stream request with plain JSON.
It also keeps every request inside its deadlines and a reply inside its size (llm/limits.py): the waits of
all attempts add up to at most the first-text deadline, and a reply that runs far past its max_tokens is
stopped with what came kept.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
from collections.abc import AsyncGenerator, Iterator, Mapping
from typing import TYPE_CHECKING, Any, cast

from support_console.llm.errors import ErrorKind, LLMError
from support_console.llm.limits import DeadlinePassed, Deadlines, ReplyLimit, Watchdog
from support_console.llm.types import (
    EMPTY_RESULT,
    ChatRequest,
    RefusalDelta,
    StreamEvent,
    StreamResult,
    TextDelta,
    Usage,
)

if TYPE_CHECKING:
    import httpx2
    from openai import AsyncOpenAI, AsyncStream
    from openai.types.chat import ChatCompletionChunk

    from support_console.config.settings import ProviderSettings
    from support_console.llm.sse import Event

__all__ = ["ModelClient"]


class ModelClient:
    """Streams chat completions from the configured provider with the official `openai` SDK.

    The SDK client (and the SDK itself) is created on the first request, not here, so building Services stays
    cheap and offline. One ModelClient may serve many requests; `aclose()` releases its connection pool.
    """

    def __init__(self, provider: ProviderSettings) -> None:
        self._provider = provider
        self._sdk_client: AsyncOpenAI | None = None
        self._build_lock = threading.Lock()  # warm_up() may build the SDK client in another thread
        self._send_stream_options = True  # cleared for good once a server rejects stream_options
        self.last_result: StreamResult = EMPTY_RESULT

    @property
    def provider(self) -> ProviderSettings:
        """The settings this client sends with (describe() is safe to show; the key is never in it)."""
        return self._provider

    def _client(self) -> AsyncOpenAI:
        with self._build_lock:
            if self._sdk_client is None:
                from support_console.llm import _sdk

                self._sdk_client = _sdk.build_client(self._provider)
            return self._sdk_client

    def warm_up(self) -> None:
        """Do now what the first request would do on the event loop: import the SDK (about half a second),
        build its client (a TLS context included) and load its chat-completions module. Blocking and safe
        from another thread before the first request; settings the SDK refuses are left for the request to
        report. Nothing is sent."""
        with contextlib.suppress(LLMError):
            _ = self._client().chat.completions

    async def aclose(self) -> None:
        """Close the HTTP connection pool (it belongs to the event loop that used it)."""
        client, self._sdk_client = self._sdk_client, None
        if client is not None:
            await client.close()

    async def stream(self, request: ChatRequest) -> AsyncGenerator[StreamEvent, None]:
        """Send ``request`` and yield its deltas as they arrive; afterwards ``last_result`` holds the totals.

        Raises LLMError (with ``partial``) on any failure, including a content-filter stop after partial text,
        a deadline running out and a reply running far past its max_tokens. Closing or cancelling the
        generator closes the HTTP response at once.
        """
        import openai

        from support_console.llm import _sdk

        self.last_result = EMPTY_RESULT
        client = self._client()  # LLMError(NOT_CONFIGURED) when the settings can't make one
        limit = ReplyLimit(request)
        acc = _Accumulator(limit)
        deadlines = Deadlines.for_provider(self._provider)
        watchdog = Watchdog(deadlines)
        try:
            chunks = await self._open_in_time(client, request, deadlines, watchdog)
            async with chunks:
                acc.started = True
                _sdk.cap_body(chunks.response, limit.max_bytes)
                if chunks.response.headers.get("content-type", "").startswith("application/json"):
                    body = json.loads(await watchdog.wait(chunks.response.aread()))
                    for event in acc.feed_completion(body):
                        yield event
                else:
                    events = self._events(chunks.response, acc, limit, deadlines, watchdog)
                    async with contextlib.aclosing(events):
                        async for event in events:
                            yield event
                if limit.exceeded:
                    raise _sdk.ReplyTooLarge
        except DeadlinePassed:
            self.last_result = acc.result()
            raise _sdk.deadline_error(self._provider, deadlines, acc.text, acc.started) from None
        except _sdk.ReplyTooLarge:
            self.last_result = acc.result()
            too_many = limit.tokens > limit.cap
            what = f"about {limit.tokens:,} tokens" if too_many else f"{limit.max_bytes / 1e6:.0f} MB of data"
            raise _sdk.too_long_error(self._provider, limit, acc.text, what) from None
        except openai.OpenAIError as exc:
            self.last_result = acc.result()
            raise _sdk.to_llm_error(
                exc, self._provider, request.model, acc.text, acc.started, deadlines.attempts
            ) from None
        except ValueError:  # an event that is not JSON
            self.last_result = acc.result()
            raise self._broken(acc, "it sent data that is not valid JSON") from None
        finally:
            watchdog.close()
        self.last_result = acc.result()
        self._check_finished(acc, request)

    async def _events(
        self,
        response: httpx2.Response,
        acc: _Accumulator,
        limit: ReplyLimit,
        deadlines: Deadlines,
        watchdog: Watchdog,
    ) -> AsyncGenerator[StreamEvent, None]:
        """The deltas of a streamed body, read and decoded here rather than by the SDK's stream.

        Why: the SDK builds a pydantic model object for every event, about two thirds of the event loop's
        time on a long reply; here each event's JSON stays a dict (the SDK's semantics kept: [DONE] ends the
        stream, an `{"error": …}` event raises its APIError, read failures its connection errors). Why the
        ``sleep(0)`` after each network read: the loop otherwise gets a turn only once the socket's buffer
        is used up, and a key pressed meanwhile waits for the whole burst (one read is at most 64 KB).
        """
        from support_console.llm import _sdk
        from support_console.llm.sse import EventDecoder

        decoder = EventDecoder()
        async with contextlib.aclosing(_sdk.body_reads(response)) as reads:
            read = reads.__anext__
            while True:
                watchdog.begin()  # inline, not watchdog.wait(): see Watchdog.begin
                try:
                    data = await read()
                except StopAsyncIteration:
                    decoder.finish()
                    return
                except asyncio.CancelledError:
                    watchdog.cancelled()
                    raise
                finally:
                    watchdog.end()
                for sse in decoder.feed(data):
                    if sse.data.startswith("[DONE]"):
                        await _sdk.body_done(response)
                        return
                    events = list(acc.feed_chunk(_chunk_of(sse, response)))
                    if events:  # keep-alives, comments and empty chunks are not progress
                        deadlines.text_arrived()
                    for event in events:
                        handed = time.monotonic()
                        yield event
                        deadlines.caller_held(time.monotonic() - handed)
                    if limit.exceeded:
                        return
                handed = time.monotonic()
                await asyncio.sleep(0)  # the loop's turn after each read (see above)
                deadlines.caller_held(time.monotonic() - handed)

    async def _open_in_time(
        self, client: AsyncOpenAI, request: ChatRequest, deadlines: Deadlines, watchdog: Watchdog
    ) -> AsyncStream[ChatCompletionChunk]:
        """Start the request, retrying quick failures while the first-text deadline leaves room to."""
        import openai

        from support_console.llm import _sdk

        while True:
            deadlines.attempts += 1
            try:
                return await watchdog.wait(self._open(client, request))
            except openai.OpenAIError as exc:
                delay = _sdk.retry_delay(exc, deadlines.attempts - 1, self._provider.max_retries)
                if delay is None or delay >= deadlines.remaining():
                    raise
            await asyncio.sleep(delay)

    async def _open(self, client: AsyncOpenAI, request: ChatRequest) -> AsyncStream[ChatCompletionChunk]:
        """Start the streamed request; retry once without stream_options if the server rejects them."""
        import openai

        from support_console.llm import _sdk

        body = request.to_dict()
        kwargs: dict[str, Any] = {
            "model": request.model,
            "messages": body["messages"],
            "stream": True,
            "extra_body": dict(request.params),
        }
        if self._send_stream_options:
            try:
                return cast(
                    "AsyncStream[ChatCompletionChunk]",
                    await client.chat.completions.create(**kwargs, stream_options={"include_usage": True}),
                )
            except openai.BadRequestError as exc:
                if not _sdk.mentions_stream_options(exc):
                    raise
                self._send_stream_options = False
        return cast("AsyncStream[ChatCompletionChunk]", await client.chat.completions.create(**kwargs))

    def _check_finished(self, acc: _Accumulator, request: ChatRequest) -> None:
        """A content-filter stop or a stream that never said it finished is an error, with the text kept."""
        if acc.finish_reason == "content_filter":
            about = f" (category: {acc.category})" if acc.category else ""
            kept = (
                f" The {len(acc.text)} characters written before it are kept as the draft."
                if acc.text
                else ""
            )
            raise LLMError(
                f"The provider's content filter stopped the reply{about}.{kept} Edit the draft by hand, or "
                "rephrase the persona's instructions and draft again.",
                kind=ErrorKind.CONTENT_FILTER,
                partial=acc.text,
                category=acc.category,
            )
        if acc.finish_reason is None and acc.chunks == 0 and not acc.text:
            raise self._empty(request)
        if acc.finish_reason is None:
            raise self._broken(acc, "the stream ended without a finish reason")

    def _empty(self, request: ChatRequest) -> LLMError:
        """A 200 answer with no data at all. llama-cpp-python's server answers so when a streamed request
        does not fit its window (the error is raised after the headers went out): when the request was sized
        close to its window, or to a guessed one, that is what it is, and drafting again cannot help."""
        from support_console.llm._sdk import where

        server = where(self._provider)
        server = server[:1].upper() + server[1:]
        fit = request.fit
        if fit is None or not fit.near_window:
            return LLMError(
                f"{server} answered with an empty reply (no data at all). Draft again; if it "
                "keeps happening, check the server's log.",
                kind=ErrorKind.STREAM_ERROR,
            )
        window = (
            f"a guessed {fit.context_window:,}-token window"
            if not fit.window_known
            else f"the {fit.context_window:,}-token window it was trimmed to"
        )
        return LLMError(
            f"{server} answered with an empty reply, as llama-cpp-python's server does when a "
            f"request does not fit its context window: this one needs about {fit.prompt_tokens:,} prompt "
            f"tokens plus {fit.max_tokens:,} for the reply, against {window}. Set the server's real window "
            f"(its --n_ctx; llama-cpp-python's default is 2,048) with context_window under "
            f'[models."{request.model}"] in the config file, or lower the persona\'s max_tokens, then '
            "generate again to retry with the history trimmed to fit.",
            kind=ErrorKind.CONTEXT_LENGTH,
        )

    def _broken(self, acc: _Accumulator, what: str) -> LLMError:
        kept = f" The {len(acc.text)} characters received so far are kept as the draft." if acc.text else ""
        return LLMError(
            f"The reply from the model stopped before it was complete: {what}.{kept} Draft again, or finish "
            "the draft by hand.",
            kind=ErrorKind.STREAM_ERROR,
            partial=acc.text,
        )


class _Accumulator:
    """Collects one stream's text, refusal, finish reason, usage, served model and filter category.

    Chunks are read defensively (every field's type checked): they are the server's JSON, and services send
    events without choices (Azure's first), choices without a delta, and a last chunk with only usage. Text
    past the reply's cap is not kept (``limit``): the client then stops the stream.
    """

    def __init__(self, limit: ReplyLimit) -> None:
        self._limit = limit
        self._text: list[str] = []
        self._refusal: list[str] = []
        self.finish_reason: str | None = None
        self.usage: Usage | None = None
        self.served_model: str | None = None
        self.category: str | None = None
        self.started = False  # the HTTP response has begun: later connection errors are stream errors
        self.chunks = 0  # chunks (or completions) received: none at all is an empty answer

    @property
    def text(self) -> str:
        return "".join(self._text)

    def result(self) -> StreamResult:
        return StreamResult(
            text=self.text,
            refusal="".join(self._refusal),
            finish_reason=self.finish_reason,
            usage=self.usage,
            served_model=self.served_model,
        )

    def feed_chunk(self, chunk: object) -> Iterator[StreamEvent]:
        """One streamed event's JSON (a dict, as the server sent it)."""
        self.chunks += 1
        if not isinstance(chunk, dict):
            return
        self._note_model_and_usage(chunk.get("model"), chunk.get("usage"))
        choices = chunk.get("choices")
        for choice in choices if isinstance(choices, list) else ():
            if not isinstance(choice, dict) or choice.get("index", 0) != 0:
                continue
            delta = choice.get("delta")
            if isinstance(delta, dict):
                yield from self._pieces(delta.get("content"), delta.get("refusal"))
            self._note_finish(choice.get("finish_reason"), choice)

    def feed_completion(self, body: object) -> Iterator[StreamEvent]:
        """A plain chat.completion answering a stream request (some servers ignore `stream`)."""
        if not isinstance(body, dict):
            raise ValueError("not a chat completion")
        self.chunks += 1
        self._note_model_and_usage(body.get("model"), body.get("usage"))
        for choice in body.get("choices") or ():
            if not isinstance(choice, dict) or choice.get("index", 0) != 0:
                continue
            message = choice.get("message") or {}
            yield from self._pieces(message.get("content"), message.get("refusal"))
            self._note_finish(choice.get("finish_reason"), choice)

    def _pieces(self, content: object, refusal: object) -> Iterator[StreamEvent]:
        if isinstance(content, str) and content and (content := self._limit.take(content)):
            self._text.append(content)
            yield TextDelta(content)
        if isinstance(refusal, str) and refusal and (refusal := self._limit.take(refusal)):
            self._refusal.append(refusal)
            yield RefusalDelta(refusal)

    def _note_model_and_usage(self, model: object, usage: object) -> None:
        if isinstance(model, str) and model:
            self.served_model = model
        counts = [_field(usage, name) for name in ("prompt_tokens", "completion_tokens", "total_tokens")]
        if usage is not None and all(isinstance(n, int) for n in counts):
            self.usage = Usage(*cast("list[int]", counts))

    def _note_finish(self, finish_reason: object, choice: object) -> None:
        if isinstance(finish_reason, str) and finish_reason:
            self.finish_reason = finish_reason
        if finish_reason == "content_filter":
            from support_console.llm._sdk import content_filter_category

            self.category = content_filter_category(_field(choice, "content_filter_results")) or self.category


def _chunk_of(sse: Event, response: httpx2.Response) -> object:
    """An event's JSON, or the APIError of an `{"error": …}` event, as the SDK's stream reads them."""
    from support_console.llm import _sdk

    data = json.loads(sse.data)
    if sse.event and sse.event.startswith("thread."):  # the SDK's wrapping (chat streams never send these)
        return {"data": data, "event": sse.event}
    if isinstance(data, Mapping) and data.get("error"):
        raise _sdk.stream_error(response, data["error"])
    return data


def _field(obj: object, name: str) -> object:
    """A field of an SDK object or of a plain dict (extra fields like Azure's stay dicts)."""
    if isinstance(obj, dict):
        return obj.get(name)
    return getattr(obj, name, None)
