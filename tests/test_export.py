"""Export: Markdown for people, JSON / JSONL for machines, the same audit content as the audit view, filters,
Markdown that customer text cannot break, and never an API key (checked through the real CLI)."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from support_console.cli.main import main
from support_console.store import Store
from support_console.workflows.export import ExportError, export
from support_console.workflows.importer import import_file

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample_conversations.jsonl"
SECRET = "sk-live-THIS-KEY-MUST-NEVER-APPEAR-0123456789"


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    """The sample conversations imported into a new database (each backend in turn: conftest.db_url)."""
    store = Store.open(db_url)
    assert import_file(store, SAMPLE).ok
    try:
        yield store
    finally:
        store.close()


def _export(store: Store, fmt: str, **filters: object) -> str:
    out = io.StringIO()
    export(store, out, fmt, **filters)  # type: ignore[arg-type]
    return out.getvalue()


def test_json_holds_the_full_audit_trail(store: Store) -> None:
    data = json.loads(_export(store, "json"))
    assert data["format"] == "support-console-export/1"
    conversations = data["conversations"]
    assert len(conversations) == 36
    first = conversations[0]
    assert first["customer"]["email"] == "ellen.brooks@example.com"
    reply = next(m for m in first["messages"] if m["role"] == "agent")
    assert reply["ai_assisted"]
    assert reply["edited"]
    assert reply["approved_by"] == "Elena Rossi"
    assert "5-7 business days" in reply["original_text"]
    assert "3-5 business days" in reply["sent_text"]
    assert reply["sent_text"] == reply["text"]
    assert (reply["persona"], reply["model"], reply["finish_reason"]) == (
        "billing-refunds",
        "gpt-4o-2024-08-06",
        "stop",
    )
    assert reply["prompt_tokens"] == 463
    assert reply["completion_tokens"] == 38
    assert reply["approved_at"] == "2026-10-01T10:27:00Z"
    assert 0 < reply["edit_distance"] < 1
    note = next(m for m in first["messages"] if m["role"] == "note")
    assert "ai_assisted" not in note  # audit fields belong to replies only


def test_json_and_jsonl_match_the_audit_view(store: Store) -> None:
    lines = _export(store, "jsonl").splitlines()
    whole = json.loads(_export(store, "json"))["conversations"]
    assert [json.loads(line) for line in lines] == whole
    trail = store.audit_conversation(whole[0]["id"])
    assert [m["text"] for m in whole[0]["messages"]] == [m.text for m in trail.messages]


def test_filters_by_customer_and_since(store: Store) -> None:
    jordan = [json.loads(line) for line in _export(store, "jsonl", customer="jordan").splitlines()]
    assert len(jordan) == 2
    assert {c["customer"]["name"] for c in jordan} == {"Jordan Hale"}
    recent = [
        json.loads(line)
        for line in _export(store, "jsonl", since=datetime(2026, 11, 5, tzinfo=UTC)).splitlines()
    ]
    assert len(recent) == 5  # the conversations active on or after 2026-11-05
    assert all(max(m["time"] for m in c["messages"]) >= "2026-11-05" for c in recent)
    assert len(recent) < 36
    assert "No conversations matched." in _export(store, "md", customer="nobody-like-this")


def test_markdown_shows_who_what_and_the_diff(store: Store) -> None:
    md = _export(store, "md", customer="ellen.brooks")
    assert md.startswith("# Conversation export")
    assert "## Conversation 1: Ellen Brooks <ellen.brooks@example.com>" in md
    assert "**Reply sent by Elena Rossi** (AI-assisted, edited) · 2026-10-01 10:27 UTC" in md
    assert "model gpt-4o-2024-08-06 · tokens 463 prompt / 38 completion · finish reason stop" in md
    assert "```diff\n--- model's draft\n+++ sent\n" in md
    assert "-Hi Ellen, I can confirm you were charged twice." in md
    assert "**Internal note**" in md
    assert "(hand-written)" not in md.split("## Conversation 2")[0]


def test_customer_text_cannot_break_the_markdown(store: Store) -> None:
    customer = store.add_customer("Eve", "eve@example.com")
    assert customer.id is not None
    conversation = store.current_conversation(customer.id)
    assert conversation.id is not None
    store.add_message(conversation.id, "customer", "# not a heading\n```\nfenced? \x1b[31mred")
    draft = store.save_draft(conversation.id, text="```` four", original_text="```` four", model="gpt-4o")
    store.approve_draft(draft, "Sent with ````` five backticks", "alice")
    md = _export(store, "md", customer="eve@")
    assert "> # not a heading\n> ```\n> fenced? \\x1b[31mred" in md  # quoted; the escape made harmless
    assert "\x1b" not in md
    assert "``````diff" in md  # a fence longer than any backtick run in the diff


def test_unknown_format_is_refused(store: Store) -> None:
    with pytest.raises(ExportError, match="md, json or jsonl"):
        _export(store, "csv")


def test_cli_export_never_contains_the_api_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "cli.db"
    config = tmp_path / "config.toml"
    config.write_text(
        f'[provider]\nkind = "openai"\nmodel = "gpt-4o"\napi_key = "{SECRET}"\n', encoding="utf-8"
    )
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    argv = ["--db", str(db), "--config", str(config)]
    assert main([*argv, "import", str(SAMPLE)]) == 0
    capsys.readouterr()
    for fmt in ("md", "json", "jsonl"):
        target = tmp_path / f"out.{fmt}"
        assert main([*argv, "export", "--format", fmt, "-o", str(target)]) == 0
        text = target.read_text(encoding="utf-8")
        assert SECRET not in text
        assert "Elena Rossi" in text
    assert main([*argv, "export", "--format", "jsonl", "--customer", "jordan"]) == 0
    out, err = capsys.readouterr()
    assert SECRET not in out + err
    assert len(out.splitlines()) == 2
    assert "Exported 2 conversations" in err
    assert main([*argv, "search", "charged", "twice"]) == 2  # usage: one QUERY (quote several words)
    assert main([*argv, "search", "charged twice", "--json"]) == 0
    hits = json.loads(capsys.readouterr().out)["hits"]
    assert hits[0]["customer"]["name"] == "Ellen Brooks"
    assert SECRET not in json.dumps(hits)


def test_cli_search_prints_plain_marked_lines_without_terminal_escapes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "cli.db"
    config = tmp_path / "config.toml"
    config.write_text("", encoding="utf-8")
    store = Store.open(f"sqlite:///{db}")
    customer = store.add_customer("Eve \x1b]0;pwned\x07", "eve@example.com")
    assert customer.id is not None
    conversation = store.current_conversation(customer.id)
    assert conversation.id is not None
    store.add_message(conversation.id, "customer", "my router \x1b[2J is \x1b[31m broken")
    store.close()
    assert main(["--db", str(db), "--config", str(config), "search", "router"]) == 0
    out, err = capsys.readouterr()
    assert "«router»" in out
    assert "\x1b" not in out
    assert "\x07" not in out
    assert "1 hit" in err


def test_a_reply_is_exported_at_when_it_was_sent_after_what_came_while_it_was_drafted(store: Store) -> None:
    cid = json.loads(_export(store, "json"))["conversations"][0]["id"]
    draft = store.save_draft(cid, text="Your refund is on its way.")
    note = store.add_message(cid, "note", "Checked the refund in the billing system.")
    sent = store.approve_draft(draft, "Your refund is on its way.", "Kim", reviewed_through=note.id)
    messages = json.loads(_export(store, "json"))["conversations"][0]["messages"]
    assert [m["id"] for m in messages[-2:]] == [note.id, sent.id]  # the reply after the note it followed
    times = [m["time"] for m in messages[-2:]]
    assert times == sorted(times)
    assert messages[-1]["time"] == messages[-1]["approved_at"]
    markdown = _export(store, "md")
    assert markdown.index("Checked the refund") < markdown.index("Reply sent by Kim")


def test_the_exports_say_who_did_what_as_the_audit_view_does(store: Store) -> None:
    cid = json.loads(_export(store, "json"))["conversations"][0]["id"]
    store.set_status(cid, "pending", agent="Kim")
    store.assign(cid, "Lee", by="Kim")
    (data,) = [c for c in json.loads(_export(store, "json"))["conversations"] if c["id"] == cid]
    assert [(e["agent"], e["kind"], e["detail"]) for e in data["events"]][-2:] == [
        ("Kim", "status", "pending"), ("Kim", "assigned", "Lee"),
    ]  # fmt: skip
    trail = store.audit_conversation(cid)
    assert [e["kind"] for e in data["events"]] == [e.kind for e in trail.events]
    markdown = _export(store, "md")
    assert "### Who did what (oldest first)" in markdown
    assert "· Kim · status pending\n- " in markdown
    assert "· Kim · assigned Lee\n" in markdown
