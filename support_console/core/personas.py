"""Personas: TOML files that give the model its instructions, sampling parameters and trigger phrases.

Files are plain data so a support team can edit them without touching code. Loading never stops at a broken
file: each defect becomes a :class:`PersonaProblem` naming the file and the field, and the other files still
load. Placeholders are only ``{{ name }}`` (exactly ``{{``, an identifier, ``}}``), so prices like ``$59.99``
and JSON braces in a prompt stay literal; ``{{`` followed by a name but not closed that way (``{{ name``,
``{{ customer.name }}``) is a problem, not text sent as it is. Entries of a folder that are not regular files
(a FIFO, a dangling link, a link loop) are problems too, found without opening them, and a file is never
opened in a way that could block. A UTF-8 byte-order mark is accepted.
"""

from __future__ import annotations

import errno
import functools
import os
import re
import stat
import tomllib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from support_console.core.errors import PersonaError

BUILTIN_VARIABLES = ("name", "email", "external_id")
PLACEHOLDER = re.compile(r"\{\{ *([A-Za-z_][A-Za-z0-9_]*) *\}\}")
#: ``{{`` and a name with no ``}}`` after it on its line (before another brace): an unclosed placeholder.
#: A closed ``{{ not-an-id }}`` stays literal text, as it always has.
_UNCLOSED_PLACEHOLDER = re.compile(r"\{\{ *[A-Za-z_][^{}\n]*+(?!\}\})\}?")
#: A system message longer than this many tokens gets a warning from `personas check` (see size_warning).
LONG_SYSTEM_TOKENS = 16_000
_SLUG = re.compile(r"[a-z0-9-]+")
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


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

        def fill(match: re.Match[str]) -> str:
            name = match.group(1)
            return values.get(name) or self.variables.get(name, "")

        return PLACEHOLDER.sub(fill, self.system)


@dataclass(frozen=True)
class PersonaProblem:
    """Why one persona file (or one field of it) could not be used; ``field`` is "" for the whole file.

    A ``warning`` does not stop the persona from loading (a system message too long to be sent whole)."""

    path: Path
    field: str
    message: str
    warning: bool = False

    def __str__(self) -> str:
        where = f"field '{self.field}': " if self.field else ""
        return f"{self.path}: {where}{self.message}"


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
        """The persona whose trigger phrases occur most often in ``text`` (ties: ordered()); None if none."""
        best: Persona | None = None
        best_count = 0
        for persona in self.ordered():
            count = sum(len(_trigger_pattern(t).findall(text)) for t in persona.triggers)
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
    personas: dict[str, Persona] = {}
    problems: list[PersonaProblem] = []
    bundled = bundled_personas_dir()
    if not bundled.is_dir():
        problems.append(
            PersonaProblem(bundled, "", "the bundled personas are missing: reinstall support-console")
        )
    for folder in (bundled, *user_dirs):
        if not folder.exists():
            continue
        if not folder.is_dir():
            problems.append(PersonaProblem(folder, "", "is not a folder: list folders of .toml files"))
            continue
        files, odd = _scan(persona_entries(folder))
        loaded, found = _load_group(files)
        personas.update(loaded)
        problems.extend([*odd, *found])
    return PersonaSet(MappingProxyType(personas), tuple(problems))


