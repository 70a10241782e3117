"""Scripted replies for the loopback wire server (tests/wire_server.py), in the shapes the services send.

Why a module of its own: tests build replies (replays of the real recordings in tests/wire, synthesised OpenAI
and Azure streams, HTTP errors and mid-stream faults) without caring how the server plays them.
Everything here is re-exported by tests.wire_server, which is what tests import.
"""

from __future__ import annotations

import itertools
import json
import re
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

WIRE_DIR = Path(__file__).resolve().parent / "wire"

SSE_CONTENT_TYPE = "text/event-stream; charset=utf-8"
JSON_CONTENT_TYPE = "application/json"
DEFAULT_TEXT = "Thanks for reaching out! I'm looking into this now."

_SAFE = {"filtered": False, "severity": "safe"}
_CATEGORIES = ("hate", "self_harm", "sexual", "violence")


@dataclass
class Reply:
    """One scripted response.

    A streaming reply has `events` (each one complete SSE event, `b"data: …\\n\\n"`) and is sent chunked;
    otherwise `body` is sent with a Content-Length. `drop_after` closes the socket after that many events
    without finishing the body; `delay` sleeps before each event (the server watches for the client going
    away meanwhile). `generate` makes a stream's events as they are sent, for endless or huge streams
    (keep-alives forever, a 50 MB reply); `hang` accepts the request and never answers at all.
    """

    status: int = 200
    content_type: str = JSON_CONTENT_TYPE
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    events: list[bytes] | None = None
    delay: float = 0.0
    drop_after: int | None = None
    stall: tuple[int, float] | None = None  # (before event n, seconds): one long pause mid-stream
    generate: Callable[[], Iterator[bytes]] | None = None  # events made while sending (after `events`)
    hang: bool = False  # read the request, then send nothing until the client gives up

    @property
    def streaming(self) -> bool:
        return self.events is not None or self.generate is not None


def sse_event(data: object) -> bytes:
    """One `data:` event; `data` is JSON-encoded unless it is already a string (e.g. "[DONE]")."""
    text = data if isinstance(data, str) else json.dumps(data, separators=(",", ":"))
    return f"data: {text}\n\n".encode()


def split_events(raw: bytes) -> list[bytes]:
    """Split a recorded SSE body into its events, byte for byte (each keeps its blank-line terminator)."""
    events = [part + b"\n\n" for part in raw.replace(b"\r\n", b"\n").split(b"\n\n") if part.strip()]
    return events


def _wire_files(name: str) -> tuple[Path, Path]:
    stem = name
    for suffix in (".sse", ".json"):
        if stem.endswith(suffix) and not stem.endswith(".meta.json"):
            stem = stem[: -len(suffix)]
    meta = WIRE_DIR / f"{stem}.meta.json"
    for suffix in (".sse", ".json"):
        body = WIRE_DIR / f"{stem}{suffix}"
        if body.exists():
            return body, meta
    known = sorted(
        p.name for p in WIRE_DIR.iterdir() if p.suffix in (".sse", ".json") and ".meta" not in p.name
    )
    raise FileNotFoundError(f"no wire sample {name!r} in {WIRE_DIR}; known: {', '.join(known)}")


def replay(name: str, *, delay: float = 0.0) -> Reply:
    """A tests/wire sample (`oai_stream_usage_2025` or with its extension), with its recorded status and
    Content-Type; `.sse` bodies are played event by event."""
    body_path, meta_path = _wire_files(name)
    meta = json.loads(meta_path.read_text())
    headers = {k.lower(): v[0] for k, v in meta.get("resp_headers", {}).items()}
    status = int(meta["status"]["code"])
    content_type = headers.get("content-type", JSON_CONTENT_TYPE)
    raw = body_path.read_bytes()
    if body_path.suffix == ".sse":
        return Reply(status=status, content_type=content_type, events=split_events(raw), delay=delay)
    return Reply(status=status, content_type=content_type, body=raw, delay=delay)


def meta(name: str) -> dict[str, Any]:
    """The recorded request/response metadata of a tests/wire sample."""
    _, meta_path = _wire_files(name)
    result: dict[str, Any] = json.loads(meta_path.read_text())
    return result


def _split_words(text: str) -> list[str]:
    """Roughly how a model streams: a word with its leading space per chunk."""
    return re.findall(r"\s*\S+(?:\s+$)?|\s+", text) if text else []


