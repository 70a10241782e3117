"""Trimming a conversation into a request that fits the model's context window, to the token.

Why token-exact: an over-long request fails with a context-length error after the agent has waited, and a
cautious estimate throws away history the model could have used. Token counts of stored messages are
precomputed (the store keeps them per encoding), so trimming is arithmetic over what is kept, not
re-encoding; only a message that must be cut is encoded here.

Policy:

* budget = context_window - max_reply_tokens - margin; the final request never exceeds it.
* The system message and the newest customer (``user``) message are always sent.
* The rest is filled newest first and stops at the first message that does not fit, so the oldest are
  dropped and the kept history has no gaps. The history iterable is consumed lazily and abandoned as soon as
  the budget is full: a 10,000-message conversation costs only what is kept.
* If the newest customer message alone does not fit, it is cut: its start (two thirds of the room — where
  an e-mail's new text is, quoted history trails) and its end (one third — the sign-off and often the actual
  question) are kept, with :data:`TRUNCATION_MARKER` between them.
* The system message is cut (the same way) only when it would take more than half of the room and the
  customer message does not fit beside it; it then keeps half of the room.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Iterable, Iterator, Mapping, Sized
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal, NamedTuple, Protocol, runtime_checkable

from support_console.core.errors import SupportConsoleError
from support_console.core.model_facts import ModelInfo, chat_format
from support_console.core.tokens import ChatMessage, count_text, get_encoding

__all__ = [
    "TRUNCATION_MARKER",
    "BudgetAware",
    "ContextBudgetError",
    "HistoryItem",
    "SizedHistory",
    "TrimReport",
    "build_messages",
]

TRUNCATION_MARKER = "\n[… message truncated to fit the model's context window …]\n"

# Below this many tokens of room for message text, no useful request can be built.
_MIN_ROOM = 64
_HEAD_SHARE = 2 / 3


class ContextBudgetError(SupportConsoleError):
    """The reply limit and margin leave no room for the conversation in the model's window."""


class HistoryItem(NamedTuple):
    """One message that may be sent to the model, with its precomputed token count.

    A named tuple rather than a frozen dataclass: a long history builds thousands of these per request, and
    the store builds them straight from its rows (``HistoryItem._make``) at a fraction of a dataclass's cost.
    Immutable, with the same fields and constructor.
    """

    message_id: int | None
    # customer -> user; sent agent reply -> assistant (notes and drafts never reach the model)
    role: Literal["user", "assistant"]
    text: str
    tokens: int  # count_text(text, encoding), precomputed and stored


class SizedHistory(Protocol):
    """A history that iterates lazily yet knows its length (the store's cursor: one COUNT), so the trim
    report's ``dropped`` is exact without reading what is dropped."""

    def __iter__(self) -> Iterator[HistoryItem]: ...

    def __len__(self) -> int: ...


@runtime_checkable
class BudgetAware(Protocol):
    """A history that can size its reads to the consumer's budget (the store's: fewer, right-sized queries).

    :func:`build_messages` calls ``expect_tokens(budget)`` before iterating when the history has it; it is a
    hint only: the history must still yield every item asked for.
    """

    def expect_tokens(self, tokens: int) -> None: ...


@dataclass(frozen=True)
class TrimReport:
    """What build_messages kept and why, for the UI and for the record."""

    prompt_tokens: int  # exact, as count_chat would say for the final messages
    budget: int  # context_window - max_reply_tokens - margin
    context_window: int
    reply_tokens: int
    kept: int  # history messages kept (the newest customer message included)
    dropped: int  # older messages left out (see build_messages for lazy histories)
    truncated: bool  # a single message was cut to fit (marker inserted)
    first_kept_id: int | None  # for the UI's "N earlier messages not sent to the model" marker


@dataclass
class _Tally:
    """Running cost of the request being built; ``overhead`` is what each role costs besides its text."""

    overhead: Mapping[str, int]
    used: int


@functools.cache
def _overheads(encoding: str, tokens_per_message: int) -> Mapping[str, int]:
    """Tokens a message of each role costs besides its text (computed once per encoding and format)."""
    return MappingProxyType(
        {role: tokens_per_message + count_text(role, encoding) for role in ("system", "user", "assistant")}
    )


