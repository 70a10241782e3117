"""Every generation its own record (schema version 9), one pending draft per conversation, and the upgrade of
a version 8 file in place: real SQLite files, the loopback wire server, the real Drafter."""

from __future__ import annotations

import asyncio
import io
import json
import sqlite3
from collections.abc import AsyncIterator
from contextlib import aclosing
from pathlib import Path

import pytest

from support_console.core.vocabulary import REFUSAL_NOTE, STOPPED_NOTE, SUPERSEDED, ErrorKind
from support_console.llm import LLMError
from support_console.store import Store
from support_console.store.engine import create_engine
from support_console.store.migrations import MIGRATIONS, current_version, latest_version, migrate
from support_console.workflows.drafting import Drafter, record_customer_message
from support_console.workflows.export import export
from support_console.workflows.services import Services
from tests.test_drafting import collect, openai_services, write_personas
from tests.wire_replies import drop_after, stall_after
from tests.wire_server import WireServer, error, stream_text

AUTH = error(401, {"error": {"message": "Incorrect API key provided.", "type": "invalid_request_error",
                             "code": "invalid_api_key"}})  # fmt: skip


@pytest.fixture(autouse=True)
def _hermetic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep the real user's persona folder and data directory out of the tests."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))


@pytest.fixture
async def services(tmp_path: Path, wire_server: WireServer, db_url: str) -> AsyncIterator[Services]:
    """Services on each backend in turn (conftest's ``db_url``)."""
    built = openai_services(tmp_path, write_personas(tmp_path / "personas"), wire_server, db_url)
    try:
        yield built
    finally:
        await built.aclose()


@pytest.fixture
def conversation(services: Services) -> int:
    customer = services.store.add_customer("Jane", "jane@example.com", attributes={"tier": "gold"})
    assert customer.id is not None
    return record_customer_message(services.store, customer.id, "My invoice is wrong.", "plain")


async def _generate(services: Services, conversation: int, draft_id: int | None = None) -> Drafter:
    drafter = Drafter(services)
    await collect(drafter, drafter.stream(drafter.prepare(conversation, "plain"), draft_id=draft_id))
    return drafter


async def _stop_after(services: Services, conversation: int, draft_id: int | None, events: int) -> Drafter:
    """Stream, and cancel the consumer after ``events`` deltas (the agent's stop)."""
    drafter = Drafter(services)
    seen = asyncio.Event()
    got: list[str] = []

    async def consume() -> None:
        prepared = drafter.prepare(conversation, "plain")
        async with aclosing(drafter.stream(prepared, draft_id=draft_id)) as stream:
            async for event in stream:
                got.append(event.text)
                if len(got) == events:
                    seen.set()

    task = asyncio.create_task(consume())
    await asyncio.wait_for(seen.wait(), 10)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    return drafter


async def test_a_stopped_regeneration_does_not_inherit_the_previous_usage(
    services: Services, conversation: int, wire_server: WireServer
) -> None:
    wire_server.enqueue(stream_text("A complete reply.", usage=(120, 300)))
    first = await _generate(services, conversation)
    assert first.draft_id is not None
    wire_server.enqueue(stream_text(" ".join(f"w{i}" for i in range(60)), delay=0.02))
    second = await _stop_after(services, conversation, first.draft_id, 2)
    assert second.draft_id == first.draft_id

    one, two = services.store.generations(conversation)
    assert (one.completion_tokens, one.finish_reason, one.error_kind, one.stopped_by_agent) == (
        300, "stop", None, False,
    )  # fmt: skip
    assert (two.completion_tokens, two.prompt_tokens, two.finish_reason) == (None, None, None)
    assert (two.error_kind, two.stopped_by_agent, two.replaces) == (ErrorKind.STOPPED, True, one.id)
    assert two.message_id == first.draft_id
    assert two.ended_at is not None
    assert two.parameters["max_tokens"] == 750  # what was sent
    draft = services.store.pending_draft(conversation)
    assert draft is not None
    assert (draft.completion_tokens, draft.finish_reason, draft.error) == (None, None, STOPPED_NOTE)
    assert draft.generation_id == two.id


