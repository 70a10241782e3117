"""The send guard's rule: which drafts are not a complete reply, and the sentence that says which."""

from __future__ import annotations

import pytest

from support_console.core.vocabulary import ErrorKind
from support_console.workflows.send_guard import held_by_other, send_risk


@pytest.mark.parametrize(
    ("kind", "finish", "words"),
    [
        (ErrorKind.REFUSED.value, "stop", "This is the model's refusal, not a reply."),
        (ErrorKind.CONTENT_FILTER.value, None, "content filter cut this reply off"),
        (None, "content_filter", "content filter cut this reply off"),
        (None, "length", "cut off at its length limit"),
        (ErrorKind.STOPPED.value, None, "partial reply"),
        (ErrorKind.STREAM_ERROR.value, None, "Drafting failed (stream_error)"),
        ("something-new", None, "Drafting failed (unknown)"),
    ],
)
def test_risky_drafts_are_named(kind: str | None, finish: str | None, words: str) -> None:
    risk = send_risk(kind, finish, "Some model text")
    assert risk is not None
    assert words in risk.warning
    assert risk.question.endswith("Send it to the customer anyway?")


@pytest.mark.parametrize(
    ("kind", "finish", "model_text"),
    [(None, "stop", "A reply."), (None, "length", ""), (ErrorKind.AUTH.value, None, ""),
     (ErrorKind.REFUSED.value, None, None)],
)  # fmt: skip
def test_complete_replies_and_drafts_without_model_text_are_not_risky(
    kind: str | None, finish: str | None, model_text: str | None
) -> None:
    assert send_risk(kind, finish, model_text) is None


@pytest.mark.parametrize(
    ("assignee", "agent", "warned"),
    [(None, "alice", False), ("", "alice", False), ("alice", "alice", False), ("ALICE", "alice", False),
     ("Élise", "élise", False), ("lee", "alice", True)],
)  # fmt: skip
def test_a_conversation_someone_else_has_is_a_warning(assignee: str | None, agent: str, warned: bool) -> None:
    """Names compare as everywhere (``matching.fold``): the agent's own conversation, however spelled, is no
    warning; another agent's is."""
    warning = held_by_other(assignee, agent)
    assert (warning is not None) == warned
    if warning is not None:
        assert warning.startswith(f"{assignee} has this conversation")


def test_another_agents_name_is_shown_without_its_control_characters() -> None:
    warning = held_by_other("lee\x1b[2J\u202e", "alice")
    assert warning is not None
    assert "\x1b" not in warning
    assert "\u202e" not in warning
