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
