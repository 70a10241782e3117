"""What the serving server says about a model, learned once and remembered: the wiring between the probe
(llm/server_probe.py), the store (server_models) and model facts (core/model_facts.resolve_model).

Why here: the llm layer may not know the store and the store may not know HTTP; workflows may use both.
Only OpenAI-compatible servers are asked (OpenAI's and Azure's windows are published). The probe is a
network call: it runs on whatever thread prepares the draft (the session's store thread in the console, never
the event loop), at most once per server and model per process, with a short timeout; what it learned is
stored, so the next start asks nothing.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from support_console.core.tokens import count_text
from support_console.llm.server_probe import PROBE_TIMEOUT, ServerFacts, probe_server
from support_console.llm.server_tokens import counting_family
from support_console.workflows.server_counts import ServerCounts

if TYPE_CHECKING:
    from support_console.config.settings import ProviderSettings
    from support_console.core.model_facts import ModelInfo
    from support_console.core.tokens import ChatMessage
    from support_console.store import Store

__all__ = ["Learned", "ServerKnowledge", "persona_dropped_warning", "persona_lost_warning"]

SOURCE_OVERFLOW = "overflow"


@dataclass(frozen=True)
class Learned:
    """What is known about a model at this server: its window (None: nobody said) and the names offered."""

    context_window: int | None
    source: str  # "server" (an endpoint said it) or "overflow" (an overflow error named it); "" if unknown
    detail: str  # which endpoint, for `support-console config`
    offered: tuple[str, ...]
    count_ratio: float | None = None  # the server's prompt_tokens over our count of the same request


_NOTHING = Learned(None, "", "", ())

#: The trimming margin without anything learned (core/trimming's default), and the limits of a believable
#: count ratio: below 0.5 the prompt lost a part (a dropped system message), above 2 something else is wrong.
BASE_MARGIN = 64
_RATIO_RANGE = (0.5, 2.0)
_RATIO_STEP = 0.005  # a larger ratio than this more is written to the store

Probe = Callable[[str, str, "str | None", float], ServerFacts]


class ServerKnowledge:
    """Per process: what each compatible server said about each model (thread-safe), backed by the store."""

    def __init__(self, provider: ProviderSettings, probe: Probe = probe_server) -> None:
        self._provider = provider
        self._probe = probe
        self._lock = threading.Lock()
        self._known: dict[str, Learned] = {}
        self._warned: set[str] = set()  # models already warned that the persona did not reach them
        self._counts: ServerCounts | None = None  # the server's own counts, per message (made on first use)

    @property
    def base_url(self) -> str | None:
        """The compatible server this process talks to, or None (OpenAI, Azure: nothing to ask)."""
        provider = self._provider
        return provider.base_url if provider.kind == "compatible" and provider.base_url else None

    def learned(self, store: Store, model: str) -> Learned:
        """What is known about ``model``: from memory, else the store, else by asking the server (once)."""
        base_url = self.base_url
        if base_url is None:
            return _NOTHING
        with self._lock:
            if model in self._known:
                return self._known[model]
        stored = store.server_model(base_url, model)
        ratio = stored.count_ratio if stored is not None else None
        if stored is not None and stored.context_window and stored.source != SOURCE_OVERFLOW:
            found = Learned(stored.context_window, "server", stored.source, stored.offered, ratio)
        elif stored is not None and stored.context_window:
            # An overflow named the window the server enforces: it stays, but which endpoints the server
            # has (its own token counting) is asked again, once per process, without overwriting it.
            facts = self._probe(base_url, model, self._provider.api_key, PROBE_TIMEOUT)
            detail = facts.source or SOURCE_OVERFLOW
            found = Learned(
                stored.context_window, SOURCE_OVERFLOW, detail, facts.offered or stored.offered, ratio
            )
        else:
            facts = self._probe(base_url, model, self._provider.api_key, PROBE_TIMEOUT)
            found = Learned(facts.context_window, "server" if facts.context_window else "", facts.source,
                            facts.offered, ratio)  # fmt: skip
            if facts.context_window or facts.offered:
                store.remember_server_model(
                    base_url, model, context_window=facts.context_window, source=facts.source,
                    offered=facts.offered,
                )  # fmt: skip
        with self._lock:
            self._known[model] = found
        return found

    def remember_overflow(self, store: Store, model: str, context_window: int) -> None:
        """An overflow error named the window: keep it, so the next request is trimmed to fit."""
        base_url = self.base_url
        if base_url is None:
            return
        store.remember_server_model(base_url, model, context_window=context_window, source=SOURCE_OVERFLOW)
        with self._lock:
            before = self._known.get(model, _NOTHING)
            self._known[model] = replace(  # the endpoint that said the window before still counts tokens
                before,
                context_window=context_window,
                source=SOURCE_OVERFLOW,
                detail=before.detail or SOURCE_OVERFLOW,
            )

    def server_count(self, model: str, messages: Sequence[ChatMessage]) -> int | None:
        """The server's own count of ``messages`` (vLLM, llama-server, llama-cpp-python), or None.

        Counted per message (workflows/server_counts.py): a new message costs one round trip, the same
        conversation again none; the first count for a model also measures its chat template (once).
        Blocking: call it off the event loop.
        """
        counts, family = self._counting(model)
        return None if counts is None or family is None else counts.count(model, family, messages)

    def keeps_system(self, model: str) -> bool | None:
        """Whether the server's chat template for ``model`` keeps the system message, as its own counts
        showed (None: not measured, or this server does not count)."""
        counts, family = self._counting(model)
        cost = counts.template(model, family) if counts is not None and family is not None else None
        return None if cost is None else cost.keeps_system

    def _counting(self, model: str) -> tuple[ServerCounts | None, str | None]:
        with self._lock:
            family = counting_family(self._known.get(model, _NOTHING).detail)
            if family is None or self.base_url is None:
                return None, None
            if self._counts is None:
                self._counts = ServerCounts(self.base_url, self._provider.api_key, PROBE_TIMEOUT)
            return self._counts, family

    def margin(self, model: str, context_window: int, reply_tokens: int) -> int:
        """The trimming margin for ``model``: the default, or what the server's own counts showed it needs.

        Our count (tiktoken) of a request the server counted ``ratio`` times as large fits the room left
        beside the reply only when it is at most room / ratio: the margin is the difference.
        """
        with self._lock:
            ratio = self._known.get(model, _NOTHING).count_ratio
        if not ratio or ratio <= 1.0:
            return BASE_MARGIN
        room = max(0, context_window - reply_tokens)
        return max(BASE_MARGIN, math.ceil(room - room / ratio) + 16)

    def note_counts(self, store: Store, model: str, ours: int, theirs: int) -> None:
        """After a reply: the server counted ``theirs`` prompt tokens where we counted ``ours``. The largest
        believable ratio is kept (a few per cent, from a tokenizer tiktoken does not know)."""
        base_url = self.base_url
        if base_url is None or ours <= 0 or theirs <= 0:
            return
        ratio = theirs / ours
        if not _RATIO_RANGE[0] <= ratio <= _RATIO_RANGE[1]:
            return
        with self._lock:
            before = self._known.get(model, _NOTHING)
            if before.count_ratio is not None and ratio <= before.count_ratio + _RATIO_STEP:
                return
            self._known[model] = replace(before, count_ratio=ratio)
        store.remember_count_ratio(base_url, model, ratio)

    def first_warning(self, model: str) -> bool:
        """True the first time this process warns about ``model`` (warn once per model)."""
        with self._lock:
            if model in self._warned:
                return False
            self._warned.add(model)
            return True


def window_caveat(model: ModelInfo, detail: str) -> str | None:
    """A window the server reported that may not be the one it runs: Ollama's ``context_length`` is the
    model's own limit, while the server runs its ``num_ctx`` (a smaller default) and cuts longer prompts
    without a word."""
    if "Ollama" not in detail or "num_ctx" in detail:
        return None
    return (
        f"Ollama reports only the model's own limit for '{model.name}' ({model.context_window:,} tokens); "
        "the server runs its num_ctx (OLLAMA_CONTEXT_LENGTH, a Modelfile PARAMETER num_ctx, or its default, "
        "often 4,096) and silently cuts a longer prompt. Set that number with context_window under "
        f'[models."{model.name}"] in the config file.'
    )


def name_warning(model: str, offered: tuple[str, ...]) -> str | None:
    """When the server lists models and ``model`` is not one of them: say which names it offers."""
    if not offered or model in offered or f"{model}:latest" in offered:  # Ollama lists tags
        return None
    shown = ", ".join(offered[:8]) + (f" and {len(offered) - 8} more" if len(offered) > 8 else "")
    return (
        f"the server does not list a model named '{model}'; it offers: {shown}. Set the name with --model "
        "(or model in the config file or the persona)."
    )


#: The share of the system message's tokens below which the server's whole prompt count means the system
#: message was dropped (tokenizers differ by a few per cent, a chat template adds tokens, never removes).
_LOST_SHARE = 0.5
_MIN_SYSTEM_TOKENS = 32  # below this a tokenizer difference could explain it


def persona_lost_warning(system: str, model: ModelInfo, server_prompt_tokens: int) -> str | None:
    """When the server's prompt count is far below what the persona's system message alone needs."""
    needed = count_text(system, model.encoding)
    if needed < _MIN_SYSTEM_TOKENS or server_prompt_tokens >= _LOST_SHARE * needed:
        return None
    return (
        f"the persona's instructions are probably not reaching '{model.name}': the server counted "
        f"{server_prompt_tokens:,} prompt tokens for the whole request, while the system message alone is "
        f"about {needed:,}: its chat template most likely has no system role. {_LOST_CAUSE}"
    )


def persona_dropped_warning(system: str, model: ModelInfo) -> str | None:
    """When the server's own counts of requests show that its template leaves the system message out (its
    stream carries no usage to compare): a longer system message made the request no longer."""
    if not system.strip():
        return None
    return (
        f"the persona's instructions are not reaching '{model.name}': the server's own token counts show "
        f"that its chat template drops the system message. {_LOST_CAUSE}"
    )


_LOST_CAUSE = (
    "Start the server with a chat format that has a system role: --chat_format chatml on llama-cpp-python "
    "(its 'gemma' has none), --jinja on llama-server."
)
