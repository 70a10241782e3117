"""The key never leaks through server text, in any shape, and a placeholder key never mangles a message.

Why: the error text reaches stderr, ``--json``, the stored draft and a toast. Services echo keys cut short,
re-cased or masked; local servers are given keys like ``x`` whose every occurrence is not a secret.
"""

from __future__ import annotations

import pytest

from support_console.llm import ErrorKind
from support_console.llm.redaction import MIN_SECRET_LENGTH, redact
from tests.llm_helpers import FAKE_KEY, fail
from tests.wire_server import WireServer, error, error_event_after, stream_text

CONTEXT = "This model's maximum context length is 8192 tokens. However, your messages resulted in 9000 tokens"


def leaked_runs(text: str, key: str) -> list[str]:
    """Every run of MIN_SECRET_LENGTH characters of the key that occurs in text, case ignored."""
    low, key_low = text.lower(), key.lower()
    n = MIN_SECRET_LENGTH
    return [key_low[i : i + n] for i in range(len(key_low) - n + 1) if key_low[i : i + n] in low]


@pytest.mark.parametrize(
    "echo",
    [FAKE_KEY[:-4], FAKE_KEY[:-1], FAKE_KEY.upper(), FAKE_KEY.lower(), FAKE_KEY[3:], f"Bearer {FAKE_KEY}"],
    ids=["minus-4", "minus-1", "upper", "lower", "no-prefix", "bearer"],
)
async def test_a_400_echoing_the_key_in_any_shape_leaks_none_of_it(
    wire_server: WireServer, echo: str
) -> None:
    body = {"error": {"message": f"Invalid header value {echo!r}: not allowed here", "code": None}}
    wire_server.enqueue(error(400, body))
    exc = await fail(wire_server)
    assert exc.kind is ErrorKind.BAD_REQUEST
    assert leaked_runs(str(exc), FAKE_KEY) == []
    assert "Invalid header value '[key]': not allowed here" in str(exc).replace("'Bearer [key]'", "'[key]'")


@pytest.mark.parametrize("status", [401, 403])
async def test_401_and_403_show_no_server_text_at_all(wire_server: WireServer, status: int) -> None:
    body = {"error": {"message": f"Key {FAKE_KEY.upper()[:-3]} is not allowed: SERVER-WORDS", "code": None}}
    wire_server.enqueue(error(status, body))
    exc = await fail(wire_server)
    assert exc.kind is ErrorKind.AUTH
    assert "SERVER-WORDS" not in str(exc)
    assert leaked_runs(str(exc), FAKE_KEY) == []


async def test_an_error_event_mid_stream_echoing_the_key_is_redacted(wire_server: WireServer) -> None:
    bad = {"message": f"upstream rejected {FAKE_KEY[:-2].upper()}", "type": "server_error"}
    wire_server.enqueue(error_event_after(stream_text("One two three"), 3, bad))
    exc = await fail(wire_server)
    assert exc.kind is ErrorKind.STREAM_ERROR
    assert "upstream rejected [key]" in str(exc)
    assert leaked_runs(str(exc), FAKE_KEY) == []
    assert exc.partial == "One two"


@pytest.mark.parametrize("placeholder", ["x", "EMPTY", "sk-1234", "ollama"])
async def test_a_placeholder_key_does_not_mangle_the_servers_words(
    wire_server: WireServer, placeholder: str
) -> None:
    wire_server.enqueue(error(400, {"error": {"message": CONTEXT, "code": "context_length_exceeded"}}))
    exc = await fail(wire_server, "compatible", api_key=placeholder)
    assert exc.kind is ErrorKind.CONTEXT_LENGTH
    assert CONTEXT in str(exc)
    assert "[key]" not in str(exc)


async def test_a_huge_server_message_is_cut_short(wire_server: WireServer) -> None:
    wire_server.enqueue(error(400, {"error": {"message": "very long complaint " * 5000, "code": None}}))
    exc = await fail(wire_server)
    assert exc.kind is ErrorKind.BAD_REQUEST
    assert len(str(exc)) < 800
    assert "very long complaint very long" in str(exc)
    assert "…" in str(exc)


def test_redact_removes_runs_and_masked_echoes_and_leaves_ordinary_text() -> None:
    key = "sk-proj-Ab3dE6gH9jK2mN5pQ8sT"
    assert redact(f"got {key}!", key) == "got [key]!"
    assert redact(f"got {key[:12]}… and {key[-10:].upper()}", key) == "got [key]… and [key]"
    assert (
        redact("Incorrect API key provided: sk-proj-*****Q8sT.", key)
        == "Incorrect API key provided: [redacted]"
    )
    assert redact(f"two {key[:9]} {key[9:18]}", key) == "two [key] [key]"
    assert redact("ab3d is short, as is Q8sT", key) == "ab3d is short, as is Q8sT"  # under 8 characters
    assert redact("maximum context length", "x") == "maximum context length"
    assert redact("maximum context length", None) == "maximum context length"
    assert redact("İstanbul sk-proj-ab3de6", key) == "İstanbul [key]"  # a character that lowers to two
