"""The draft's status line: how the model finished and what it cost, in words an agent understands."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from support_console.llm import StreamResult

FINISH_WORDS = {
    "stop": "Finished",
    "length": "Cut off at the reply length limit (finish: length): edit it or raise max_tokens",
    "content_filter": "Stopped by the content filter (finish: content_filter): edit the draft by hand",
    "tool_calls": "The model asked for a tool (finish: tool_calls)",
}


WINDOW_CUT = (
    "Cut off by the model's context window (finish: length): edit it, or trim the history; a higher "
    "max_tokens will not help"
)


def finish_status(result: StreamResult | None, *, cut_by_window: bool = False) -> str:
    """'Finished · 812 prompt + 143 reply tokens · gpt-4o-2024-08-06' and friends."""
    if result is None:
        return "Finished."
    if result.refused:
        head = "The model refused: the refusal is shown; write the reply by hand or try another persona"
    elif cut_by_window and result.finish_reason == "length":
        head = WINDOW_CUT
    else:
        head = FINISH_WORDS.get(
            result.finish_reason or "", f"Finished ({result.finish_reason or 'no reason'})"
        )
    parts = [head]
    if result.usage is not None:
        parts.append(
            f"{result.usage.prompt_tokens:,} prompt + {result.usage.completion_tokens:,} reply tokens"
        )
    if result.served_model:
        parts.append(result.served_model)
    return " · ".join(parts)


NOTHING_CAME_HINTS = {
    "auth": "check the API key (or sign-in), then generate again ({generate})",
    "rate_limit": "the provider is busy or the quota is used up: wait a moment, then generate again "
    "({generate})",
    "context_length": "the conversation is too long for the model: use a model with a larger window, "
    "or write this reply by hand",
}


def failed_status(kind: str, kept: bool, generate: str) -> str:
    """The status after a failed generation: "the partial draft is kept" only when something was kept."""
    if kept:
        return f"Failed ({kind}): the partial draft is kept; edit it or generate again ({generate})."
    hint = NOTHING_CAME_HINTS.get(kind, "generate again ({generate}) or write the reply by hand")
    return f"Failed ({kind}): nothing was drafted; {hint.format(generate=generate)}."


#: ``kept_status``'s kind for a reply that finished with no text (not a failure the server reported).
EMPTY_REPLY = "empty"


def kept_status(kind: str | None, regenerate: str) -> str:
    """The status after a regeneration that produced no text (``kind`` None: the agent stopped it): the
    draft shown is the one from before it, unchanged, in the pane and in the store."""
    if kind is None:
        return f"Stopped before any text came: your previous draft is kept; {regenerate} tries again."
    if kind == EMPTY_REPLY:
        return f"The model returned no text: your previous draft is kept; {regenerate} tries again."
    hint = NOTHING_CAME_HINTS.get(kind, "{generate} tries again")
    return f"Failed ({kind}): your previous draft is kept; {hint.format(generate=regenerate)}."