class _ChunkMaker:
    """Builds chat.completion.chunk events in the exact shapes OpenAI and Azure send."""

    def __init__(self, model: str, azure: bool, with_usage: bool) -> None:
        self.model, self.azure, self.with_usage = model, azure, with_usage
        self.id = f"chatcmpl-wire{next(_ids):08d}"
        self.created = int(time.time())
        self._n = 0

    def _obfuscation(self) -> str:
        self._n += 1
        return "x" * (self._n % 13 + 1)

    def chunk(self, delta: dict[str, Any], finish_reason: str | None = None, *, filters: Any = None) -> bytes:
        choice: dict[str, Any] = {
            "index": 0,
            "delta": delta,
            "logprobs": None,
            "finish_reason": finish_reason,
        }
        if self.azure:
            choice = {"content_filter_results": filters if filters is not None else {}, **choice}
        data: dict[str, Any] = {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
        }
        if not self.azure:
            data["service_tier"] = "default"
        data["system_fingerprint"] = "fp_wire0000"
        data["choices"] = [choice]
        if self.with_usage:
            data["usage"] = None
        data["obfuscation"] = self._obfuscation()
        return sse_event(data)

    def usage_chunk(self, prompt: int, completion: int) -> bytes:
        data: dict[str, Any] = {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "system_fingerprint": "fp_wire0000",
            "choices": [],
            "usage": {
                "prompt_tokens": prompt,
                "completion_tokens": completion,
                "total_tokens": prompt + completion,
                "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
                "completion_tokens_details": {
                    "reasoning_tokens": 0,
                    "audio_tokens": 0,
                    "accepted_prediction_tokens": 0,
                    "rejected_prediction_tokens": 0,
                },
            },
            "obfuscation": self._obfuscation(),
        }
        return sse_event(data)


_ids = itertools.count(1)


def azure_prompt_filter_event() -> bytes:
    """Azure's first event: no choices, empty id/model/object, created 0, and the prompt filter verdicts."""
    verdicts = {c: dict(_SAFE) for c in _CATEGORIES}
    verdicts["jailbreak"] = {"filtered": False, "detected": False}
    return sse_event(
        {
            "choices": [],
            "created": 0,
            "id": "",
            "model": "",
            "object": "",
            "prompt_filter_results": [{"prompt_index": 0, "content_filter_results": verdicts}],
        }
    )


def stream_text(
    text: str,
    *,
    chunks: list[str] | None = None,
    azure: bool = False,
    finish_reason: str = "stop",
    usage: tuple[int, int] | None = (10, 20),
    model: str = "gpt-4o-2024-08-06",
    delay: float = 0.0,
    refusal: str | None = None,
    filter_category: str = "violence",
) -> Reply:
    """A synthesised stream in the real shape.

    OpenAI: a role chunk, one chunk per piece (`usage: null` on each when `usage` is given), a chunk with
    the finish_reason and an empty delta, then a usage-only chunk with `choices: []`, then `data: [DONE]`.
    azure=True: a first event with `choices: []` and `prompt_filter_results`, `content_filter_results` on
    every choice (`filter_category` marked filtered on the final chunk when finish_reason is
    "content_filter"). `refusal` is streamed as `delta.refusal` pieces after the text. `usage=None`: no usage
    chunk at all (as from a server that ignores `stream_options`).
    """
    pieces = list(chunks) if chunks is not None else _split_words(text)
    if chunks is not None and "".join(chunks) != text:
        raise ValueError("chunks must join to text")
    maker = _ChunkMaker(model, azure, usage is not None)
    safe = {c: dict(_SAFE) for c in _CATEGORIES}
    events: list[bytes] = []
    if azure:
        events.append(azure_prompt_filter_event())
    events.append(
        maker.chunk({"role": "assistant", "content": "" if refusal is None else None, "refusal": None})
    )
    events.extend(maker.chunk({"content": piece}, filters=safe) for piece in pieces)
    if refusal is not None:
        events.extend(maker.chunk({"refusal": piece}, filters=safe) for piece in _split_words(refusal))
    final_filters: dict[str, Any] = {}
    if azure and finish_reason == "content_filter":
        final_filters = {c: dict(_SAFE) for c in _CATEGORIES}
        final_filters[filter_category] = {"filtered": True, "severity": "medium"}
    events.append(maker.chunk({}, finish_reason, filters=final_filters))
    if usage is not None:
        events.append(maker.usage_chunk(*usage))
    events.append(sse_event("[DONE]"))
    return Reply(status=200, content_type=SSE_CONTENT_TYPE, events=events, delay=delay)