async def test_a_success_after_failures_clears_the_error_and_each_failure_is_counted(
    services: Services, conversation: int, wire_server: WireServer
) -> None:
    wire_server.enqueue(AUTH)
    with pytest.raises(LLMError):
        await _generate(services, conversation)
    failed = services.store.pending_draft(conversation)
    assert failed is not None
    assert failed.id is not None
    for _ in range(3):
        wire_server.enqueue(AUTH)
        with pytest.raises(LLMError):
            await _generate(services, conversation, failed.id)
    wire_server.enqueue(stream_text("Fixed now.", usage=(50, 4)))
    await _generate(services, conversation, failed.id)

    records = services.store.generations(conversation)
    assert [g.error_kind for g in records] == [ErrorKind.AUTH] * 4 + [None]
    assert len({g.id for g in records}) == 5
    # The failures that produced nothing left the draft as it was: each replaces the record whose text
    # (here the first failure's empty one) the draft still held.
    assert [g.replaces for g in records] == [None, *[records[0].id] * 4]
    draft = services.store.pending_draft(conversation)
    assert draft is not None
    assert (draft.text, draft.error, draft.error_kind, draft.completion_tokens) == (
        "Fixed now.",
        None,
        None,
        4,
    )
    row = services.store.stats().by_persona[0]
    assert (row.generations, row.errors, row.drafts) == (5, 4, 1)


async def test_a_stop_before_any_text_is_still_a_generation(
    services: Services, conversation: int, wire_server: WireServer
) -> None:
    wire_server.enqueue(stream_text("late", delay=5.0))
    drafter = Drafter(services)
    task = asyncio.create_task(collect(drafter, drafter.stream(drafter.prepare(conversation, "plain"))))
    for _ in range(500):
        if wire_server.requests:
            break
        await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await drafter.settled()
    (only,) = services.store.generations(conversation)
    assert (only.message_id, only.stopped_by_agent, only.draft_state) == (None, True, None)
    assert services.store.pending_draft(conversation) is None


async def test_a_refusal_is_a_generation_of_kind_refused(
    services: Services, conversation: int, wire_server: WireServer
) -> None:
    wire_server.enqueue(stream_text("", refusal="I can't help with that."))
    await _generate(services, conversation)
    (only,) = services.store.generations(conversation)
    assert (only.error_kind, only.error) == (ErrorKind.REFUSED, REFUSAL_NOTE)


def test_a_new_draft_supersedes_the_pending_one_and_the_audit_keeps_it(tmp_path: Path) -> None:
    store = Store.open(f"sqlite:///{tmp_path / 'one.db'}")
    try:
        customer = store.add_customer("Al", "al@example.com")
        assert customer.id is not None
        conversation = store.current_conversation(customer.id).id
        assert conversation is not None
        store.add_message(conversation, "customer", "hi")
        first = store.start_generation(conversation, draft_id=None, persona_id="p", model="m", parameters={})
        old = store.save_draft(conversation, text="Good draft", model="m", generation_id=first, final=True)
        second = store.start_generation(conversation, draft_id=None, persona_id="p", model="m", parameters={})
        new = store.save_draft(conversation, text="Newer", model="m", generation_id=second, final=True)
        pending = store.pending_draft(conversation)
        assert pending is not None
        assert pending.id == new
        assert [m.id for m in store.page_messages(conversation) if m.state == "draft"] == [new]
        states = [(g.message_id, g.draft_state) for g in store.generations(conversation)]
        assert states == [(old, SUPERSEDED), (new, "draft")]
        trail = store.audit_conversation(conversation)
        assert [(g.message_id, g.draft_state) for g in trail.generations] == states
        store.approve_draft(new, "Newer, sent.", "alice")
        (data,) = json.loads(_export(store, "json"))["conversations"]
        assert [(g["id"], g["draft_state"]) for g in data["generations"]] == [
            (first, SUPERSEDED), (second, "sent"),
        ]  # fmt: skip
        assert data["messages"][-1]["generation_id"] == second
        markdown = _export(store, "md")
        assert "(AI-assisted, edited)" in markdown
        assert "### Generations (2, oldest first)" in markdown
        assert markdown.index(f"#{first} ·") < markdown.index(f"#{second} ·")
        assert f"draft #{old} (superseded)" in markdown
        # the superseded draft's text is kept only by its generation: quoted under that one's line
        assert f"draft #{old} (superseded)\n\n  > Good draft\n" in markdown
    finally:
        store.close()


