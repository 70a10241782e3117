"""The headless CLI, run for real: `main(argv)` in-process and `python -m support_console` as a subprocess,
against the loopback wire server (OpenAI and Azure routes) and a temporary SQLite file."""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from support_console.cli.main import main
from support_console.core.model_facts import resolve_model
from support_console.core.tokens import count_chat
from support_console.core.vocabulary import REFUSAL_NOTE, STOPPED_NOTE
from support_console.store import Store
from tests.wire_server import WireServer, drop_after, error, replay, stream_text

ROOT = Path(__file__).resolve().parents[1]
KEY = "sk-test-CLI-secret-0123456789"
REPLY = "Hello Jane, please restart the router and try again."
_PROVIDER_VARS = (
    "OPENAI_API_KEY", "OPENAI_BASE_URL", "OPENAI_MODEL", "OPENAI_API_VERSION", "AZURE_OPENAI_API_KEY",
    "AZURE_OPENAI_ENDPOINT", "AZURE_OPENAI_DEPLOYMENT", "SUPPORT_CONSOLE_PROVIDER", "SUPPORT_CONSOLE_DB",
    "SUPPORT_CONSOLE_CONFIG", "DATABASE_URL",
)  # fmt: skip

ROUTER_PERSONA = """\
id = "router-help"
name = "Router Help"
description = "Home network questions."
triggers = ["router", "modem"]
system = "You help {{ name }} <{{ email }}> with routers on the {{ plan }} plan."

[parameters]
temperature = 0.5
max_tokens = 300

[variables]
plan = "basic"
"""


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """A hermetic environment: no provider variables, config and data dirs inside tmp_path."""
    for var in _PROVIDER_VARS:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    return dict(os.environ)


@pytest.fixture
def personas_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "personas"
    folder.mkdir()
    (folder / "router-help.toml").write_text(ROUTER_PERSONA)
    return folder


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "console.db"


@pytest.fixture
def store(db: Path, env: dict[str, str]) -> Iterator[Store]:
    """The CLI's database, opened by the test to check what the CLI stored."""
    opened = Store.open(f"sqlite:///{db}")
    try:
        yield opened
    finally:
        opened.close()


def openai_flags(wire: WireServer, db: Path, personas: Path) -> list[str]:
    return ["--db", str(db), "--provider", "openai", "--base-url", wire.base_url, "--model", "gpt-4o",
            "--personas", str(personas)]  # fmt: skip


def azure_flags(wire: WireServer, db: Path, personas: Path, deployment: str = "prod-chat") -> list[str]:
    return ["--db", str(db), "--azure-endpoint", wire.azure_endpoint, "--deployment", deployment,
            "--api-version", "2024-10-21", "--personas", str(personas)]  # fmt: skip


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_error_line(err: str) -> None:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ")
    assert KEY not in err


# ------------------------------------------------------------------------------------------------- draft


