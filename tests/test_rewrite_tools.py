"""Rewrite-tool files on disk (tmp_path and the bundled folder): load, validate, override, render."""

from __future__ import annotations

import os
import threading
import tomllib
from pathlib import Path

import pytest

from support_console.config.settings import default_persona_dir, default_tools_dir
from support_console.core.errors import ToolError
from support_console.core.personas import ModelParams
from support_console.core.rewrite_tools import (
    ToolProblem,
    ToolSet,
    bundled_tools_dir,
    check_tool_files,
    load_tools,
)

ROOT = Path(__file__).resolve().parents[1]
BUNDLED_IDS = {
    "shorter", "friendlier", "more-formal", "fix-grammar", "expand", "simplify", "translate", "refine",
}  # fmt: skip


def tool_file(folder: Path, stem: str, body: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{stem}.toml"
    path.write_text(body, encoding="utf-8")
    return path


def minimal(name: str = "Test", instruction: str = "Make it better.", extra: str = "") -> str:
    return f'name = "{name}"\ninstruction = """{instruction}"""\n{extra}'


def problems_of(tools: ToolSet) -> dict[tuple[str, str], str]:
    return {(p.path.name, p.field): p.message for p in tools.problems}


def test_bundled_tools_all_load_clean() -> None:
    assert bundled_tools_dir() == ROOT / "tools"
    tools = load_tools()
    assert tools.problems == ()
    assert set(tools.tools) == BUNDLED_IDS
    for tool in tools.ordered():
        assert tool.source.parent == bundled_tools_dir()
        assert tool.description
        assert len(tool.instruction) > 80  # written for real use
        assert "{{" not in tool.render_instruction(dict.fromkeys(tool.inputs, "X"))
    assert tools.get("refine").inputs == ("instruction",)
    assert tools.get("translate").inputs == ("language",)
    assert [t.id for t in tools.ordered() if t.changes_language] == ["translate"]
    assert tools.get("fix-grammar").params == ModelParams(temperature=0.0)
    assert check_tool_files([bundled_tools_dir()]) == []


def test_the_wheel_ships_the_bundled_tools_like_the_personas() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    include = config["tool"]["hatch"]["build"]["targets"]["wheel"]["force-include"]
    assert include["tools"] == "support_console/_bundled_tools"
    assert include["personas"] == "support_console/_bundled_personas"


def test_the_user_folder_sits_beside_the_personas_folder() -> None:
    assert default_tools_dir() == default_persona_dir().parent / "tools"


def test_refine_fills_the_agents_instruction_once_and_literally() -> None:
    refine = load_tools().get("refine")
    rendered = refine.render_instruction({"instruction": "  mention the 30-day warranty {{ language }} $5  "})
    assert "Agent's instruction: mention the 30-day warranty {{ language }} $5\n" in rendered + "\n"
    with pytest.raises(ToolError, match="needs instruction: give --instruction"):
        refine.render_instruction({"instruction": "   "})
    with pytest.raises(ToolError, match=r"needs language: give --input language="):
        load_tools().get("translate").render_instruction({})


def test_user_folders_override_bundled_by_id(tmp_path: Path) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    tool_file(first, "shorter", minimal(name="Our shorter"))
    tool_file(first, "extra", minimal(name="Extra One"))
    tool_file(second, "renamed", minimal(name="Extra Two", extra='id = "extra"\n'))
    tools = load_tools([first, second, tmp_path / "missing"])
    assert tools.problems == ()
    assert tools.get("shorter").name == "Our shorter"
    assert tools.get("shorter").source == first / "shorter.toml"
    assert tools.get("extra").name == "Extra Two"
    assert tools.get("refine").source.parent == bundled_tools_dir()
    assert set(tools.tools) == BUNDLED_IDS | {"extra"}


def test_a_broken_file_is_named_by_field_and_the_others_still_load(tmp_path: Path) -> None:
    tool_file(tmp_path, "good", minimal(name="Good"))
    tool_file(
        tmp_path,
        "bad",
        'name = 5\ninstruction = "Say {{ tone }} and {{ x"\ninputs = ["ok", "not ok"]\n'
        'changes_language = "yes"\ntemperature = 0.3\ncolour = "red"\n[parameters]\nmax_tokens = 0\n',
    )
    tools = load_tools([tmp_path])
    assert "good" in tools.tools
    assert "bad" not in tools.tools
    found = problems_of(tools)
    assert found[("bad.toml", "name")] == "expected text in quotes, got 5"
    assert found[("bad.toml", "inputs.1")].startswith("'not ok' is not a name")
    assert found[("bad.toml", "changes_language")] == "expected true or false (no quotes), got 'yes'"
    assert "move it under a [parameters] table" in found[("bad.toml", "temperature")]
    assert found[("bad.toml", "colour")].startswith("unknown field: the fields are id, name")
    assert found[("bad.toml", "parameters.max_tokens")] == "expected a whole number of at least 1, got 0"
    messages = [str(p) for p in tools.problems if p.field == "instruction"]
    assert any("{{ x" in m and "unclosed placeholder" in m for m in messages), messages
    assert any("placeholder {{ tone }} is not declared" in m for m in messages), messages
    assert all(isinstance(p, ToolProblem) for p in tools.problems)
    assert str(tools.problems[0]).startswith(f"{tmp_path / 'bad.toml'}: field '")


def test_declared_inputs_must_be_used_and_instruction_is_required(tmp_path: Path) -> None:
    tool_file(tmp_path, "unused", minimal(extra='inputs = ["language"]\n'))
    tool_file(tmp_path, "empty", 'name = "Empty"\n[parameters]\ninstruction = "inside the table"\n')
    found = problems_of(load_tools([tmp_path]))
    assert "'language' is never used" in found[("unused.toml", "inputs")]
    assert "(it is currently inside [parameters])" in found[("empty.toml", "instruction")]
    assert "move it above the first [table] header" in found[("empty.toml", "parameters.instruction")]


def test_bad_file_names_bom_and_bytes(tmp_path: Path) -> None:
    (tmp_path / "Bad Name.toml").write_text(minimal(), encoding="utf-8")
    (tmp_path / "bom.toml").write_bytes(b"\xef\xbb\xbf" + minimal(name="With BOM").encode())
    (tmp_path / "latin.toml").write_bytes(b'name = "caf\xe9"\ninstruction = "x"\n')
    (tmp_path / "syntax.toml").write_text("name = ", encoding="utf-8")
    tools = load_tools([tmp_path])
    assert tools.get("bom").name == "With BOM"
    found = problems_of(tools)
    assert found[("Bad Name.toml", "id")] == "the file name is not an id: add id = 'bad-name' or rename it"
    assert found[("latin.toml", "")].startswith("is not UTF-8 text (byte 0xe9 at line 1, column 12)")
    assert found[("syntax.toml", "")].startswith("not valid TOML")


def test_id_clash_within_one_folder_is_a_problem(tmp_path: Path) -> None:
    tool_file(tmp_path, "a", minimal(name="First", extra='id = "same"\n'))
    second = tool_file(tmp_path, "b", minimal(name="Second", extra='id = "same"\n'))
    tools = load_tools([tmp_path])
    assert tools.get("same").name == "First"
    assert [(p.path, p.field) for p in tools.problems] == [(second, "id")]
    assert check_tool_files([tmp_path]) == list(tools.problems)


def test_fifo_and_links_are_reported_never_opened(tmp_path: Path) -> None:
    tool_file(tmp_path, "good", minimal(name="Good"))
    os.mkfifo(tmp_path / "pipe.toml")  # nothing writes to it: opening it would block for ever
    (tmp_path / "dangling.toml").symlink_to(tmp_path / "gone.toml")
    result: list[ToolSet] = []
    worker = threading.Thread(target=lambda: result.append(load_tools([tmp_path])), daemon=True)
    worker.start()
    worker.join(5)
    assert result, "loading blocked on the FIFO"
    found = problems_of(result[0])
    assert found[("pipe.toml", "")].startswith("is a FIFO (named pipe), not a file; it was not opened")
    assert found[("dangling.toml", "")].endswith(
        "which does not exist: tool files must be regular .toml files"
    )
    assert "good" in result[0].tools


def test_unknown_id_lists_the_known_ones_and_missing_paths_are_problems(tmp_path: Path) -> None:
    with pytest.raises(ToolError) as info:
        load_tools().get("nope")
    assert "There is no rewrite tool 'nope': use one of expand, fix-grammar, friendlier" in str(info.value)
    missing = check_tool_files([tmp_path / "missing.toml"])
    assert [p.message for p in missing] == ["does not exist: give a tool .toml file or a folder"]