def _export(store: Store, fmt: str) -> str:
    out = io.StringIO()
    export(store, out, fmt)
    return out.getvalue()


# ------------------------------------------------------------------------------------------- upgrade (v8)


def _v8_file(path: Path) -> None:
    """A version 8 database as that release wrote it: a sent AI reply, a good pending draft, and a newer
    empty failed one (the state issue 10 found), written with the version 8 columns only."""
    engine = create_engine(f"sqlite:///{path}")
    try:
        assert migrate(engine, MIGRATIONS[:8]) == 8
    finally:
        engine.dispose()
    conn = sqlite3.connect(path)
    with conn:
        conn.execute(
            "INSERT INTO customers (id, name, email, attributes, created_at, open_conversations, unread, "
            "email_key, match_key) VALUES (1, 'Ann', 'ann@x.com', '{}', '2026-01-01 10:00:00.000000', 0, 0, "
            "'ann@x.com', 'ann')"
        )
        conn.execute(
            "INSERT INTO conversations (id, customer_id, status, persona_id, created_at, updated_at, "
            "unread_count) VALUES (1, 1, 'open', 'plain', '2026-01-01 10:00:00.000000', "
            "'2026-01-01 10:00:00.000000', 0)"
        )
        columns = (
            "id, conversation_id, role, state, text, original_text, persona_id, model, finish_reason, "
            "prompt_tokens, completion_tokens, error, error_kind, created_at, updated_at"
        )
        rows = [
            (1, 1, "customer", "received", "help", None, None, None, None, None, None, None, None),
            (2, 1, "agent", "sent", "Sent.", "Sent!", "plain", "gpt-4o", "stop", 10, 3, None, None),
            (3, 1, "customer", "received", "more", None, None, None, None, None, None, None, None),
            (4, 1, "agent", "draft", "Good draft", "Good draft", "plain", "gpt-4o", "stop", 12, 300, None,
             None),
            (5, 1, "agent", "draft", "", "", "plain", "gpt-4o", None, None, None, "bad key", "auth"),
        ]  # fmt: skip
        for row in rows:
            conn.execute(
                f"INSERT INTO messages ({columns}) VALUES ({', '.join('?' * 15)})",
                (*row, "2026-01-01 10:00:00.000000", "2026-01-01 10:01:00.000000"),
            )
    conn.close()


def test_a_version_8_file_is_upgraded_in_place(tmp_path: Path) -> None:
    path = tmp_path / "v8.db"
    _v8_file(path)
    store = Store.open(f"sqlite:///{path}")
    try:
        with store.engine.connect() as conn:
            assert current_version(conn) == latest_version()
        records = store.generations(1)
        assert [(g.message_id, g.completion_tokens, g.finish_reason, g.error_kind) for g in records] == [
            (2, 3, "stop", None), (4, 300, "stop", None), (5, None, None, "auth"),
        ]  # fmt: skip
        assert [g.draft_state for g in records] == ["sent", "draft", SUPERSEDED]
        assert all(g.parameters == {} and g.ended_at is not None for g in records)
        pending = store.pending_draft(1)
        assert pending is not None
        assert (pending.id, pending.text, pending.generation_id) == (4, "Good draft", records[1].id)
        assert [m.id for m in store.page_messages(1)] == [1, 2, 3, 4]  # the superseded one is hidden
        row = store.stats().by_persona[0]
        assert (row.generations, row.errors, row.sent) == (3, 1, 1)
    finally:
        store.close()


