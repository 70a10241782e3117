"""Model-client errors: one exception type with a kind, so callers branch on the kind and show the text.

Why here and not in ``core/errors.py``: an LLMError carries the partial draft that streamed before the
failure (drafting saves it), which only the model client knows about.
"""

from __future__ import annotations

from enum import StrEnum, auto

from support_console.core.errors import SupportConsoleError

__all__ = ["ErrorKind", "LLMError"]


class ErrorKind(StrEnum):
    """What went wrong, coarse enough for the UI and the CLI to choose a reaction (values are lower-case)."""

    AUTH = auto()  # 401/403: the key (or sign-in) was refused
    NOT_FOUND = auto()  # 404: no such model or deployment
    CONTENT_FILTER = auto()  # the provider's content filter blocked the prompt or stopped the reply
    CONTEXT_LENGTH = auto()  # the request does not fit the model's context window
    RATE_LIMIT = auto()  # 429 after the SDK's retries (or quota exhausted)
    TIMEOUT = auto()  # no answer (or no next chunk) within the timeout
    UNREACHABLE = auto()  # could not connect at all
    STREAM_ERROR = auto()  # the stream broke off mid-reply (dropped connection, error event, garbage)
    BAD_REQUEST = auto()  # the provider rejected the request for another reason
    SERVER = auto()  # 5xx from the provider
    NOT_CONFIGURED = auto()  # no usable provider settings (or a missing optional package)


class LLMError(SupportConsoleError):
    """A model request failed. ``str(e)`` says what happened and what to do; it never contains a key or the
    server's echo of one. ``partial`` is the text that streamed before the failure ("" when none)."""

    def __init__(
        self,
        message: str,
        *,
        kind: ErrorKind,
        partial: str = "",
        retry_after: float | None = None,
        category: str | None = None,
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.partial = partial
        self.retry_after = retry_after  # seconds the provider asked us to wait (rate limits)
        self.category = category  # content-filter category, e.g. "self_harm"

    def __repr__(self) -> str:
        return f"LLMError(kind={self.kind.value!r}, message={str(self)!r}, partial={len(self.partial)} chars)"
