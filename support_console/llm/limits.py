"""How long and how big a reply may be: the deadlines of one request and the cap on what it may send.

Why here and not in the SDK's settings: the SDK's ``timeout`` is per attempt and per read, so a server that
accepts and never answers costs ``(max_retries + 1) × timeout``, and one that trickles keep-alives or a word
every few seconds is never cut off at all. These limits are measured from the moment the request is sent,
across every attempt, and only reply *text* counts as progress. Pure Python: no SDK, no network.
"""

from __future__ import annotations

import asyncio
import inspect
import math
import time
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeVar

from support_console.core.model_facts import resolve_model
from support_console.core.tokens import count_text

if TYPE_CHECKING:
    from support_console.config.settings import ProviderSettings
    from support_console.llm.types import ChatRequest

__all__ = ["DeadlinePassed", "Deadlines", "ReplyLimit", "Watchdog"]

_T = TypeVar("_T")

#: A reply is stopped once it is this many times its max_tokens (plus the slack below): far enough past the
#: limit that a server counting with another tokenizer (a CJK-friendly one, say) is never cut off while
#: honest, near enough that a server ignoring max_tokens costs a few kilobytes, not gigabytes.
OVERRUN_FACTOR = 4
OVERRUN_SLACK = 1000
#: Used when a request sends no token limit (every request we build sends one).
DEFAULT_MAX_TOKENS = 16_384
#: Wire bytes allowed per token of the cap: a streamed chunk is one JSON event per token, a few hundred bytes
#: (Azure's, with content-filter verdicts, about 700); keep-alives are a few bytes each.
BYTES_PER_TOKEN = 2048
MIN_REPLY_BYTES = 4 * 1024 * 1024
#: Text is counted once it could be over the cap, in pieces of at least this many characters, and in slices
#: of at most _SLICE (so the cut is within _SLICE characters of the cap).
_COUNT_EVERY = 2048
_SLICE = 8192


@dataclass
class Deadlines:
    """The three deadlines of one request, on the monotonic clock.

    * first text: ``first_token_timeout`` after sending, however many attempts that takes;
    * no progress: once text has come, at most ``stall_timeout`` between two pieces of text (keep-alives,
      SSE comments and empty chunks are not text), not counting the time the caller spends on a piece
      before asking for the next (saving the draft, say): the watchdog times the server, not the caller;
    * overall: ``total_timeout`` after sending, whatever is still arriving.
    """

    first_token: float
    stall: float
    total: float
    started: float = field(default_factory=time.monotonic)
    last_text: float | None = None  # when the latest piece of text arrived (None: none yet)
    attempts: int = 0  # requests sent so far
    _caller_time: float = field(default=0.0, init=False)  # the caller held the stream since the latest text

    @classmethod
    def for_provider(cls, provider: ProviderSettings) -> Deadlines:
        return cls(provider.first_token_timeout, provider.stall_timeout, provider.total_timeout)

    def text_arrived(self) -> None:
        self.last_text = time.monotonic()
        self._caller_time = 0.0

    def caller_held(self, seconds: float) -> None:
        """The caller spent ``seconds`` between receiving a piece and asking for the next."""
        self._caller_time += seconds

    @property
    def waiting_for_text(self) -> bool:
        return self.last_text is None

    def next_deadline(self) -> float:
        """When the wait for the next event ends (monotonic seconds)."""
        end = self.started + self.total
        if self.last_text is None:
            return min(end, self.started + self.first_token)
        return min(end, self.last_text + self._caller_time + self.stall)

    def remaining(self) -> float:
        """Seconds left of the current wait (never negative)."""
        return max(0.0, self.next_deadline() - time.monotonic())

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def overall_expired(self) -> bool:
        """True when the overall deadline (rather than the first-text or the stall one) is the one that ran
        out; meaningful once :meth:`remaining` reached zero."""
        return self.next_deadline() >= self.started + self.total

    def attempts_text(self) -> str:
        return f"{self.attempts} attempt{'s' if self.attempts != 1 else ''}"


class DeadlinePassed(Exception):
    """The current deadline ran out while waiting for the server (see Deadlines.next_deadline)."""


