"""Ask an OpenAI-compatible server what it serves: the model names it lists and the model's context window.

Why: every family says its window somewhere else, and a guess (8,192 tokens for any unknown name) overflows
llama-cpp-python's default of 2,048 or wastes most of a 32k window. Where each one says it (their documented
endpoints):

* ``GET /v1/models``: the names offered; vLLM adds ``max_model_len`` to each entry.
* llama-server (llama.cpp): ``GET /props`` → ``default_generation_settings.n_ctx``.
* Ollama: ``POST /api/show {"model": NAME}`` → a ``num_ctx`` line in ``parameters`` (what runs), else
  ``model_info["<arch>.context_length"]`` (the model's own limit).
* LM Studio: ``GET /api/v0/models`` → the entry's ``loaded_context_length``, else ``max_context_length``.
* llama-cpp-python says no window anywhere; it is told by its ``POST /extras/tokenize/count`` answering
  ``{"count": N}`` (asked last), so that its own tokenizer counts (llm/server_tokens.py).

Blocking, with a short timeout, and quiet: any failure (no such route, not JSON, refused) just means "that
server did not say". The caller runs it off the event loop and caches what it learns (workflows). The key is
sent as a bearer token, as the chat requests send it, and never appears in what this returns.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

__all__ = ["PROBE_TIMEOUT", "ServerFacts", "ask_json", "probe_server", "server_root"]

PROBE_TIMEOUT = 2.0  # seconds per endpoint: a local server answers these in milliseconds
_MAX_BODY = 4_000_000  # bytes read from one answer (a model list, a chat template)


@dataclass(frozen=True)
class ServerFacts:
    """What a server said about a model; ``context_window`` None when no endpoint said it."""

    context_window: int | None
    source: str  # where the window came from, e.g. "llama-server /props (n_ctx)"; "" when unknown
    offered: tuple[str, ...]  # the model names /v1/models lists (empty: it lists none, or no such route)


def server_root(base_url: str) -> str:
    """The server's root: the base URL without its ``/v1`` (the native routes live there)."""
    base = base_url.rstrip("/")
    return base[: -len("/v1")] if base.endswith("/v1") else base


class _Unreachable(Exception):
    """The server did not answer at all (refused, timed out): asking it anything else is pointless."""


def ask_json(
    url: str, key: str | None, timeout: float, body: object = None, *, unreachable: bool = False
) -> object:
    """GET ``url`` (POST ``body`` as JSON when given) and parse the answer; None for any failure, except
    that with ``unreachable`` a server that did not answer at all (refused, silent past ``timeout``) raises
    _Unreachable, so that the probe does not wait for it once per endpoint."""
    headers = {"Accept": "application/json"}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    if key:
        headers["Authorization"] = f"Bearer {key}"
    import urllib.error  # here: urllib.request and http.client cost the console's start 20 ms otherwise
    import urllib.request

    request = urllib.request.Request(url, data=data, headers=headers, method="POST" if data else "GET")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return json.loads(response.read(_MAX_BODY))
    except urllib.error.HTTPError:
        return None  # it answered: that route is not there, or refused us
    except (OSError, urllib.error.URLError) as exc:
        if unreachable:
            raise _Unreachable(url) from exc
        return None
    except ValueError:
        return None


def _positive(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def _from_models(body: object, model: str) -> tuple[tuple[str, ...], int | None]:
    entries = body.get("data") if isinstance(body, dict) else None
    if not isinstance(entries, list):
        return (), None
    names = tuple(e["id"] for e in entries if isinstance(e, dict) and isinstance(e.get("id"), str))
    window = next(
        (
            _positive(e.get("max_model_len"))
            for e in entries
            if isinstance(e, dict) and e.get("id") == model and _positive(e.get("max_model_len"))
        ),
        None,
    )
    return names, window


def _from_props(body: object) -> int | None:
    settings = body.get("default_generation_settings") if isinstance(body, dict) else None
    return _positive(settings.get("n_ctx")) if isinstance(settings, dict) else None


def _from_ollama(body: object) -> tuple[int | None, str]:
    if not isinstance(body, dict):
        return None, ""
    parameters = body.get("parameters")
    if isinstance(parameters, str):
        for line in parameters.splitlines():
            name, _, value = line.strip().partition(" ")
            if name == "num_ctx" and value.strip().isdigit() and int(value) > 0:
                return int(value), "Ollama /api/show (num_ctx)"
    info = body.get("model_info")
    if isinstance(info, dict):
        for name, value in info.items():
            if isinstance(name, str) and name.endswith(".context_length") and _positive(value):
                return _positive(value), "Ollama /api/show (context_length)"
    return None, ""


def _from_lm_studio(body: object, model: str) -> int | None:
    entries = body.get("data") if isinstance(body, dict) else None
    for entry in entries if isinstance(entries, list) else ():
        if isinstance(entry, dict) and entry.get("id") == model:
            return _positive(entry.get("loaded_context_length")) or _positive(entry.get("max_context_length"))
    return None


def probe_server(
    base_url: str, model: str, key: str | None = None, timeout: float = PROBE_TIMEOUT
) -> ServerFacts:
    """Ask the server at ``base_url`` (…/v1) for its model names and ``model``'s window. Blocking; a server
    that does not answer at all is asked once, not four times."""
    try:
        return _probe(base_url, model, key, timeout)
    except _Unreachable:
        return ServerFacts(None, "", ())


def _probe(base_url: str, model: str, key: str | None, timeout: float) -> ServerFacts:
    offered, window = _from_models(
        ask_json(f"{base_url.rstrip('/')}/models", key, timeout, unreachable=True), model
    )
    if window:
        return ServerFacts(window, "vLLM /v1/models (max_model_len)", offered)
    root = server_root(base_url)
    window = _from_props(ask_json(f"{root}/props", key, timeout, unreachable=True))
    if window:
        return ServerFacts(window, "llama-server /props (n_ctx)", offered)
    window, source = _from_ollama(
        ask_json(f"{root}/api/show", key, timeout, {"model": model}, unreachable=True)
    )
    if window:
        return ServerFacts(window, source, offered)
    window = _from_lm_studio(ask_json(f"{root}/api/v0/models", key, timeout, unreachable=True), model)
    if window:
        return ServerFacts(window, "LM Studio /api/v0/models", offered)
    counted = ask_json(f"{root}/extras/tokenize/count", key, timeout, {"model": model, "input": "Hello"},
                       unreachable=True)  # fmt: skip
    if isinstance(counted, dict) and _positive(counted.get("count")):
        return ServerFacts(None, "llama-cpp-python /extras/tokenize/count", offered)
    return ServerFacts(None, "", offered)
