"""The one home of model facts: family, encoding, context window, output limit, reasoning-or-not, chat format.

Everything that trims, counts or builds a request asks :func:`resolve_model` instead of guessing from a name,
so a new model or a corrected limit is a one-line change here. Azure deployment names are arbitrary
("prod-chat"), so three sources decide, strongest first: the model the service says it served (the
response's ``model``, e.g. ``gpt-4o-2024-08-06``), a ``[models."NAME"]`` override in config.toml, and the
requested name itself. Explicit numbers in an override (window, output limit, encoding) always win.

Sources: OpenAI's model pages (context window / max output tokens) and the OpenAI cookbook
"How to count tokens with tiktoken" for the chat format; the gpt-5 reply priming was measured against a
recorded response (tests/wire/oai_sync_gpt5mini.json: 15 prompt tokens for a one-message request).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

__all__ = [
    "FAMILIES",
    "UNKNOWN_FAMILY",
    "ChatFormat",
    "FamilyFacts",
    "ModelInfo",
    "ModelOverride",
    "chat_format",
    "family_of",
    "instructions_role",
    "reply_cut_by_window",
    "resolve_model",
    "window_advice",
]

UNKNOWN_FAMILY = "unknown"


@dataclass(frozen=True)
class ModelOverride:
    """``[models."NAME"]`` in config.toml: model facts for a model or deployment the built-in table lacks
    (read by config, applied here)."""

    family: str | None = None
    encoding: str | None = None
    context_window: int | None = None
    max_output_tokens: int | None = None


@dataclass(frozen=True)
class ModelInfo:
    """What the rest of the program needs to know about the model behind a name."""

    name: str  # as requested (model or deployment name)
    family: str  # "gpt-4o", "gpt-4", "gpt-3.5-turbo", "o1", "gpt-5", … or "unknown"
    encoding: str  # "o200k_base" | "cl100k_base"
    context_window: int
    max_output_tokens: int
    reasoning: bool  # o1/o3/o4-mini/gpt-5: max_completion_tokens, no sampling params
    #: Where ``context_window`` comes from: "published" (the family table), "config" ([models] override),
    #: "server" (the server said so), "overflow" (an overflow error named it) or "assumed" (nothing said
    #: anything: a guess the meter and --dry-run must admit to).
    window_source: str = "published"

    @property
    def window_known(self) -> bool:
        """False when the context window is a guess (an unknown model and nobody said what it is)."""
        return self.window_source != WINDOW_ASSUMED


WINDOW_ASSUMED = "assumed"


@dataclass(frozen=True)
class FamilyFacts:
    """The published limits of one model family."""

    encoding: str
    context_window: int
    max_output_tokens: int
    reasoning: bool


@dataclass(frozen=True)
class ChatFormat:
    """How the service wraps chat messages in tokens; billing counts these on top of the text.

    ``tokens_per_message`` covers ``<|start|>{role}<|message|>…<|end|>`` minus the role itself (the role is
    counted as text); ``reply_priming`` is what primes the reply (``<|start|>assistant<|message|>``).
    """

    tokens_per_message: int = 3
    tokens_per_name: int = 1
    reply_priming: int = 3


_O200K = "o200k_base"
_CL100K = "cl100k_base"

FAMILIES: Mapping[str, FamilyFacts] = MappingProxyType(
    {
        "gpt-5": FamilyFacts(_O200K, 400_000, 128_000, reasoning=True),
        "gpt-5-chat": FamilyFacts(_O200K, 128_000, 16_384, reasoning=False),
        "o1": FamilyFacts(_O200K, 200_000, 100_000, reasoning=True),
        "o1-mini": FamilyFacts(_O200K, 128_000, 65_536, reasoning=True),
        "o1-preview": FamilyFacts(_O200K, 128_000, 32_768, reasoning=True),
        "o3": FamilyFacts(_O200K, 200_000, 100_000, reasoning=True),
        "o3-mini": FamilyFacts(_O200K, 200_000, 100_000, reasoning=True),
        "o4-mini": FamilyFacts(_O200K, 200_000, 100_000, reasoning=True),
        "gpt-4.1": FamilyFacts(_O200K, 1_047_576, 32_768, reasoning=False),
        "gpt-4.5": FamilyFacts(_O200K, 128_000, 16_384, reasoning=False),
        "gpt-4o": FamilyFacts(_O200K, 128_000, 16_384, reasoning=False),
        "gpt-4-turbo": FamilyFacts(_CL100K, 128_000, 4_096, reasoning=False),
        "gpt-4-32k": FamilyFacts(_CL100K, 32_768, 32_768, reasoning=False),
        "gpt-4": FamilyFacts(_CL100K, 8_192, 8_192, reasoning=False),
        "gpt-3.5-turbo": FamilyFacts(_CL100K, 16_385, 4_096, reasoning=False),
        "gpt-3.5-turbo-0301": FamilyFacts(_CL100K, 4_096, 4_096, reasoning=False),
        UNKNOWN_FAMILY: FamilyFacts(_O200K, 8_192, 4_096, reasoning=False),
    }
)

# Name patterns, most specific first. A pattern matches the whole base name, optionally followed by a
# suffix after "-", ":" or "@" (dated snapshots like -2024-08-06, "-latest", fine-tune ids).
_FAMILY_PATTERNS: tuple[tuple[str, str], ...] = (
    (r"gpt-5(?:\.\d+)?-chat", "gpt-5-chat"),
    (r"gpt-5(?:\.\d+)?", "gpt-5"),
    (r"o1-mini", "o1-mini"),
    (r"o1-preview", "o1-preview"),
    (r"o1", "o1"),
    (r"o3-mini", "o3-mini"),
    (r"o3", "o3"),
    (r"o4-mini", "o4-mini"),
    (r"gpt-4\.1", "gpt-4.1"),
    (r"gpt-4\.5", "gpt-4.5"),
    (r"(?:chatgpt-)?gpt-4o|chatgpt-4o", "gpt-4o"),
    (r"gpt-4-turbo|gpt-4-\d{4}-preview|gpt-4-vision-preview", "gpt-4-turbo"),
    (r"gpt-4-32k", "gpt-4-32k"),
    (r"gpt-4", "gpt-4"),
    (r"gpt-3\.5-turbo-0301|gpt-35-turbo-0301", "gpt-3.5-turbo-0301"),
    (r"gpt-3\.5-turbo|gpt-35-turbo", "gpt-3.5-turbo"),
)
_COMPILED = tuple((re.compile(rf"(?:{pattern})(?:[-:@].*)?"), family) for pattern, family in _FAMILY_PATTERNS)

# Snapshots whose limits differ from their family's: (pattern on the whole name, window, max output).
_SNAPSHOT_LIMITS: tuple[tuple[re.Pattern[str], int | None, int | None], ...] = (
    (re.compile(r"gpt-4o-2024-05-13"), None, 4_096),
    (re.compile(r"gpt-3\.5-turbo-0613|gpt-35-turbo-0613"), 4_096, None),
)

_CHAT_FORMATS: Mapping[str, ChatFormat] = MappingProxyType(
    {
        # Cookbook: gpt-3.5-turbo-0301 wrapped <|im_start|>{role/name}\n{content}<|end|>\n;
        # a name replaced the role.
        "gpt-3.5-turbo-0301": ChatFormat(tokens_per_message=4, tokens_per_name=-1, reply_priming=3),
        # Measured: gpt-5-mini bills one token less than gpt-4o for the same one-message request.
        "gpt-5": ChatFormat(tokens_per_message=3, tokens_per_name=1, reply_priming=2),
    }
)
_DEFAULT_FORMAT = ChatFormat()


def _normalise(name: str) -> str:
    """Lower-case and strip what wraps a model name: "ft:" prefixes and "vendor/" routing prefixes."""
    base = name.strip().lower()
    base = base.removeprefix("ft:")
    return base.rsplit("/", 1)[-1]


def family_of(name: str | None) -> str | None:
    """The family a model name (or a family name) belongs to, or None when the name says nothing."""
    if not name:
        return None
    base = _normalise(name)
    if base in FAMILIES and base != UNKNOWN_FAMILY:
        return base
    for pattern, family in _COMPILED:
        if pattern.fullmatch(base):
            return family
    return None


def _snapshot_limits(name: str) -> tuple[int | None, int | None]:
    base = _normalise(name)
    for pattern, window, max_output in _SNAPSHOT_LIMITS:
        if pattern.fullmatch(base):
            return window, max_output
    return None, None


def _override_for(name: str, overrides: Mapping[str, ModelOverride]) -> ModelOverride | None:
    """The override for ``name``: exact key first, then case-insensitively (config keys are typed by hand)."""
    if name in overrides:
        return overrides[name]
    folded = name.casefold()
    for key, value in overrides.items():
        if key.casefold() == folded:
            return value
    return None


def resolve_model(
    name: str,
    overrides: Mapping[str, ModelOverride] = MappingProxyType({}),
    served_model: str | None = None,
    learned_window: int | None = None,
    learned_source: str = "server",
) -> ModelInfo:
    """Resolve a model or deployment name to its facts.

    Family, strongest first: ``served_model`` when it names a known family (it is what really ran), then the
    override's ``family``, then ``name``; otherwise ``"unknown"`` (o200k_base, 8192 tokens, marked
    ``window_source="assumed"``). The window, strongest first: the override's ``context_window``, then
    ``learned_window`` (what the serving server said, or what its overflow error named: a local server
    started under a GPT-like alias does not have OpenAI's window), then the family's. The override's explicit
    ``encoding`` / ``max_output_tokens`` win over the family's.
    """
    override = _override_for(name, overrides)
    deciding = next(
        (
            candidate
            for candidate in (served_model, override.family if override else None, name)
            if family_of(candidate) is not None
        ),
        None,
    )
    family = family_of(deciding) or UNKNOWN_FAMILY
    facts = FAMILIES[family]
    window, max_output = _snapshot_limits(deciding) if deciding else (None, None)
    context_window = window or facts.context_window
    source = WINDOW_ASSUMED if family == UNKNOWN_FAMILY else "published"
    if learned_window:
        context_window, source = learned_window, learned_source
    max_output_tokens = max_output or facts.max_output_tokens
    encoding = facts.encoding
    if override is not None:
        encoding = override.encoding or encoding
        if override.context_window:
            context_window, source = override.context_window, "config"
        max_output_tokens = override.max_output_tokens or max_output_tokens
    return ModelInfo(
        name=name,
        family=family,
        encoding=encoding,
        context_window=context_window,
        max_output_tokens=min(max_output_tokens, context_window),
        reasoning=facts.reasoning,
        window_source=source,
    )


def window_advice(model: ModelInfo) -> str:
    """For a window nobody stated: what is assumed and how to set the real one (meter, --dry-run, errors)."""
    return (
        f"the context window of '{model.name}' is unknown (the server did not say): {model.context_window:,} "
        f'tokens are assumed. Set the real one with context_window under [models."{model.name}"] in the '
        "config file"
    )


#: Tokens of slack when judging whether a reply filled the window (servers count the reply priming apart).
_WINDOW_SLACK = 16


def reply_cut_by_window(
    prompt_tokens: int, completion_tokens: int, max_tokens: int, context_window: int
) -> bool:
    """A reply that stopped with finish reason "length": was it the window, not the persona's max_tokens?

    A window cut shows as a reply shorter than max_tokens (servers quietly lower max_tokens to the room the
    prompt leaves), or as prompt + reply reaching the window.
    """
    if completion_tokens + _WINDOW_SLACK < max_tokens:
        return True
    return prompt_tokens + completion_tokens >= context_window - _WINDOW_SLACK


#: Families that refuse a "system" message (HTTP 400 "does not support 'system' with this model"): their
#: instructions go first as a "user" message. Later reasoning models take "system" (as a developer message).
_NO_SYSTEM_ROLE = frozenset({"o1-mini", "o1-preview"})


def instructions_role(model: ModelInfo) -> str:
    """The role the persona's instructions are sent with: "system", or "user" where the family has none.

    Every role name is one token in both encodings, so token counts do not depend on it.
    """
    return "user" if model.family in _NO_SYSTEM_ROLE else "system"


def chat_format(model: ModelInfo) -> ChatFormat:
    """The per-message token overheads the service bills for ``model``'s family."""
    return _CHAT_FORMATS.get(model.family, _DEFAULT_FORMAT)
