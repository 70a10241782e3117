"""Rewriting: the request (workflows/rewriting.py) and the headless `rewrite` / `tools` commands, run for
real through main() against the loopback wire server, which records exactly what was sent."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from support_console.cli.main import main
from support_console.core.errors import ToolError
from support_console.core.model_facts import ModelOverride, resolve_model
from support_console.core.rewrite_tools import load_tools
from support_console.core.tokens import count_chat
from support_console.core.trimming import ContextBudgetError
from support_console.workflows.rewriting import (
    NothingToRewrite,
    Protected,
    prepare_rewrite,
    preservation_rules,
    split_protected,
)
from tests.wire_server import WireServer, drop_after, stream_text

ROOT = Path(__file__).resolve().parents[1]
KEY = "sk-test-REWRITE-secret-0123456789"
GPT4O = resolve_model("gpt-4o")
BODY = (
    "Hi Jane,\n\nSorry about the double charge on order ORD-12345. We refunded $59.99 today; see "
    "https://shop.example.com/orders?id=12345&ref=mail for the status."
)
HEAD = "> I was charged twice for ORD-12345!\n> Please fix it.\n\n"
TAIL = "\n\n--\nAna\nBilling team"
DRAFT = HEAD + BODY + TAIL
SHORT = "Hi Jane, we refunded the $59.99 double charge on ORD-12345: https://shop.example.com/orders?id=12345&ref=mail"
_PROVIDER_VARS = (
    "OPENAI_API_KEY", "OPENAI_BASE_URL", "OPENAI_MODEL", "OPENAI_API_VERSION", "AZURE_OPENAI_API_KEY",
    "AZURE_OPENAI_ENDPOINT", "AZURE_OPENAI_DEPLOYMENT", "SUPPORT_CONSOLE_PROVIDER", "SUPPORT_CONSOLE_DB",
    "SUPPORT_CONSOLE_CONFIG", "DATABASE_URL",
)  # fmt: skip


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """A hermetic environment: no provider variables, config and data dirs inside tmp_path, a key set."""
    for var in _PROVIDER_VARS:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    return dict(os.environ)


def flags(wire: WireServer, tmp_path: Path) -> list[str]:
    return ["--db", str(tmp_path / "never.db"), "--provider", "openai", "--base-url", wire.base_url,
            "--model", "gpt-4o"]  # fmt: skip


def rewrite(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, text: str, *argv: str
) -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "stdin", io.StringIO(text))
    code = main(["rewrite", *argv])
    out, err = capsys.readouterr()
    return code, out, err


# ----------------------------------------------------------------------------------------- the request


def test_split_protected_cuts_leading_and_trailing_quotes_and_the_signature() -> None:
    parts = split_protected(DRAFT)
    assert parts == Protected(HEAD, BODY, TAIL)
    assert parts.head + parts.body + parts.tail == DRAFT
    inline = "> Where is it?\nIt shipped.\n> And the refund?\nDone today.\n-- \nAna"
    kept = "It shipped.\n> And the refund?\nDone today."  # quoted lines between paragraphs are sent
    assert split_protected(inline) == Protected("> Where is it?\n", kept, "\n-- \nAna")
    assert split_protected("No quotes, no signature.\n") == Protected("", "No quotes, no signature.", "\n")
    assert split_protected("A -- dash in a line\n--not a signature") == Protected(
        "", "A -- dash in a line\n--not a signature", ""
    )


def test_the_system_prompt_is_the_instruction_and_the_rules_and_only_the_body_is_sent() -> None:
    tool = load_tools().get("shorter")
    prepared = prepare_rewrite(tool, DRAFT, GPT4O)
    system, user = prepared.request.messages
    rules = preservation_rules(tool, prepared.parts)
    assert system == {"role": "system", "content": f"{tool.instruction}\n\n{rules}"}
    assert user == {"role": "user", "content": BODY}
    assert "> I was charged" not in str(prepared.request.messages)
    assert "Billing team" not in str(prepared.request.messages)
    assert "exactly as written, character for character" in rules
    assert "Write in the same language as the text." in rules
    assert "Do not add a sign-off or signature" in rules
    assert prepared.prompt_tokens == count_chat(prepared.request.messages, GPT4O)
    assert prepared.assemble("  New body.\n") == HEAD + "New body." + TAIL
    assert prepared.request.params["temperature"] == 0.2


def test_translate_drops_the_language_rule_and_refine_fills_the_instruction() -> None:
    tools = load_tools()
    translated = prepare_rewrite(tools.get("translate"), BODY, GPT4O, {"language": "German"})
    system = str(translated.request.messages[0]["content"])
    assert "into German." in system
    assert "same language" not in system
    assert "signature" not in system  # there is none to protect
    refine = prepare_rewrite(tools.get("refine"), BODY, GPT4O, {"instruction": "mention the 30-day warranty"})
    assert "Agent's instruction: mention the 30-day warranty\n" in str(refine.request.messages[0]["content"])
    with pytest.raises(ToolError, match="needs instruction"):
        prepare_rewrite(tools.get("refine"), BODY, GPT4O)


def test_nothing_to_rewrite_and_a_text_too_long_for_the_window() -> None:
    tool = load_tools().get("shorter")
    with pytest.raises(NothingToRewrite):
        prepare_rewrite(tool, "> only a quote\n--\nAna", GPT4O)
    small = resolve_model("tiny", {"tiny": ModelOverride(family="gpt-4o", context_window=600)})
    with pytest.raises(ContextBudgetError, match="too long to rewrite with tiny"):
        prepare_rewrite(tool, "word " * 400, small)


def test_room_for_the_reply_grows_with_the_text_within_the_models_limit() -> None:
    tool = load_tools().get("expand")
    short = prepare_rewrite(tool, "Short.", GPT4O)
    assert short.request.params["max_tokens"] == 750
    long_text = "The router restarts every hour. " * 300
    long = prepare_rewrite(tool, long_text, GPT4O)
    assert long.request.params["max_tokens"] > 2 * 1800
    assert long.request.params["max_tokens"] <= GPT4O.max_output_tokens


# --------------------------------------------------------------------------------------- headless rewrite


def test_rewrite_streams_the_reassembled_text_and_sends_exactly_the_body(
    wire_server: WireServer, env: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    wire_server.enqueue(stream_text("\n" + SHORT + "\n\n", usage=(120, 30)))
    code, out, err = rewrite(capsys, monkeypatch, DRAFT, *flags(wire_server, tmp_path), "--tool", "shorter")
    assert code == 0, err
    assert out == HEAD + SHORT + TAIL + "\n"
    assert err == ""
    body = wire_server.last.json
    assert body["stream"] is True
    assert body["model"] == "gpt-4o"
    tool = load_tools().get("shorter")
    assert body["messages"][0]["content"].startswith(tool.instruction + "\n\nRules for every rewrite:\n")
    assert body["messages"][1] == {"role": "user", "content": BODY}
    assert not (tmp_path / "never.db").exists()  # nothing stored, the store never opened


def test_a_changed_price_is_flagged_with_exit_5_and_json_findings(
    wire_server: WireServer, env: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    changed = SHORT.replace("$59.99", "$49.99").replace("&ref=mail", "")
    wire_server.enqueue(stream_text(changed))
    code, out, err = rewrite(capsys, monkeypatch, DRAFT, *flags(wire_server, tmp_path), "--tool", "shorter")
    assert code == 5
    assert out == HEAD + changed + TAIL + "\n"  # the text is still printed
    assert "warning: the price $59.99 became $49.99" in err
    assert "warning: the link https://shop.example.com/orders?id=12345&ref=mail became" in err
    assert "flagged 2 change(s)" in err

    wire_server.enqueue(stream_text(changed, usage=(100, 25)))
    code, out, _ = rewrite(
        capsys, monkeypatch, DRAFT, *flags(wire_server, tmp_path), "--tool", "shorter", "--json"
    )
    assert code == 5
    data = json.loads(out)
    assert data["text"] == HEAD + changed + TAIL
    assert data["tool"] == "shorter"
    assert data["persona"] == "tech-support"
    assert data["model"] == "gpt-4o-2024-08-06"  # the served model
    assert data["finish_reason"] == "stop"
    assert data["usage"] == {"prompt_tokens": 100, "completion_tokens": 25, "total_tokens": 125}
    assert data["findings"][1] == {
        "kind": "price", "change": "changed", "original": "$59.99", "rewritten": "$49.99",
        "message": "the price $59.99 became $49.99",
    }  # fmt: skip
    assert [f["kind"] for f in data["findings"]] == ["url", "price"]


def test_refine_takes_the_instruction_and_without_it_is_a_usage_error(
    wire_server: WireServer, env: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    code, out, err = rewrite(capsys, monkeypatch, BODY, *flags(wire_server, tmp_path), "--tool", "refine")
    assert code == 2
    assert out == ""
    assert err.startswith("error: The tool 'refine' needs instruction: give --instruction")
    assert wire_server.requests == []
    wire_server.enqueue(stream_text(BODY + " It has our 30-day warranty."))
    code, _, err = rewrite(
        capsys, monkeypatch, BODY, *flags(wire_server, tmp_path), "--tool", "refine",
        "--instruction", "mention the 30-day warranty",
    )  # fmt: skip
    assert code == 0, err
    assert (
        "Agent's instruction: mention the 30-day warranty" in wire_server.last.json["messages"][0]["content"]
    )
    code, _, err = rewrite(capsys, monkeypatch, BODY, *flags(wire_server, tmp_path), "--tool", "nope")
    assert code == 2
    assert "There is no rewrite tool 'nope'" in err


def test_a_refusal_prints_nothing_and_exits_4(
    wire_server: WireServer, env: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    wire_server.enqueue(stream_text("", refusal="I can't help with that."))
    code, out, err = rewrite(
        capsys, monkeypatch, DRAFT, *flags(wire_server, tmp_path), "--tool", "friendlier"
    )
    assert code == 4
    assert out == ""
    assert err.strip() == "error: The model refused: I can't help with that."


def test_a_cut_off_rewrite_and_a_dropped_stream_exit_4(
    wire_server: WireServer, env: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    wire_server.enqueue(stream_text("Hi Jane, we refunded", finish_reason="length"))
    code, out, err = rewrite(
        capsys, monkeypatch, DRAFT, *flags(wire_server, tmp_path), "--tool", "shorter", "--json"
    )
    assert code == 4
    data = json.loads(out)
    assert data["error"]["kind"] == "cut_off"
    assert data["finish_reason"] == "length"
    assert data["findings"] == []
    wire_server.enqueue(drop_after(stream_text("Hi Jane, we refunded the money today, all of it."), 3))
    code, out, err = rewrite(capsys, monkeypatch, DRAFT, *flags(wire_server, tmp_path), "--tool", "shorter")
    assert code == 4
    assert out.startswith(HEAD + "Hi")  # what came is on stdout, without the tail
    assert "Billing team" not in out
    assert err.startswith("error: ")
    assert KEY not in out + err


def test_a_user_tool_file_overrides_the_bundled_one_by_id(
    wire_server: WireServer, env: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    folder = tmp_path / "config" / "support-console" / "tools"
    folder.mkdir(parents=True)
    (folder / "mine.toml").write_text('id = "shorter"\nname = "Ours"\ninstruction = "Cut it to one line."\n')
    wire_server.enqueue(stream_text("One line."))
    code, _, err = rewrite(capsys, monkeypatch, BODY, *flags(wire_server, tmp_path), "--tool", "shorter")
    assert code == 5, err  # one line drops the id, the price and the link: flagged
    assert wire_server.last.json["messages"][0]["content"].startswith(
        "Cut it to one line.\n\nRules for every"
    )
    assert main(["tools", "show", "shorter"]) == 0
    assert f"file:       {folder / 'mine.toml'}" in capsys.readouterr().out


def test_dry_run_and_no_provider(
    env: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY")
    code, out, err = rewrite(
        capsys, monkeypatch, DRAFT, "--model", "gpt-4o", "--tool", "simplify", "--dry-run"
    )
    assert code == 0, err
    data = json.loads(out)
    assert data["request"]["messages"][1] == {"role": "user", "content": BODY}
    code, out, err = rewrite(capsys, monkeypatch, DRAFT, "--model", "gpt-4o", "--tool", "simplify")
    assert code == 3
    assert err.startswith("error: No model provider is ready")
    code, _, err = rewrite(capsys, monkeypatch, "  \n", "--model", "gpt-4o", "--tool", "simplify")
    assert code == 2
    assert "nothing to rewrite" in err


# ---------------------------------------------------------------------------------------------- tools CLI


def test_tools_list_show_and_check(
    env: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["tools", "list"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].split() == ["ID", "NAME", "INPUTS", "DESCRIPTION"]
    assert "refine" in out
    assert "instruction" in out
    assert main(["tools", "show", "translate"]) == 0
    assert "inputs:     language" in capsys.readouterr().out
    assert main(["tools", "show", "nope"]) == 2
    assert main(["tools", "check"]) == 0
    assert capsys.readouterr().out.strip().endswith("8 tool file(s) OK.")

    broken = tmp_path / "broken"
    broken.mkdir()
    bad = broken / "bad.toml"
    bad.write_text('name = "X"\ninstruction = "Say {{ tone }}"\n[parameters]\ntemperature = "hot"\n')
    (broken / "good.toml").write_text('name = "Good"\ninstruction = "Fine."\n')
    assert main(["tools", "check", str(broken)]) == 3
    out, err = capsys.readouterr()
    lines = out.strip().splitlines()
    assert any(line.startswith(f"{bad}: field 'parameters.temperature'") for line in lines), out
    assert any(line.startswith(f"{bad}: field 'instruction'") and "tone" in line for line in lines), out
    assert "2 problem(s) in 2 tool file(s)." in err
    assert main(["tools", "check", str(tmp_path / "missing.toml")]) == 2
    assert main(["tools", "list"]) == 0  # the bundled ones are unaffected by a broken folder elsewhere


def test_subprocess_rewrite_from_stdin(wire_server: WireServer, env: dict[str, str], tmp_path: Path) -> None:
    """The real entry point: bytes on stdin, the rewrite on stdout, the exit code."""
    wire_server.enqueue(stream_text(SHORT))
    done = subprocess.run(
        [sys.executable, "-m", "support_console", *flags(wire_server, tmp_path), "rewrite", "--tool",
         "shorter"],
        input=DRAFT.encode(), capture_output=True, timeout=60, env=env, cwd=ROOT,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.decode() == HEAD + SHORT + TAIL + "\n"
    assert wire_server.last.json["messages"][1]["content"] == BODY
