"""Rewriting a draft (or the selected part of it) with a rewrite tool: the request, and the checked result.

Shared by the CLI's ``rewrite`` and, later, the console's preview, so what reaches the model and what must
survive a rewrite are the same everywhere. Nothing here sends anything on its own (:func:`prepare_rewrite`
only builds the request) and nothing is stored: recording rewrites belongs to the audit trail's generation
records, which do not exist yet.

The system message is the tool's instruction followed by :func:`preservation_rules`, so no tool file can
leave the rules out. The user message is the text to rewrite, as it is.

**Quoted customer text and the signature are not sent at all.** A block of ``>`` lines at the start or the
end of the text, and a signature (from a line ``--`` or ``-- `` to the end), are cut off before the request
and put back, byte for byte, around the model's text (:meth:`PreparedRewrite.assemble`). Why: a rule asking
the model to keep them is followed most of the time; text the model never sees is kept every time. It also
spends no tokens on them, and a "friendlier" rewrite cannot soften the customer's own words or add a second
sign-off. Quoted lines *between* paragraphs of the reply are sent (cutting them would lose where the answers
go) and covered by the rules; the preservation check reports any of them that did not come back verbatim.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace

from support_console.config.settings import Settings
from support_console.core.errors import SupportConsoleError
from support_console.core.model_facts import ModelInfo, resolve_model
from support_console.core.personas import Persona
from support_console.core.preservation import Finding, check_rewrite
from support_console.core.rewrite_tools import RewriteTool
from support_console.core.tokens import ChatMessage, count_chat, count_text
from support_console.core.trimming import ContextBudgetError
from support_console.llm import ChatRequest, StreamResult, make_request
from support_console.workflows.drafting import model_name_for

__all__ = [
    "NothingToRewrite",
    "PreparedRewrite",
    "Protected",
    "RewriteOutcome",
    "finish_rewrite",
    "prepare_rewrite",
    "preservation_rules",
    "rewrite_model",
    "split_protected",
]

_SIGNATURE = re.compile(r"^-- ?$")
_REPLY_SLACK = 100  # tokens beyond twice the text's own length that a rewrite may use (see _reply_tokens)


class NothingToRewrite(SupportConsoleError):
    """The text is empty, or only quoted lines and a signature (which are never rewritten)."""


@dataclass(frozen=True)
class Protected:
    """A text cut into what the model rewrites (``body``) and what is put back unchanged around it.

    ``head + body + tail == text`` for the original; ``head`` holds a leading block of quoted lines and the
    blank lines after it, ``tail`` the blank lines before a trailing quoted block or signature, and them."""

    head: str
    body: str
    tail: str


def split_protected(text: str) -> Protected:
    """Cut off a leading and a trailing block of ``>`` lines and a signature (see the module docstring)."""
    lines = text.split("\n")
    end = next(
        (i for i in range(len(lines) - 1, -1, -1) if _SIGNATURE.match(lines[i].rstrip("\r"))), len(lines)
    )
    start = 0
    for i in range(end):  # a leading block of quoted (and blank) lines
        if _is_quote(lines[i]):
            start = i + 1
        elif lines[i].strip():
            break
    stop = end
    for i in range(end - 1, start - 1, -1):  # a trailing one, before the signature
        if _is_quote(lines[i]):
            stop = i
        elif lines[i].strip():
            break
    middle = "\n".join(lines[start:stop])
    body = middle.strip()
    lead = middle[: len(middle) - len(middle.lstrip())]
    trail = middle[len(middle.rstrip()) :]
    head = "\n".join(lines[:start]) + ("\n" if start else "")
    tail = ("\n" if stop < len(lines) else "") + "\n".join(lines[stop:])
    return Protected(head + lead, body, trail + tail)


def _is_quote(line: str) -> bool:
    return line.lstrip().startswith(">")


@dataclass(frozen=True)
class PreparedRewrite:
    """A rewrite request ready to send, with what is needed to put the result together and check it."""

    tool: RewriteTool
    model: ModelInfo
    request: ChatRequest
    original: str
    parts: Protected
    prompt_tokens: int  # exact, as the service will count them

    def assemble(self, rewritten: str) -> str:
        """The model's text with the protected parts put back exactly where they were."""
        return self.parts.head + rewritten.strip() + self.parts.tail


