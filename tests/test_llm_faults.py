"""The model client's failures: every fault becomes one LLMError that says what to do, keeps the partial
draft, and never shows the key; cancelling closes the HTTP response.

Why: a support agent must never lose a half-written draft to a dropped connection, never see a key on screen,
and always know what to do next (wait N seconds, fix the deployment name, …).
"""

from __future__ import annotations

import asyncio
import importlib.util
import socket
import time
from dataclasses import replace

import pytest

from support_console.config.settings import ProviderSettings
from support_console.llm import ErrorKind, ModelClient, TextDelta
from tests.llm_helpers import FAKE_KEY, collect, fail, failure, provider, request_for
from tests.wire_server import Reply as WireReply
from tests.wire_server import (
    WireServer,
    drop_after,
    error,
    error_event_after,
    replay,
    stall_after,
    stream_text,
)


async def test_401_never_echoes_the_servers_message(wire_server: WireServer) -> None:
    wire_server.enqueue(replay("oai_401_2025"))
    exc = await fail(wire_server)
    assert exc.kind is ErrorKind.AUTH
    assert "2345" not in str(exc)
    assert "Incorrect API key" not in str(exc)
    assert "OPENAI_API_KEY" in str(exc)


async def test_401_echoing_our_own_key_stays_out(wire_server: WireServer) -> None:
    masked = f"{FAKE_KEY[:6]}*****{FAKE_KEY[-4:]}"
    body = {
        "error": {"message": f"Incorrect API key provided: {masked} ({FAKE_KEY})", "code": "invalid_api_key"}
    }
    wire_server.enqueue(error(401, body))
    exc = await fail(wire_server, "azure")
    assert masked not in str(exc)
    assert FAKE_KEY[-4:] not in str(exc)
    assert "AZURE_OPENAI_API_KEY" in str(exc)


@pytest.mark.parametrize("sample", ["oai_404_model_2024", "oai_404_model_2025"])
async def test_404_names_the_model_and_the_provider(wire_server: WireServer, sample: str) -> None:
    wire_server.enqueue(replay(sample))
    exc = await fail(wire_server)
    assert exc.kind is ErrorKind.NOT_FOUND
    assert "model 'gpt-4o'" in str(exc)
    assert "OpenAI" in str(exc)


async def test_404_on_azure_names_the_deployment_and_endpoint(wire_server: WireServer) -> None:
    wire_server.enqueue(
        error(404, {"error": {"code": "DeploymentNotFound", "message": "The API deployment …"}})
    )
    exc = await fail(wire_server, "azure")
    assert exc.kind is ErrorKind.NOT_FOUND
    assert "deployment 'prod-chat'" in str(exc)
    assert wire_server.azure_endpoint in str(exc)


async def test_azure_400_content_filter_names_the_category(wire_server: WireServer) -> None:
    wire_server.enqueue(replay("az_400_content_filter_stream_2025"))
    exc = await fail(wire_server, "azure")
    assert exc.kind is ErrorKind.CONTENT_FILTER
    assert exc.category == "self_harm"
    assert "self_harm" in str(exc)


async def test_context_length_exceeded(wire_server: WireServer) -> None:
    message = (
        "This model's maximum context length is 8192 tokens. However, your messages resulted in 9000 tokens."
    )
    wire_server.enqueue(error(400, {"error": {"message": message, "code": "context_length_exceeded"}}))
    exc = await fail(wire_server)
    assert exc.kind is ErrorKind.CONTEXT_LENGTH
    assert (exc.context_window, exc.prompt_tokens) == (8192, 9000)
    assert '[models."gpt-4o"]' in str(exc)
    assert message.rstrip(".") in str(exc)  # the server's own words


async def test_other_400_shows_the_redacted_reason(wire_server: WireServer) -> None:
    body = {"error": {"message": "Unsupported value: 'temperature' does not support 0.4", "code": None}}
    wire_server.enqueue(error(400, body))
    exc = await fail(wire_server)
    assert exc.kind is ErrorKind.BAD_REQUEST
    assert "'temperature' does not support 0.4" in str(exc)


async def test_429_is_retried_honouring_retry_after_then_succeeds(wire_server: WireServer) -> None:
    wire_server.enqueue(
        error(429, {"error": {"message": "slow down"}}, {"retry-after": "0.05"}), stream_text("ok")
    )
    client = ModelClient(provider(wire_server, max_retries=1))
    await collect(client, request_for(client.provider))
    await client.aclose()
    assert client.last_result.text == "ok"
    assert len(wire_server.requests) == 2


