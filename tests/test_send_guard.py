"""The send guard's rule: which drafts are not a complete reply, and the sentence that says which."""

from __future__ import annotations

import pytest

from support_console.core.vocabulary import ErrorKind
from support_console.workflows.send_guard import send_risk


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
