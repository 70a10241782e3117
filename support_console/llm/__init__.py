"""The streaming model client (official `openai` SDK) and its vocabulary.

Public API (see docs/ARCHITECTURE.md): ``ChatRequest``, ``make_request``, ``ModelClient``, ``LLMError``,
``ErrorKind``, ``TextDelta``, ``RefusalDelta``, ``StreamEvent``, ``StreamResult``, ``Usage``. Importing this
package does not import the SDK; the client loads it on its first request.
"""

from __future__ import annotations

from support_console.llm.client import ModelClient
from support_console.llm.errors import ErrorKind, LLMError
from support_console.llm.types import (
    ChatRequest,
    RefusalDelta,
    RequestFit,
    StreamEvent,
    StreamResult,
    TextDelta,
    Usage,
    make_request,
)

__all__ = [
    "ChatRequest",
    "ErrorKind",
    "LLMError",
    "ModelClient",
    "RefusalDelta",
    "RequestFit",
    "StreamEvent",
    "StreamResult",
    "TextDelta",
    "Usage",
    "make_request",
]
