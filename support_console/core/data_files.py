"""Folders of small TOML files (personas, rewrite tools): found, read and validated the same robust way.

Why one module: a support team edits these files by hand, so every kind of file must survive the same
mistakes the same way. Loading never stops at a broken file: each defect becomes a :class:`FileProblem`
naming the file and the field, and the other files still load. Entries of a folder that are not regular files
(a FIFO, a dangling link, a link loop) are problems too, found without opening them, and a file is never
opened in a way that could block. A UTF-8 byte-order mark is accepted. Within one folder an id is used once;
a later folder overrides an earlier one by id. The kinds of file differ only in their fields, which each
kind's module validates with :class:`FieldReader` and the checks here.
"""

from __future__ import annotations

import errno
import os
import re
import stat
import tomllib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar

#: A placeholder is only ``{{ name }}`` (exactly ``{{``, an identifier, ``}}``), so prices like ``$59.99``
#: and JSON braces stay literal.
PLACEHOLDER = re.compile(r"\{\{ *([A-Za-z_][A-Za-z0-9_]*) *\}\}")
#: ``{{`` and a name with no ``}}`` after it on its line (before another brace): an unclosed placeholder.
#: A closed ``{{ not-an-id }}`` stays literal text, as it always has.
UNCLOSED_PLACEHOLDER = re.compile(r"\{\{ *[A-Za-z_][^{}\n]*+(?!\}\})\}?")
SLUG = re.compile(r"[a-z0-9-]+")
IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True)
class FileProblem:
    """Why one file (or one field of it) could not be used; ``field`` is "" for the whole file.

    A ``warning`` does not stop the file from loading. Each kind of file has its own subclass, so callers can
    tell a persona's problem from a tool's."""

    path: Path
    field: str
    message: str
    warning: bool = False

    def __str__(self) -> str:
        where = f"field '{self.field}': " if self.field else ""
        return f"{self.path}: {where}{self.message}"


P = TypeVar("P", bound=FileProblem)


class Loaded(Protocol):
    """What every kind of loaded file has: an id (unique per folder) and the file it came from."""

    @property
    def id(self) -> str: ...
    @property
    def source(self) -> Path: ...


T = TypeVar("T", bound=Loaded)
MakeProblem = Callable[[Path, str, str], P]
LoadFile = Callable[[Path], tuple[T | None, list[P]]]


@dataclass(frozen=True)
class Kind(Generic[P]):
    """One kind of file: how its problems are made and how it is named in messages ("persona")."""

    noun: str
    make: Callable[..., P]


# ------------------------------------------------------------------------------------------- folders


def entries(folder: Path) -> list[Path]:
    """The folder's *.toml entries, sorted, skipping hidden ones such as editors' lock files (which are
    dangling links). Entries may be anything: see :func:`scan`."""
    return sorted(p for p in folder.glob("*.toml") if not p.name.startswith("."))


def load_folders(
    folders: Sequence[Path], load_file: LoadFile[T, P], kind: Kind[P]
) -> tuple[dict[str, T], list[P]]:
    """Each folder in turn (a later file with the same id overrides); missing folders are skipped."""
    loaded: dict[str, T] = {}
    problems: list[P] = []
    for folder in folders:
        if not folder.exists():
            continue
        if not folder.is_dir():
            problems.append(kind.make(folder, "", "is not a folder: list folders of .toml files"))
            continue
        files, odd = scan(entries(folder), kind)
        found, bad = load_group(files, load_file, kind)
        loaded.update(found)
        problems.extend([*odd, *bad])
    return loaded, problems