async def test_429_after_the_retries_says_how_long_to_wait(wire_server: WireServer) -> None:
    limited = error(
        429,
        {"error": {"message": "Rate limit reached", "code": "rate_limit_exceeded"}},
        {"retry-after": "0.05"},
    )
    wire_server.enqueue(limited, limited)
    started = time.monotonic()
    exc = await fail(wire_server, max_retries=1)
    assert time.monotonic() - started >= 0.05  # the SDK waited as told before retrying
    assert exc.kind is ErrorKind.RATE_LIMIT
    assert exc.retry_after == pytest.approx(0.05)
    assert "wait about 1 second," in str(exc)
    assert "gave up after 1 retry." in str(exc)
    assert len(wire_server.requests) == 2


async def test_429_retry_after_is_reported_in_seconds(wire_server: WireServer) -> None:
    wire_server.enqueue(error(429, {"error": {"message": "Too many"}}, {"retry-after": "17"}))
    exc = await fail(wire_server)
    assert exc.retry_after == 17
    assert "wait about 17 seconds" in str(exc)


async def test_429_with_a_long_retry_after_gives_up_at_once_and_says_how_long(
    wire_server: WireServer,
) -> None:
    limited = error(429, {"error": {"message": "Rate limit reached"}}, {"retry-after": "600"})
    wire_server.enqueue(limited, limited, limited)
    started = time.monotonic()
    exc = await fail(wire_server, max_retries=2)
    assert time.monotonic() - started < 5  # no pointless retries after a few seconds' backoff
    assert len(wire_server.requests) == 1
    assert exc.retry_after == 600
    assert "wait about 10 minutes" in str(exc)
    assert "gave up" not in str(exc)


async def test_5xx_is_a_server_error(wire_server: WireServer) -> None:
    wire_server.enqueue(error(503, {"error": {"message": "overloaded", "type": "server_error"}}))
    exc = await fail(wire_server)
    assert exc.kind is ErrorKind.SERVER
    assert "HTTP 503" in str(exc)


async def test_timeout_before_the_reply(wire_server: WireServer) -> None:
    wire_server.enqueue(replace(stream_text("late"), delay=1.0, events=None, body=b"{}"))
    exc = await fail(wire_server, first_token_timeout=0.2)
    assert exc.kind is ErrorKind.TIMEOUT
    assert "did not answer within 0.2 seconds (1 attempt)" in str(exc)
    assert exc.partial == ""


async def test_timeout_mid_stream_keeps_the_partial_text(wire_server: WireServer) -> None:
    wire_server.enqueue(stall_after(stream_text("Hello there friend"), 3, 1.0))  # role chunk + 2 words
    exc = await fail(wire_server, stall_timeout=0.3)
    assert exc.kind is ErrorKind.TIMEOUT
    assert "no new text for 0.3 seconds" in str(exc)
    assert exc.partial == "Hello there"
    assert "11 characters" in str(exc)


async def test_unreachable_names_the_url() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings = ProviderSettings(
        kind="compatible", model="m", base_url=f"http://127.0.0.1:{port}/v1", max_retries=0
    )
    client = ModelClient(settings)
    exc = await failure(client, request_for(settings))
    await client.aclose()
    assert exc.kind is ErrorKind.UNREACHABLE
    assert f"http://127.0.0.1:{port}/v1/chat/completions" in str(exc)


async def test_dropped_connection_keeps_the_partial_text(wire_server: WireServer) -> None:
    wire_server.enqueue(drop_after(stream_text("One two three four five"), 4))  # role chunk + 3 words
    exc = await fail(wire_server)
    assert exc.kind is ErrorKind.STREAM_ERROR
    assert exc.partial == "One two three"
    assert "13 characters" in str(exc)


async def test_error_event_mid_stream(wire_server: WireServer) -> None:
    bad = {"message": "The server had an error while processing your request.", "type": "server_error"}
    wire_server.enqueue(error_event_after(stream_text("One two three"), 3, bad))
    exc = await fail(wire_server)
    assert exc.kind is ErrorKind.STREAM_ERROR
    assert exc.partial == "One two"
    assert "server had an error" in str(exc)