@dataclass(frozen=True)
class RewriteOutcome:
    """The assembled rewrite, the preservation check's findings, and how the model ended."""

    text: str
    findings: tuple[Finding, ...]
    result: StreamResult

    @property
    def refused(self) -> bool:
        return self.result.refused

    @property
    def cut_off(self) -> bool:
        """The model stopped at the reply limit: the rewrite is incomplete."""
        return self.result.finish_reason == "length"


def preservation_rules(tool: RewriteTool, parts: Protected) -> str:
    """What every rewrite must keep, added after the tool's instruction (the one home of these rules)."""
    rules = [
        "The user message is the text to rewrite: a support agent's reply to a customer. Reply with the "
        "rewritten text only: no preamble, no explanation, no quotation marks around it.",
        "Keep every URL, email address, number, price, date, order id and other code exactly as written, "
        "character for character.",
        'Keep every line that starts with ">" (the customer\'s own words, quoted) exactly as it is, where it '
        "is.",
        "Never add links, prices, promises or policies that the text does not contain; if something would "
        "need a fact the text does not give, leave it out.",
    ]
    if not tool.changes_language:
        rules.append("Write in the same language as the text.")
    if parts.tail.strip():
        rules.append("Do not add a sign-off or signature: the agent's own is added after your text.")
    return "Rules for every rewrite:\n" + "\n".join(f"- {rule}" for rule in rules)


def rewrite_model(settings: Settings, persona: Persona) -> ModelInfo:
    """The model a rewrite uses: the persona's model (or the provider's), with ``[models]`` overrides.

    Why the persona: teams point personas at different models or Azure deployments, and a rewrite of a
    persona's draft should go where the draft did. Only its model is used; its system message is not sent,
    since a rewrite changes the wording of a reply, not who writes it."""
    return resolve_model(model_name_for(persona, settings.provider), settings.model_overrides)


def prepare_rewrite(
    tool: RewriteTool, text: str, model: ModelInfo, inputs: Mapping[str, str] | None = None
) -> PreparedRewrite:
    """Build the request that rewrites ``text`` (a whole draft or the selected part) with ``tool``.

    ``inputs`` fill the tool's inputs (refine's ``instruction``); a missing one is a ToolError. Raises
    :class:`NothingToRewrite` for a text with nothing to rewrite, and ContextBudgetError when the text and
    the room for its rewrite do not fit the model's window (nothing is ever cut from a text to rewrite).
    """
    instruction = tool.render_instruction(inputs or {})
    parts = split_protected(text)
    if not parts.body:
        raise NothingToRewrite(
            "There is nothing to rewrite: the text is empty or only quoted lines and a signature, which are "
            "kept as they are."
        )
    system = f"{instruction}\n\n{preservation_rules(tool, parts)}"
    messages: list[ChatMessage] = [
        {"role": "system", "content": system},
        {"role": "user", "content": parts.body},
    ]
    reply = _reply_tokens(tool, model, count_text(parts.body, model.encoding))
    request = make_request(model, messages, replace(tool.params, max_tokens=reply))
    prompt = count_chat(request.messages, model)
    if prompt + reply > model.context_window:
        raise ContextBudgetError(
            f"The text is too long to rewrite with {model.name}: {prompt:,} tokens plus up to {reply:,} for "
            f"the rewrite exceed its {model.context_window:,}-token window. Select a part and rewrite that."
        )
    return PreparedRewrite(tool, model, request, text, parts, prompt)


def _reply_tokens(tool: RewriteTool, model: ModelInfo, text_tokens: int) -> int:
    """Room for the rewrite: the tool's max_tokens, or twice the text plus a little when that is more (an
    "expand" or a translation may be longer than the text), within the model's output limit."""
    return max(1, min(model.max_output_tokens, max(tool.params.max_tokens, 2 * text_tokens + _REPLY_SLACK)))


def finish_rewrite(prepared: PreparedRewrite, result: StreamResult) -> RewriteOutcome:
    """Put the model's text together with the protected parts and check it against the original."""
    text = prepared.assemble(result.text)
    return RewriteOutcome(text, check_rewrite(prepared.original, text), result)