def check_files(paths: Sequence[Path]) -> list[PersonaProblem]:
    """Validate persona files (or folders of them) without loading anything else; for ``personas check``.

    Besides the problems that stop a file from loading, the result has warnings (``problem.warning``) for
    what loads but will not work as written: a system message too long to be sent whole."""
    entries: list[Path] = []
    problems: list[PersonaProblem] = []
    for path in paths:
        if path.is_dir():
            entries.extend(persona_entries(path))
        elif os.path.lexists(path):
            entries.append(path)
        else:
            problems.append(PersonaProblem(path, "", "does not exist: give a persona .toml file or a folder"))
    files, odd = _scan(entries)
    problems.extend(odd)
    by_folder: dict[Path, list[Path]] = {}
    for file in files:
        by_folder.setdefault(file.parent, []).append(file)
    for group in by_folder.values():
        loaded, found = _load_group(group)
        problems.extend(found)
        problems.extend(w for persona in loaded.values() if (w := size_warning(persona)) is not None)
    return problems


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
    """Paths, mtimes and sizes of every persona entry (bundled included): compare to notice edits cheaply.

    Entries that are not regular files count too (by the link itself), so adding a FIFO or breaking a link
    is noticed and reported."""
    entries: list[tuple[str, int, int]] = []
    for folder in (bundled_personas_dir(), *dirs):
        for entry in persona_entries(folder) if folder.is_dir() else ():
            try:
                info = entry.stat() if entry.is_file() else entry.lstat()
            except OSError:  # removed between listing and stat: the next poll sees it gone
                continue
            entries.append((str(entry), info.st_mtime_ns, info.st_size))
    return tuple(entries)


def persona_entries(folder: Path) -> list[Path]:
    """The folder's *.toml entries, sorted, skipping hidden ones such as editors' lock files (which are
    dangling links). Entries may be anything: see :func:`_scan`."""
    return sorted(p for p in folder.glob("*.toml") if not p.name.startswith("."))


def _scan(entries: Iterable[Path]) -> tuple[list[Path], list[PersonaProblem]]:
    """The regular files among ``entries`` (links followed), and a problem for each other entry.

    Only ``stat`` is used, never ``open``: opening a FIFO would block until something writes to it."""
    files: list[Path] = []
    problems: list[PersonaProblem] = []
    for entry in entries:
        what = _not_a_file(entry)
        if what is None:
            files.append(entry)
        else:
            problems.append(PersonaProblem(entry, "", f"{what}: persona files must be regular .toml files"))
    return files, problems


def _not_a_file(entry: Path) -> str | None:
    """None for a regular file (or a link to one); else what the entry is, in words."""
    try:
        mode = entry.stat().st_mode
    except OSError as exc:
        if not entry.is_symlink():
            return f"cannot be read ({exc.strerror or exc.__class__.__name__})"
        try:
            target = os.readlink(entry)
        except OSError:
            target = "?"
        if exc.errno == errno.ELOOP:
            return f"is a symbolic link loop (it points to {target})"
        return f"is a symbolic link to {target}, which does not exist"
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        return "is a folder"
    if stat.S_ISFIFO(mode):
        return "is a FIFO (named pipe), not a file; it was not opened"
    return "is a special file (a socket or a device), not a file; it was not opened"


def _load_group(files: Sequence[Path]) -> tuple[dict[str, Persona], list[PersonaProblem]]:
    """Load files of one folder; a second file claiming an id already used in the folder is a problem."""
    loaded: dict[str, Persona] = {}
    problems: list[PersonaProblem] = []
    for file in files:
        persona, found = _load_file(file)
        if persona is not None and persona.id in loaded:
            first = loaded[persona.id].source.name
            message = f"{persona.id!r} is already used by {first} in this folder: give one of them another id"
            found = [PersonaProblem(file, "id", message)]
        problems.extend(found)
        if persona is not None and not found:
            loaded[persona.id] = persona
    return loaded, problems


