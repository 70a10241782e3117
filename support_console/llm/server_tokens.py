"""A compatible server's own token counts: of one text, of a whole request, and its chat template's cost.

Why: only the server knows its tokenizer and chat template, and tiktoken misses them by a few per cent, so a
budget-full request can overflow. Counting the whole request each time costs a round trip that tokenizes the
whole history again whenever one message is added; counting each message's text once and adding the
template's fixed cost per turn costs one round trip per new message. The rule that makes the sum exact:

    prompt tokens = fixed + (system text, if the template keeps it) + sum over turns of (role cost + text)

``fixed`` is what every request pays (a BOS token, the system wrapper, the generation prompt), a turn's
``role cost`` is its role's wrapper (``<start_of_turn>user\\n`` … ``<end_of_turn>\\n``). It holds for
templates whose wrapping depends on a turn's role, not its position, with a tokenizer that does not merge a
message's text into the wrapper around it (they meet at special tokens and newlines), which is what the chat
formats of llama-cpp-python and the usual Jinja templates do (a first turn wrapped differently, as in
llama-2's format, is part of ``fixed``). :func:`measure_template` learns the costs from four tiny requests
the server counts whole and checks them on a fifth; a template they do not fit gives None, and the caller
counts whole requests instead. Where each family counts (their documented routes):

* vLLM: ``POST /tokenize`` with ``prompt`` (one text) or ``messages`` (a request, its template applied).
* llama-server: ``POST /tokenize`` with ``content``; a request: ``POST /apply-template`` then ``/tokenize``.
* llama-cpp-python: ``POST /extras/tokenize/count`` ``{"model", "input"}`` → ``{"count"}`` (its tokenizer,
  BOS included); it renders no template on request, so a request is counted by the ``usage.prompt_tokens``
  of a one-token, non-streamed chat completion (the five of :func:`measure_template`, once per model).

Blocking, short timeouts, quiet: a failure is None ("the server did not say").
"""

from __future__ import annotations

from dataclasses import dataclass

from support_console.llm.server_probe import PROBE_TIMEOUT, ask_json, server_root

__all__ = [
    "COUNTING_FAMILIES",
    "TemplateCost",
    "count_request",
    "count_text",
    "counting_family",
    "measure_template",
]

#: The families that count with their own tokenizer, as ServerFacts.source begins.
COUNTING_FAMILIES = ("vLLM", "llama-server", "llama-cpp-python")
#: A one-token completion on a CPU server reads its prompt first: more than the probes' 2 s may pass.
COMPLETION_TIMEOUT = 10.0

Message = dict[str, str]


def counting_family(source: str) -> str | None:
    """The family of a server that counts tokens itself, from where its facts came (e.g. "vLLM /v1/…")."""
    return next((family for family in COUNTING_FAMILIES if source.startswith(family)), None)


def _positive(value: object, zero: bool = False) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool) and (value > 0 or (zero and value == 0)):
        return value
    return None


def count_text(
    base_url: str, model: str, text: str, family: str, key: str | None = None, timeout: float = PROBE_TIMEOUT
) -> int | None:
    """The tokens of ``text`` alone, without a BOS or any other added token (0 for an empty text)."""
    root = server_root(base_url)
    if family == "vLLM":
        body = {"model": model, "prompt": text, "add_special_tokens": False}
        answer = ask_json(f"{root}/tokenize", key, timeout, body)
        return _positive(answer.get("count"), zero=True) if isinstance(answer, dict) else None
    if family == "llama-server":
        body = {"content": text, "add_special": False, "parse_special": True}
        answer = ask_json(f"{root}/tokenize", key, timeout, body)
        tokens = answer.get("tokens") if isinstance(answer, dict) else None
        return len(tokens) if isinstance(tokens, list) else None
    if family == "llama-cpp-python":  # the route always adds a BOS (when the model has one): the caller
        answer = ask_json(f"{root}/extras/tokenize/count", key, timeout, {"model": model, "input": text})
        return _positive(answer.get("count"), zero=True) if isinstance(answer, dict) else None
    return None


