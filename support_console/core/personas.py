"""Personas: TOML files that give the model its instructions, sampling parameters and trigger phrases.

Files are plain data so a support team can edit them without touching code. Placeholders are only
``{{ name }}`` (exactly ``{{``, an identifier, ``}}``), so prices like ``$59.99`` and JSON braces in a prompt
stay literal; ``{{`` followed by a name but not closed that way (``{{ name``, ``{{ customer.name }}``) is a
problem, not text sent as it is. How folders and files are found and read, and how a broken file becomes a
:class:`PersonaProblem` naming the file and the field while the others still load, is
:mod:`support_console.core.data_files` (shared with the rewrite tools).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

from support_console.core import data_files
from support_console.core.data_files import PLACEHOLDER, Bad, FileProblem, raise_collected, shown, text
from support_console.core.errors import PersonaError

__all__ = [
    "BUILTIN_VARIABLES",
    "LONG_SYSTEM_TOKENS",
    "PLACEHOLDER",
    "ModelParams",
    "Persona",
    "PersonaProblem",
    "PersonaSet",
    "bundled_personas_dir",
    "check_files",
    "fill_placeholders",
    "fingerprint",
    "load_personas",
    "parse_params",
    "parse_variables",
    "size_warning",
]

BUILTIN_VARIABLES = ("name", "email", "external_id")
#: A system message longer than this many tokens gets a warning from `personas check` (see size_warning).
LONG_SYSTEM_TOKENS = 16_000


@dataclass(frozen=True)
class ModelParams:
    """Sampling parameters; the defaults are Power Automate's "Create text with GPT" ones teams know."""

    temperature: float = 0.0
    max_tokens: int = 750
    top_p: float = 1.0
    frequency_penalty: float = 0.0
    presence_penalty: float = 0.0


@dataclass(frozen=True)
class Persona:
    """One validated persona file; ``variables`` are the file's declared placeholders and their defaults."""

    id: str
    name: str
    description: str
    system: str
    params: ModelParams
    model: str | None
    deployment: str | None
    triggers: tuple[str, ...]
    variables: Mapping[str, str]
    source: Path

    def render_system(self, values: Mapping[str, str]) -> str:
        """Fill ``{{ var }}`` from ``values`` (customer name/email/external_id + attributes), else defaults.

        One pass: text that a value brings in is never expanded again, and nothing else is touched.
        """

        return fill_placeholders(self.system, values, self.variables)


def fill_placeholders(
    template: str, values: Mapping[str, str], defaults: Mapping[str, str], *, keep_unfilled: bool = False
) -> str:
    """The placeholder rule of every file with ``{{ name }}`` (personas, canned replies): each is filled
    from ``values``, else its default; one pass, so text a value brings in is never expanded again, and
    nothing else (a price, a single brace) is touched. One with neither a value nor a default becomes ""
    (a persona's system message), or stays as written with ``keep_unfilled`` (a canned reply: a visible
    marker the agent must fill in before sending)."""

    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        filled = values.get(name) or defaults.get(name, "")
        return filled if filled or not keep_unfilled else match.group(0)

    return PLACEHOLDER.sub(fill, template)


@dataclass(frozen=True)
class PersonaProblem(FileProblem):
    """Why one persona file (or one field of it) could not be used; ``field`` is "" for the whole file.

    A ``warning`` does not stop the persona from loading (a system message too long to be sent whole);
    ``str()`` reads like "personas/xbox.toml: field 'temperature': expected a number, got 'hot'"."""


_KIND = data_files.Kind("persona", PersonaProblem)


@dataclass(frozen=True)
class PersonaSet:
    """The personas that loaded, by id, plus the problems of those that did not."""

    personas: Mapping[str, Persona]
    problems: tuple[PersonaProblem, ...] = ()

    def get(self, persona_id: str) -> Persona:
        """The persona with this id; PersonaError lists the known ids so the user can pick one."""
        try:
            return self.personas[persona_id]
        except KeyError:
            known = ", ".join(sorted(self.personas)) or "none"
            raise PersonaError(
                f"There is no persona {persona_id!r}: use one of {known}, or add a file {persona_id}.toml "
                "to a persona folder.",
                field="id",
            ) from None

    def ordered(self) -> list[Persona]:
        """For lists and pickers: by name, then id, so the order is stable however files are named."""
        return sorted(self.personas.values(), key=lambda p: (p.name.casefold(), p.id))

    def suggest(self, text: str) -> Persona | None:
        """The persona whose trigger phrases weigh most in ``text`` (ties: ordered()); None if none matches.

        Each occurrence weighs as many words as its phrase has: the more specific phrase wins, so "my
        controller won't charge" goes to the persona that knows "won't charge" rather than the one that
        knows the bare word "charge".
        """
        best: Persona | None = None
        best_count = 0
        for persona in self.ordered():
            count = sum(len(_trigger_pattern(t).findall(text)) * len(t.split()) for t in persona.triggers)
            if count > best_count:
                best, best_count = persona, count
        return best