class _Bad(Exception):
    """One field is unusable; carries the field name and a message that says how to fix it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class _AllBad(Exception):
    """Several entries of one table are unusable: each is reported, so one run of `check` shows them all."""

    def __init__(self, problems: Sequence[_Bad]) -> None:
        super().__init__(f"{len(problems)} problems")
        self.problems = tuple(problems)


def _raise_collected(problems: Sequence[_Bad]) -> None:
    if len(problems) == 1:
        raise problems[0]
    if problems:
        raise _AllBad(problems)


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
    try:
        data = tomllib.loads(_read_text(path))
    except tomllib.TOMLDecodeError as exc:
        return None, [PersonaProblem(path, "", f"not valid TOML: {exc}; fix the syntax there")]
    except UnicodeDecodeError as exc:
        return None, [PersonaProblem(path, "", f"is not UTF-8 text ({_decode_where(exc)}): save it as UTF-8")]
    except OSError as exc:
        reason = exc.strerror or exc.__class__.__name__
        return None, [
            PersonaProblem(path, "", f"cannot be read ({reason}): check the file and its permissions")
        ]
    fields = _FieldReader(path, data)
    for key in data:
        if key in _PARAMETER_NAMES:
            fields.problem(key, f"is a model parameter: move it under a [parameters] table ({_PARAMS_HINT})")
        elif key not in _TOP_FIELDS:
            fields.problem(key, f"unknown field: the fields are {', '.join(_TOP_FIELDS)}")
    persona_id = fields.get("id", _slug, default=path.stem if _SLUG.fullmatch(path.stem) else None)
    if persona_id is None and "id" not in data:
        fields.problem(
            "id", f"the file name is not an id: add id = {_suggest_slug(path.stem)!r} or rename it"
        )
    variables = fields.get("variables", _variables, default={})
    system = fields.get("system", _text, required=True)
    if isinstance(system, str) and isinstance(variables, dict):
        _check_placeholders(system, variables, fields)
    persona = Persona(
        id=persona_id or "",
        name=fields.get("name", _text, required=True) or "",
        description=fields.get("description", _text, default="") or "",
        system=system or "",
        params=fields.get("parameters", _params, default=ModelParams()) or ModelParams(),
        model=fields.get("model", _text),
        deployment=fields.get("deployment", _text),
        triggers=tuple(fields.get("triggers", _triggers, default=[]) or ()),
        variables=MappingProxyType(variables or {}),
        source=path,
    )
    return (None if fields.problems else persona), fields.problems


def _read_text(path: Path) -> str:
    """The file's text (a UTF-8 byte-order mark is dropped), opened without blocking and only when it is a
    regular file: a file swapped for a FIFO after the folder was scanned is refused, not waited on."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(0, "not a regular file")
        with os.fdopen(fd, "rb", closefd=False) as fh:
            data = fh.read()
    finally:
        os.close(fd)
    return data.decode("utf-8-sig")


def _decode_where(exc: UnicodeDecodeError) -> str:
    """Where the first bad byte is, as a person finds it in an editor: line and column, and the byte."""
    data = bytes(exc.object)
    line = data.count(b"\n", 0, exc.start) + 1
    column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
    return f"byte 0x{data[exc.start]:02x} at line {line}, column {column}"


@dataclass
class _FieldReader:
    """Reads validated fields from one file, turning each failure into a PersonaProblem for that field."""

    path: Path
    data: dict[str, Any]
    problems: list[PersonaProblem] = field(default_factory=list)

    def problem(self, name: str, message: str) -> None:
        self.problems.append(PersonaProblem(self.path, name, message))

    def get(
        self, name: str, check: Callable[[Any], Any], *, default: Any = None, required: bool = False
    ) -> Any:
        if name not in self.data:
            if required:
                self.problem(name, f'is required: add {name} = "..."{_misplaced_hint(self.data, name)}')
            return default
        try:
            return check(self.data[name])
        except _Bad as exc:
            self._bad(name, exc)
        except _AllBad as exc:
            for bad in exc.problems:
                self._bad(name, bad)
        return None

    def _bad(self, name: str, exc: _Bad) -> None:
        self.problem(f"{name}.{exc.field}" if exc.field else name, str(exc))


_MISPLACED = "; it is inside a [table]: move it above the first [table] header"


def _misplaced_hint(data: Mapping[str, Any], name: str) -> str:
    """TOML puts every key after a [table] header into that table: the commonest persona-file mistake."""
    for table, content in data.items():
        if isinstance(content, dict) and name in content:
            return f" above the first [table] header (it is currently inside [{table}])"
    return ""


