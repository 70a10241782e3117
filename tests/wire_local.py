"""A local model behind the loopback server: a tokenizer and chat templates that compute real answers.

Why: a fixed ``{"count": 321}`` cannot show that counting per message adds up to what the server counts for
the whole request. This model tokenizes as the servers' tokenizers do at the places that matter: a special
token is one token, a message's text never merges with a newline or a special token beside it, and the
count of a text depends on the text (words of more than three letters take several tokens, so it counts
more than tiktoken). Templates follow llama-cpp-python's chat formats (llama_chat_format.format_chatml,
format_gemma: the latter drops the system message) and a Jinja chatml as vLLM and llama-server apply it.
Each family's routes answer in its own shapes (llama-cpp-python ``/extras/tokenize/count`` ``{"count"}``,
BOS included; vLLM ``/tokenize`` ``{"count", "max_model_len", "tokens"}``; llama-server ``/apply-template``
``{"prompt"}`` and ``/tokenize`` ``{"tokens"}``), and a non-streamed chat completion reports its
``usage.prompt_tokens`` (streams are left to the queue: llama-cpp-python's carry no usage).
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from typing import Any, Literal

from tests.wire_replies import (
    Reply,
    _json_reply,
    completion_json,
    llama_cpp_python_models,
    llama_props,
    vllm_models,
)
from tests.wire_server import RecordedRequest, WireServer

Family = Literal["llama-cpp-python", "vllm", "llama-server"]
Template = Literal["chatml", "gemma", "repeating"]

_SPECIALS = ("<bos>", "<|im_start|>", "<|im_end|>", "<start_of_turn>", "<end_of_turn>")
_SPLIT = re.compile("(" + "|".join(re.escape(s) for s in _SPECIALS) + ")")
_PIECES = re.compile(r"\n| ?[^\W\d_]{1,3}| ?\d{1,3}| ?[^\w\s]|[^\S\n]+|_")


def tokenize(text: str, *, bos: bool, special: bool = True) -> list[int]:
    """Token ids of ``text`` (ids are piece lengths: only their number matters)."""
    ids = [1] if bos else []
    for part in _SPLIT.split(text) if special else [text]:
        if part in _SPECIALS and special:
            ids.append(2)
        elif part:
            ids.extend(len(piece) + 10 for piece in _PIECES.findall(part))
    return ids


def render(messages: list[dict[str, Any]], template: Template) -> str:
    """The prompt a template makes of ``messages``, generation prompt included."""
    system = next((str(m["content"] or "") for m in messages if m["role"] == "system"), "")
    turns = [
        (str(m["role"]), str(m["content"] or "")) for m in messages if m["role"] in ("user", "assistant")
    ]
    if template == "gemma":  # llama-cpp-python's format_gemma: the system message is dropped
        names = {"user": "<start_of_turn>user\n", "assistant": "<start_of_turn>model\n"}
        prompt = "".join(names[role] + text + "<end_of_turn>\n" for role, text in turns if text)
        return prompt + names["assistant"]
    if template == "repeating":  # none real: the system text again in each assistant turn (no rule fits)
        wrapped = (f"<|im_start|>{role}\n{system + chr(10) if role == 'assistant' else ''}{text}<|im_end|>\n"
                   for role, text in turns if text)  # fmt: skip
        return "".join(wrapped) + "<|im_start|>assistant\n"
    prompt = f"<|im_start|>system\n{system}<|im_end|>\n"  # format_chatml (and the usual Jinja chatml)
    prompt += "".join(f"<|im_start|>{role}\n{text}<|im_end|>\n" for role, text in turns if text)
    return prompt + "<|im_start|>assistant\n"


@dataclass
class LocalModel:
    """One model served by one family; :meth:`install` puts its routes on a WireServer."""

    family: Family
    template: Template = "chatml"
    name: str = "local"
    window: int = 4096
    strict: bool = False  # like many Jinja templates: "Conversation roles must alternate", else a 400

    def prompt_tokens(self, messages: list[dict[str, Any]]) -> int:
        """What the server counts for a whole request (what its usage.prompt_tokens says)."""
        # llama-cpp-python and llama-server add the vocabulary's BOS to the rendered prompt; vLLM's chatml
        # template writes none (add_special_tokens is False for chat requests)
        bos = self.family != "vllm"
        return len(tokenize(render(messages, self.template), bos=bos))

    def install(self, wire: WireServer) -> None:
        if self.family == "llama-cpp-python":
            wire.route("GET", "/v1/models", llama_cpp_python_models(self.name))
            wire.route("POST", "/extras/tokenize/count", self._count)
        elif self.family == "vllm":
            wire.route("GET", "/v1/models", vllm_models(self.name, max_model_len=self.window))
            wire.route("POST", "/tokenize", self._vllm_tokenize)
        else:
            wire.route("GET", "/props", llama_props(self.window))
            wire.route("POST", "/apply-template", self._apply_template)
            wire.route("POST", "/tokenize", self._llama_tokenize)
        wire.route("POST", "/v1/chat/completions", self._completion)

    def _count(self, request: RecordedRequest) -> Reply:
        """llama-cpp-python: ``tokenize(input, special=True)`` with its default add_bos."""
        return _json_reply({"count": len(tokenize(str(request.json["input"]), bos=True))})

    def _refused(self, messages: list[dict[str, Any]]) -> Reply | None:
        """A strict template's error for two turns of one role in a row (the server's 400)."""
        roles = [m["role"] for m in messages if m["role"] != "system"]
        if self.strict and any(a == b for a, b in itertools.pairwise(roles)):
            message = "Conversation roles must alternate user/assistant/user/assistant/..."
            return _json_reply(
                {"error": {"code": 400, "message": message, "type": "invalid_request_error"}}, 400
            )
        return None

    def _vllm_tokenize(self, request: RecordedRequest) -> Reply:
        body = request.json
        if "messages" in body and (refused := self._refused(body["messages"])):
            return refused
        if "messages" in body:  # TokenizeChatRequest: add_special_tokens defaults to False
            ids = tokenize(render(body["messages"], self.template), bos=False)
        else:
            ids = tokenize(str(body["prompt"]), bos=bool(body.get("add_special_tokens", True)))
        return _json_reply({"count": len(ids), "max_model_len": self.window, "tokens": ids})

    def _apply_template(self, request: RecordedRequest) -> Reply:
        if refused := self._refused(request.json["messages"]):
            return refused
        return _json_reply({"prompt": render(request.json["messages"], self.template)})

    def _llama_tokenize(self, request: RecordedRequest) -> Reply:
        body = request.json
        ids = tokenize(str(body["content"]), bos=bool(body.get("add_special", False)),
                       special=bool(body.get("parse_special", True)))  # fmt: skip
        return _json_reply({"tokens": ids})

    def _completion(self, request: RecordedRequest) -> Reply | None:
        """A non-streamed completion with its usage; a streamed one is the queue's (None)."""
        body = request.json
        if not isinstance(body, dict) or body.get("stream"):
            return None
        if refused := self._refused(body["messages"]):
            return refused
        return completion_json("Hi", model=self.name, usage=(self.prompt_tokens(body["messages"]), 1))
