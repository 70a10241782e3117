"""Which drafts must not go out with one key, and the words that say why: the one rule, without Textual.

A reply that still holds a canned reply's unfilled ``{{ placeholder }}`` is not sent at all until the agent
fills it in (:func:`placeholder_block`).

A draft is risky to send when its text is not a complete reply from the model: the model's refusal, a reply
the content filter cut off, a reply cut at its length limit (the persona's max_tokens or the context window:
it ends mid-sentence), a partial the agent stopped, or a draft whose generation failed. The console asks
before sending one (and names which it is); the stats never count such a send as "accepted unchanged" (the
sent message keeps its error kind: ``store/stats.py``). Decided from what the store recorded for the draft,
so a draft restored after a restart or written by ``support-console draft`` is judged the same way.
"""

from __future__ import annotations

from dataclasses import dataclass

from support_console.core.data_files import PLACEHOLDER
from support_console.core.matching import fold
from support_console.core.safe_text import visible
from support_console.core.vocabulary import LENGTH_CUT, ErrorKind, incomplete_kind

_WARNINGS = {
    ErrorKind.REFUSED: "This is the model's refusal, not a reply.",
    ErrorKind.CONTENT_FILTER: "The content filter cut this reply off: it is incomplete.",
    ErrorKind.STOPPED: "Drafting was stopped before the model finished: this is a partial reply.",
}


@dataclass(frozen=True)
class SendRisk:
    """Why a draft should not be sent without a second look."""

    kind: str  # the draft's ErrorKind value
    warning: str  # one sentence: what the text really is

    @property
    def question(self) -> str:
        """What the console asks before sending it anyway."""
        return send_question([self.warning])


def send_question(warnings: list[str]) -> str:
    """What the console asks before sending a reply despite ``warnings`` (sentences, one or more)."""
    return "\n\n".join([*warnings, "Send it to the customer anyway?"])


def held_by_other(assignee: str | None, agent: str) -> str | None:
    """The warning when another agent has the conversation (``assignee``, not ``agent``), None when nobody
    or this agent has it. Only a warning: two agents may answer one customer on purpose; the send-time
    guard (``store/guard.py``) refuses only a draft the conversation has moved past."""
    if not assignee or fold(assignee) == fold(agent):
        return None
    return f"{visible(assignee)} has this conversation: they may be answering the customer too."


def send_risk(error_kind: str | None, finish_reason: str | None, model_text: str | None) -> SendRisk | None:
    """The risk of sending a draft whose generation ended with ``error_kind`` / ``finish_reason`` and wrote
    ``model_text`` (None: a complete reply, or nothing of the model's is in the draft: a reply written by
    hand, also over a generation that failed before any text came)."""
    if not (model_text or "").strip():
        return None
    error_kind = incomplete_kind(error_kind, finish_reason)
    if error_kind is None:
        return None
    if error_kind == LENGTH_CUT:
        return SendRisk(LENGTH_CUT, "The reply was cut off at its length limit: it may end mid-sentence.")
    try:
        kind = ErrorKind(error_kind)
    except ValueError:
        kind = ErrorKind.UNKNOWN
    warning = _WARNINGS.get(kind, f"Drafting failed ({kind}): this is what came before the failure.")
    return SendRisk(kind.value, warning)


def unfilled_placeholders(text: str) -> tuple[str, ...]:
    """The ``{{ name }}`` placeholders still in a reply (a canned reply's value nobody had), in order, once
    each. A reply holding one is never sent, not even after a question: the customer would read it."""
    return tuple(dict.fromkeys(PLACEHOLDER.findall(text)))


def placeholder_block(text: str) -> str | None:
    """Why the reply cannot be sent yet (its unfilled placeholders), None when it has none."""
    names = unfilled_placeholders(text)
    if not names:
        return None
    shown = ", ".join("{{ " + name + " }}" for name in names)
    what = "this placeholder" if len(names) == 1 else "these placeholders"
    return f"Fill in {shown} before sending: the reply still has {what}."
