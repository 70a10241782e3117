"""Canned-reply (macro) files on disk: load, validate, override, render with the personas' placeholder rules,
the send guard's placeholder block, and `support-console macros list | show | check`."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from support_console.cli.main import main
from support_console.config.settings import default_macros_dir, default_persona_dir
from support_console.core.macros import MacroError, bundled_macros_dir, check_macro_files, load_macros
from support_console.workflows.send_guard import placeholder_block, unfilled_placeholders

ROOT = Path(__file__).resolve().parents[1]


def macro_file(folder: Path, stem: str, body: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{stem}.toml"
    path.write_text(body, encoding="utf-8")
    return path


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Config and data dirs inside tmp_path, so the user's macros folder is tmp_path's."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    return dict(os.environ)


def test_bundled_macros_load_clean() -> None:
    assert bundled_macros_dir() == ROOT / "macros"
    macros = load_macros()
    assert macros.problems == ()
    assert {m.id for m in macros.ordered()} == {"password-reset", "refund-sent", "resolved"}
    assert macros.get("refund-sent").status == "pending"
    assert macros.get("resolved").status == "resolved"
    assert macros.get("password-reset").status is None
    assert check_macro_files([bundled_macros_dir()]) == []
    assert default_macros_dir() == default_persona_dir().parent / "macros"


def test_placeholders_follow_the_personas_rules_and_unfilled_ones_stay_visible(tmp_path: Path) -> None:
    macro_file(
        tmp_path,
        "price",
        'name = "Price"\nbody = "Hi {{ name }}, it is $59.99 {not a placeholder} for {{order_id}}, '
        '{{ plan }}; {{ agent }}."\n[variables]\norder_id = ""\nplan = "Basic"\n',
    )
    macro = load_macros([tmp_path]).get("price")
    text = macro.render({"name": "Jane", "agent": "alice"})
    assert text == "Hi Jane, it is $59.99 {not a placeholder} for {{order_id}}, Basic; alice."
    assert unfilled_placeholders(text) == ("order_id",)
    assert placeholder_block(text) == (
        "Fill in {{ order_id }} before sending: the reply still has this placeholder."
    )
    value_with_braces = macro.render({"name": "{{ agent }}", "agent": "alice", "order_id": "A-1"})
    assert value_with_braces.startswith("Hi {{ agent }},")  # one pass: a value is never expanded again
    assert placeholder_block("A reply with {single} braces and $5.") is None


def test_broken_files_are_named_by_file_and_field_and_the_others_load(tmp_path: Path) -> None:
    macro_file(tmp_path, "good", 'name = "Good"\nbody = "Hello {{ name }}."\n')
    macro_file(tmp_path, "undeclared", 'name = "U"\nbody = "Order {{ order_id }}."\n')
    macro_file(tmp_path, "status", 'name = "S"\nbody = "Hi."\nstatus = "closed"\n')
    macro_file(tmp_path, "unclosed", 'name = "C"\nbody = "Hi {{ name"\n')
    macro_file(tmp_path, "nobody", 'name = "N"\n')
    macro_file(tmp_path, "syntax", 'name = "X\n')
    macros = load_macros([tmp_path])
    assert set(macros.macros) == {"good", "password-reset", "refund-sent", "resolved"}
    found = {(p.path.name, p.field): p.message for p in macros.problems}
    assert "placeholder {{ order_id }} is not declared" in found[("undeclared.toml", "body")]
    assert "expected one of 'open', 'pending', 'resolved', got 'closed'" in found[("status.toml", "status")]
    assert "unclosed placeholder" in found[("unclosed.toml", "body")]
    assert ("nobody.toml", "body") in found
    assert any(name == "syntax.toml" for name, _ in found)
    with pytest.raises(MacroError, match="use one of good, password-reset"):
        macros.get("nope")


def test_a_user_file_overrides_a_bundled_one_by_id(tmp_path: Path) -> None:
    macro_file(tmp_path, "mine", 'id = "resolved"\nname = "Ours"\nbody = "Done, {{ name }}."\n')
    macro = load_macros([tmp_path]).get("resolved")
    assert (macro.name, macro.status, macro.source) == ("Ours", None, tmp_path / "mine.toml")


def test_macros_list_show_and_check(
    env: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["macros", "list"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].split() == ["TYPE", "NAME", "ON", "SEND", "DESCRIPTION"]
    assert "/refund-sent" in out
    assert main(["macros", "show", "/refund-sent"]) == 0
    shown = capsys.readouterr().out
    assert "on send:   mark pending" in shown
    assert "{{ order_id }}" in shown
    assert main(["macros", "show", "nope"]) == 2
    assert main(["macros", "check"]) == 0
    assert capsys.readouterr().out.strip().endswith("3 macro file(s) OK.")
    folder = tmp_path / "config" / "support-console" / "macros"
    macro_file(folder, "bad", 'name = "Bad"\nbody = "Order {{ order_id }}."\n')
    assert main(["macros", "check"]) == 3
    captured = capsys.readouterr()
    assert (
        f"{folder / 'bad.toml'}: field 'body': placeholder {{{{ order_id }}}} is not declared" in captured.out
    )
    assert "1 problem(s) in 4 macro file(s)." in captured.err
    assert main(["macros", "list"]) == 0
    assert "1 macro file problem(s)" in capsys.readouterr().err
