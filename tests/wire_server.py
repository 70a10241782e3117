"""A real loopback HTTP server that speaks the OpenAI / Azure OpenAI chat-completions wire format.

Why: the model client (and everything built on it) is tested against real HTTP on 127.0.0.1 with the
official `openai` SDK pointed at it, so nothing in our own code is patched and the SDK's own parsing, retries
and error classes are exercised. Replies are scripted per test (tests/wire_replies.py, re-exported here):
replays of the real recordings in tests/wire, synthesised streams in the exact real shapes, HTTP errors,
connections dropped or stalled mid-stream and `{"error": …}` events.

Streams are sent with HTTP/1.1 chunked transfer encoding, so a dropped connection (no terminating chunk) is
seen by the client as the real network failure it is, not as a normal end of body.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import re
import select
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.wire_replies import (
    DEFAULT_TEXT,
    JSON_CONTENT_TYPE,
    SSE_CONTENT_TYPE,
    WIRE_DIR,
    Reply,
    azure_prompt_filter_event,
    completion_json,
    drip,
    drop_after,
    empty_stream,
    error,
    error_event_after,
    hang,
    huge_stream,
    keep_alive,
    llama_apply_template,
    llama_cpp_python_models,
    llama_props,
    llama_server_models,
    llama_server_overflow,
    llama_server_overflow_500,
    llama_tokenize,
    lm_studio_models,
    meta,
    ollama_models,
    ollama_show,
    replay,
    split_events,
    sse_event,
    stall_after,
    stream_text,
    vllm_models,
    vllm_overflow,
    vllm_tokenize,
)

__all__ = [
    "DEFAULT_TEXT",
    "JSON_CONTENT_TYPE",
    "SSE_CONTENT_TYPE",
    "WIRE_DIR",
    "Answer",
    "RecordedRequest",
    "Reply",
    "WireServer",
    "azure_prompt_filter_event",
    "completion_json",
    "drip",
    "drop_after",
    "empty_stream",
    "error",
    "error_event_after",
    "hang",
    "huge_stream",
    "keep_alive",
    "llama_apply_template",
    "llama_cpp_python_models",
    "llama_props",
    "llama_server_models",
    "llama_server_overflow",
    "llama_server_overflow_500",
    "llama_tokenize",
    "lm_studio_models",
    "meta",
    "ollama_models",
    "ollama_show",
    "replay",
    "split_events",
    "sse_event",
    "stall_after",
    "stream_text",
    "vllm_models",
    "vllm_overflow",
    "vllm_tokenize",
]

_DEPLOYMENT_ROUTE = re.compile(r"^/openai/deployments/(?P<name>[^/]+)/chat/completions$")
_ROUTES = ("/v1/chat/completions", "/openai/v1/chat/completions")
#: Local servers' own POST routes: recorded as side requests, like every GET (model lists, /props).
_NATIVE_POSTS = frozenset(
    {"/api/show", "/tokenize", "/detokenize", "/apply-template", "/extras/tokenize/count"}
)


Answer = Callable[["RecordedRequest"], "Reply | None"]


@dataclass
class RecordedRequest:
    """What the client really sent."""

    method: str
    path: str  # without the query string
    query: dict[str, str]  # first value of each parameter
    headers: dict[str, str]  # lower-cased names
    body: bytes
    json: Any  # parsed body, or None when it was not JSON
    deployment: str | None = None  # Azure deployments route: the {name} in the path
    completed: bool = False  # the whole response was written
    disconnected: bool = False  # the client went away before the response was finished


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server
    timeout = 30  # idle keep-alive connections don't hold a thread forever

    def log_message(self, format: str, *args: Any) -> None:
        """Keep test output clean."""

    def do_POST(self) -> None:
        self._handle()

    def do_GET(self) -> None:
        self._handle()

    def _handle(self) -> None:
        wire: WireServer = self.server.wire
        parts = urlsplit(self.path)
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        try:
            parsed = json.loads(body) if body else None
        except ValueError:
            parsed = None
        match = _DEPLOYMENT_ROUTE.match(parts.path)
        record = RecordedRequest(
            method=self.command,
            path=parts.path,
            query={k: v[0] for k, v in parse_qs(parts.query).items()},
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
            json=parsed,
            deployment=match.group("name") if match else None,
        )
        wire._record(record)
        routed = wire._routed(self.command, parts.path)
        if callable(routed):
            routed = routed(record)
        if routed is not None:
            reply = routed
        elif self.command != "POST" or not (match or parts.path in _ROUTES):
            reply = error(
                404, {"error": {"message": f"wire_server: no route for {self.command} {parts.path}"}}
            )
        else:
            reply = wire._next_reply(record)
        try:
            if reply.hang:
                self._hang(record)
            elif reply.streaming:
                self._send_stream(reply, record)
            else:
                self._send_body(reply, record)
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError):
            self._mark_disconnected(record)

    def _start(self, reply: Reply, extra: dict[str, str]) -> None:
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        for name, value in {**extra, **reply.headers}.items():
            self.send_header(name, value)
        self.end_headers()

    def _send_body(self, reply: Reply, record: RecordedRequest) -> None:
        if reply.delay and self._wait_or_disconnected(reply.delay):
            self._mark_disconnected(record)
            return
        self._start(reply, {"Content-Length": str(len(reply.body))})
        record.completed = True  # before the last byte: a client that has it all must see it completed
        self.wfile.write(reply.body)

    def _hang(self, record: RecordedRequest) -> None:
        """Say nothing until the client goes away (or the server closes)."""
        while not self._wait_or_disconnected(1.0):
            pass
        self._mark_disconnected(record)

    def _send_stream(self, reply: Reply, record: RecordedRequest) -> None:
        events = list(reply.events or [])
        self._start(reply, {"Transfer-Encoding": "chunked", "Cache-Control": "no-cache"})
        more = reply.generate() if reply.generate is not None else iter(())
        for index, event in enumerate(itertools.chain(events, more)):
            if reply.drop_after is not None and index >= reply.drop_after:
                self._drop()
                return
            pause = reply.delay + (reply.stall[1] if reply.stall and reply.stall[0] == index else 0.0)
            if pause and self._wait_or_disconnected(pause):
                self._mark_disconnected(record)
                return
            self.wfile.write(b"%x\r\n%s\r\n" % (len(event), event))
        if reply.drop_after is not None and reply.drop_after <= len(events):
            self._drop()
            return
        record.completed = True  # before the last byte (see _send_body); a failed write clears it
        self.wfile.write(b"0\r\n\r\n")

    def _drop(self) -> None:
        """Close the connection mid-body, as a dropped network connection would."""
        self.close_connection = True
        self.wfile.flush()
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def _wait_or_disconnected(self, seconds: float) -> bool:
        """Sleep `seconds`, returning early (True) if the client closes the connection meanwhile.

        While a response is in progress the client sends nothing, so the socket turning readable means EOF
        (or a reset)."""
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            readable, _, _ = select.select([self.connection], [], [], left)
            if readable:
                try:
                    if self.connection.recv(1, socket.MSG_PEEK) == b"":
                        return True
                except OSError:
                    return True
                time.sleep(min(left, 0.005))  # unexpected data: don't spin
        return False

    def _mark_disconnected(self, record: RecordedRequest) -> None:
        self.close_connection = True
        record.completed = False
        record.disconnected = True
        self.server.wire._note_disconnect()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    def __init__(self, wire: WireServer) -> None:
        self.wire = wire
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), _Handler)

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        """Track open connections so close() can end idle keep-alive ones rather than leave threads behind."""
        with self.connections_lock:
            self.connections.add(request)
        try:
            super().process_request_thread(request, client_address)
        finally:
            with self.connections_lock:
                self.connections.discard(request)

    def close_connections(self) -> None:
        with self.connections_lock:
            open_now = list(self.connections)
        for conn in open_now:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)


class WireServer:
    """The loopback OpenAI / Azure OpenAI server. Start with `WireServer()`, `close()` after.

    `base_url` is for OpenAI / compatible clients, `azure_endpoint` for Azure (both the deployments route and
    the /openai/v1/ route). Replies queued with `enqueue` are played in order, one per request, whatever the
    route; with the queue empty the server answers a short default stream (Azure-shaped on Azure routes) or a
    short chat.completion for requests without `stream: true`.
    """

    def __init__(self) -> None:
        self.requests: list[RecordedRequest] = []  # the POSTs (chat completions): what the tests reason about
        self.side_requests: list[
            RecordedRequest
        ] = []  # GETs and native POSTs: model lists, /props, /api/show
        self.disconnects = 0
        self.disconnected = threading.Event()
        self._queue: deque[Reply] = deque()
        self._routes: dict[tuple[str, str], Reply | Answer] = {}
        self._lock = threading.Lock()
        self._httpd = _Server(self)
        port = self._httpd.server_address[1]
        self.base_url = f"http://127.0.0.1:{port}/v1"
        self.azure_endpoint = f"http://127.0.0.1:{port}"
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, name="wire-server", daemon=True
        )
        self._thread.start()

    def __enter__(self) -> WireServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def enqueue(self, *replies: Reply) -> None:
        """Queue replies, played in order (one per request)."""
        with self._lock:
            self._queue.extend(replies)

    def route(self, method: str, path: str, reply: Reply | Answer) -> None:
        """Answer every ``method path`` request (e.g. ``GET /props``) with ``reply``, outside the queue: the
        native routes of local servers (tests/wire_replies.py: vllm_models, llama_props, ollama_show…).
        ``reply`` may be a function of the request (a server that computes its answer, tests/wire_local.py);
        when it returns None the request is answered as if unrouted (the queue, for chat completions)."""
        with self._lock:
            self._routes[(method.upper(), path)] = reply

    def requests_to(self, path: str) -> list[RecordedRequest]:
        """The requests that came for ``path`` (chat or side requests)."""
        with self._lock:
            return [r for r in [*self.requests, *self.side_requests] if r.path == path]

    @property
    def pending(self) -> int:
        """Replies queued but not played yet."""
        with self._lock:
            return len(self._queue)

    @property
    def last(self) -> RecordedRequest:
        """The most recent request (AssertionError when none arrived)."""
        assert self.requests, "the wire server received no request"
        return self.requests[-1]

    def wait_for_disconnect(self, timeout: float = 2.0) -> bool:
        """Block until a client has gone away mid-response (True) or `timeout` passes (False)."""
        return self.disconnected.wait(timeout)

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._httpd.close_connections()
        self._thread.join(timeout=5)

    # called from handler threads

    def _record(self, record: RecordedRequest) -> None:
        with self._lock:
            side = record.method == "GET" or record.path in _NATIVE_POSTS
            (self.side_requests if side else self.requests).append(record)

    def _routed(self, method: str, path: str) -> Reply | Answer | None:
        with self._lock:
            return self._routes.get((method, path))

    def _next_reply(self, record: RecordedRequest) -> Reply:
        with self._lock:
            if self._queue:
                return self._queue.popleft()
        azure = record.path.startswith("/openai/")
        if isinstance(record.json, dict) and record.json.get("stream"):
            return stream_text(DEFAULT_TEXT, azure=azure)
        return completion_json(DEFAULT_TEXT)

    def _note_disconnect(self) -> None:
        with self._lock:
            self.disconnects += 1
        self.disconnected.set()