def _check_placeholders(system: str, variables: Mapping[str, str], fields: _FieldReader) -> None:
    for match in _UNCLOSED_PLACEHOLDER.finditer(system):
        line = system.count("\n", 0, match.start()) + 1
        shown = match.group(0).rstrip()
        shown = shown if len(shown) <= 40 else shown[:39] + "…"
        fields.problem(
            "system",
            f"{shown!r} (line {line} of the message) is an unclosed placeholder: close it as {{{{ name }}}}, "
            "or it would be sent to the model as it is",
        )
    for name in dict.fromkeys(PLACEHOLDER.findall(system)):
        if name not in BUILTIN_VARIABLES and name not in variables:
            fields.problem(
                "system",
                f'placeholder {{{{ {name} }}}} is not declared: add {name} = "default" under [variables] '
                f"(built-in: {', '.join(BUILTIN_VARIABLES)})",
            )


def _text(value: object) -> str:
    if not isinstance(value, str):
        raise _Bad("", f"expected text in quotes, got {_shown(value)}")
    if not value.strip():
        raise _Bad("", "is empty: write something or remove the line")
    return value


def _slug(value: object) -> str:
    text = _text(value)
    if not _SLUG.fullmatch(text):
        raise _Bad(
            "", f"{text!r} is not an id: use lowercase letters, digits and '-', e.g. {_suggest_slug(text)!r}"
        )
    return text


def _suggest_slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "my-persona"


def _triggers(value: object) -> list[str]:
    if not isinstance(value, list):
        raise _Bad("", f'expected a list of phrases, e.g. ["refund", "charged twice"], got {_shown(value)}')
    return [_text(item) for item in value]


def _variables(value: object) -> dict[str, str]:
    if not isinstance(value, dict):
        raise _Bad("", 'expected a [variables] table of name = "default" lines')
    out: dict[str, str] = {}
    bad: list[_Bad] = []
    for name, default in value.items():
        if not _IDENTIFIER.fullmatch(name):
            bad.append(
                _Bad(name, "is not a variable name: use letters, digits and _, starting with a letter")
            )
        elif not isinstance(default, str):
            bad.append(_Bad(name, f"expected a default in quotes, got {_shown(default)}"))
        else:
            out[name] = default
    _raise_collected(bad)
    return out


_RANGES: dict[str, tuple[float, float]] = {
    "temperature": (0.0, 2.0),
    "top_p": (0.0, 1.0),
    "frequency_penalty": (-2.0, 2.0),
    "presence_penalty": (-2.0, 2.0),
}
_PARAMETER_NAMES = (*_RANGES, "max_tokens")
_PARAMS_HINT = "after the top-level fields: [parameters] then temperature = 0.3"


def _params(value: object) -> ModelParams:
    if not isinstance(value, dict):
        raise _Bad("", "expected a [parameters] table")
    known = (*_RANGES, "max_tokens")
    bad: list[_Bad] = []
    for key in value:
        if key not in known:
            hint = _MISPLACED if key in _TOP_FIELDS else ""
            bad.append(_Bad(key, f"unknown parameter: the parameters are {', '.join(known)}{hint}"))
    checked: dict[str, Any] = {}
    for key, (low, high) in _RANGES.items():
        if key in value:
            try:
                checked[key] = _number(key, value[key], low, high)
            except _Bad as exc:
                bad.append(exc)
    if "max_tokens" in value:
        tokens = value["max_tokens"]
        if isinstance(tokens, bool) or not isinstance(tokens, int) or tokens < 1:
            bad.append(_Bad("max_tokens", f"expected a whole number of at least 1, got {_shown(tokens)}"))
        else:
            checked["max_tokens"] = tokens
    _raise_collected(bad)
    return ModelParams(**checked)


def _number(key: str, value: object, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _Bad(key, f"expected a number, got {_shown(value)}")
    if not low <= value <= high:  # also rejects nan and inf: every comparison with nan is false
        raise _Bad(key, f"must be between {low:g} and {high:g}, got {value!r}")
    return float(value)


def _shown(value: object) -> str:
    """How a wrong value is quoted in a message: short, and literal."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
