"""Canned replies (macros): TOML files with a short name, a reply body with ``{{ }}`` placeholders, and
optionally the status the conversation gets when the reply is sent.

Like personas and rewrite tools they are plain data a support team edits: bundled ones (``macros/`` in a
checkout, shipped in the wheel), then the user's folder beside their personas folder; a user file with the
same id overrides; folders and files are read by :mod:`support_console.core.data_files`, so a broken file is
named with its field and the others still load.

A macro file::

    id = "refund-sent"            # optional: the file name when it is an id; typed as /refund-sent
    name = "Refund sent"
    description = "The refund is on its way."
    body = '''
    Hi {{ name }}, the refund for order {{ order_id }} is on its way ({{ agent }}).
    '''
    status = "pending"            # optional: the conversation's status once the reply is sent

    [variables]                   # optional: other placeholders and their defaults (customer attributes)
    order_id = ""                 # no default: left as a visible {{ order_id }} the agent must fill in

The placeholder rules are the personas' (:func:`support_console.core.personas.fill_placeholders`): only
``{{ name }}`` is one, so prices like $59.99 and single braces stay literal; each must be built in or
declared. One without a value stays in the text as written: the send guard refuses the reply until the agent
replaces it (:func:`support_console.workflows.send_guard.unfilled_placeholders`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

from support_console.core import data_files
from support_console.core.data_files import Bad, FileProblem, shown, text
from support_console.core.errors import SupportConsoleError
from support_console.core.personas import BUILTIN_VARIABLES, fill_placeholders, parse_variables
from support_console.core.vocabulary import STATUSES

__all__ = [
    "MACRO_VARIABLES",
    "Macro",
    "MacroError",
    "MacroProblem",
    "MacroSet",
    "bundled_macros_dir",
    "check_macro_files",
    "load_macros",
]

#: What every macro may use without declaring it: the customer's (as personas), and who is replying where.
MACRO_VARIABLES = (*BUILTIN_VARIABLES, "agent", "conversation_id")


class MacroError(SupportConsoleError):
    """No macro by that name."""


@dataclass(frozen=True)
class Macro:
    """One validated macro file; ``variables`` are its declared placeholders and their defaults."""

    id: str
    name: str
    description: str
    body: str
    status: str | None
    variables: Mapping[str, str]
    source: Path

    def render(self, values: Mapping[str, str]) -> str:
        """The body with its placeholders filled; one without a value stays as written (a visible marker)."""
        return fill_placeholders(self.body, values, self.variables, keep_unfilled=True)


@dataclass(frozen=True)
class MacroProblem(FileProblem):
    """Why one macro file (or one field of it) could not be used; ``field`` is "" for the whole file."""


_KIND = data_files.Kind("macro", MacroProblem)


@dataclass(frozen=True)
class MacroSet:
    """The macros that loaded, by id, plus the problems of those that did not."""

    macros: Mapping[str, Macro]
    problems: tuple[MacroProblem, ...] = ()

    def get(self, macro_id: str) -> Macro:
        """The macro with this id; MacroError lists the known ids."""
        try:
            return self.macros[macro_id]
        except KeyError:
            known = ", ".join(sorted(self.macros)) or "none"
            raise MacroError(
                f"There is no canned reply {macro_id!r}: use one of {known}, or add a file {macro_id}.toml "
                "to a macros folder."
            ) from None

    def ordered(self) -> list[Macro]:
        """For lists and pickers: by id (what the agent types), so the order is stable."""
        return sorted(self.macros.values(), key=lambda m: m.id)


def bundled_macros_dir() -> Path:
    """The macros shipped with the console: in the wheel, or at <repo>/macros in a source checkout."""
    package = Path(__file__).resolve().parents[1]
    installed = package / "_bundled_macros"
    return installed if installed.is_dir() else package.parent / "macros"


def load_macros(user_dirs: Sequence[Path] = ()) -> MacroSet:
    """Bundled macros first, then each user folder in turn; a later file with the same id overrides."""
    problems: list[MacroProblem] = []
    bundled = bundled_macros_dir()
    if not bundled.is_dir():
        problems.append(
            MacroProblem(bundled, "", "the bundled macros are missing: reinstall support-console")
        )
    macros, found = data_files.load_folders((bundled, *user_dirs), _load_file, _KIND)
    return MacroSet(MappingProxyType(macros), (*problems, *found))


def check_macro_files(paths: Sequence[Path]) -> list[MacroProblem]:
    """Validate macro files (or folders of them) on their own, for ``macros check``."""
    return data_files.check_paths(paths, _load_file, _KIND)[1]


_TOP_FIELDS = ("id", "name", "description", "body", "status", "variables")


def _load_file(path: Path) -> tuple[Macro | None, list[MacroProblem]]:
    """Parse and validate one macro file, collecting every problem in it rather than stopping at the first."""
    data, unreadable = data_files.read_toml(path, _KIND)
    if data is None:
        return None, [unreadable] if unreadable else []
    fields = data_files.FieldReader(path, data, _KIND)
    fields.unknown_fields(_TOP_FIELDS, {})
    macro_id = fields.file_id("my-macro")
    variables = fields.get("variables", parse_variables, default={})
    body = fields.get("body", text, required=True)
    if isinstance(body, str) and isinstance(variables, dict):
        how = 'add {0} = "" under [variables] (built-in: ' + ", ".join(MACRO_VARIABLES) + ")"
        data_files.check_placeholders(body, (*MACRO_VARIABLES, *variables), fields, "body", how)
    macro = Macro(
        id=macro_id or "",
        name=fields.get("name", text, required=True) or "",
        description=fields.get("description", text, default="") or "",
        body=(body or "").strip("\n"),
        status=fields.get("status", _status),
        variables=MappingProxyType(variables or {}),
        source=path,
    )
    return (None if fields.problems else macro), fields.problems


def _status(value: object) -> str:
    if value not in STATUSES:
        raise Bad("", f"expected one of {', '.join(repr(s) for s in STATUSES)}, got {shown(value)}")
    return str(value)
