"""No wait without end, no reply without bound: the client's deadlines and reply cap against a real loopback
server that hangs, trickles keep-alives, drips a word at a time or sends megabytes.

Why: an agent must never sit in front of a silent server for minutes (the SDK alone spent 189 s on a server
that accepted and never answered, saying "within 60 seconds"), and a server that ignores max_tokens must not
fill memory and the database. The deadlines here are short so the suite stays fast; the rules are the same
at the defaults.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from support_console.config.settings import ProviderSettings
from support_console.llm import ErrorKind, LLMError, ModelClient
from support_console.llm.limits import ReplyLimit
from tests.llm_helpers import collect, failure, provider, request_for
from tests.wire_server import (
    WireServer,
    drip,
    error,
    hang,
    huge_stream,
    keep_alive,
    stall_after,
    stream_text,
)


async def _timed_failure(
    wire: WireServer, route: str = "openai", max_tokens: int = 750, **changes: object
) -> tuple[LLMError, float]:
    client = ModelClient(provider(wire, route, **changes))
    started = time.monotonic()
    try:
        exc = await failure(client, request_for(client.provider, max_tokens=max_tokens))
    finally:
        await client.aclose()
    return exc, time.monotonic() - started


async def test_a_server_that_never_answers_costs_the_first_token_deadline_once(
    wire_server: WireServer,
) -> None:
    wire_server.enqueue(hang(), hang(), hang())
    exc, took = await _timed_failure(wire_server, first_token_timeout=0.5, max_retries=2)
    assert exc.kind is ErrorKind.TIMEOUT
    assert 0.45 <= took < 3.0  # loose (loaded machines): the request count below proves one attempt
    assert "did not answer within 0.5 seconds (1 attempt)" in str(exc)
    assert "first_token_timeout" in str(exc)
    assert len(wire_server.requests) == 1  # the hung attempt used up the deadline: no pointless retry
    assert wire_server.wait_for_disconnect()  # and the connection was closed, not left hanging


async def test_retries_count_against_the_first_token_deadline(wire_server: WireServer) -> None:
    overloaded = error(503, {"error": {"message": "overloaded", "type": "server_error"}})
    wire_server.enqueue(overloaded, hang(), hang())
    exc, took = await _timed_failure(wire_server, first_token_timeout=1.2, max_retries=2)
    assert exc.kind is ErrorKind.TIMEOUT
    assert took < 2.0
    assert "did not answer within 1.2 seconds (2 attempts)" in str(exc)
    assert len(wire_server.requests) == 2


async def test_quick_failures_are_retried_then_reported_with_the_attempts(wire_server: WireServer) -> None:
    overloaded = error(503, {"error": {"message": "overloaded", "type": "server_error"}})
    wire_server.enqueue(overloaded, overloaded, overloaded)
    exc, _ = await _timed_failure(wire_server, first_token_timeout=5.0, max_retries=2)
    assert exc.kind is ErrorKind.SERVER
    assert "HTTP 503) (3 attempts)" in str(exc)
    assert len(wire_server.requests) == 3


async def test_a_retry_after_longer_than_the_deadline_gives_up_at_once(wire_server: WireServer) -> None:
    limited = error(429, {"error": {"message": "Rate limit reached"}}, {"retry-after": "4"})
    wire_server.enqueue(limited, limited)
    exc, took = await _timed_failure(wire_server, first_token_timeout=1.0, max_retries=2)
    assert took < 0.9  # it did not sleep 4 s into a 1 s deadline
    assert exc.kind is ErrorKind.RATE_LIMIT
    assert "wait about 4 seconds" in str(exc)
    assert "gave up" not in str(exc)
    assert len(wire_server.requests) == 1


@pytest.mark.parametrize("kind", ["comment", "blank", "empty"])
async def test_keep_alives_are_not_an_answer(wire_server: WireServer, kind: str) -> None:
    wire_server.enqueue(keep_alive(0.05, kind=kind))
    exc, took = await _timed_failure(wire_server, first_token_timeout=0.6, stall_timeout=5.0)
    assert exc.kind is ErrorKind.TIMEOUT
    assert 0.55 <= took < 1.6
    assert "answered but sent no reply text within 0.6 seconds (1 attempt)" in str(exc)
    assert exc.partial == ""
    assert wire_server.wait_for_disconnect()


async def test_azure_keep_alives_are_not_an_answer(wire_server: WireServer) -> None:
    wire_server.enqueue(keep_alive(0.05, kind="empty", azure=True))
    exc, _ = await _timed_failure(wire_server, "azure", first_token_timeout=0.5)
    assert exc.kind is ErrorKind.TIMEOUT
    assert "sent no reply text within 0.5 seconds" in str(exc)


async def test_keep_alives_after_some_text_are_a_stall_and_the_text_is_kept(wire_server: WireServer) -> None:
    wire_server.enqueue(keep_alive(0.05, text="Hello there, let me check", kind="comment"))
    exc, took = await _timed_failure(wire_server, first_token_timeout=2.0, stall_timeout=0.5)
    assert exc.kind is ErrorKind.TIMEOUT
    assert took < 2.5
    assert "stalled: no new text for 0.5 seconds" in str(exc)
    assert exc.partial == "Hello there, let me check"
    assert f"The {len(exc.partial)} characters received so far are kept" in str(exc)


async def test_a_word_every_so_often_is_cut_off_by_the_overall_deadline(wire_server: WireServer) -> None:
    wire_server.enqueue(drip(0.1))
    exc, took = await _timed_failure(
        wire_server, first_token_timeout=0.5, stall_timeout=0.5, total_timeout=1.2
    )
    assert exc.kind is ErrorKind.TIMEOUT
    assert 1.15 <= took < 5.0  # the drip never ends: only the deadline stops it (loose: loaded machines)
    assert "still sending the reply after 1.2 seconds, the limit for a whole reply" in str(exc)
    assert "total_timeout" in str(exc)
    assert exc.partial.startswith(" word word")  # what came is kept
    assert wire_server.wait_for_disconnect()


async def test_a_slow_but_steady_honest_reply_is_not_cut(wire_server: WireServer) -> None:
    wire_server.enqueue(stream_text("one two three four five six", delay=0.08))
    client = ModelClient(provider(wire_server, first_token_timeout=0.3, stall_timeout=0.3, total_timeout=5))
    await collect(client, request_for(client.provider))
    await client.aclose()
    assert client.last_result.text == "one two three four five six"


async def test_a_caller_slow_between_pieces_is_not_a_stalled_server(wire_server: WireServer) -> None:
    """Saving the draft may take a while (a busy database): the watchdog times the server, not the caller."""
    # The second word comes 1 s after the first; the caller holds the first for 0.8 s of that second, so the
    # client waits only 0.2 s for the server: within the 0.5 s watchdog.
    wire_server.enqueue(stall_after(stream_text("one two", usage=None), 2, 1.0))
    client = ModelClient(provider(wire_server, stall_timeout=0.5, total_timeout=5))
    got: list[str] = []
    async for event in client.stream(request_for(client.provider)):
        got.append(event.text)
        if len(got) == 1:
            await asyncio.sleep(0.8)
    await client.aclose()
    assert "".join(got) == "one two"


async def test_a_50_mb_reply_is_stopped_far_past_max_tokens_and_what_came_is_kept(
    wire_server: WireServer,
) -> None:
    wire_server.enqueue(huge_stream(50_000_000))
    exc, took = await _timed_failure(wire_server, max_tokens=600)
    assert exc.kind is ErrorKind.STREAM_ERROR
    assert "ran far past the 600 tokens asked for (max_tokens)" in str(exc)
    cap = 4 * 600 + 1000
    assert cap * 3 <= len(exc.partial) <= cap * 6 + 2048  # "lorem " is 2 tokens in 6 characters
    assert exc.partial.startswith("lorem lorem")
    assert f"The {len(exc.partial)} characters received so far are kept" in str(exc)
    assert took < 5
    assert wire_server.wait_for_disconnect()  # the rest was never read


async def test_one_enormous_event_is_stopped_by_the_byte_cap(wire_server: WireServer) -> None:
    wire_server.enqueue(huge_stream(20_000_000, chunk_chars=20_000_000))
    exc, took = await _timed_failure(wire_server, max_tokens=100)
    assert exc.kind is ErrorKind.STREAM_ERROR
    assert "ran far past the 100 tokens asked for" in str(exc)
    assert "MB of data" in str(exc)
    assert exc.partial == ""  # the event never completed
    assert took < 5


async def test_a_reply_of_max_tokens_in_a_frugal_tokenizer_is_never_cut(wire_server: WireServer) -> None:
    # 1,000 Chinese characters: a CJK-friendly server tokenizer may count them as far fewer tokens than ours.
    text = "您好，我们已经收到您的退款申请。" * 60
    wire_server.enqueue(stream_text(text, chunks=[text[i : i + 2] for i in range(0, len(text), 2)]))
    client = ModelClient(provider(wire_server))
    await collect(client, request_for(client.provider, max_tokens=300))
    await client.aclose()
    assert client.last_result.text == text


async def test_one_big_event_under_the_byte_cap_is_kept_only_up_to_the_token_cap(
    wire_server: WireServer,
) -> None:
    wire_server.enqueue(huge_stream(2_000_000, chunk_chars=2_000_000))
    exc, _ = await _timed_failure(wire_server, max_tokens=100)
    assert exc.kind is ErrorKind.STREAM_ERROR
    assert "ran far past the 100 tokens asked for" in str(exc)
    assert 1400 * 3 <= len(exc.partial) <= 1400 * 6 + 8192  # 2 MB came; what is kept is bounded


def test_the_cap_is_well_past_max_tokens_and_the_text_is_cut_near_it() -> None:
    settings = ProviderSettings(kind="openai", model="gpt-4o", api_key="k")
    limit = ReplyLimit(request_for(settings, max_tokens=600))
    assert (limit.max_tokens, limit.cap) == (600, 3400)
    assert all(limit.take("word ") == "word " for _ in range(3000))  # 3,000 tokens: within the cap
    kept = "".join(limit.take("word ") for _ in range(1000))  # 4,000: over it
    assert limit.exceeded
    assert limit.tokens > limit.cap
    assert 0 < len(kept) < 5 * 1000
    assert limit.take("more") == ""
