"""The CLI against bad input and bad servers: bytes that are not UTF-8 (in argv and on stdin), a persona too
long to be sent whole, a server that never answers, a server echoing the key, odd persona files.

Why: each of these crashed with a traceback, left a customer and an empty conversation behind, waited for
minutes or cut instructions silently. Real processes, real files, the loopback server.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from support_console.store import Store
from tests.test_cli import (
    KEY,
    ROOT,
    assert_one_error_line,
    db,
    env,
    openai_flags,
    personas_dir,
    run,
    store,
)
from tests.wire_server import WireServer, error, hang, stream_text

__all__ = ["db", "env", "personas_dir", "store"]  # fixtures shared with test_cli.py

HUGE_PERSONA = 'id = "huge"\nname = "Huge"\nsystem = """{}"""\n'


def leaked(text: str) -> bool:
    """Any run of 8 of the key's characters, case ignored."""
    low, key = text.lower(), KEY.lower()
    return any(key[i : i + 8] in low for i in range(len(key) - 7))


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["draft", "a@example.com", "-m", "caf\udce9 au lait"], "--message/-m"),
        (["draft", "j\udce9@example.com", "-m", "hello"], "CUSTOMER"),
        (["draft", "a@example.com", "-m", "hello", "--name", "Jos\udce9"], "--name"),
        (["customers", "add", "j\udce9@example.com", "--name", "J"], "EMAIL"),
        (["customers", "add", "j@example.com", "--name", "J", "--attr", "plan=pr\udcf6"], "--attr"),
    ],
)
def test_arguments_that_are_not_utf8_are_a_usage_error_and_write_nothing(
    wire_server: WireServer, db: Path, personas_dir: Path, store: Store, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch, args: list[str], named: str,
) -> None:  # fmt: skip
    """argv brings bytes that are not UTF-8 as lone surrogates (surrogateescape), as simulated here."""
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    code, _out, err = run(capsys, *openai_flags(wire_server, db, personas_dir), *args)
    assert code == 2
    assert_one_error_line(err)
    assert f"error: The argument {named} is not UTF-8 text (byte 0x" in err
    assert "Traceback" not in err
    assert store.list_customers() == []
    assert wire_server.requests == []


def _subprocess(
    env: dict[str, str], argv: list[str | bytes], stdin: bytes
) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "support_console", *argv], input=stdin, capture_output=True, timeout=60,
        env={**env, "PYTHONPATH": str(ROOT), "OPENAI_API_KEY": KEY},
    )  # fmt: skip


def test_real_bytes_that_are_not_utf8_in_argv_and_on_stdin_are_refused_cleanly(
    wire_server: WireServer, env: dict[str, str], db: Path, personas_dir: Path, store: Store
) -> None:
    flags: list[str | bytes] = [*openai_flags(wire_server, db, personas_dir)]
    piped = _subprocess(env, [*flags, "draft", "pipe@example.com"], "Caf\xe9 cr\xe8me".encode("latin-1"))
    assert piped.returncode == 2, piped.stderr
    assert piped.stderr.decode().strip() == (
        "error: The message on stdin is not UTF-8 text (byte 0xe9 at offset 3): convert it to UTF-8 (e.g. "
        "`iconv -f latin1 -t utf-8`) and pipe it again."
    )
    given = _subprocess(env, [*flags, "draft", "argv@example.com", "-m", b"caf\xe9"], b"")
    assert given.returncode == 2, given.stderr
    assert b"The argument --message/-m is not UTF-8 text (byte 0xe9 at character 4)" in given.stderr
    added = _subprocess(env, [*flags, "customers", "add", b"j\xe9@example.com", "--name", "J"], b"")
    assert added.returncode == 2, added.stderr
    for done in (piped, given, added):
        assert b"Traceback" not in done.stderr
    assert store.list_customers() == []  # no customer, no empty conversation left behind
    assert wire_server.requests == []
    fine = _subprocess(env, [*flags, "draft", "ok@example.com"], "Caf\xe9 cr\xe8me".encode())
    assert fine.returncode == 0, fine.stderr
    assert wire_server.last.json["messages"][-1]["content"] == "Caf\xe9 cr\xe8me"


