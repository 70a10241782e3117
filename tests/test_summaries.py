"""Summaries: the request and its trimming, storing and staleness, the hand-over note, the CLI.

Real SQLite files and the loopback model server (tests/wire_server.py), which records the exact requests.
"""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

import pytest

from support_console.cli.main import main
from support_console.core.model_facts import ModelOverride, resolve_model
from support_console.core.tokens import count_chat, count_text
from support_console.core.trimming import HistoryItem
from support_console.core.vocabulary import GENERATION_SUMMARY, ROLE_AGENT, ROLE_CUSTOMER, ROLE_NOTE
from support_console.store import Store
from support_console.workflows.services import Services
from support_console.workflows.summarising import (
    SUMMARY_MAX_TOKENS,
    SUMMARY_SYSTEM,
    NothingToSummarise,
    Summariser,
    add_summary_note,
    build_summary_messages,
    summary_request_text,
)
from tests.wire_server import WireServer, drop_after, stream_text

SUMMARY = "Intent: refund.\nWhat happened: double charge.\nPromised: refund in 5 days.\nOpen questions: none."


def _conversation(store: Store, *texts: tuple[str, str]) -> int:
    customer = store.add_customer("Jane Roe", "jane@example.com")
    assert customer.id is not None
    conversation = store.current_conversation(customer.id, "tech-support")
    assert conversation.id is not None
    for role, text in texts:
        if role == ROLE_AGENT:
            draft = store.save_draft(conversation.id, text=text, persona_id="tech-support")
            store.approve_draft(draft, text, "alice")
        else:
            store.add_message(conversation.id, role, text)
    return conversation.id


def test_the_summary_request_is_the_trimmed_history_then_the_ask_and_counts_exactly() -> None:
    model = resolve_model("gpt-4o", {"gpt-4o": ModelOverride(context_window=1200)})
    texts = [(i, f"message {i} " + "word " * 40) for i in range(60, 0, -1)]
    history = [
        HistoryItem(i, "user" if i % 2 == 0 else "assistant", text, count_text(text, model.encoding))
        for i, text in texts
    ]
    messages, report, newest = build_summary_messages(history, model, "en")
    assert newest == 60
    assert messages[0] == {"role": "system", "content": SUMMARY_SYSTEM}
    assert messages[-1] == {"role": "user", "content": summary_request_text("en")}
    assert "Intent" in messages[-1]["content"]
    assert "Open questions" in messages[-1]["content"]
    assert "message 60" in messages[-2]["content"]  # the newest message is kept, just before the ask
    assert report.dropped > 0
    assert report.kept == len(messages) - 2
    assert report.prompt_tokens == count_chat(messages, model)  # exact, the ask included
    assert report.prompt_tokens + SUMMARY_MAX_TOKENS <= model.context_window


def test_summary_streams_is_stored_goes_stale_on_a_new_message_and_becomes_a_note(
    services: Services, wire_server: WireServer
) -> None:
    store = services.store
    cid = _conversation(
        store,
        (ROLE_CUSTOMER, "I was charged twice for ORD-1."),
        (ROLE_AGENT, "Sorry! We will refund it within 5 days."),
        (ROLE_NOTE, "checked the ledger"),
    )
    assert store.latest_summary(cid) is None
    wire_server.enqueue(stream_text(SUMMARY, chunks=[SUMMARY[:20], SUMMARY[20:]]))
    summariser = Summariser(services)
    prepared = summariser.prepare(cid, "tech-support")

    async def run() -> str:
        return "".join([e.text async for e in summariser.stream(prepared, agent="alice")])

    assert asyncio.run(run()) == SUMMARY
    sent = wire_server.requests[-1].json
    assert [m["role"] for m in sent["messages"]] == ["system", "user", "assistant", "user"]
    assert sent["messages"][1]["content"] == "I was charged twice for ORD-1."
    assert "checked the ledger" not in json.dumps(sent)  # notes never reach the model
    assert sent["max_tokens"] == SUMMARY_MAX_TOKENS

    state = store.latest_summary(cid)
    assert state is not None
    assert state.text == SUMMARY
    assert not state.stale
    record = next(g for g in store.generations(cid) if g.kind == GENERATION_SUMMARY)
    assert (record.output_text, record.agent, record.finish_reason) == (SUMMARY, "alice", "stop")
    assert record.covers_message_id == state.covers_message_id

    note_id = add_summary_note(services, cid, state.text)
    assert store.get_message(note_id).role == ROLE_NOTE
    assert SUMMARY in store.get_message(note_id).text
    state = store.latest_summary(cid)
    assert state is not None
    assert not state.stale

    store.add_message(cid, ROLE_CUSTOMER, "Any news?")
    state = store.latest_summary(cid)
    assert state is not None
    assert state.stale
    assert state.newer_messages == 1