async def test_content_filter_error_event_mid_stream(wire_server: WireServer) -> None:
    bad = {
        "message": "filtered",
        "code": "content_filter",
        "innererror": {"content_filter_result": {"violence": {"filtered": True}}},
    }
    wire_server.enqueue(error_event_after(stream_text("One two", azure=True), 3, bad))
    exc = await fail(wire_server, "azure")
    assert exc.kind is ErrorKind.CONTENT_FILTER
    assert exc.category == "violence"
    assert exc.partial == "One"


async def test_content_filter_stop_after_partial_text(wire_server: WireServer) -> None:
    wire_server.enqueue(
        stream_text("Here is how", azure=True, finish_reason="content_filter", filter_category="hate")
    )
    client = ModelClient(provider(wire_server, "azure"))
    exc = await failure(client, request_for(client.provider))
    await client.aclose()
    assert exc.kind is ErrorKind.CONTENT_FILTER
    assert (exc.partial, exc.category) == ("Here is how", "hate")
    assert client.last_result.finish_reason == "content_filter"
    assert client.last_result.usage is not None


async def test_stream_without_finish_reason_is_an_error(wire_server: WireServer) -> None:
    events = stream_text("Half a reply", usage=None).events or []
    wire_server.enqueue(WireReply(content_type="text/event-stream", events=[*events[:-2], events[-1]]))
    exc = await fail(wire_server)
    assert exc.kind is ErrorKind.STREAM_ERROR
    assert exc.partial == "Half a reply"


async def test_server_rejecting_stream_options_is_retried_without_them(wire_server: WireServer) -> None:
    rejected = {"error": {"message": "Unrecognized request argument supplied: stream_options", "code": None}}
    wire_server.enqueue(
        error(400, rejected), stream_text("fine", usage=None), stream_text("again", usage=None)
    )
    client = ModelClient(provider(wire_server, "compatible"))
    await collect(client, request_for(client.provider))
    assert client.last_result.text == "fine"
    await collect(client, request_for(client.provider))
    await client.aclose()
    first, second, third = (r.json for r in wire_server.requests)
    assert first["stream_options"] == {"include_usage": True}
    assert "stream_options" not in second
    assert "stream_options" not in third  # remembered for this client


async def test_closing_the_stream_closes_the_connection(wire_server: WireServer) -> None:
    wire_server.enqueue(stream_text("word " * 200, delay=0.05))
    client = ModelClient(provider(wire_server))
    stream = client.stream(request_for(client.provider))
    first = await anext(stream)
    assert isinstance(first, TextDelta)
    started = time.monotonic()
    await stream.aclose()
    assert await asyncio.to_thread(wire_server.wait_for_disconnect, 2.0)
    assert time.monotonic() - started < 1.0
    assert wire_server.last.disconnected
    await client.aclose()


async def test_cancelling_the_task_closes_the_connection(wire_server: WireServer) -> None:
    wire_server.enqueue(stream_text("word " * 200, delay=0.05))
    client = ModelClient(provider(wire_server))
    received: list[str] = []
    two_arrived = asyncio.Event()

    async def consume() -> None:
        async for event in client.stream(request_for(client.provider)):
            received.append(event.text)
            if len(received) == 2:
                two_arrived.set()

    task = asyncio.create_task(consume())
    await asyncio.wait_for(two_arrived.wait(), 5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await asyncio.to_thread(wire_server.wait_for_disconnect, 2.0)
    assert not wire_server.last.completed
    await client.aclose()


async def test_no_provider_is_not_configured() -> None:
    exc = await failure(ModelClient(ProviderSettings(kind=None)), request_for(ProviderSettings(kind=None)))
    assert exc.kind is ErrorKind.NOT_CONFIGURED
    assert "support-console config" in str(exc)


@pytest.mark.skipif(importlib.util.find_spec("azure") is not None, reason="azure-identity is installed here")
async def test_entra_without_azure_identity_says_what_to_install(wire_server: WireServer) -> None:
    exc = await fail(wire_server, "azure", azure_auth="entra", api_key=None)
    assert exc.kind is ErrorKind.NOT_CONFIGURED
    assert "pip install 'support-console[entra]'" in str(exc)


async def test_garbage_event_mid_stream_keeps_the_partial_text(wire_server: WireServer) -> None:
    events = stream_text("One two three").events or []
    wire_server.enqueue(
        WireReply(content_type="text/event-stream", events=[*events[:2], b"data: {not json\n\n"])
    )
    exc = await fail(wire_server)
    assert exc.kind is ErrorKind.STREAM_ERROR
    assert exc.partial == "One"
    assert "not valid JSON" in str(exc)