def hang() -> Reply:
    """A server that accepts the request and never answers (no status line, no headers)."""
    return Reply(hang=True)


def _endless(
    then: Callable[[_ChunkMaker], Iterator[bytes]],
    *,
    text: str = "",
    model: str,
    azure: bool,
    every: float,
) -> Reply:
    """The role chunk and the words of `text`, then whatever `then` makes, `every` seconds apart."""
    maker = _ChunkMaker(model, azure, with_usage=False)
    opening = [azure_prompt_filter_event()] if azure else []
    opening.append(maker.chunk({"role": "assistant", "content": ""}))
    opening += [maker.chunk({"content": piece}) for piece in _split_words(text)]
    return Reply(content_type=SSE_CONTENT_TYPE, events=opening, delay=every, generate=lambda: then(maker))


def keep_alive(
    every: float,
    *,
    text: str = "",
    kind: str = "comment",
    model: str = "gpt-4o-2024-08-06",
    azure: bool = False,
) -> Reply:
    """A stream that, after the role chunk and the words of `text`, sends only keep-alives, one every `every`
    seconds, until the client leaves. `kind`: "comment" (`: ping`, as many proxies send), "blank" (a bare
    newline) or "empty" (chunks whose delta has empty content, as some servers send while they think)."""

    def pings(maker: _ChunkMaker) -> Iterator[bytes]:
        while True:
            if kind == "comment":
                yield b": ping\n\n"
            elif kind == "blank":
                yield b"\n"
            else:
                yield maker.chunk({"content": ""})

    return _endless(pings, text=text, model=model, azure=azure, every=every)


def drip(every: float, *, word: str = " word", model: str = "gpt-4o-2024-08-06") -> Reply:
    """A stream that sends one word every `every` seconds, forever (a server stuck in a slow loop)."""

    def words(maker: _ChunkMaker) -> Iterator[bytes]:
        while True:
            yield maker.chunk({"content": word})

    return _endless(words, model=model, azure=False, every=every)


