"""The loopback wire server itself: routes, recording, replay fidelity, synthesised shapes, faults.

Why: every model-client, drafting and UI test trusts this server to behave like the real services; if it
drifted (e.g. a drop that looks like a clean end of body), those tests would pass for the wrong reason.
These tests talk to it with plain httpx, not our client.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable

import httpx
import pytest

from tests.wire_server import (
    WIRE_DIR,
    WireServer,
    drip,
    drop_after,
    error,
    error_event_after,
    hang,
    huge_stream,
    keep_alive,
    replay,
    split_events,
    stream_text,
)

BODY = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}], "stream": True}


def _data(events: list[bytes]) -> list[object]:
    out: list[object] = []
    for event in events:
        text = event.decode().strip()
        assert text.startswith("data: ")
        payload = text[len("data: ") :]
        out.append(payload if payload == "[DONE]" else json.loads(payload))
    return out


def _stream(url: str, body: dict[str, object] = BODY) -> tuple[httpx.Response, bytes]:
    with httpx.Client(timeout=5) as client, client.stream("POST", url, json=body) as response:
        raw = b"".join(response.iter_raw())
        return response, raw


def test_routes_are_recorded_with_path_query_headers_and_json(wire_server: WireServer) -> None:
    with httpx.Client(timeout=5) as client:
        client.post(
            f"{wire_server.base_url}/chat/completions", json=BODY, headers={"Authorization": "Bearer k"}
        )
        client.post(
            f"{wire_server.azure_endpoint}/openai/deployments/prod-chat/chat/completions?api-version=2024-10-21",
            json=BODY,
            headers={"api-key": "k2"},
        )
        client.post(f"{wire_server.azure_endpoint}/openai/v1/chat/completions", json=BODY)
        missing = client.post(f"{wire_server.azure_endpoint}/nope", json=BODY)
    first, second, third, fourth = wire_server.requests
    assert (first.path, first.headers["authorization"], first.json) == (
        "/v1/chat/completions",
        "Bearer k",
        BODY,
    )
    assert second.deployment == "prod-chat"
    assert second.query == {"api-version": "2024-10-21"}
    assert second.headers["api-key"] == "k2"
    assert third.path == "/openai/v1/chat/completions"
    assert fourth.path == "/nope"
    assert missing.status_code == 404


def test_default_reply_is_a_short_stream_azure_shaped_on_azure_routes(wire_server: WireServer) -> None:
    response, raw = _stream(f"{wire_server.base_url}/chat/completions")
    assert response.headers["content-type"].startswith("text/event-stream")
    events = _data(split_events(raw))
    assert events[-1] == "[DONE]"
    assert "prompt_filter_results" not in events[0]  # type: ignore[operator]

    _, raw = _stream(f"{wire_server.azure_endpoint}/openai/v1/chat/completions")
    first = _data(split_events(raw))[0]
    assert isinstance(first, dict)
    assert first["choices"] == []
    assert "prompt_filter_results" in first

    with httpx.Client(timeout=5) as client:
        sync = client.post(f"{wire_server.base_url}/chat/completions", json={**BODY, "stream": False})
    assert sync.json()["object"] == "chat.completion"


@pytest.mark.parametrize("name", sorted(p.stem for p in WIRE_DIR.glob("*.sse")))
def test_replay_of_an_sse_sample_is_byte_for_byte(wire_server: WireServer, name: str) -> None:
    wire_server.enqueue(replay(name))
    response, raw = _stream(f"{wire_server.base_url}/chat/completions")
    recorded = (WIRE_DIR / f"{name}.sse").read_bytes()
    assert split_events(raw) == split_events(recorded)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")


@pytest.mark.parametrize(
    "name", sorted(p.stem for p in WIRE_DIR.glob("*.json") if not p.name.endswith(".meta.json"))
)
def test_replay_of_a_json_sample_keeps_status_content_type_and_body(
    wire_server: WireServer, name: str
) -> None:
    meta = json.loads((WIRE_DIR / f"{name}.meta.json").read_text())
    wire_server.enqueue(replay(name))
    with httpx.Client(timeout=5) as client:
        response = client.post(f"{wire_server.base_url}/chat/completions", json=BODY)
    assert response.status_code == meta["status"]["code"]
    recorded_type = {k.lower(): v[0] for k, v in meta["resp_headers"].items()}["content-type"]
    assert response.headers["content-type"] == recorded_type
    assert response.content == (WIRE_DIR / f"{name}.json").read_bytes()


def test_unknown_sample_names_the_known_ones() -> None:
    with pytest.raises(FileNotFoundError, match="oai_stream_usage_2025"):
        replay("nope")


def test_replies_play_in_order_then_the_default(wire_server: WireServer) -> None:
    wire_server.enqueue(
        error(429, {"error": {"message": "slow down"}}, {"retry-after": "1"}), stream_text("Hi")
    )
    with httpx.Client(timeout=5) as client:
        url = f"{wire_server.base_url}/chat/completions"
        first = client.post(url, json=BODY)
        second = client.post(url, json=BODY)
    assert (first.status_code, first.headers["retry-after"], first.json()) == (
        429,
        "1",
        {"error": {"message": "slow down"}},
    )
    assert second.status_code == 200
    assert wire_server.pending == 0


def test_stream_text_openai_shape() -> None:
    events = _data(stream_text("Hello there", usage=(7, 3), model="gpt-4o-2024-08-06").events or [])
    role, *pieces, finish, usage, done = events
    assert isinstance(role, dict)
    assert role["choices"][0]["delta"] == {"role": "assistant", "content": "", "refusal": None}
    assert "".join(p["choices"][0]["delta"]["content"] for p in pieces) == "Hello there"  # type: ignore[index]
    assert all(p["usage"] is None for p in [role, *pieces, finish])  # type: ignore[index]
    assert isinstance(finish, dict)
    assert finish["choices"][0] == {
        "index": 0,
        "delta": {},
        "logprobs": None,
        "finish_reason": "stop",
    }
    assert isinstance(usage, dict)
    assert usage["choices"] == []
    assert usage["usage"]["prompt_tokens"] == 7
    assert usage["usage"]["total_tokens"] == 10
    assert done == "[DONE]"


def test_stream_text_azure_shape_and_content_filter() -> None:
    events = _data(stream_text("Bad", azure=True, finish_reason="content_filter", usage=None).events or [])
    first, _role, piece, finish, done = events
    assert isinstance(first, dict)
    assert (first["choices"], first["model"], first["created"]) == ([], "", 0)
    assert first["prompt_filter_results"][0]["prompt_index"] == 0
    assert isinstance(piece, dict)
    assert "content_filter_results" in piece["choices"][0]
    assert "usage" not in piece
    assert isinstance(finish, dict)
    assert finish["choices"][0]["finish_reason"] == "content_filter"
    assert finish["choices"][0]["content_filter_results"]["violence"]["filtered"] is True
    assert done == "[DONE]"


def test_stream_text_refusal_and_explicit_chunks() -> None:
    events = _data(stream_text("", refusal="I can't help with that.").events or [])
    refusals = [
        e["choices"][0]["delta"].get("refusal") for e in events if isinstance(e, dict) and e["choices"]
    ]
    assert "".join(r for r in refusals if r) == "I can't help with that."
    with pytest.raises(ValueError, match="join"):
        stream_text("abc", chunks=["a", "b"])


def test_drop_after_closes_mid_body_which_the_client_sees_as_an_error(wire_server: WireServer) -> None:
    wire_server.enqueue(drop_after(stream_text("one two three four"), 3))
    with (
        httpx.Client(timeout=5) as client,
        client.stream("POST", f"{wire_server.base_url}/chat/completions", json=BODY) as response,
    ):
        parts: list[bytes] = []
        with pytest.raises(httpx.RemoteProtocolError):
            parts.extend(response.iter_raw())
    received = b"".join(parts)
    assert len(split_events(received)) == 3
    assert b"[DONE]" not in received


def test_error_event_after_sends_an_error_event_and_ends(wire_server: WireServer) -> None:
    wire_server.enqueue(
        error_event_after(stream_text("one two three"), 2, {"message": "boom", "type": "server_error"})
    )
    _, raw = _stream(f"{wire_server.base_url}/chat/completions")
    events = _data(split_events(raw))
    assert len(events) == 3
    assert events[-1] == {"error": {"message": "boom", "type": "server_error"}}


def test_server_notices_when_the_client_goes_away_mid_stream(wire_server: WireServer) -> None:
    wire_server.enqueue(stream_text("word " * 200, delay=0.05))
    with (
        httpx.Client(timeout=5) as client,
        client.stream("POST", f"{wire_server.base_url}/chat/completions", json=BODY) as response,
    ):
        next(response.iter_raw())
    started = time.monotonic()
    assert wire_server.wait_for_disconnect(2.0)
    assert time.monotonic() - started < 1.0
    assert wire_server.disconnects == 1
    assert wire_server.last.disconnected
    assert not wire_server.last.completed


def test_a_finished_stream_is_not_a_disconnect(wire_server: WireServer) -> None:
    wire_server.enqueue(stream_text("all of it", delay=0.001))
    _stream(f"{wire_server.base_url}/chat/completions")
    # The client may read the last chunk before the server's thread records that it wrote it.
    deadline = time.monotonic() + 2.0
    while not wire_server.last.completed and time.monotonic() < deadline:
        time.sleep(0.005)
    assert wire_server.last.completed
    assert wire_server.disconnects == 0
    assert not wire_server.disconnected.is_set()


def test_serves_a_2000_token_stream_quickly(wire_server: WireServer) -> None:
    """Not a timing assertion (figures live in benchmarks/): the stream must simply arrive whole."""
    wire_server.enqueue(stream_text("tok " * 2000))
    _, raw = _stream(f"{wire_server.base_url}/chat/completions")
    events = _data(split_events(raw))
    assert len(events) == 2000 + 4


def test_close_ends_idle_keep_alive_connections() -> None:
    server = WireServer()
    host, port = server.azure_endpoint.removeprefix("http://").split(":")
    conn = socket.create_connection((host, int(port)))
    conn.settimeout(2)
    body = json.dumps(BODY).encode()
    conn.sendall(
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
    )
    data = b""
    while not data.endswith(b"0\r\n\r\n"):
        data += conn.recv(65536)
    server.close()
    assert conn.recv(1) == b""  # the server closed the idle keep-alive connection
    conn.close()


def test_hang_accepts_and_never_answers_until_the_client_leaves(wire_server: WireServer) -> None:
    wire_server.enqueue(hang())
    with httpx.Client(timeout=0.3) as client, pytest.raises(httpx.ReadTimeout):
        client.post(f"{wire_server.base_url}/chat/completions", json=BODY)
    assert wire_server.wait_for_disconnect(2.0)
    assert len(wire_server.requests) == 1  # the request was read: it is the answer that never comes
    assert not wire_server.last.completed


def _stream_until(url: str, enough: Callable[[bytes], bool]) -> bytes:
    """The raw body of a streamed request, read until ``enough`` says so (then the client leaves)."""
    raw = b""
    with httpx.Client(timeout=5) as client, client.stream("POST", url, json=BODY) as response:
        for part in response.iter_raw():
            raw += part
            if enough(raw):
                break
    return raw


def _contents(events: list[bytes]) -> list[object]:
    """The delta content of each chunk event."""
    contents: list[object] = []
    for item in _data(events):
        assert isinstance(item, dict)
        contents.append(item["choices"][0]["delta"].get("content"))
    return contents


@pytest.mark.parametrize(("kind", "ping"), [("comment", b": ping\n\n"), ("blank", b"\n")])
def test_keep_alive_sends_pings_after_the_text_until_the_client_leaves(
    wire_server: WireServer, kind: str, ping: bytes
) -> None:
    wire_server.enqueue(keep_alive(0.01, text="Hi there", kind=kind))
    raw = _stream_until(f"{wire_server.base_url}/chat/completions", lambda raw: raw.count(ping) >= 12)
    end = 0
    for _ in range(3):  # the role chunk and the two words
        end = raw.index(b"}\n\n", end) + 3
    assert _contents(split_events(raw[:end])) == ["", "Hi", " there"]
    assert raw[end:].startswith(ping)
    assert raw[end:].replace(ping, b"") == b""  # nothing but pings after the text
    assert wire_server.wait_for_disconnect(2.0)


def test_keep_alive_empty_chunks_and_drip_words(wire_server: WireServer) -> None:
    wire_server.enqueue(keep_alive(0.01, kind="empty"), drip(0.01, word=" w"))
    for expected in ("", " w"):
        raw = _stream_until(f"{wire_server.base_url}/chat/completions", lambda raw: raw.count(b"\n\n") >= 6)
        assert _contents(split_events(raw)[:6]) == ["", *[expected] * 5]


def test_huge_stream_sends_exactly_the_text_asked_for_and_finishes(wire_server: WireServer) -> None:
    wire_server.enqueue(huge_stream(100_003, chunk_chars=1000), huge_stream(5000, chunk_chars=5000))
    for total, chunks in ((100_003, 101), (5000, 1)):
        _, raw = _stream(f"{wire_server.base_url}/chat/completions")
        events = split_events(raw)
        assert _data(events[-1:]) == ["[DONE]"]
        pieces = [str(c or "") for c in _contents(events[1:-2])]  # no role chunk, finish chunk or [DONE]
        assert len(pieces) == chunks
        assert len("".join(pieces)) == total
        assert "".join(pieces).startswith("lorem lorem")