def test_a_draft_that_cannot_be_built_leaves_nothing_behind(
    wire_server: WireServer, db: Path, tmp_path: Path, store: Store, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    folder = tmp_path / "wide"
    folder.mkdir()
    (folder / "wide.toml").write_text('name = "W"\nsystem = "Hi"\n[parameters]\nmax_tokens = 200000\n')
    argv = [
        *openai_flags(wire_server, db, folder),
        "draft",
        "new@example.com",
        "-m",
        "hi",
        "--persona",
        "wide",
    ]
    code, _, err = run(capsys, *argv)
    assert code == 3
    assert_one_error_line(err)
    assert "200000-token reply limit" in err
    assert store.list_customers() == []
    assert wire_server.requests == []


#: About 1 MB of instructions (as in the report: cut to a few per cent when drafting, silently).
HUGE_SYSTEM = " ".join(f"Rule {i}: answer politely, check order {i * 7919 % 100003}." for i in range(19_000))


def _huge_persona(tmp_path: Path) -> Path:
    folder = tmp_path / "big"
    folder.mkdir()
    (folder / "huge.toml").write_text(HUGE_PERSONA.format(HUGE_SYSTEM))
    return folder


def test_a_persona_cut_to_fit_is_said_before_sending_and_in_the_dry_run(
    wire_server: WireServer, db: Path, tmp_path: Path, store: Store, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    flags = [*openai_flags(wire_server, db, _huge_persona(tmp_path))]
    code, out, _ = run(
        capsys, *flags, "draft", "big@example.com", "-m", "hi", "--persona", "huge", "--dry-run"
    )
    assert code == 0
    [warning] = [line for line in out.splitlines() if line.startswith("Warning: ")]
    assert f"persona 'huge' has a system message of {len(HUGE_SYSTEM):,} characters" in warning
    assert "does not fit gpt-4o's 128,000-token context window: only about " in warning
    share = int(warning.split("only about ")[1].split(" %")[0])
    dry_run = ["draft", "big@example.com", "-m", "hi", "--persona", "huge", "--dry-run"]
    code, out, _ = run(capsys, *flags, *dry_run, "--json")
    assert json.loads(out)["warnings"] == [warning.removeprefix("Warning: ")]

    wire_server.enqueue(stream_text("Hello."))
    code, out, err = run(
        capsys, *flags, "draft", "big@example.com", "-m", "hi", "--persona", "huge", "--json"
    )
    assert code == 0, err
    assert err.startswith(f"warning: {warning.removeprefix('Warning: ')}\n")
    assert json.loads(out)["warnings"] == [warning.removeprefix("Warning: ")]
    sent = wire_server.last.json["messages"][0]["content"]
    assert "[… message truncated" in sent
    assert share == round(100 * len(sent) / len(HUGE_SYSTEM))  # the share said is the share sent


def test_a_server_that_never_answers_ends_the_draft_within_the_configured_deadline(
    wire_server: WireServer, db: Path, personas_dir: Path, tmp_path: Path, store: Store,
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    config = tmp_path / "config.toml"
    config.write_text("[provider]\nfirst_token_timeout = 0.5\nmax_retries = 2\n")
    wire_server.enqueue(hang())
    argv = [*openai_flags(wire_server, db, personas_dir), "--config", str(config), "draft", "h@example.com",
            "-m", "router"]  # fmt: skip
    code, _, err = run(capsys, *argv)
    assert code == 4
    assert_one_error_line(err)
    assert "did not answer within 0.5 seconds (1 attempt)" in err
    assert len(wire_server.requests) == 1


def test_a_key_echoed_cut_and_upper_cased_reaches_neither_stderr_json_nor_the_database(
    wire_server: WireServer, db: Path, personas_dir: Path, store: Store, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    message = f"Header 'authorization: Bearer {KEY[:-3].upper()}' is malformed ({KEY[4:]})"
    wire_server.enqueue(error(400, {"error": {"message": message, "code": None}}))
    argv = [
        *openai_flags(wire_server, db, personas_dir),
        "draft",
        "echo@example.com",
        "-m",
        "router",
        "--json",
    ]
    code, out, err = run(capsys, *argv)
    assert code == 4
    stored = json.loads(out)["error"]["message"]
    assert "is malformed ([key])" in stored
    assert not leaked(out + err)
    customer = store.find_customer("echo@example.com")
    assert customer is not None
    assert customer.id is not None
    draft = store.pending_draft(store.current_conversation(customer.id).id or 0)
    assert draft is not None
    assert draft.error is not None
    assert not leaked(draft.error)
    for path in (db, db.with_name(db.name + "-wal")):
        if path.exists():
            assert not leaked(path.read_bytes().decode("utf-8", "replace"))


def test_personas_check_warns_about_size_and_reports_odd_entries(
    env: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = _huge_persona(tmp_path)
    code, out, _ = run(capsys, "personas", "check", str(folder))
    assert code == 0  # a warning does not fail the check
    assert out.startswith(f"warning: {folder / 'huge.toml'}: field 'system': is ")
    assert out.strip().endswith("1 persona file(s) OK, 1 warning(s).")
    os.mkfifo(folder / "pipe.toml")
    (folder / "gone.toml").symlink_to(folder / "nowhere.toml")
    code, out, err = run(capsys, "personas", "check", str(folder))
    assert code == 3
    assert f"{folder / 'pipe.toml'}: is a FIFO (named pipe)" in out
    assert f"{folder / 'gone.toml'}: is a symbolic link to" in out
    assert "2 problem(s), 1 warning(s) in 3 persona file(s)." in err
    code, _, err = run(capsys, "--personas", str(folder), "personas", "list")
    assert code == 0
    assert "2 persona file problem(s)" in err