def check_paths(paths: Sequence[Path], load_file: LoadFile[T, P], kind: Kind[P]) -> tuple[list[T], list[P]]:
    """Validate files (or folders of them) on their own, for a ``check`` command: what loaded, and every
    problem (files of one folder are checked together, so an id clash between them is found)."""
    found: list[Path] = []
    problems: list[P] = []
    for path in paths:
        if path.is_dir():
            found.extend(entries(path))
        elif os.path.lexists(path):
            found.append(path)
        else:
            message = f"does not exist: give a {kind.noun} .toml file or a folder"
            problems.append(kind.make(path, "", message))
    files, odd = scan(found, kind)
    problems.extend(odd)
    by_folder: dict[Path, list[Path]] = {}
    for file in files:
        by_folder.setdefault(file.parent, []).append(file)
    loaded: list[T] = []
    for group in by_folder.values():
        good, bad = load_group(group, load_file, kind)
        loaded.extend(good.values())
        problems.extend(bad)
    return loaded, problems


def fingerprint(folders: Iterable[Path]) -> tuple[tuple[str, int, int], ...]:
    """Paths, mtimes and sizes of every entry of the folders: compare to notice edits cheaply.

    Entries that are not regular files count too (by the link itself), so adding a FIFO or breaking a link
    is noticed and reported."""
    found: list[tuple[str, int, int]] = []
    for folder in folders:
        for entry in entries(folder) if folder.is_dir() else ():
            try:
                info = entry.stat() if entry.is_file() else entry.lstat()
            except OSError:  # removed between listing and stat: the next poll sees it gone
                continue
            found.append((str(entry), info.st_mtime_ns, info.st_size))
    return tuple(found)


def scan(paths: Iterable[Path], kind: Kind[P]) -> tuple[list[Path], list[P]]:
    """The regular files among ``paths`` (links followed), and a problem for each other entry.

    Only ``stat`` is used, never ``open``: opening a FIFO would block until something writes to it."""
    files: list[Path] = []
    problems: list[P] = []
    for entry in paths:
        what = not_a_file(entry)
        if what is None:
            files.append(entry)
        else:
            message = f"{what}: {kind.noun} files must be regular .toml files"
            problems.append(kind.make(entry, "", message))
    return files, problems


def not_a_file(entry: Path) -> str | None:
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


def load_group(
    files: Sequence[Path], load_file: LoadFile[T, P], kind: Kind[P]
) -> tuple[dict[str, T], list[P]]:
    """Load files of one folder; a second file claiming an id already used in the folder is a problem."""
    loaded: dict[str, T] = {}
    problems: list[P] = []
    for file in files:
        item, found = load_file(file)
        if item is not None and item.id in loaded:
            first = loaded[item.id].source.name
            message = f"{item.id!r} is already used by {first} in this folder: give one of them another id"
            found = [kind.make(file, "id", message)]
        problems.extend(found)
        if item is not None and not found:
            loaded[item.id] = item
    return loaded, problems


# ---------------------------------------------------------------------------------------------- files


def read_toml(path: Path, kind: Kind[P]) -> tuple[dict[str, Any] | None, P | None]:
    """The file's TOML table, or the problem that stops it from being read at all."""
    try:
        return tomllib.loads(read_text(path)), None
    except tomllib.TOMLDecodeError as exc:
        return None, kind.make(path, "", f"not valid TOML: {exc}; fix the syntax there")
    except UnicodeDecodeError as exc:
        return None, kind.make(path, "", f"is not UTF-8 text ({decode_where(exc)}): save it as UTF-8")
    except OSError as exc:
        reason = exc.strerror or exc.__class__.__name__
        return None, kind.make(path, "", f"cannot be read ({reason}): check the file and its permissions")


def read_text(path: Path) -> str:
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


def decode_where(exc: UnicodeDecodeError) -> str:
    """Where the first bad byte is, as a person finds it in an editor: line and column, and the byte."""
    data = bytes(exc.object)
    line = data.count(b"\n", 0, exc.start) + 1
    column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
    return f"byte 0x{data[exc.start]:02x} at line {line}, column {column}"


# --------------------------------------------------------------------------------------------- fields


