"""Ask an OpenAI-compatible server what it serves: the model names it lists and the model's context window.

Why: every family says its window somewhere else, and a guess (8,192 tokens for any unknown name) overflows
llama-cpp-python's default of 2,048 or wastes most of a 32k window. Where each one says it (their documented
endpoints):

* ``GET /v1/models``: the names offered; vLLM adds ``max_model_len`` to each entry.
* llama-server (llama.cpp): ``GET /props`` → ``default_generation_settings.n_ctx``.
* Ollama: ``POST /api/show {"model": NAME}`` → a ``num_ctx`` line in ``parameters`` (what runs), else
  ``model_info["<arch>.context_length"]`` (the model's own limit).
* LM Studio: ``GET /api/v0/models`` → the entry's ``loaded_context_length``, else ``max_context_length``.

Blocking, with a short timeout, and quiet: any failure (no such route, not JSON, refused) just means "that
server did not say". The caller runs it off the event loop and caches what it learns (workflows). The key is
sent as a bearer token, as the chat requests send it, and never appears in what this returns.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

__all__ = ["PROBE_TIMEOUT", "ServerFacts", "count_prompt", "probe_server"]

PROBE_TIMEOUT = 2.0  # seconds per endpoint: a local server answers these in milliseconds
_MAX_BODY = 4_000_000  # bytes read from one answer (a model list, a chat template)


@dataclass(frozen=True)
class ServerFacts:
    """What a server said about a model; ``context_window`` None when no endpoint said it."""

    context_window: int | None
    source: str  # where the window came from, e.g. "llama-server /props (n_ctx)"; "" when unknown
    offered: tuple[str, ...]  # the model names /v1/models lists (empty: it lists none, or no such route)


def _root(base_url: str) -> str:
    """The server's root: the base URL without its ``/v1`` (the native routes live there)."""
    base = base_url.rstrip("/")
    return base[: -len("/v1")] if base.endswith("/v1") else base


class _Unreachable(Exception):
    """The server did not answer at all (refused, timed out): asking it anything else is pointless."""


def _get_json(url: str, key: str | None, timeout: float, body: object = None) -> object:
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
    except (OSError, ValueError, urllib.error.URLError):
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


def count_prompt(
    base_url: str,
    model: str,
    messages: list[dict[str, str]],
    family: str,
    key: str | None = None,
    timeout: float = PROBE_TIMEOUT,
) -> int | None:
    """The prompt tokens the server's own tokenizer and chat template make of ``messages``, or None.

    vLLM: ``POST /tokenize`` with the chat messages (``count``). llama-server: ``POST /apply-template`` (the
    prompt its template renders, generation prompt included) then ``POST /tokenize`` of that text.
    ``family`` is where the window came from (ServerFacts.source): only those two are asked. Blocking.
    """
    root = _root(base_url)
    try:
        if family.startswith("vLLM"):
            body = {"model": model, "messages": messages, "add_generation_prompt": True}
            answer = _get_json(f"{root}/tokenize", key, timeout, body)
            return _positive(answer.get("count")) if isinstance(answer, dict) else None
        if family.startswith("llama-server"):
            rendered = _get_json(f"{root}/apply-template", key, timeout, {"messages": messages})
            prompt = rendered.get("prompt") if isinstance(rendered, dict) else None
            if not isinstance(prompt, str):
                return None
            body = {"content": prompt, "add_special": True, "parse_special": True}
            answer = _get_json(f"{root}/tokenize", key, timeout, body)
            tokens = answer.get("tokens") if isinstance(answer, dict) else None
            return len(tokens) if isinstance(tokens, list) and tokens else None
    except _Unreachable:
        return None
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
    offered, window = _from_models(_get_json(f"{base_url.rstrip('/')}/models", key, timeout), model)
    if window:
        return ServerFacts(window, "vLLM /v1/models (max_model_len)", offered)
    root = _root(base_url)
    window = _from_props(_get_json(f"{root}/props", key, timeout))
    if window:
        return ServerFacts(window, "llama-server /props (n_ctx)", offered)
    window, source = _from_ollama(_get_json(f"{root}/api/show", key, timeout, {"model": model}))
    if window:
        return ServerFacts(window, source, offered)
    window = _from_lm_studio(_get_json(f"{root}/api/v0/models", key, timeout), model)
    if window:
        return ServerFacts(window, "LM Studio /api/v0/models", offered)
    return ServerFacts(None, "", offered)
