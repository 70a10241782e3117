"""The team-mode subcommands, run in-process on a real SQLite file: take-next claims and prints the
conversation (text and JSON), assign and release, and approve refuses a stale draft with exit 6 and a clear
message, then sends with --reviewed-through."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from support_console.cli.main import main
from support_console.store import Store


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The database, and an environment naming the agent (as $USER does) with no provider."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("USER", "kim")
    for var in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "AZURE_OPENAI_ENDPOINT", "AZURE_OPENAI_API_KEY"):
        monkeypatch.delenv(var, raising=False)
    return tmp_path / "team.db"


def seed(db: Path, *names: str) -> list[int]:
    store = Store.open(f"sqlite:///{db}")
    try:
        ids = []
        for name in names:
            customer = store.add_customer(name, f"{name.lower()}@example.com")
            assert customer.id is not None
            conversation = store.current_conversation(customer.id)
            assert conversation.id is not None
            store.add_message(conversation.id, "customer", f"Help {name}, \x1b[2J please")
            ids.append(conversation.id)
        return ids
    finally:
        store.close()


def test_take_next_prints_the_claimed_conversation(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    first, second = seed(db, "Ann", "Bob")
    assert main(["--db", str(db), "take-next"]) == 0
    out = capsys.readouterr().out
    assert f"Conversation {first} · Ann <ann@example.com> · taken by kim" in out
    assert "\\x1b[2J" in out  # the customer's escape sequence is shown, never sent to the terminal
    assert "\x1b" not in out
    assert main(["--db", str(db), "take-next", "--agent", "lee", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert (data["conversation_id"], data["assignee"]) == (second, "lee")
    assert [m["role"] for m in data["messages"]] == ["customer"]
    assert main(["--db", str(db), "take-next", "--json"]) == 0
    assert capsys.readouterr().out.strip() == "null"
    assert main(["--db", str(db), "release", str(first)]) == 0
    assert main(["--db", str(db), "assign", str(second), "kim"]) == 0
    store = Store.open(f"sqlite:///{db}")
    try:
        assignees = {r.conversation_id: r.assignee for r in store.list_queue("all")}
        assert assignees == {first: None, second: "kim"}
        assert [e.agent for e in store.events(second) if e.kind == "assigned"] == ["lee", "kim"]
    finally:
        store.close()


def test_approve_refuses_a_stale_draft_then_sends_it_when_reviewed(
    db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (cid,) = seed(db, "Ann")
    store = Store.open(f"sqlite:///{db}")
    try:
        draft = store.save_draft(cid, text="Refund sent.")
        store.add_message(cid, "customer", "Never mind, it arrived")
    finally:
        store.close()
    assert main(["--db", str(db), "approve", str(draft)]) == 6
    err = capsys.readouterr().err
    assert "the conversation changed after this draft was written" in err
    assert "Never mind, it arrived" in err
    through = err.rsplit("--reviewed-through ", 1)[1].split()[0]
    assert main(["--db", str(db), "approve", str(draft), "--reviewed-through", through]) == 0
    out = capsys.readouterr().out
    assert f"Draft {draft} sent in conversation {cid} (now message {draft + 2}, after those written" in out


def test_every_team_command_takes_the_agent_it_is_done_by(
    db: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (cid,) = seed(db, "Ann")
    monkeypatch.delenv("USER")
    monkeypatch.delenv("USERNAME", raising=False)
    assert main(["--db", str(db), "release", str(cid)]) != 0
    assert "Pass --agent NAME, or set [agent] name in the config file" in capsys.readouterr().err
    assert main(["--db", str(db), "assign", str(cid), "kim", "--agent", "lee"]) == 0
    assert "nobody called 'kim' has worked on this database lately" in capsys.readouterr().err
    assert main(["--db", str(db), "assign", str(cid), "KIM", "--agent", "lee"]) == 0  # kim is known now
    assert capsys.readouterr().err == ""
    assert main(["--db", str(db), "release", str(cid), "--agent", "kim"]) == 0
    assert main(["--db", str(db), "assign", str(cid), "zoe", "--agent", "zoe"]) == 0  # new, to herself
    assert capsys.readouterr().err == ""
    assert main(["--db", str(db), "release", str(cid), "--agent", "zoe"]) == 0
    store = Store.open(f"sqlite:///{db}")
    try:
        draft = store.save_draft(cid, text="Sorted.")
    finally:
        store.close()
    assert main(["--db", str(db), "approve", str(draft), "--agent", "lee"]) == 0
    store = Store.open(f"sqlite:///{db}")
    try:
        done = [(e.kind, e.agent) for e in store.events(cid) if e.kind in ("assigned", "released", "sent")]
        assert done == [  # KIM: unchanged, no event
            ("assigned", "lee"), ("released", "kim"), ("assigned", "zoe"), ("released", "zoe"),
            ("sent", "lee"),
        ]  # fmt: skip
        assert store.get_message(draft).approved_by == "lee"
    finally:
        store.close()