def _cut(text: str, limit: int, encoding: str) -> str:
    """``text`` cut to at most ``limit`` tokens, keeping its start and end around the marker.

    Decoding a token slice and re-encoding the joined text can merge differently at the seams, so the result
    is re-counted and shrunk until it fits; it always ends up within ``limit``.
    """
    enc = get_encoding(encoding)
    tokens = enc.encode_ordinary(text)
    if len(tokens) <= limit:
        return text
    room = max(limit - count_text(TRUNCATION_MARKER, encoding), 0)
    head = int(room * _HEAD_SHARE)
    tail = room - head
    while True:
        start = enc.decode(tokens[:head], errors="ignore")
        end = enc.decode(tokens[len(tokens) - tail :], errors="ignore") if tail > 0 else ""
        candidate = start + TRUNCATION_MARKER + end if head + tail > 0 else ""
        over = count_text(candidate, encoding) - limit
        if over <= 0:
            return candidate
        from_tail = min(tail, (over + 2) // 3)
        tail -= from_tail
        head = max(head - (over - from_tail), 0)


def _find_newest_user(items: Iterator[HistoryItem]) -> tuple[list[HistoryItem], HistoryItem | None]:
    """Read up to the newest customer message; return the (newer) agent replies seen on the way, and it."""
    newer: list[HistoryItem] = []
    for item in items:
        if item.role == "user":
            return newer, item
        newer.append(item)
    return newer, None


def _fit_mandatory(
    system: str, user: HistoryItem | None, room: int, encoding: str
) -> tuple[str, str | None, bool]:
    """System and newest customer text, cut as the module policy says so that together they fit ``room``."""
    sys_tokens = count_text(system, encoding)
    user_tokens = user.tokens if user else 0
    if sys_tokens + user_tokens <= room:
        return system, user.text if user else None, False
    if sys_tokens > room // 2 and (user is None or sys_tokens + min(user_tokens, room // 2) > room):
        system = _cut(system, max(room - user_tokens, room // 2), encoding)
        sys_tokens = count_text(system, encoding)
    if user is None:
        return system, None, True
    user_text = _cut(user.text, room - sys_tokens, encoding)
    return system, user_text, True


def build_messages(
    system: str,
    history_newest_first: Iterable[HistoryItem],
    model: ModelInfo,
    max_reply_tokens: int,
    margin: int = 64,
) -> tuple[list[ChatMessage], TrimReport]:
    """The messages to send (system first, then history oldest to newest) and a report of the trimming.

    ``dropped`` is exact when the history is a sized collection (list, tuple). For a lazy iterator (a store
    cursor) reading stops at the first message that does not fit, so ``dropped`` counts the messages read and
    left out (at least 1 when anything was left out); count the rest from ``first_kept_id`` if needed.
    Agent replies newer than the newest customer message are read on the way to it (normally none or one).
    Raises :class:`ContextBudgetError` when the reply limit leaves no usable room.
    """
    budget = model.context_window - max_reply_tokens - margin
    encoding = model.encoding
    fmt = chat_format(model)
    tally = _Tally(_overheads(encoding, fmt.tokens_per_message), used=fmt.reply_priming)
    if isinstance(history_newest_first, BudgetAware):
        history_newest_first.expect_tokens(budget)
    items = iter(history_newest_first)
    newer, user = _find_newest_user(items)

    overhead = tally.used + tally.overhead["system"] + (tally.overhead["user"] if user else 0)
    room = budget - overhead
    if room < _MIN_ROOM:
        raise ContextBudgetError(
            f"A {max_reply_tokens}-token reply limit (plus a {margin}-token margin) leaves no room for the "
            f"conversation in {model.name}'s {model.context_window}-token context window; lower max_tokens "
            "in the persona or choose a model with a larger window."
        )
    system_text, user_text, truncated = _fit_mandatory(system, user, room, encoding)
    tally.used = overhead + count_text(system_text, encoding)
    if user is not None and user_text is not None:
        tally.used += user.tokens if user_text is user.text else count_text(user_text, encoding)

    kept_newer, kept_older, seen_left_out = _fill(newer, items, budget, tally)
    kept_newest_first = [*kept_newer, *([user] if user else []), *kept_older]
    messages: list[ChatMessage] = [{"role": "system", "content": system_text}]
    messages += [{"role": item.role, "content": item.text} for item in reversed(kept_newest_first)]
    if user is not None and user_text is not None and user_text is not user.text:
        messages[len(kept_older) + 1]["content"] = user_text

    dropped = seen_left_out
    if isinstance(history_newest_first, Sized):
        dropped = len(history_newest_first) - len(kept_newest_first)
    report = TrimReport(
        prompt_tokens=tally.used,
        budget=budget,
        context_window=model.context_window,
        reply_tokens=max_reply_tokens,
        kept=len(kept_newest_first),
        dropped=dropped,
        truncated=truncated,
        first_kept_id=kept_newest_first[-1].message_id if kept_newest_first else None,
    )
    return messages, report


def _fill(
    newer: list[HistoryItem], older: Iterator[HistoryItem], budget: int, tally: _Tally
) -> tuple[list[HistoryItem], list[HistoryItem], int]:
    """Add messages newest first while they fit; stop reading at the first that does not.

    ``newer`` are agent replies after the newest customer message (already read), ``older`` the rest of the
    history. Returns the kept ones of each (newest first) and how many were read but left out. This loop is
    the hot path for long histories, hence the local variables.
    """
    overhead, used = tally.overhead, tally.used
    kept_newer: list[HistoryItem] = []
    for index, item in enumerate(newer):
        used += overhead[item.role] + item.tokens
        if used > budget:
            # Nothing older can be sent past this gap: the rest of `newer` and all of `older` are left out.
            tally.used = used - overhead[item.role] - item.tokens
            return kept_newer, [], len(newer) - index + _peek_count(older)
        kept_newer.append(item)
    kept_older: list[HistoryItem] = []
    append = kept_older.append
    for item in older:
        used += overhead[item.role] + item.tokens
        if used > budget:
            tally.used = used - overhead[item.role] - item.tokens
            return kept_newer, kept_older, 1
        append(item)
    tally.used = used
    return kept_newer, kept_older, 0


def _peek_count(items: Iterator[HistoryItem]) -> int:
    """1 if ``items`` has anything left, else 0, reading at most one item."""
    return sum(1 for _ in itertools.islice(items, 1))
