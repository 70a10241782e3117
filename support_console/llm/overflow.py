"""Context-window overflows as each server family words them, read into numbers.

Why its own module: a request that does not fit the server's window is the one failure that a retry cannot
mend and a shorter history can, so it must be told apart from a generic bad request or a server fault in
every dialect, and the window it names is worth remembering (workflows/server_facts.py does). Shapes:

* OpenAI: ``code: "context_length_exceeded"``, "This model's maximum context length is N tokens. However,
  your messages resulted in P tokens…".
* vLLM (and llama-cpp-python's non-streamed 400): "This model's maximum context length is N tokens. However,
  you requested T tokens (P in the messages, C in the completion)…", or in later versions "…is N tokens and
  your request has P input tokens…" / "However, your request has P input tokens".
* llama-server (llama.cpp): ``type: "exceed_context_size_error"`` with ``n_ctx`` and ``n_prompt_tokens``,
  message "request (P tokens) exceeds the available context size (N tokens)…" (HTTP 400; older builds send
  HTTP 500 with "the request exceeds the available context size, try increasing it").
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["Overflow", "read_overflow"]

_MESSAGE_PHRASES = (
    "maximum context length",
    "exceeds the available context size",
    "exceed context window",
    "context length exceeded",
    "context window of",
)
_WINDOW_PATTERNS = (
    re.compile(r"maximum context length is (\d[\d,]*) tokens", re.IGNORECASE),
    re.compile(r"available context size \((\d[\d,]*) tokens\)", re.IGNORECASE),
    re.compile(r"context window of (\d[\d,]*)", re.IGNORECASE),
)
_PROMPT_PATTERNS = (
    re.compile(r"(\d[\d,]*) in the messages", re.IGNORECASE),
    re.compile(r"request has (\d[\d,]*) input tokens", re.IGNORECASE),
    re.compile(r"messages resulted in (\d[\d,]*) tokens", re.IGNORECASE),
    re.compile(r"request \((\d[\d,]*) tokens\) exceeds", re.IGNORECASE),
    re.compile(r"requested tokens \((\d[\d,]*)\) exceed", re.IGNORECASE),
)


@dataclass(frozen=True)
class Overflow:
    """A request the server refused for not fitting its window, with the numbers it gave (None if not)."""

    context_window: int | None
    prompt_tokens: int | None


def _number(patterns: tuple[re.Pattern[str], ...], text: str) -> int | None:
    for pattern in patterns:
        found = pattern.search(text)
        if found:
            return int(found.group(1).replace(",", ""))
    return None


def _positive_int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def read_overflow(body: object, message: str = "") -> Overflow | None:
    """The overflow an error body (the ``error`` object or the whole body) and its message describe, or None.

    Structured numbers (llama-server's ``n_ctx`` / ``n_prompt_tokens``) win over numbers in the words.
    """
    fields = body if isinstance(body, dict) else {}
    inner = fields.get("error")
    if isinstance(inner, dict):
        fields = inner
    text = fields.get("message") if isinstance(fields.get("message"), str) else message
    text = str(text or message)
    marked = fields.get("type") == "exceed_context_size_error" or fields.get("code") in (
        "context_length_exceeded",
        "exceed_context_size_error",
    )
    if not marked and not any(phrase in text.lower() for phrase in _MESSAGE_PHRASES):
        return None
    return Overflow(
        context_window=_positive_int(fields.get("n_ctx")) or _number(_WINDOW_PATTERNS, text),
        prompt_tokens=_positive_int(fields.get("n_prompt_tokens")) or _number(_PROMPT_PATTERNS, text),
    )