def count_request(
    base_url: str,
    model: str,
    messages: list[Message],
    family: str,
    key: str | None = None,
    timeout: float = PROBE_TIMEOUT,
) -> int | None:
    """The prompt tokens the server makes of a whole request (its template and generation prompt)."""
    root = server_root(base_url)
    if family == "vLLM":
        body = {"model": model, "messages": messages, "add_generation_prompt": True}
        answer = ask_json(f"{root}/tokenize", key, timeout, body)
        return _positive(answer.get("count")) if isinstance(answer, dict) else None
    if family == "llama-server":
        rendered = ask_json(f"{root}/apply-template", key, timeout, {"messages": messages})
        prompt = rendered.get("prompt") if isinstance(rendered, dict) else None
        if not isinstance(prompt, str):
            return None
        body = {"content": prompt, "add_special": True, "parse_special": True}
        answer = ask_json(f"{root}/tokenize", key, timeout, body)
        tokens = answer.get("tokens") if isinstance(answer, dict) else None
        return len(tokens) if isinstance(tokens, list) and tokens else None
    if family == "llama-cpp-python":
        body = {"model": model, "messages": messages, "max_tokens": 1, "temperature": 0.0, "stream": False}
        answer = ask_json(f"{base_url.rstrip('/')}/chat/completions", key, max(timeout, COMPLETION_TIMEOUT),
                           body)  # fmt: skip
        usage = answer.get("usage") if isinstance(answer, dict) else None
        return _positive(usage.get("prompt_tokens")) if isinstance(usage, dict) else None
    return None


@dataclass(frozen=True)
class TemplateCost:
    """What a model's chat template adds to its messages' own tokens (see the module's rule)."""

    fixed: int  # every request: BOS, the system wrapper, the generation prompt
    user: int  # each user turn's wrapper
    assistant: int  # each assistant turn's wrapper
    keeps_system: bool  # False: the template drops the system message (llama-cpp-python's "gemma")

    def total(self, system_tokens: int, turns: list[tuple[str, int]]) -> int:
        """The request's prompt tokens from its messages' own counts (``turns``: role and text tokens)."""
        wrappers = {"user": self.user, "assistant": self.assistant}
        kept = system_tokens if self.keeps_system else 0
        return self.fixed + kept + sum(wrappers.get(role, self.user) + tokens for role, tokens in turns)


# Fixed calibration texts: nothing of a customer's leaves the machine for them.
_SYSTEM_SHORT = "You help customers."
_SYSTEM_LONG = (
    _SYSTEM_SHORT + " Answer briefly, kindly and precisely, in the customer's own language, please."
)
_USER = "Hello, my parcel has not arrived."
_ASSISTANT = "Sorry to hear that: let me check."


def measure_template(
    base_url: str, model: str, family: str, key: str | None = None, timeout: float = PROBE_TIMEOUT
) -> TemplateCost | None:
    """Learn the template's costs from requests the server counts whole (differences of counts), and check
    them on one more.

    [system, user] against [system, user, assistant, user] gives a user-and-assistant pair, against
    [system, user, user] one user turn (None from a template that refuses two user turns in a row: then the
    pair is split, which is exact for alternating turns), and a longer system text tells whether the system
    message counts at all. None when the server does not count, or its numbers do not fit the rule.
    """
    texts = {t: count_text(base_url, model, t, family, key, timeout) for t in
             (_SYSTEM_SHORT, _SYSTEM_LONG, _USER, _ASSISTANT)}  # fmt: skip
    if family == "llama-cpp-python":  # its count includes the BOS it always adds: take it off every text
        bos = count_text(base_url, model, "", family, key, timeout)
        texts = {t: None if n is None or bos is None else n - bos for t, n in texts.items()}
    if any(n is None for n in texts.values()):
        return None
    c = {t: int(n or 0) for t, n in texts.items()}

    def request(system: str, *turns: tuple[str, str]) -> int | None:
        messages = [{"role": "system", "content": system}] + [{"role": r, "content": t} for r, t in turns]
        return count_request(base_url, model, messages, family, key, timeout)

    user, assistant = ("user", _USER), ("assistant", _ASSISTANT)
    if c[_SYSTEM_LONG] <= c[_SYSTEM_SHORT] or (base := request(_SYSTEM_SHORT, user)) is None:
        return None  # each question stops at the first failure: a slow server is not asked four times
    if (paired := request(_SYSTEM_SHORT, user, assistant, user)) is None:
        return None
    if (longer := request(_SYSTEM_LONG, user)) is None:
        return None
    pair = paired - base - c[_USER] - c[_ASSISTANT]
    twice = request(_SYSTEM_SHORT, user, user)
    user_cost = twice - base - c[_USER] if twice is not None else pair // 2
    keeps = (longer - base) * 2 >= c[_SYSTEM_LONG] - c[_SYSTEM_SHORT]
    fixed = base - (c[_SYSTEM_SHORT] if keeps else 0) - user_cost - c[_USER]
    cost = TemplateCost(fixed, user_cost, pair - user_cost, keeps)
    if min(cost.fixed, cost.user, cost.assistant) < 0:
        return None
    # One more request, predicted before it is counted: a template whose cost is not a turn's role's
    # (e.g. one that repeats the system text) is found out here, not in a request that overflows.
    turns = (user, assistant, user, assistant, user) if twice is None else (user, user, assistant, user)
    checked = request(_SYSTEM_LONG, *turns)
    expected = cost.total(c[_SYSTEM_LONG], [(role, c[text]) for role, text in turns])
    return cost if checked == expected else None