def huge_stream(
    total_chars: int,
    *,
    chunk_chars: int = 6,
    word: str = "lorem ",
    model: str = "gpt-4o-2024-08-06",
    azure: bool = False,
) -> Reply:
    """A complete stream of `total_chars` characters of text in pieces of `chunk_chars` (one piece per event),
    made while it is sent: a 50 MB reply costs the server no memory. `chunk_chars=total_chars`: all of it in
    one enormous event."""

    def events(maker: _ChunkMaker) -> Iterator[bytes]:
        piece = (word * (chunk_chars // len(word) + 1))[:chunk_chars]
        sent = 0
        while sent < total_chars:
            part = piece[: total_chars - sent]
            sent += len(part)
            yield maker.chunk({"content": part})
        yield maker.chunk({}, "stop")
        yield sse_event("[DONE]")

    return _endless(events, model=model, azure=azure, every=0.0)


def completion_json(
    text: str, *, model: str = "gpt-4o-2024-08-06", usage: tuple[int, int] = (10, 20)
) -> Reply:
    """A non-streamed chat.completion (what the server answers a request without `stream: true`)."""
    body = {
        "id": f"chatcmpl-wire{next(_ids):08d}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text, "refusal": None, "annotations": []},
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": usage[0], "completion_tokens": usage[1], "total_tokens": sum(usage)},
    }
    return Reply(status=200, content_type=JSON_CONTENT_TYPE, body=json.dumps(body).encode())


def error(status: int, body: Mapping[str, object], headers: dict[str, str] | None = None) -> Reply:
    """A plain JSON HTTP error, e.g. error(429, {...}, {"retry-after": "0.1"})."""
    return Reply(
        status=status,
        content_type="application/json; charset=utf-8",
        headers=dict(headers or {}),
        body=json.dumps(body).encode(),
    )


def drop_after(reply: Reply, n_events: int) -> Reply:
    """The same stream, but the connection closes after `n_events` events (no [DONE], body unfinished)."""
    if reply.events is None:
        raise ValueError("drop_after needs a streaming reply")
    return replace(reply, events=list(reply.events), drop_after=n_events)


def stall_after(reply: Reply, n_events: int, seconds: float) -> Reply:
    """The same stream, but the server goes quiet for `seconds` after `n_events` events (a hung upstream)."""
    if reply.events is None:
        raise ValueError("stall_after needs a streaming reply")
    return replace(reply, events=list(reply.events), stall=(n_events, seconds))


def error_event_after(reply: Reply, n_events: int, error: Mapping[str, object]) -> Reply:
    """The same stream, but after `n_events` events the server sends `data: {"error": …}` and ends it."""
    if reply.events is None:
        raise ValueError("error_event_after needs a streaming reply")
    return replace(reply, events=[*reply.events[:n_events], sse_event({"error": error})])


# ------------------------------------------------------------------------------ local and self-hosted servers
# The shapes below follow each project's documented endpoints and error bodies: vLLM's OpenAI server
# (ModelCard with max_model_len; its "maximum context length" error), llama.cpp's llama-server (GET /props,
# exceed_context_size_error), llama-cpp-python (a model list without windows; an empty 200 stream when a
# streamed request overflows), Ollama (POST /api/show) and LM Studio (GET /api/v0/models).


def _json_reply(body: object, status: int = 200) -> Reply:
    return Reply(status=status, content_type=JSON_CONTENT_TYPE, body=json.dumps(body).encode())


def vllm_models(*names: str, max_model_len: int = 32768) -> Reply:
    """vLLM's ``GET /v1/models``: one ModelCard per served name, each with ``max_model_len``."""
    created = int(time.time())
    cards = [
        {
            "id": name,
            "object": "model",
            "created": created,
            "owned_by": "vllm",
            "root": name,
            "parent": None,
            "max_model_len": max_model_len,
            "permission": [
                {
                    "id": f"modelperm-{index:032x}",
                    "object": "model_permission",
                    "created": created,
                    "allow_create_engine": False,
                    "allow_sampling": True,
                    "allow_logprobs": True,
                    "allow_search_indices": False,
                    "allow_view": True,
                    "allow_fine_tuning": False,
                    "organization": "*",
                    "group": None,
                    "is_blocking": False,
                }
            ],
        }
        for index, name in enumerate(names)
    ]
    return _json_reply({"object": "list", "data": cards})


def vllm_overflow(window: int, prompt: int, completion: int, *, wrapped: bool = False) -> Reply:
    """vLLM's 400 for a request past ``max_model_len`` (older servers send the bare object, newer ones wrap
    it in ``{"error": …}``)."""
    message = (
        f"This model's maximum context length is {window} tokens. However, you requested "
        f"{prompt + completion} tokens ({prompt} in the messages, {completion} in the completion). Please "
        "reduce the length of the messages or completion."
    )
    body: dict[str, object] = {
        "object": "error",
        "message": message,
        "type": "BadRequestError",
        "param": None,
        "code": 400,
    }
    return _json_reply({"error": body} if wrapped else body, 400)


def llama_server_models(name: str = "gemma-2-2b-it-Q4_K_M.gguf", n_ctx_train: int = 8192) -> Reply:
    """llama-server's ``GET /v1/models``: the one model it loaded, with its training context (not n_ctx)."""
    meta = {
        "vocab_type": 2,
        "n_vocab": 256000,
        "n_ctx_train": n_ctx_train,
        "n_embd": 2304,
        "n_params": 2614341888,
        "size": 1708582656,
    }
    entry = {"id": name, "object": "model", "created": int(time.time()), "owned_by": "llamacpp", "meta": meta}
    return _json_reply({"object": "list", "data": [entry]})


def llama_props(n_ctx: int, *, model_path: str = "models/gemma-2-2b-it-Q4_K_M.gguf") -> Reply:
    """llama-server's ``GET /props``: ``default_generation_settings.n_ctx`` is the window of a slot."""
    return _json_reply(
        {
            "default_generation_settings": {
                "id": 0,
                "id_task": -1,
                "n_ctx": n_ctx,
                "speculative": False,
                "is_processing": False,
                "params": {
                    "n_predict": -1,
                    "seed": 4294967295,
                    "temperature": 0.8,
                    "top_k": 40,
                    "top_p": 0.95,
                    "min_p": 0.05,
                    "repeat_penalty": 1.0,
                    "stream": True,
                },
                "prompt": "",
            },
            "total_slots": 1,
            "model_path": model_path,
            "chat_template": "{{ bos_token }}{% for message in messages %}…{% endfor %}",
            "modalities": {"vision": False, "audio": False},
            "build_info": "b6000-0123abcd",
        }
    )


def llama_server_overflow(n_prompt_tokens: int, n_ctx: int) -> Reply:
    """llama-server's 400 ``exceed_context_size_error``, with the numbers as fields."""
    return _json_reply(
        {
            "error": {
                "code": 400,
                "message": f"request ({n_prompt_tokens} tokens) exceeds the available context size "
                f"({n_ctx} tokens), try increasing it",
                "type": "exceed_context_size_error",
                "n_prompt_tokens": n_prompt_tokens,
                "n_ctx": n_ctx,
            }
        },
        400,
    )


def llama_server_overflow_500() -> Reply:
    """Older llama-server builds: the same overflow as an HTTP 500 ``server_error``, without numbers."""
    message = (
        "the request exceeds the available context size, try increasing the context size or enable context "
        "shift"
    )
    return _json_reply({"error": {"code": 500, "message": message, "type": "server_error"}}, 500)


def llama_cpp_python_models(alias: str = "gemma") -> Reply:
    """llama-cpp-python's ``GET /v1/models``: names only (no window anywhere in its API)."""
    return _json_reply(
        {"object": "list", "data": [{"id": alias, "object": "model", "owned_by": "me", "permissions": []}]}
    )


def empty_stream() -> Reply:
    """llama-cpp-python's answer to a streamed request that overflows: HTTP 200, an event stream, no data."""
    return Reply(status=200, content_type=SSE_CONTENT_TYPE, events=[])


def ollama_models(*names: str) -> Reply:
    """Ollama's ``GET /v1/models`` (names carry their tag, e.g. ``llama3.2:latest``)."""
    created = int(time.time())
    data = [{"id": name, "object": "model", "created": created, "owned_by": "library"} for name in names]
    return _json_reply({"object": "list", "data": data})


def ollama_show(*, num_ctx: int | None = None, context_length: int = 131072, arch: str = "llama") -> Reply:
    """Ollama's ``POST /api/show``: ``parameters`` (a ``num_ctx`` line when the Modelfile sets one) and
    ``model_info`` with ``<arch>.context_length``."""
    parameters = (
        'stop                           "<|start_header_id|>"\nstop                           "<|eot_id|>"'
    )
    if num_ctx is not None:
        parameters = f"num_ctx                        {num_ctx}\n{parameters}"
    return _json_reply(
        {
            "modelfile": '# Modelfile generated by "ollama show"\nFROM llama3.2:latest\n',
            "parameters": parameters,
            "template": "{{ if .System }}<|start_header_id|>system<|end_header_id|>…",
            "details": {
                "parent_model": "",
                "format": "gguf",
                "family": arch,
                "families": [arch],
                "parameter_size": "3.2B",
                "quantization_level": "Q4_K_M",
            },
            "model_info": {
                "general.architecture": arch,
                "general.file_type": 15,
                "general.parameter_count": 3212749888,
                f"{arch}.context_length": context_length,
                f"{arch}.embedding_length": 3072,
            },
            "capabilities": ["completion", "tools"],
            "modified_at": "2025-06-01T10:00:00.000000000Z",
        }
    )


def lm_studio_models(name: str, *, max_context_length: int = 32768, loaded: int | None = None) -> Reply:
    """LM Studio's ``GET /api/v0/models``: ``max_context_length``; ``loaded_context_length`` once loaded."""
    entry: dict[str, object] = {
        "id": name,
        "object": "model",
        "type": "llm",
        "publisher": "lmstudio-community",
        "arch": "qwen2",
        "compatibility_type": "gguf",
        "quantization": "Q4_K_M",
        "state": "loaded" if loaded else "not-loaded",
        "max_context_length": max_context_length,
    }
    if loaded:
        entry["loaded_context_length"] = loaded
    return _json_reply({"object": "list", "data": [entry]})


def vllm_tokenize(count: int, max_model_len: int = 32768) -> Reply:
    """vLLM's ``POST /tokenize`` answer (chat messages in, the templated prompt's token ids out)."""
    return _json_reply({"count": count, "max_model_len": max_model_len, "tokens": list(range(1, count + 1))})


def llama_apply_template(prompt: str) -> Reply:
    """llama-server's ``POST /apply-template``: the prompt its chat template renders from the messages."""
    return _json_reply({"prompt": prompt})


def llama_tokenize(n_tokens: int) -> Reply:
    """llama-server's ``POST /tokenize``: the token ids of ``content``."""
    return _json_reply({"tokens": list(range(2, n_tokens + 2))})