class Bad(Exception):
    """One field is unusable; carries the field name and a message that says how to fix it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class AllBad(Exception):
    """Several entries of one table are unusable: each is reported, so one run of `check` shows them all."""

    def __init__(self, problems: Sequence[Bad]) -> None:
        super().__init__(f"{len(problems)} problems")
        self.problems = tuple(problems)


def raise_collected(problems: Sequence[Bad]) -> None:
    """Raise the one problem, or all of them together; nothing when there are none."""
    if len(problems) == 1:
        raise problems[0]
    if problems:
        raise AllBad(problems)


@dataclass
class FieldReader(Generic[P]):
    """Reads validated fields from one file, turning each failure into a problem for that field."""

    path: Path
    data: dict[str, Any]
    kind: Kind[P]
    problems: list[P] = field(default_factory=list)

    def problem(self, name: str, message: str) -> None:
        self.problems.append(self.kind.make(self.path, name, message))

    def get(
        self, name: str, check: Callable[[Any], Any], *, default: Any = None, required: bool = False
    ) -> Any:
        if name not in self.data:
            if required:
                self.problem(name, f'is required: add {name} = "..."{misplaced_hint(self.data, name)}')
            return default
        try:
            return check(self.data[name])
        except Bad as exc:
            self._bad(name, exc)
        except AllBad as exc:
            for bad in exc.problems:
                self._bad(name, bad)
        return None

    def _bad(self, name: str, exc: Bad) -> None:
        self.problem(f"{name}.{exc.field}" if exc.field else name, str(exc))

    def file_id(self, example: str) -> str | None:
        """The ``id`` field, else the file name when it is an id; a problem when neither is."""
        stem = self.path.stem
        found: str | None = self.get("id", slug, default=stem if SLUG.fullmatch(stem) else None)
        if found is None and "id" not in self.data:
            suggested = suggest_slug(stem, example)
            self.problem("id", f"the file name is not an id: add id = {suggested!r} or rename it")
        return found

    def unknown_fields(self, known: Sequence[str], hints: Mapping[str, str] | None = None) -> None:
        """A problem for each top-level key that is not a field (``hints``: a better message for some)."""
        for key in self.data:
            if hints and key in hints:
                self.problem(key, hints[key])
            elif key not in known:
                self.problem(key, f"unknown field: the fields are {', '.join(known)}")


def misplaced_hint(data: Mapping[str, Any], name: str) -> str:
    """TOML puts every key after a [table] header into that table: the commonest mistake in these files."""
    for table, content in data.items():
        if isinstance(content, dict) and name in content:
            return f" above the first [table] header (it is currently inside [{table}])"
    return ""


def check_placeholders(
    message: str, declared: Iterable[str], fields: FieldReader[P], name: str, how: str
) -> None:
    """A problem (for field ``name``) for each unclosed placeholder in ``message`` and each one not in
    ``declared``; ``how`` says how to declare one, with ``{0}`` for its name (it ends the message)."""
    known = set(declared)
    for match in UNCLOSED_PLACEHOLDER.finditer(message):
        line = message.count("\n", 0, match.start()) + 1
        shown = match.group(0).rstrip()
        shown = shown if len(shown) <= 40 else shown[:39] + "…"
        fields.problem(
            name,
            f"{shown!r} (line {line} of the message) is an unclosed placeholder: close it as {{{{ name }}}}, "
            "or it would be sent to the model as it is",
        )
    for placeholder in dict.fromkeys(PLACEHOLDER.findall(message)):
        if placeholder not in known:
            declare = how.format(placeholder)
            fields.problem(name, f"placeholder {{{{ {placeholder} }}}} is not declared: {declare}")


def text(value: object) -> str:
    if not isinstance(value, str):
        raise Bad("", f"expected text in quotes, got {shown(value)}")
    if not value.strip():
        raise Bad("", "is empty: write something or remove the line")
    return value


def slug(value: object) -> str:
    checked = text(value)
    if not SLUG.fullmatch(checked):
        example = suggest_slug(checked)
        raise Bad("", f"{checked!r} is not an id: use lowercase letters, digits and '-', e.g. {example!r}")
    return checked


def suggest_slug(name: str, fallback: str = "my-persona") -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or fallback


def shown(value: object) -> str:
    """How a wrong value is quoted in a message: short, and literal."""
    literal = repr(value)
    return literal if len(literal) <= 40 else literal[:37] + "..."