# ------------------------------------------------------------------ a regeneration that produced nothing


def _draft_facts(services: Services, conversation: int) -> tuple[object, ...]:
    """What the pending draft holds: its id, text, model's text, model facts and generation."""
    draft = services.store.pending_draft(conversation)
    assert draft is not None
    return (
        draft.id, draft.text, draft.original_text, draft.model, draft.finish_reason, draft.prompt_tokens,
        draft.completion_tokens, draft.error, draft.error_kind, draft.generation_id,
    )  # fmt: skip


async def _good_draft(
    services: Services, conversation: int, wire_server: WireServer
) -> tuple[Drafter, tuple[object, ...]]:
    """A complete model draft, "A good reply.", and its stored facts, before a regeneration."""
    wire_server.enqueue(stream_text("A good reply.", usage=(40, 4)))
    first = await _generate(services, conversation)
    return first, _draft_facts(services, conversation)


async def test_a_regeneration_refused_at_once_leaves_the_draft_as_it_was(
    services: Services, conversation: int, wire_server: WireServer
) -> None:
    first, before = await _good_draft(services, conversation, wire_server)
    assert before[1:3] == ("A good reply.", "A good reply.")
    wire_server.enqueue(AUTH)
    with pytest.raises(LLMError):
        await _generate(services, conversation, first.draft_id)

    assert _draft_facts(services, conversation) == before
    good, failed = services.store.generations(conversation)
    assert (failed.error_kind, failed.stopped_by_agent, failed.output_text) == (ErrorKind.AUTH, False, None)
    assert failed.error is not None
    assert "HTTP 401" in failed.error
    assert failed.ended_at is not None
    assert (failed.replaces, good.output_text) == (good.id, "A good reply.")
    assert [m.state for m in services.store.page_messages(conversation) if m.role == "agent"] == ["draft"]


async def test_the_audit_says_a_regeneration_that_failed_at_once_kept_the_draft_it_did_not_write(
    services: Services, conversation: int, wire_server: WireServer
) -> None:
    first, _ = await _good_draft(services, conversation, wire_server)
    assert first.draft_id is not None
    wire_server.enqueue(AUTH)
    with pytest.raises(LLMError):
        await _generate(services, conversation, first.draft_id)
    sent = services.store.approve_draft(first.draft_id, "A good reply.", "kim").id
    good, failed = services.store.generations(conversation)
    assert (good.draft_kept, failed.draft_kept) == (False, True)
    lines = {g.id: line for line in _export(services.store, "md").splitlines() for g in (good, failed)
             if line.startswith(f"- #{g.id} ·")}  # fmt: skip
    assert lines[good.id].endswith(f"· draft #{sent} (sent)")  # whose text was sent
    assert (
        f"· ended: auth · no text: draft #{sent} (sent) kept as it was · replaces #{good.id}"
        in lines[failed.id]
    )
    (data,) = json.loads(_export(services.store, "json"))["conversations"]
    assert [g["draft_kept"] for g in data["generations"]] == [False, True]


async def test_a_regeneration_that_finishes_with_no_text_leaves_the_draft_as_it_was(
    services: Services, conversation: int, wire_server: WireServer
) -> None:
    first, before = await _good_draft(services, conversation, wire_server)
    wire_server.enqueue(stream_text("", finish_reason="length", usage=(40, 300)))  # all spent thinking
    again = await _generate(services, conversation, first.draft_id)
    assert again.wrote_nothing
    assert _draft_facts(services, conversation) == before
    good, empty = services.store.generations(conversation)
    assert (empty.finish_reason, empty.completion_tokens, empty.output_text) == ("length", 300, None)
    assert (empty.ended_at is not None, empty.replaces, good.output_text) == (True, good.id, "A good reply.")


