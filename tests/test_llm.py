"""The model client against the real recordings and the real request shapes, over real loopback HTTP.

Why: the services' quirks (Azure's choice-less first event, usage-only last chunks, plain JSON answers,
content-filter stops) are where clients break; every sample in tests/wire goes through every route it can.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from support_console.core.model_facts import resolve_model
from support_console.core.personas import ModelParams
from support_console.core.tokens import count_chat
from support_console.llm import ErrorKind, ModelClient, RefusalDelta, TextDelta, Usage, make_request
from tests.llm_helpers import API_VERSION, FAKE_KEY, ROUTES, collect, failure, provider, request_for
from tests.wire_server import WIRE_DIR, WireServer, replay, sse_event, stream_text
from tests.wire_server import Reply as WireReply

STATES = "Here is a list of all 50 U.S. states:\n\n1. Alabama\n2. Alaska\n3. Arizona\n4. Arkansas\n5. "
JOKE = (
    "Why did the Opentelemetry developer bring a ladder to the coding competition? \n\n"
    "Because they wanted to reach new traces!"
)
# sample -> (text, finish_reason, usage, served model); the usage is what the recording says it billed
SAMPLES: dict[str, tuple[str, str, Usage | None, str]] = {
    "oai_stream_usage_2025": ("4200 + 42 equals 4242.", "stop", Usage(16, 10, 26), "gpt-4o-2024-08-06"),
    "oai_stream_usage_2024": ('"This is a test."', "stop", Usage(12, 5, 17), "gpt-4-0613"),
    "oai_stream_length_2025": (
        STATES + "California\n6. Colorado\n7. Connecticut\n8. Delaware\n9. Florida\n10",
        "length",
        Usage(14, 50, 64),
        "gpt-4o-2024-08-06",
    ),
    "az_stream_2024": (JOKE, "stop", None, "gpt-35-turbo"),
    "az_stream_deployments_2025": ("4200 + 42 equals 4242.", "stop", None, "gpt-4o-mini-2024-07-18"),
    "az_stream_v1_usage_2025": (
        "4200 + 42 equals 4242.",
        "stop",
        Usage(16, 11, 27),
        "gpt-4o-mini-2024-07-18",
    ),
    "oai_sync_2025": ("\\(4200 + 42 = 4242\\).", "stop", Usage(16, 12, 28), "gpt-4o-2024-08-06"),
    "oai_sync_gpt5mini": ("4242", "stop", Usage(15, 11, 26), "gpt-5-mini-2025-08-07"),
    "az_sync_2026": (
        "Why did the developer bring OpenTelemetry to the party?\n\nBecause they wanted to trace all the "
        "good times! 😄",
        "stop",
        Usage(16, 24, 40),
        "gpt-4.1-mini-2025-04-14",
    ),
    "az_sync_v1_2025": (
        '{"instructions":"I\'m sorry, but I can\'t assist with that."}',
        "stop",
        Usage(64, 15, 79),
        "gpt-4o-mini-2024-07-18",
    ),
}


def test_every_success_sample_is_covered() -> None:
    """A new recording in tests/wire must be added here (or to the fault tests), not silently skipped."""
    bodies = {p.stem for p in WIRE_DIR.iterdir() if p.suffix in (".sse", ".json") and ".meta" not in p.name}
    faults = {"oai_401_2025", "oai_404_model_2024", "oai_404_model_2025", "az_400_content_filter_stream_2025"}
    assert bodies == set(SAMPLES) | faults | {"az_sync_filter_2024"}


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize("sample", sorted(SAMPLES))
async def test_replayed_sample(wire_server: WireServer, sample: str, route: str) -> None:
    text, finish, usage, served = SAMPLES[sample]
    wire_server.enqueue(replay(sample))
    client = ModelClient(provider(wire_server, route))
    try:
        events = await collect(client, request_for(client.provider))
    finally:
        await client.aclose()
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == text
    result = client.last_result
    assert (result.text, result.finish_reason, result.usage, result.served_model) == (
        text,
        finish,
        usage,
        served,
    )
    assert result.refusal == ""
    if (WIRE_DIR / f"{sample}.sse").exists():
        assert len(events) > 1  # really streamed piece by piece


async def test_replayed_sync_content_filter_sample_is_a_content_filter_error(wire_server: WireServer) -> None:
    """az_sync_filter_2024: Azure cut the reply (finish_reason content_filter, no message) for `hate`."""
    wire_server.enqueue(replay("az_sync_filter_2024"))
    client = ModelClient(provider(wire_server, "azure"))
    exc = await failure(client, request_for(client.provider))
    await client.aclose()
    assert exc.kind is ErrorKind.CONTENT_FILTER
    assert exc.category == "hate"
    assert "hate" in str(exc)
    assert exc.partial == ""
    assert client.last_result.finish_reason == "content_filter"
    assert client.last_result.usage == Usage(15, 19, 34)


@pytest.mark.parametrize("route", ROUTES)
async def test_request_reaches_the_right_route_with_the_right_credentials(
    wire_server: WireServer, route: str
) -> None:
    client = ModelClient(provider(wire_server, route))
    await collect(client, request_for(client.provider))
    await client.aclose()
    sent = wire_server.last
    if route == "azure":
        assert sent.path == "/openai/deployments/prod-chat/chat/completions"
        assert sent.query == {"api-version": API_VERSION}
        assert sent.headers["api-key"] == FAKE_KEY
    elif route == "azure_v1":
        assert sent.path == "/openai/v1/chat/completions"
        assert sent.headers["authorization"] == f"Bearer {FAKE_KEY}"
        assert sent.json["model"] == "prod-chat"
    elif route == "compatible":
        assert sent.path == "/v1/chat/completions"
        assert sent.headers["authorization"] == "Bearer no-key-needed"
    else:
        assert sent.path == "/v1/chat/completions"
        assert sent.headers["authorization"] == f"Bearer {FAKE_KEY}"


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        ("gpt-4o", {"max_tokens": 300, "temperature": 0.4, "top_p": 0.9, "presence_penalty": 0.5}),
        ("gpt-3.5-turbo", {"max_tokens": 300, "temperature": 0.4, "top_p": 0.9, "presence_penalty": 0.5}),
        ("o3-mini", {"max_completion_tokens": 300}),
        ("gpt-5-mini", {"max_completion_tokens": 300}),
    ],
)
async def test_body_on_the_wire_is_family_aware(
    wire_server: WireServer, model: str, expected: dict[str, object]
) -> None:
    params = ModelParams(temperature=0.4, max_tokens=300, top_p=0.9, presence_penalty=0.5)
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Refund?"}]
    request = make_request(resolve_model(model), messages, params)
    client = ModelClient(provider(wire_server, "openai"))
    await collect(client, request)
    await client.aclose()
    body = wire_server.last.json
    assert body == {
        "model": model,
        "messages": messages,
        "stream": True,
        "stream_options": {"include_usage": True},
        **expected,
    }
    assert request.to_dict() == {k: v for k, v in body.items() if k not in ("stream", "stream_options")}


def test_neutral_sampling_values_are_not_sent() -> None:
    request = make_request(resolve_model("gpt-4o"), [{"role": "user", "content": "hi"}], ModelParams())
    assert dict(request.params) == {"max_tokens": 750, "temperature": 0.0}
    assert request.to_dict()["messages"] == [{"role": "user", "content": "hi"}]
    assert FAKE_KEY not in str(request.to_dict())


def test_families_without_a_system_role_get_the_instructions_as_the_first_user_message() -> None:
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Refund?"}]
    for name in ("o1-mini", "o1-preview-2024-09-12"):
        model = resolve_model(name)
        request = make_request(model, messages, ModelParams())
        assert [m["role"] for m in request.messages] == ["user", "user"]
        assert request.messages[0]["content"] == "Be brief."
        assert count_chat(request.messages, model) == count_chat(messages, model)  # the report stays exact
    for name in ("o1", "o3-mini", "gpt-5", "gpt-4o"):
        assert make_request(resolve_model(name), messages, ModelParams()).messages[0]["role"] == "system"


async def test_refusal_is_collected_separately(wire_server: WireServer) -> None:
    wire_server.enqueue(stream_text("", refusal="I'm sorry, I can't help with that."))
    client = ModelClient(provider(wire_server))
    events = await collect(client, request_for(client.provider))
    await client.aclose()
    assert all(isinstance(e, RefusalDelta) for e in events)
    assert client.last_result.refusal == "I'm sorry, I can't help with that."
    assert client.last_result.text == ""
    assert client.last_result.finish_reason == "stop"


async def test_chunks_without_delta_or_choices_are_tolerated(wire_server: WireServer) -> None:
    base = {"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "m-served"}
    events = [
        sse_event({**base, "choices": []}),
        sse_event({**base, "choices": [{"index": 0, "finish_reason": None}]}),
        sse_event({**base, "choices": [{"index": 0, "delta": None, "finish_reason": None}]}),
        sse_event({**base, "choices": [{"index": 0, "delta": {"content": "Hi"}, "finish_reason": None}]}),
        sse_event({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}),
        sse_event("[DONE]"),
    ]
    wire_server.enqueue(WireReply(content_type="text/event-stream", events=events))
    client = ModelClient(provider(wire_server))
    await collect(client, request_for(client.provider))
    await client.aclose()
    assert (client.last_result.text, client.last_result.finish_reason) == ("Hi", "stop")
    assert client.last_result.served_model == "m-served"
    assert client.last_result.usage is None


async def test_a_2000_token_stream_arrives_whole(wire_server: WireServer) -> None:
    wire_server.enqueue(stream_text("tok " * 2000, usage=(50, 2000)))
    client = ModelClient(provider(wire_server))
    events = await collect(client, request_for(client.provider))
    await client.aclose()
    assert len(events) == 2000
    assert client.last_result.text == "tok " * 2000
    assert client.last_result.usage == Usage(50, 2000, 2050)


async def test_one_client_serves_many_requests(wire_server: WireServer) -> None:
    client = ModelClient(provider(wire_server))
    for word in ("one", "two", "three"):
        wire_server.enqueue(stream_text(word))
        await collect(client, request_for(client.provider))
        assert client.last_result.text == word
    await client.aclose()
    assert len(wire_server.requests) == 3


def test_importing_and_constructing_does_not_load_the_sdk() -> None:
    code = (
        "import sys\n"
        "from support_console.config.settings import ProviderSettings\n"
        "from support_console.llm import ModelClient\n"
        "ModelClient(ProviderSettings(kind='openai', model='gpt-4o', api_key='k'))\n"
        "assert 'openai' not in sys.modules, 'openai imported too early'\n"
    )
    root = Path(__file__).resolve().parents[1]
    done = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