def test_draft_streams_and_stores_an_unsent_draft(
    wire_server: WireServer, db: Path, personas_dir: Path, store: Store, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    wire_server.enqueue(stream_text(REPLY, usage=(42, 13)))
    argv = [*openai_flags(wire_server, db, personas_dir), "draft", "jane.doe@example.com"]
    code, out, err = run(capsys, *argv, "--message", "My router drops Wi-Fi every hour.")

    assert code == 0, err
    assert out == REPLY + "\n"
    assert "awaits approval" in err
    assert KEY not in out + err
    request = wire_server.last
    assert request.path == "/v1/chat/completions"
    assert request.headers["authorization"] == f"Bearer {KEY}"
    body = request.json
    assert body["stream"] is True
    assert body["model"] == "gpt-4o"
    assert body["max_tokens"] == 300
    assert body["temperature"] == 0.5
    assert body["messages"][0] == {
        "role": "system",
        "content": "You help Jane Doe <jane.doe@example.com> with routers on the basic plan.",
    }
    assert body["messages"][-1] == {"role": "user", "content": "My router drops Wi-Fi every hour."}

    customer = store.find_customer("jane.doe@example.com")
    assert customer is not None
    assert customer.id is not None
    assert customer.name == "Jane Doe"
    conversation = store.current_conversation(customer.id)
    assert conversation.persona_id == "router-help"
    draft = store.pending_draft(conversation.id or 0)
    assert draft is not None
    assert f"Draft #{draft.id} " in err
    assert (draft.role, draft.state, draft.text, draft.original_text) == ("agent", "draft", REPLY, REPLY)
    assert (draft.persona_id, draft.model, draft.finish_reason) == (
        "router-help",
        "gpt-4o-2024-08-06",
        "stop",
    )
    assert (draft.prompt_tokens, draft.completion_tokens, draft.error) == (42, 13, None)
    assert draft.approved_by is None
    messages = store.page_messages(conversation.id or 0)
    assert [(m.role, m.state) for m in messages] == [("customer", "received"), ("agent", "draft")]


def test_dry_run_sends_nothing_stores_nothing_and_reports_tokens(
    wire_server: WireServer, db: Path, personas_dir: Path, store: Store, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    argv = [*openai_flags(wire_server, db, personas_dir), "draft", "new@example.com", "--name", "Nia"]
    code, out, err = run(capsys, *argv, "-m", "The modem light is red.", "--dry-run")

    assert code == 0, err
    assert wire_server.requests == []
    assert "no reply was asked of the model" in out
    assert "Tokens: prompt" in out
    assert "Persona: router-help" in out
    assert '"content": "The modem light is red."' in out
    assert "You help Nia <new@example.com>" in out
    assert KEY not in out
    assert store.find_customer("new@example.com") is None


def test_dry_run_needs_no_provider_and_json_report_is_exact(
    env: dict[str, str], db: Path, personas_dir: Path, store: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    store.add_customer("Ann", "ann@example.com", attributes={"plan": "gold"})
    argv = ["--db", str(db), "--model", "gpt-4o", "--personas", str(personas_dir), "draft", "ann@example.com"]
    code, out, err = run(capsys, *argv, "-m", "router again", "--dry-run", "--json")

    assert code == 0, err
    data = json.loads(out)
    messages = data["request"]["messages"]
    assert messages[0]["content"] == "You help Ann <ann@example.com> with routers on the gold plan."
    assert data["persona"] == "router-help"
    assert data["model"]["name"] == "gpt-4o"
    assert data["report"]["prompt_tokens"] == count_chat(messages, resolve_model("gpt-4o"))
    assert data["report"]["kept"] == 1
    assert data["report"]["dropped"] == 0


def test_json_output_is_one_object_with_the_draft(
    wire_server: WireServer, db: Path, personas_dir: Path, store: Store, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    wire_server.enqueue(stream_text(REPLY, usage=(7, 9)))
    argv = [
        *openai_flags(wire_server, db, personas_dir),
        "draft",
        "jane@example.com",
        "-m",
        "router",
        "--json",
    ]
    code, out, err = run(capsys, *argv)

    assert code == 0, err
    data = json.loads(out)
    assert data["text"] == REPLY
    assert data["finish_reason"] == "stop"
    assert data["usage"] == {"prompt_tokens": 7, "completion_tokens": 9, "total_tokens": 16}
    assert data["persona"] == "router-help"
    assert data["model"] == "gpt-4o-2024-08-06"
    assert data["report"]["prompt_tokens"] > 0
    assert data["state"] == "draft"
    draft = store.pending_draft(data["conversation_id"])
    assert draft is not None
    assert draft.id == data["draft_id"]
    assert draft.text == REPLY


def test_persona_is_suggested_then_remembered_then_defaulted(
    wire_server: WireServer, db: Path, personas_dir: Path, store: Store, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    flags = openai_flags(wire_server, db, personas_dir)

    def persona_for(customer: str, message: str) -> str:
        code, out, err = run(capsys, *flags, "draft", customer, "-m", message, "--json")
        assert code == 0, err
        return str(json.loads(out)["persona"])

    assert persona_for("bo@example.com", "I was charged twice, I want a refund") == "billing-refunds"
    assert persona_for("bo@example.com", "Any news?") == "billing-refunds"  # the conversation's persona
    assert persona_for("cy@example.com", "Hello there") == "tech-support"  # the default
    assert persona_for("cy@example.com", "The modem blinks") == "router-help"
    code, out, _ = run(capsys, *flags, "draft", "cy@example.com", "-m", "refund", "--persona", "router-help",
                       "--json")  # fmt: skip
    assert code == 0
    assert json.loads(out)["persona"] == "router-help"


def test_message_from_stdin(
    wire_server: WireServer, db: Path, personas_dir: Path, store: Store, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    import io

    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    monkeypatch.setattr(sys, "stdin", io.StringIO("Line one\nline two with $59.99 and {json}\n"))
    code, _, err = run(
        capsys, *openai_flags(wire_server, db, personas_dir), "draft", "d@example.com", "-m", "-"
    )
    assert code == 0, err
    assert wire_server.last.json["messages"][-1]["content"] == "Line one\nline two with $59.99 and {json}"


# ------------------------------------------------------------------------------------------------ errors


def test_bad_key_is_one_line_exit_3_and_the_retry_does_not_duplicate_the_message(
    wire_server: WireServer, db: Path, personas_dir: Path, store: Store, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    wire_server.enqueue(replay("oai_401_2025"))
    argv = [*openai_flags(wire_server, db, personas_dir), "draft", "e@example.com", "-m", "router is down"]
    code, out, err = run(capsys, *argv)

    assert code == 3
    assert_one_error_line(err)
    assert "OPENAI_API_KEY" in err
    assert KEY not in out
    customer = store.find_customer("e@example.com")
    assert customer is not None
    assert customer.id is not None
    conversation_id = store.current_conversation(customer.id).id or 0
    failed = store.pending_draft(conversation_id)
    assert failed is not None
    assert failed.error
    assert failed.text == ""

    wire_server.enqueue(stream_text(REPLY))
    code, _, err = run(capsys, *argv)
    assert code == 0, err
    roles = [m.role for m in store.page_messages(conversation_id)]
    assert roles == ["customer", "agent"]  # one customer message; the new draft superseded the failed one
    assert [g.draft_state for g in store.generations(conversation_id)] == ["superseded", "draft"]


def test_azure_content_filter_is_exit_4_with_one_line(
    wire_server: WireServer, db: Path, personas_dir: Path, store: Store, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", KEY)
    wire_server.enqueue(replay("az_400_content_filter_stream_2025"))
    argv = [*azure_flags(wire_server, db, personas_dir, "gpt-4o-mini"), "draft", "f@example.com", "-m", "x"]
    code, out, err = run(capsys, *argv)

    assert code == 4
    assert_one_error_line(err)
    assert "content filter" in err.lower()
    assert KEY not in out
    assert wire_server.last.deployment == "gpt-4o-mini"


def test_content_filter_mid_reply_keeps_the_partial_draft(
    wire_server: WireServer, db: Path, personas_dir: Path, store: Store, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", KEY)
    wire_server.enqueue(stream_text("Here is how to", azure=True, finish_reason="content_filter"))
    argv = [*azure_flags(wire_server, db, personas_dir), "draft", "g@example.com", "-m", "x", "--json"]
    code, out, err = run(capsys, *argv)

    assert code == 4
    assert_one_error_line(err)
    data = json.loads(out)
    assert data["error"]["kind"] == "content_filter"
    assert data["text"] == "Here is how to"
    draft = store.pending_draft(data["conversation_id"])
    assert draft is not None
    assert draft.id == data["draft_id"]
    assert draft.text == "Here is how to"
    assert draft.finish_reason == "content_filter"
    assert draft.error


def test_dropped_stream_keeps_the_partial_draft_and_exits_4(
    wire_server: WireServer, db: Path, personas_dir: Path, store: Store, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    wire_server.enqueue(
        drop_after(stream_text(REPLY, chunks=["Hello Jane, ", "please restart", REPLY[26:]]), 3)
    )
    argv = [*openai_flags(wire_server, db, personas_dir), "draft", "h@example.com", "-m", "router"]
    code, out, err = run(capsys, *argv)

    assert code == 4
    assert_one_error_line(err)
    assert out == "Hello Jane, please restart\n"
    assert "partial draft #" in err
    customer = store.find_customer("h@example.com")
    assert customer is not None
    assert customer.id is not None
    draft = store.pending_draft(store.current_conversation(customer.id).id or 0)
    assert draft is not None
    assert draft.text == "Hello Jane, please restart"
    assert draft.finish_reason is None
    assert draft.error
    assert "stopped before it was complete" in draft.error


def test_refusal_is_shown_and_stored_as_a_refusal(
    wire_server: WireServer, db: Path, personas_dir: Path, store: Store, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    wire_server.enqueue(stream_text("", refusal="I can't help with that."))
    argv = [*openai_flags(wire_server, db, personas_dir), "draft", "i@example.com", "-m", "router", "--json"]
    code, out, err = run(capsys, *argv)

    assert code == 4, err  # a refusal is not a draft: a model error, like the content filter
    data = json.loads(out)
    assert data["refusal"] is True
    assert data["error"]["kind"] == "refused"
    assert data["text"] == "I can't help with that."
    draft = store.pending_draft(data["conversation_id"])
    assert draft is not None
    assert draft.text == "I can't help with that."
    assert draft.error == REFUSAL_NOTE


def test_a_refusal_is_exit_4_on_stderr_and_never_on_stdout(
    wire_server: WireServer, db: Path, personas_dir: Path, store: Store, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    wire_server.enqueue(stream_text("", refusal="I can't help with that."))
    argv = [*openai_flags(wire_server, db, personas_dir), "draft", "j@example.com", "-m", "router"]
    code, out, err = run(capsys, *argv)

    assert code == 4
    assert out == ""
    assert_one_error_line(err)
    assert "refused" in err
    assert "I can't help with that." in err


def test_a_second_draft_supersedes_the_first_and_says_where_it_is(
    wire_server: WireServer, db: Path, personas_dir: Path, store: Store, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    argv = [*openai_flags(wire_server, db, personas_dir), "draft", "k@example.com", "-m", "router"]
    wire_server.enqueue(stream_text("First draft."))
    assert run(capsys, *argv)[0] == 0
    wire_server.enqueue(stream_text("Second draft."))
    code, out, err = run(capsys, *argv)

    assert code == 0, err
    assert out.strip() == "Second draft."
    customer = store.find_customer("k@example.com")
    assert customer is not None
    assert customer.id is not None
    conversation_id = store.current_conversation(customer.id).id or 0
    draft = store.pending_draft(conversation_id)
    assert draft is not None
    assert draft.text == "Second draft."
    assert f"Draft #{draft.id} " in err
    assert "open the console" in err
    assert [g.draft_state for g in store.generations(conversation_id)] == ["superseded", "draft"]


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        (["x@example.com", "-m", "   "], "message is empty"),
        (["x@example.com", "-m", "hi", "--persona", "nope"], "no persona 'nope'"),
        (["EXT-404", "-m", "hi"], "customers add"),
    ],
)
def test_usage_errors_exit_2_and_record_nothing(
    wire_server: WireServer, db: Path, personas_dir: Path, store: Store, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch, extra: list[str], expected: str,
) -> None:  # fmt: skip
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    code, _, err = run(capsys, *openai_flags(wire_server, db, personas_dir), "draft", *extra)
    assert code == 2
    assert_one_error_line(err)
    assert expected in err
    assert store.list_customers() == []
    assert wire_server.requests == []


def test_no_provider_exits_3_and_records_nothing(
    env: dict[str, str], db: Path, personas_dir: Path, store: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "--db", str(db), "draft", "x@example.com", "-m", "hello")
    assert code == 3
    assert_one_error_line(err)
    assert "support-console config" in err
    assert "--dry-run" in err
    assert store.list_customers() == []


def test_argparse_usage_error_is_exit_2(env: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "draft")
    assert code == 2
    assert "CUSTOMER" in err


def test_help_documents_the_exit_codes(env: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (["--help"], ["draft", "--help"]):
        code, out, _ = run(capsys, *argv)
        assert code == 0
        out = " ".join(out.split())
        assert "exit codes: 0 ok, 1 other failure, 2 usage, 3 configuration or provider" in out
        assert "4 model error" in out


# ------------------------------------------------------------------------------- customers, personas, config


def test_customers_add_and_list(
    env: dict[str, str], db: Path, store: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "--db", str(db), "customers", "add", "kim@example.com", "--name", "Kim Park",
                         "--external-id", "CRM-7", "--attr", "plan=pro", "--attr", "tier=gold=1")  # fmt: skip
    assert code == 0, err
    assert "Kim Park <kim@example.com>" in out
    run(capsys, "--db", str(db), "customers", "add", "lee@example.com", "--name", "Lee")

    code, out, _ = run(capsys, "--db", str(db), "customers", "list")
    assert code == 0
    assert "Kim Park" in out
    assert "CRM-7" in out
    assert "Lee" in out
    code, out, _ = run(capsys, "customers", "list", "--json", "--filter", "kim", "--db", str(db))
    data = json.loads(out)
    assert [c["email"] for c in data["customers"]] == ["kim@example.com"]
    assert data["customers"][0]["attributes"] == {"plan": "pro", "tier": "gold=1"}

    code, _, err = run(capsys, "--db", str(db), "customers", "add", "KIM@example.com", "--name", "Kim")
    assert code == 1
    assert "already exists" in err
    assert_one_error_line(err)
    code, _, err = run(
        capsys, "--db", str(db), "customers", "add", "m@example.com", "--name", "M", "--attr", "x"
    )
    assert code == 2
    assert "KEY=VALUE" in err


def test_personas_list_show_and_check(
    env: dict[str, str], personas_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "--personas", str(personas_dir), "personas", "list")
    assert code == 0
    assert "router-help" in out
    assert "tech-support" in out
    code, out, _ = run(capsys, "--personas", str(personas_dir), "personas", "show", "router-help")
    assert code == 0
    assert "{{ plan }}" in out
    assert "max_tokens=300" in out
    code, out, _ = run(capsys, "--personas", str(personas_dir), "personas", "check")
    assert code == 0
    assert "OK" in out

    broken = tmp_path / "broken"
    broken.mkdir()
    bad = broken / "xbox.toml"
    bad.write_text('name = "X"\nsystem = "Hi {{ gamertag }}"\n[parameters]\ntemperature = "hot"\n')
    code, out, err = run(capsys, "personas", "check", str(broken))
    assert code == 3
    lines = out.strip().splitlines()
    assert any(line.startswith(f"{bad}: field 'parameters.temperature'") for line in lines), out
    assert any(line.startswith(f"{bad}: field 'system'") and "gamertag" in line for line in lines), out
    code, _, err = run(capsys, "personas", "check", str(tmp_path / "missing.toml"))
    assert code == 2
    assert "does not exist" in err


def test_config_shows_settings_without_the_key(
    env: dict[str, str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    code, out, _ = run(capsys, "--model", "gpt-4o-mini", "config")
    assert code == 0
    assert "OpenAI model gpt-4o-mini" in out
    assert "API key:       set" in out
    assert "OPENAI_BASE_URL" in out  # the how-to-configure text
    assert KEY not in out

    monkeypatch.setenv("DATABASE_URL", "postgresql://support:db-Pa55word@db.internal/console")
    code, out, err = run(capsys, "config")
    assert code == 0
    assert "Database:      postgresql://support:***@db.internal/console" in out
    assert "db-Pa55word" not in out + err


# ---------------------------------------------------------------------------------------------- subprocess


def test_subprocess_azure_draft_from_stdin_stopped_with_ctrl_c(
    wire_server: WireServer, env: dict[str, str], db: Path, personas_dir: Path, store: Store
) -> None:
    """The real entry point on the Azure route: the message comes on stdin, the draft streams to stdout, and
    Ctrl+C stops it, keeps the partial draft and exits 130 (the whole success path is tested in-process)."""
    words = " ".join(f"word{i}" for i in range(200))
    wire_server.enqueue(stream_text(words, azure=True, delay=0.05))
    argv = [sys.executable, "-m", "support_console", *azure_flags(wire_server, db, personas_dir), "draft",
            "slow@example.com", "--message", "-"]  # fmt: skip
    message = db.parent / "message.txt"
    message.write_text("Our modem is offline.\n")
    with message.open("rb") as stdin:
        proc = subprocess.Popen(
            argv, stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            env={**env, "PYTHONPATH": str(ROOT), "AZURE_OPENAI_API_KEY": KEY},
        )  # fmt: skip
    try:
        assert proc.stdout is not None
        assert proc.stderr is not None
        got = b""
        deadline = time.monotonic() + 30
        while b"word3" not in got and time.monotonic() < deadline and proc.poll() is None:
            ready, _, _ = select.select([proc.stdout], [], [], 1.0)
            if ready:
                got += os.read(proc.stdout.fileno(), 4096)
        assert b"word3" in got, (proc.poll(), got, proc.stderr.read() if proc.poll() is not None else b"")
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 130, err
    assert b"partial draft #" in err
    assert b"Traceback" not in err
    assert KEY.encode() not in got + out + err
    request = wire_server.last
    assert request.path == "/openai/deployments/prod-chat/chat/completions"
    assert request.query["api-version"] == "2024-10-21"
    assert request.headers["api-key"] == KEY
    assert request.json["messages"][-1] == {"role": "user", "content": "Our modem is offline."}
    assert wire_server.wait_for_disconnect()
    customer = store.find_customer("slow@example.com")
    assert customer is not None
    assert customer.id is not None
    draft = store.pending_draft(store.current_conversation(customer.id).id or 0)
    assert draft is not None
    assert draft.error == STOPPED_NOTE
    assert draft.persona_id == "router-help"
    assert draft.text.startswith("word0 word1 word2 word3")
    assert "word199" not in draft.text
    assert (got + out).decode().startswith(draft.text)


def test_error_reply_never_echoes_the_key(
    wire_server: WireServer, db: Path, personas_dir: Path, store: Store, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    body = {"error": {"message": f"Incorrect API key provided: {KEY}.", "type": "invalid_request_error",
                      "code": "invalid_api_key"}}  # fmt: skip
    wire_server.enqueue(error(401, body))
    argv = [*openai_flags(wire_server, db, personas_dir), "draft", "k@example.com", "-m", "router", "--json"]
    code, out, err = run(capsys, *argv)
    assert code == 3
    assert KEY not in out + err
    customer = store.find_customer("k@example.com")
    assert customer is not None
    assert customer.id is not None
    draft = store.pending_draft(store.current_conversation(customer.id).id or 0)
    assert draft is not None
    assert KEY not in (draft.error or "")
    for path in (db, db.with_name(db.name + "-wal")):  # not anywhere in the database files either
        if path.exists():
            assert KEY.encode() not in path.read_bytes()


def test_missing_model_is_exit_3_before_anything_is_recorded(
    wire_server: WireServer, db: Path, personas_dir: Path, store: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["--db", str(db), "--base-url", wire_server.base_url, "--personas", str(personas_dir)]
    code, _, err = run(capsys, *argv, "draft", "z@example.com", "-m", "router")
    assert code == 3
    assert_one_error_line(err)
    assert "--model" in err
    assert store.list_customers() == []
    assert wire_server.requests == []


def test_terminal_escapes_in_model_text_are_shown_not_executed(
    wire_server: WireServer,
    db: Path,
    personas_dir: Path,
    store: Store,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    wire_server.enqueue(stream_text("Hi \x1b[2Jthere\tfriend", chunks=["Hi \x1b[2J", "there\tfriend"]))
    code, out, err = run(
        capsys, *openai_flags(wire_server, db, personas_dir), "draft", "t@example.com", "-m", "x"
    )
    assert code == 0, err
    assert out == "Hi \\x1b[2Jthere\tfriend\n"
    customer = store.find_customer("t@example.com")
    assert customer is not None
    assert customer.id is not None
    draft = store.pending_draft(store.current_conversation(customer.id).id or 0)
    assert draft is not None
    assert draft.text == "Hi \x1b[2Jthere\tfriend"  # stored exactly as the model wrote it