async def test_a_regeneration_stopped_before_any_text_leaves_the_draft_as_it_was(
    services: Services, conversation: int, wire_server: WireServer
) -> None:
    first, before = await _good_draft(services, conversation, wire_server)
    wire_server.enqueue(stall_after(stream_text("late words"), 1, 5.0))  # the role chunk, then silence
    drafter = Drafter(services)
    prepared = drafter.prepare(conversation, "plain")
    task = asyncio.create_task(collect(drafter, drafter.stream(prepared, draft_id=first.draft_id)))
    for _ in range(500):
        if wire_server.requests[1:]:
            break
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.2)  # the role chunk came (no text in it)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await drafter.settled()

    assert _draft_facts(services, conversation) == before
    assert drafter.draft_id == first.draft_id
    _, stopped = services.store.generations(conversation)
    assert (stopped.error_kind, stopped.stopped_by_agent, stopped.output_text) == (
        ErrorKind.STOPPED, True, None,
    )  # fmt: skip
    assert stopped.ended_at is not None


async def test_a_regeneration_that_streamed_some_text_then_failed_keeps_the_partial(
    services: Services, conversation: int, wire_server: WireServer
) -> None:
    first, _ = await _good_draft(services, conversation, wire_server)
    wire_server.enqueue(drop_after(stream_text("ab cd ef", chunks=["ab", " cd", " ef"]), 3))
    with pytest.raises(LLMError):
        await _generate(services, conversation, first.draft_id)
    draft = services.store.pending_draft(conversation)
    assert draft is not None
    assert draft.id == first.draft_id
    assert (draft.text, draft.original_text) == ("ab cd", "ab cd")
    assert draft.error_kind == ErrorKind.STREAM_ERROR
    _, failed = services.store.generations(conversation)
    assert failed.output_text == "ab cd"  # the partial, on its own record too
    assert draft.generation_id == failed.id


async def test_every_draft_generation_keeps_its_own_text(
    services: Services, conversation: int, wire_server: WireServer
) -> None:
    wire_server.enqueue(stream_text("First answer."), stream_text("Second answer."))
    first = await _generate(services, conversation)
    await _generate(services, conversation, first.draft_id)
    one, two = services.store.generations(conversation)
    assert (one.output_text, two.output_text) == ("First answer.", "Second answer.")
    assert one.message_id == two.message_id == first.draft_id
    trail = services.store.audit_conversation(conversation)
    assert [g.output_text for g in trail.generations] == ["First answer.", "Second answer."]
    (data,) = json.loads(_export(services.store, "json"))["conversations"]
    assert [g["output_text"] for g in data["generations"]] == ["First answer.", "Second answer."]


async def test_a_generation_cut_off_by_a_crash_keeps_its_text_when_the_draft_is_regenerated(
    services: Services, conversation: int, wire_server: WireServer
) -> None:
    """The console died while the first generation streamed: its saves wrote the partial into the draft,
    its final save never came, so its record has no text. Regenerating (after a restart, the draft
    restored) must not lose that partial from the trail: the replaced record keeps the model's text, not
    the agent's edit of it."""
    store = services.store
    generation = store.start_generation(
        conversation, draft_id=None, persona_id="plain", model="gpt-4o", parameters={}
    )
    draft_id = store.save_draft(
        conversation, text="Half an ans", original_text="Half an ans", persona_id="plain", model="gpt-4o",
        generation_id=generation,
    )  # fmt: skip
    store.save_draft(conversation, draft_id=draft_id, text="Half an answer, edited by hand")
    wire_server.enqueue(stream_text("A whole answer."))
    await _generate(services, conversation, draft_id)
    cut, whole = store.generations(conversation)
    assert (cut.output_text, cut.ended_at) == ("Half an ans", None)
    assert (whole.output_text, whole.replaces) == ("A whole answer.", cut.id)
