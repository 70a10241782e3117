"""The server's own count of a request, kept per message: each text is counted once by the server, the chat
template's cost once per model (llm/server_tokens.py has the rule that makes the sum exact).

Why per message: drafting again after a new message (the usual case: the customer wrote back) then costs one
round trip for that message, not a re-count of the whole history, and a conversation opened again costs
none. A template that does not fit the rule (its costs came out negative) is counted whole, once per request
content, as before (except on llama-cpp-python, whose whole count is a completion reading the whole
prompt: there the count stays tiktoken's estimate). Thread-safe: prepares run on the store threads of
several drafts.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

from support_console.llm.server_tokens import TemplateCost, count_request, count_text, measure_template

if TYPE_CHECKING:
    from support_console.core.tokens import ChatMessage

__all__ = ["ServerCounts"]

_TEXTS_KEPT = 8192  # message texts whose count is remembered (a few hundred conversations' worth)
_REQUESTS_KEPT = 256  # whole-request counts, for a template the rule does not fit
_PARALLEL = 4  # new texts counted at once (local servers answer several small requests side by side)

_UNMEASURED = object()


class _Bounded(OrderedDict[str, "int | None"]):
    """A dict that forgets its oldest entries past ``limit``."""

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit

    def keep(self, key: str, value: int | None) -> None:
        self[key] = value
        self.move_to_end(key)
        while len(self) > self.limit:
            self.popitem(last=False)


class ServerCounts:
    """Counts of one server (``base_url``), by model."""

    def __init__(self, base_url: str, key: str | None, timeout: float) -> None:
        self._base_url, self._key, self._timeout = base_url, key, timeout
        self._lock = threading.Lock()
        self._templates: dict[str, object] = {}  # model -> TemplateCost, or None (counted whole)
        self._bos: dict[str, int | None] = {}  # model -> llama-cpp-python's BOS, added to every count
        self._texts = _Bounded(_TEXTS_KEPT)  # (model, text) -> the text's own tokens
        self._requests = _Bounded(_REQUESTS_KEPT)  # (model, messages) -> whole-request tokens

    def template(self, model: str, family: str) -> TemplateCost | None:
        """The template's costs for ``model``, measured on first use (None: the rule does not fit)."""
        with self._lock:
            known = self._templates.get(model, _UNMEASURED)
        if known is _UNMEASURED:
            known = measure_template(self._base_url, model, family, self._key, self._timeout)
            with self._lock:
                self._templates[model] = known
        return known if isinstance(known, TemplateCost) else None

    def count(self, model: str, family: str, messages: Sequence[ChatMessage]) -> int | None:
        """The server's count of the request ``messages`` (the system message first), or None."""
        plain = [{"role": str(m["role"]), "content": str(m.get("content") or "")} for m in messages]
        cost = self.template(model, family)
        if cost is None and family == "llama-cpp-python":
            return None  # its whole count is a completion that reads the whole prompt: far too dear
        if cost is None:
            return self._whole(model, family, plain)
        system = plain[0]["content"] if plain and plain[0]["role"] == "system" else None
        turns = plain[1:] if system is not None else plain
        texts = [turn["content"] for turn in turns]
        if system is not None and cost.keeps_system:
            texts.append(system)
        known = self._texts_counted(model, family, texts)
        if known is None:
            return None
        system_tokens = known[system] if system is not None and cost.keeps_system else 0
        return cost.total(system_tokens, [(turn["role"], known[turn["content"]]) for turn in turns])

    def _texts_counted(self, model: str, family: str, texts: list[str]) -> dict[str, int] | None:
        """Each text's count: the cached ones at once, the new ones asked of the server (a few at a time,
        so that a long conversation's first count overlaps its round trips); None when one fails."""
        found: dict[str, int] = {}
        with self._lock:
            for text in texts:
                key = json.dumps([model, text])
                if (tokens := self._texts.get(key)) is not None:
                    self._texts.move_to_end(key)  # kept longest: the texts every draft uses
                    found[text] = tokens
        missing = list(dict.fromkeys(t for t in texts if t not in found))
        if not missing:
            return found
        # The first alone: a server that stopped answering costs one timeout, and llama-cpp-python's BOS is
        # asked once; the rest side by side.
        answers = [self._text(model, family, missing[0])]
        if answers[0] is not None and len(missing) > 1:
            with ThreadPoolExecutor(_PARALLEL, thread_name_prefix="server-counts") as pool:
                answers += pool.map(lambda text: self._text(model, family, text), missing[1:])
        for text, answer in zip(missing, answers, strict=False):
            if answer is None:  # a failure is asked again next time
                return None
            found[text] = answer
        return found if len(found) == len(set(texts)) else None

    def _text(self, model: str, family: str, text: str) -> int | None:
        key = json.dumps([model, text])
        with self._lock:
            if key in self._texts:
                self._texts.move_to_end(key)
                return self._texts[key]
        found = count_text(self._base_url, model, text, family, self._key, self._timeout)
        if found is not None and family == "llama-cpp-python":
            bos = self._llama_cpp_python_bos(model)
            found = None if bos is None else max(0, found - bos)
        if found is not None:  # a failure is asked again next time
            with self._lock:
                self._texts.keep(key, found)
        return found

    def _llama_cpp_python_bos(self, model: str) -> int | None:
        with self._lock:
            if model in self._bos:
                return self._bos[model]
        bos = count_text(self._base_url, model, "", "llama-cpp-python", self._key, self._timeout)
        with self._lock:
            self._bos[model] = bos
        return bos

    def _whole(self, model: str, family: str, messages: list[dict[str, str]]) -> int | None:
        key = json.dumps([model, messages])
        with self._lock:
            if key in self._requests:
                return self._requests[key]
        found = count_request(self._base_url, model, messages, family, self._key, self._timeout)
        with self._lock:
            self._requests.keep(key, found)
        return found
