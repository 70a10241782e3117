"""The model client's vocabulary: the request we send, the deltas we yield and the result we keep.

Why separate from the client: drafting, the CLI's --dry-run and the UI build and read these without loading
the `openai` SDK (about a second to import), which only the client needs, and only when it first sends.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING

from support_console.core.model_facts import instructions_role
from support_console.core.tokens import ChatMessage

if TYPE_CHECKING:
    from support_console.core.model_facts import ModelInfo
    from support_console.core.personas import ModelParams

__all__ = [
    "ChatRequest",
    "RefusalDelta",
    "RequestFit",
    "StreamEvent",
    "StreamResult",
    "TextDelta",
    "Usage",
    "make_request",
]


@dataclass(frozen=True)
class RequestFit:
    """How the request was sized: the client judges a server's silent failures by it (an empty answer from
    llama-cpp-python when the request does not fit its window). Never sent."""

    prompt_tokens: int  # our count of the prompt
    max_tokens: int  # room asked for the reply
    context_window: int  # the window the request was trimmed to
    window_known: bool  # False: the window is a guess (model_facts.window_advice)

    @property
    def near_window(self) -> bool:
        """The request fills (nearly) all of its window, or the window is only a guess."""
        return not self.window_known or self.prompt_tokens + self.max_tokens >= 0.9 * self.context_window


@dataclass(frozen=True)
class ChatRequest:
    """One chat-completions request, exactly as it will be sent (minus the streaming flags and the key)."""

    model: str  # model name, or Azure deployment
    messages: tuple[ChatMessage, ...]
    params: Mapping[str, float | int]  # exactly what is sent (family-aware)
    fit: RequestFit | None = field(default=None, compare=False)  # how it was sized (not sent)

    def to_dict(self) -> dict[str, object]:
        """The request body, for --dry-run and for the client itself (one home of the body's shape)."""
        return {"model": self.model, "messages": [dict(m) for m in self.messages], **self.params}


def make_request(
    model: ModelInfo, messages: Sequence[ChatMessage], params: ModelParams, *, explicit: bool = False
) -> ChatRequest:
    """Build the request a persona asks for, in the form the model's family accepts.

    Reasoning families (o1, o3, o4-mini, gpt-5) reject `max_tokens` and the sampling parameters, so they get
    `max_completion_tokens` only; o1-mini and o1-preview also refuse a system message, so the persona's
    instructions go to them as the first user message (models.instructions_role). Other families get
    `max_tokens` and `temperature`; `top_p` and the penalties are sent only when they differ from the
    service's neutral default (1.0 / 0.0), because sending the neutral value changes nothing to OpenAI.
    With ``explicit`` (OpenAI-compatible servers: vLLM, llama.cpp, Ollama, LM Studio) every sampling
    parameter is sent, neutral ones included: their own defaults differ (top_p 0.95, a repeat penalty)
    and would otherwise apply instead of the persona's.
    """
    sent: dict[str, float | int] = {}
    if model.reasoning:
        sent["max_completion_tokens"] = params.max_tokens
    else:
        sent["max_tokens"] = params.max_tokens
        sent["temperature"] = params.temperature
        if explicit or params.top_p != 1.0:
            sent["top_p"] = params.top_p
        if explicit or params.frequency_penalty != 0.0:
            sent["frequency_penalty"] = params.frequency_penalty
        if explicit or params.presence_penalty != 0.0:
            sent["presence_penalty"] = params.presence_penalty
    role = instructions_role(model)
    return ChatRequest(
        model=model.name,
        messages=tuple({**m, "role": role} if m.get("role") == "system" else dict(m) for m in messages),
        params=MappingProxyType(sent),
    )


@dataclass(frozen=True)
class Usage:
    """Token counts as the service billed them."""

    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


@dataclass(frozen=True)
class TextDelta:
    """A piece of the reply's text."""

    text: str


@dataclass(frozen=True)
class RefusalDelta:
    """A piece of a refusal: the model declined to answer. Shown as a refusal, never as a reply."""

    text: str


StreamEvent = TextDelta | RefusalDelta


@dataclass(frozen=True)
class StreamResult:
    """What one stream produced, once it ended."""

    text: str
    refusal: str
    finish_reason: str | None  # "stop", "length", "content_filter", … or None when the stream broke off
    usage: Usage | None  # None when the server sent no usage (e.g. it ignores stream_options)
    served_model: str | None  # the response's `model` (e.g. "gpt-4o-2024-08-06" behind an Azure deployment)

    @property
    def refused(self) -> bool:
        """The model declined: a refusal and no reply text (the one definition of "the model refused")."""
        return bool(self.refusal) and not self.text.strip()


EMPTY_RESULT = StreamResult(text="", refusal="", finish_reason=None, usage=None, served_model=None)
