"""Model-client errors: one exception type with a kind, so callers branch on the kind and show the text.

Why here and not in ``core/errors.py``: an LLMError carries the partial draft that streamed before the
failure (drafting saves it), which only the model client knows about.
"""

from __future__ import annotations

from support_console.core.errors import SupportConsoleError
from support_console.core.vocabulary import ErrorKind

__all__ = ["ErrorKind", "LLMError"]


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
        context_window: int | None = None,
        prompt_tokens: int | None = None,
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.partial = partial
        self.retry_after = retry_after  # seconds the provider asked us to wait (rate limits)
        self.category = category  # content-filter category, e.g. "self_harm"
        self.context_window = context_window  # CONTEXT_LENGTH: the window the server named, when it did
        self.prompt_tokens = prompt_tokens  # CONTEXT_LENGTH: the prompt as the server counted it

    def __repr__(self) -> str:
        return f"LLMError(kind={self.kind.value!r}, message={str(self)!r}, partial={len(self.partial)} chars)"