def test_a_dropped_summary_keeps_what_came_and_nothing_to_summarise(
    services: Services, wire_server: WireServer
) -> None:
    from support_console.llm import LLMError

    store = services.store
    cid = _conversation(store, (ROLE_NOTE, "only a note"))
    with pytest.raises(NothingToSummarise):
        Summariser(services).prepare(cid, "tech-support")
    store.add_message(cid, ROLE_CUSTOMER, "Hello?")
    wire_server.enqueue(drop_after(stream_text("Intent: a greeting", chunks=["Intent: ", "a greeting"]), 2))
    summariser = Summariser(services)
    prepared = summariser.prepare(cid, "tech-support")

    async def run() -> None:
        async for _ in summariser.stream(prepared):
            pass

    with pytest.raises(LLMError):
        asyncio.run(run())
    record = next(g for g in store.generations(cid) if g.kind == GENERATION_SUMMARY)
    assert record.error_kind is not None
    assert record.ended_at is not None
    assert record.output_text is not None
    assert record.output_text.startswith("Intent")


# ---------------------------------------------------------------------------------------------------- CLI


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for var in ("OPENAI_BASE_URL", "OPENAI_MODEL", "SUPPORT_CONSOLE_DB", "SUPPORT_CONSOLE_CONFIG"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-summaries")
    assert os.environ["OPENAI_API_KEY"]
    return tmp_path / "cli.db"


def _flags(wire: WireServer, db: Path) -> list[str]:
    return ["--db", str(db), "--provider", "openai", "--base-url", wire.base_url, "--model", "gpt-4o"]


def test_cli_summarise_prints_stores_adds_a_note_and_uses_the_draft_exit_codes(
    cli_env: Path, wire_server: WireServer, capsys: pytest.CaptureFixture[str]
) -> None:
    store = Store.open(f"sqlite:///{cli_env}")
    try:
        cid = _conversation(store, (ROLE_CUSTOMER, "My parcel never came."))
    finally:
        store.close()
    flags = _flags(wire_server, cli_env)
    wire_server.enqueue(stream_text(SUMMARY))
    assert main(["summarise", "jane@example.com", "--note", *flags]) == 0
    out, err = capsys.readouterr()
    assert out == SUMMARY + "\n"
    assert "internal note" in err

    wire_server.enqueue(stream_text(SUMMARY))
    assert main(["summarise", "jane@example.com", "--json", *flags]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["text"] == SUMMARY
    assert data["conversation_id"] == cid
    assert data["generation_id"]

    assert main(["summarise", "nobody@example.com", *flags]) == 2
    assert "No customer" in capsys.readouterr().err
    assert main(["summarise", "jane@example.com", "--dry-run", *flags]) == 0
    dry = json.loads(capsys.readouterr().out)
    assert dry["request"]["messages"][-1]["content"] == summary_request_text("en")
    wire_server.enqueue(stream_text("", refusal="I can't help with that."))
    assert main(["summarise", "jane@example.com", *flags]) == 4

    store = Store.open(f"sqlite:///{cli_env}")
    try:
        notes = [m for m in store.page_messages(cid) if m.role == ROLE_NOTE]
        assert len(notes) == 1
        assert SUMMARY in notes[0].text
        assert sum(g.kind == GENERATION_SUMMARY for g in store.generations(cid)) == 3
    finally:
        store.close()
