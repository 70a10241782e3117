"""Rewrite tools: TOML files that tell the model how to rewrite an agent's draft (shorter, friendlier, …).

Like personas they are plain data a support team can edit: bundled ones (``tools/`` in a checkout, shipped in
the wheel), then the user's folder next to their personas folder; a user file with the same id overrides.
Folders and files are found and read by :mod:`support_console.core.data_files`, so a broken file is named
with its field and the others still load, exactly as for personas.

A tool file::

    id = "refine"                  # optional: the file name when it is an id
    name = "Refine"
    description = "Apply the agent's own instruction."
    instruction = "Rewrite the reply as follows: {{ instruction }}"
    inputs = ["instruction"]       # what the agent fills in when applying the tool (optional)
    changes_language = false       # true only for translation: the "keep the language" rule is then dropped

    [parameters]                   # optional: the personas' parameters, with the same checks
    temperature = 0.2

Only the tool's instruction is here: what every rewrite must preserve (quoted customer text, the signature,
URLs, numbers, prices, the language) is added by the request builder (workflows/rewriting.py), so no tool
file can forget it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

from support_console.core import data_files
from support_console.core.data_files import PLACEHOLDER, Bad, FileProblem, raise_collected, shown, text
from support_console.core.errors import ToolError
from support_console.core.personas import ModelParams, parse_params

__all__ = [
    "RewriteTool",
    "ToolProblem",
    "ToolSet",
    "bundled_tools_dir",
    "check_tool_files",
    "load_tools",
]


@dataclass(frozen=True)
class RewriteTool:
    """One validated tool file; ``inputs`` are the placeholders the agent fills in (refine's instruction)."""

    id: str
    name: str
    description: str
    instruction: str
    inputs: tuple[str, ...]
    changes_language: bool
    params: ModelParams
    source: Path

    def render_instruction(self, values: Mapping[str, str]) -> str:
        """The instruction with each ``{{ input }}`` filled; a ToolError names an input left empty.

        One pass, like personas: text the agent brings in is never expanded again."""
        missing = [name for name in self.inputs if not values.get(name, "").strip()]
        if missing:
            flags = ", ".join(
                f"--{name}" if name == "instruction" else f"--input {name}=…" for name in missing
            )
            needs = " and ".join(missing)
            raise ToolError(f"The tool {self.id!r} needs {needs}: give {flags} (what the model should do).")
        return PLACEHOLDER.sub(lambda match: values[match.group(1)].strip(), self.instruction)


@dataclass(frozen=True)
class ToolProblem(FileProblem):
    """Why one tool file (or one field of it) could not be used; ``field`` is "" for the whole file."""


_KIND = data_files.Kind("tool", ToolProblem)


@dataclass(frozen=True)
class ToolSet:
    """The tools that loaded, by id, plus the problems of those that did not."""

    tools: Mapping[str, RewriteTool]
    problems: tuple[ToolProblem, ...] = ()

    def get(self, tool_id: str) -> RewriteTool:
        """The tool with this id; ToolError lists the known ids so the agent can pick one."""
        try:
            return self.tools[tool_id]
        except KeyError:
            known = ", ".join(sorted(self.tools)) or "none"
            raise ToolError(
                f"There is no rewrite tool {tool_id!r}: use one of {known}, or add a file {tool_id}.toml to "
                "a tools folder."
            ) from None

    def ordered(self) -> list[RewriteTool]:
        """For lists and pickers: by name, then id, so the order is stable however files are named."""
        return sorted(self.tools.values(), key=lambda t: (t.name.casefold(), t.id))


def bundled_tools_dir() -> Path:
    """The tools shipped with the console: in the wheel, or at <repo>/tools in a source checkout."""
    package = Path(__file__).resolve().parents[1]
    installed = package / "_bundled_tools"
    return installed if installed.is_dir() else package.parent / "tools"


def load_tools(user_dirs: Sequence[Path] = ()) -> ToolSet:
    """Bundled tools first, then each user folder in turn; a later file with the same id overrides."""
    problems: list[ToolProblem] = []
    bundled = bundled_tools_dir()
    if not bundled.is_dir():
        problems.append(
            ToolProblem(bundled, "", "the bundled rewrite tools are missing: reinstall support-console")
        )
    tools, found = data_files.load_folders((bundled, *user_dirs), _load_file, _KIND)
    return ToolSet(MappingProxyType(tools), (*problems, *found))


def check_tool_files(paths: Sequence[Path]) -> list[ToolProblem]:
    """Validate tool files (or folders of them) on their own, for ``tools check``."""
    return data_files.check_paths(paths, _load_file, _KIND)[1]


_TOP_FIELDS = ("id", "name", "description", "instruction", "inputs", "changes_language", "parameters")
_PARAMETER_NAMES = ("temperature", "max_tokens", "top_p", "frequency_penalty", "presence_penalty")


def _load_file(path: Path) -> tuple[RewriteTool | None, list[ToolProblem]]:
    """Parse and validate one tool file, collecting every problem in it rather than stopping at the first."""
    data, unreadable = data_files.read_toml(path, _KIND)
    if data is None:
        return None, [unreadable] if unreadable else []
    fields = data_files.FieldReader(path, data, _KIND)
    moved = "is a model parameter: move it under a [parameters] table, after the top-level fields"
    fields.unknown_fields(_TOP_FIELDS, dict.fromkeys(_PARAMETER_NAMES, moved))
    tool_id = fields.file_id("my-tool")
    inputs = fields.get("inputs", _inputs, default=[])
    instruction = fields.get("instruction", text, required=True)
    if isinstance(instruction, str):
        raw = data.get("inputs")
        declared = inputs or ([x for x in raw if isinstance(x, str)] if isinstance(raw, list) else [])
        how = 'add "{0}" to inputs = [...], or write the text itself'
        data_files.check_placeholders(instruction, declared, fields, "instruction", how)
        used = set(PLACEHOLDER.findall(instruction))
        for name in inputs or ():
            if name not in used:
                fields.problem(
                    "inputs", f"{name!r} is never used: put {{{{ {name} }}}} in the instruction, or remove it"
                )
    tool = RewriteTool(
        id=tool_id or "",
        name=fields.get("name", text, required=True) or "",
        description=fields.get("description", text, default="") or "",
        instruction=(instruction or "").strip(),
        inputs=tuple(inputs or ()),
        changes_language=bool(fields.get("changes_language", _flag, default=False)),
        params=fields.get("parameters", _params, default=ModelParams()) or ModelParams(),
        source=path,
    )
    return (None if fields.problems else tool), fields.problems


def _inputs(value: object) -> list[str]:
    if not isinstance(value, list):
        raise Bad("", f'expected a list of names, e.g. ["instruction"], got {shown(value)}')
    bad = [
        Bad(str(i), f"{shown(item)} is not a name: use letters, digits and _, starting with a letter")
        for i, item in enumerate(value)
        if not isinstance(item, str) or not data_files.IDENTIFIER.fullmatch(item)
    ]
    raise_collected(bad)
    return list(dict.fromkeys(value))


def _flag(value: object) -> bool:
    if not isinstance(value, bool):
        raise Bad("", f"expected true or false (no quotes), got {shown(value)}")
    return value


def _params(value: object) -> ModelParams:
    return parse_params(value, _TOP_FIELDS)