@functools.lru_cache(maxsize=1024)
def _trigger_pattern(trigger: str) -> re.Pattern[str]:
    """Whole words only ("pass" does not fire on "password"); any run of spaces matches a space."""
    words = [re.escape(w) for w in trigger.split()]
    return re.compile(r"(?<!\w)" + r"\s+".join(words) + r"(?!\w)", re.IGNORECASE)


def bundled_personas_dir() -> Path:
    """The personas shipped with the console: in the wheel, or at <repo>/personas in a source checkout."""
    package = Path(__file__).resolve().parents[1]
    installed = package / "_bundled_personas"
    return installed if installed.is_dir() else package.parent / "personas"


def load_personas(user_dirs: Sequence[Path] = ()) -> PersonaSet:
    """Bundled personas first, then each user folder in turn; a later file with the same id overrides.

    Missing user folders are skipped (the default one usually does not exist); broken files become problems.
    """
    problems: list[PersonaProblem] = []
    bundled = bundled_personas_dir()
    if not bundled.is_dir():
        problems.append(
            PersonaProblem(bundled, "", "the bundled personas are missing: reinstall support-console")
        )
    personas, found = data_files.load_folders((bundled, *user_dirs), _load_file, _KIND)
    return PersonaSet(MappingProxyType(personas), (*problems, *found))


def check_files(paths: Sequence[Path]) -> list[PersonaProblem]:
    """Validate persona files (or folders of them) without loading anything else; for ``personas check``.

    Besides the problems that stop a file from loading, the result has warnings (``problem.warning``) for
    what loads but will not work as written: a system message too long to be sent whole."""
    loaded, problems = data_files.check_paths(paths, _load_file, _KIND)
    return [*problems, *(w for persona in loaded if (w := size_warning(persona)) is not None)]