class Watchdog:
    """Ends a wait on the server once the current deadline has passed.

    Why not ``asyncio.timeout`` around every read: that arms and cancels a timer per chunk, a cost a stream of
    thousands of chunks feels. Here one timer waits for the deadline; when it fires and the deadline has
    moved on (text came meanwhile), it re-arms for the new one, so there is one timer per deadline, not per
    chunk. The timer cancels the task only while it waits (between :meth:`begin` and :meth:`end`), never
    while the caller holds a piece of the reply; the cancellation is then told apart from any other, as
    ``asyncio.timeout`` does.
    """

    def __init__(self, deadlines: Deadlines) -> None:
        self._deadlines = deadlines
        self._loop = asyncio.get_running_loop()
        self._handle: asyncio.TimerHandle | None = None
        self._armed_for = math.inf  # the deadline the timer is set for (monotonic seconds)
        self._waiting: asyncio.Task[object] | None = None
        self._fired = False

    async def wait(self, pending: Awaitable[_T]) -> _T:
        """``await pending``, raising DeadlinePassed if the current deadline passes first."""
        try:
            self.begin()
        except DeadlinePassed:
            if inspect.iscoroutine(pending):
                pending.close()  # never started: nothing to clean up, and no "never awaited" warning
            raise
        try:
            return await pending
        except asyncio.CancelledError:
            self.cancelled()
            raise
        finally:
            self.end()

    # The hot path (one read per chunk) uses these three inline rather than wait(): a coroutine between the
    # reader and the stream would be one more frame on every suspension.

    def begin(self) -> None:
        """A wait on the server starts now; DeadlinePassed if the deadline has already passed."""
        now = time.monotonic()
        when = self._deadlines.next_deadline()
        if when <= now:
            raise DeadlinePassed
        if when < self._armed_for:
            self._arm(when, now)
        self._waiting = asyncio.current_task()

    def cancelled(self) -> None:
        """The wait was cancelled: DeadlinePassed if by this watchdog alone (else the caller re-raises)."""
        task = self._waiting
        if self._fired and task is not None:
            self._fired = False
            if task.uncancel() == 0:
                raise DeadlinePassed from None

    def end(self) -> None:
        self._waiting = None

    def close(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def _arm(self, when: float, now: float) -> None:
        self.close()
        self._armed_for = when
        self._handle = self._loop.call_at(self._loop.time() + (when - now), self._fire)

    def _fire(self) -> None:
        self._handle, self._armed_for = None, math.inf
        now, when = time.monotonic(), self._deadlines.next_deadline()
        if when > now:
            self._arm(when, now)  # text came meanwhile: the deadline moved on
        elif self._waiting is not None and not self._fired:
            self._fired = True
            self._waiting.cancel()
        # else the caller holds a piece: its next wait() finds the deadline passed


class ReplyLimit:
    """Stops a reply that runs far past the max_tokens it was sent with, keeping the text up to the cap.

    Tokens are counted exactly (with the model's encoding), but only once the text *could* be over the cap:
    a token is at least one UTF-8 byte, so until the text has as many bytes (at most four per character) as
    the cap has tokens nothing is counted, and an ordinary reply costs nothing. Text is counted in slices,
    so one enormous piece costs only what it takes to find the cap. The raw bytes of the response are capped
    too (:attr:`max_bytes`), for a server that sends one event bigger than any reply.
    """

    def __init__(self, request: ChatRequest) -> None:
        sent = request.params.get("max_tokens") or request.params.get("max_completion_tokens")
        self.max_tokens = int(sent) if sent else DEFAULT_MAX_TOKENS
        self.cap = OVERRUN_FACTOR * self.max_tokens + OVERRUN_SLACK
        self.max_bytes = max(MIN_REPLY_BYTES, self.cap * BYTES_PER_TOKEN)
        self.exceeded = False
        self._encoding = resolve_model(request.model).encoding
        self._counted = 0  # exact tokens of the text counted so far
        self._pending: list[str] = []
        self._pending_chars = 0

    @property
    def tokens(self) -> int:
        """Tokens counted so far (a lower bound while text is pending)."""
        return self._counted

    def take(self, text: str) -> str:
        """The part of ``text`` within the cap: all of it until the reply goes over, then the part before
        the slice where it did (and "" for anything after)."""
        if self.exceeded:
            return ""
        self._pending.append(text)
        self._pending_chars += len(text)
        if self._counted + 4 * self._pending_chars <= self.cap or self._pending_chars < _COUNT_EVERY:
            return text
        pending = "".join(self._pending)
        self._pending.clear()
        self._pending_chars = 0
        text_starts = len(pending) - len(text)
        for start in range(0, len(pending), _SLICE):
            self._counted += count_text(pending[start : start + _SLICE], self._encoding)
            if self._counted > self.cap:
                self.exceeded = True
                return text[: max(0, start + _SLICE - text_starts)]
        return text