def size_warning(persona: Persona) -> PersonaProblem | None:
    """A warning when the system message is so long that drafting would have to cut it.

    Drafting keeps the system message whole only while it fits the model's window beside the conversation,
    and cuts it to about half the window otherwise: a persona that names a known model is measured against
    that model's window, any other against LONG_SYSTEM_TOKENS (an eighth of gpt-4o's 128,000).
    """
    from support_console.core.model_facts import resolve_model
    from support_console.core.tokens import count_text  # tiktoken: loaded only by `check`, not by loading

    name = persona.deployment or persona.model
    model = resolve_model(name) if name else None
    limit = LONG_SYSTEM_TOKENS
    if model is not None:
        limit = min(limit, max(1, (model.context_window - persona.params.max_tokens) // 2))
    if len(persona.system.encode("utf-8")) <= limit:  # a token is at least one byte: nothing to count
        return None
    tokens = count_text(persona.system, model.encoding if model else "o200k_base")
    if tokens <= limit:
        return None
    window = (
        f"{model.name}'s {model.context_window:,}-token context window"
        if model
        else "the model's context window (gpt-4o: 128,000 tokens; smaller models less)"
    )
    return PersonaProblem(
        persona.source,
        "system",
        f"is {tokens:,} tokens long: drafting cuts a system message that does not fit {window} beside the "
        f"conversation, and the model then sees only its start and end; shorten it to under {limit:,} tokens",
        warning=True,
    )


def fingerprint(dirs: Iterable[Path]) -> tuple[tuple[str, int, int], ...]:
    """Paths, mtimes and sizes of every persona entry (bundled included): compare to notice edits cheaply."""
    return data_files.fingerprint((bundled_personas_dir(), *dirs))


_TOP_FIELDS = (
    "id",
    "name",
    "description",
    "system",
    "triggers",
    "model",
    "deployment",
    "parameters",
    "variables",
)


def _load_file(path: Path) -> tuple[Persona | None, list[PersonaProblem]]:
    """Parse and validate one file, collecting every problem in it rather than stopping at the first."""
    data, unreadable = data_files.read_toml(path, _KIND)
    if data is None:
        return None, [unreadable] if unreadable else []
    fields = data_files.FieldReader(path, data, _KIND)
    moved = f"is a model parameter: move it under a [parameters] table ({_PARAMS_HINT})"
    fields.unknown_fields(_TOP_FIELDS, dict.fromkeys(_PARAMETER_NAMES, moved))
    persona_id = fields.file_id("my-persona")
    variables = fields.get("variables", parse_variables, default={})
    system = fields.get("system", text, required=True)
    if isinstance(system, str) and isinstance(variables, dict):
        how = 'add {0} = "default" under [variables] (built-in: ' + ", ".join(BUILTIN_VARIABLES) + ")"
        data_files.check_placeholders(system, (*BUILTIN_VARIABLES, *variables), fields, "system", how)
    persona = Persona(
        id=persona_id or "",
        name=fields.get("name", text, required=True) or "",
        description=fields.get("description", text, default="") or "",
        system=system or "",
        params=fields.get("parameters", parse_params, default=ModelParams()) or ModelParams(),
        model=fields.get("model", text),
        deployment=fields.get("deployment", text),
        triggers=tuple(fields.get("triggers", _triggers, default=[]) or ()),
        variables=MappingProxyType(variables or {}),
        source=path,
    )
    return (None if fields.problems else persona), fields.problems


def _triggers(value: object) -> list[str]:
    if not isinstance(value, list):
        raise Bad("", f'expected a list of phrases, e.g. ["refund", "charged twice"], got {shown(value)}')
    return [text(item) for item in value]


def parse_variables(value: object) -> dict[str, str]:
    """A ``[variables]`` table of ``name = "default"`` lines (personas and canned replies): the declared
    placeholders and their defaults, every bad line reported."""
    if not isinstance(value, dict):
        raise Bad("", 'expected a [variables] table of name = "default" lines')
    out: dict[str, str] = {}
    bad: list[Bad] = []
    for name, default in value.items():
        if not data_files.IDENTIFIER.fullmatch(name):
            bad.append(Bad(name, "is not a variable name: use letters, digits and _, starting with a letter"))
        elif not isinstance(default, str):
            bad.append(Bad(name, f"expected a default in quotes, got {shown(default)}"))
        else:
            out[name] = default
    raise_collected(bad)
    return out


_RANGES: dict[str, tuple[float, float]] = {
    "temperature": (0.0, 2.0),
    "top_p": (0.0, 1.0),
    "frequency_penalty": (-2.0, 2.0),
    "presence_penalty": (-2.0, 2.0),
}
_PARAMETER_NAMES = (*_RANGES, "max_tokens")
_PARAMS_HINT = "after the top-level fields: [parameters] then temperature = 0.3"
_MISPLACED = "; it is inside a [table]: move it above the first [table] header"


def parse_params(value: object, top_fields: Sequence[str] = _TOP_FIELDS) -> ModelParams:
    """A ``[parameters]`` table as ModelParams (every bad entry reported); ``top_fields`` are the file's
    top-level fields, named when one of them was written inside the table by mistake. Rewrite tools use it
    too, so both kinds of file take the same parameters with the same messages."""
    if not isinstance(value, dict):
        raise Bad("", "expected a [parameters] table")
    known = (*_RANGES, "max_tokens")
    bad: list[Bad] = []
    for key in value:
        if key not in known:
            hint = _MISPLACED if key in top_fields else ""
            bad.append(Bad(key, f"unknown parameter: the parameters are {', '.join(known)}{hint}"))
    checked: dict[str, Any] = {}
    for key, (low, high) in _RANGES.items():
        if key in value:
            try:
                checked[key] = _number(key, value[key], low, high)
            except Bad as exc:
                bad.append(exc)
    if "max_tokens" in value:
        tokens = value["max_tokens"]
        if isinstance(tokens, bool) or not isinstance(tokens, int) or tokens < 1:
            bad.append(Bad("max_tokens", f"expected a whole number of at least 1, got {shown(tokens)}"))
        else:
            checked["max_tokens"] = tokens
    raise_collected(bad)
    return ModelParams(**checked)


def _number(key: str, value: object, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise Bad(key, f"expected a number, got {shown(value)}")
    if not low <= value <= high:  # also rejects nan and inf: every comparison with nan is false
        raise Bad(key, f"must be between {low:g} and {high:g}, got {value!r}")
    return float(value)
