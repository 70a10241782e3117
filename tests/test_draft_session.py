"""The draft session without Textual: real SQLite files, the loopback model server, another process holding
the write lock. Nothing of ours is patched."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from support_console.core.errors import StoreError
from support_console.core.vocabulary import STOPPED_NOTE
from support_console.llm import LLMError
from support_console.store.sqlite.connection import pragmas
from support_console.workflows.draft_session import DraftSession, Generation, NotReady, StoreQueue
from support_console.workflows.services import Services
from tests.db_lock import WriteLock
from tests.ui_helpers import seed_customer, services_for, ui_settings
from tests.wire_replies import error, stall_after, stream_text
from tests.wire_server import WireServer

WORDS = " ".join(f"w{i}" for i in range(40))
SERVED = "gpt-4o-2024-08-06"  # the model the loopback server says it served
SHORT_BUSY = '[agent]\nname = "alice"\n[store]\nbusy_timeout = 0.3\n'


@pytest.fixture
async def services(tmp_path: Path, wire_server: WireServer) -> AsyncIterator[Services]:
    built = services_for(ui_settings(tmp_path, wire_server))
    try:
        yield built
    finally:
        await built.aclose()


@pytest.fixture
async def session(services: Services) -> AsyncIterator[DraftSession]:
    made = DraftSession(services)
    try:
        yield made
    finally:
        await made.aclose()


async def generate(session: DraftSession) -> str:
    """Prepare and stream a draft to the end (without waiting for its final save); the text that came."""
    generation = await session.prepare()
    return "".join([event.text async for event in session.stream(generation)])


def agent_rows(services: Services, conversation_id: int) -> list[tuple[str, str, str | None, str | None]]:
    """(state, text, original_text, model) of the conversation's replies and drafts, oldest first."""
    return [
        (m.state, m.text, m.original_text, m.model)
        for m in services.store.page_messages(conversation_id)
        if m.role == "agent"
    ]


async def test_open_record_status_and_persona(session: DraftSession, services: Services) -> None:
    customer_id, _ = seed_customer(services, conversation=False)
    opened = await session.open(customer_id)
    assert opened.customer.email == "jane@example.com"
    assert (opened.conversation, opened.page, opened.draft) == (None, [], None)
    assert session.persona_id == "tech-support"

    recorded = await session.record("customer", "My router blinks red")
    assert recorded.opened_conversation
    conversation_id = recorded.conversation.id
    assert conversation_id is not None
    assert session.conversation_id == conversation_id
    assert recorded.conversation.unread_count == 1
    note = await session.record("note", "VIP")
    assert not note.opened_conversation
    assert [(m.role, m.text) for m in services.store.page_messages(conversation_id)] == [
        ("customer", "My router blinks red"),
        ("note", "VIP"),
    ]

    assert (await session.set_status("pending")).status == "pending"
    assert services.store.get_conversation(conversation_id).status == "pending"
    await session.set_persona("billing-refunds")
    assert session.persona_id == "billing-refunds"
    assert services.store.get_conversation(conversation_id).persona_id == "billing-refunds"
    with pytest.raises(NotReady, match="no longer available"):
        await session.set_persona("no-such-persona")

    reopened = await session.open(customer_id)
    assert reopened.persona_id == "billing-refunds"  # the conversation remembers its persona
    assert reopened.last_customer_text == "My router blinks red"
    assert reopened.total == 2


async def test_nothing_to_reply_to_is_said_not_crashed(session: DraftSession, services: Services) -> None:
    with pytest.raises(NotReady) as caught:
        await session.record("customer", "hello")
    assert caught.value.missing == "customer"
    customer_id, _ = seed_customer(services, conversation=False)
    await session.open(customer_id)
    with pytest.raises(NotReady) as caught:
        await session.prepare()
    assert caught.value.missing == "conversation"
    with pytest.raises(NotReady) as caught:
        await session.approve("   ")
    assert caught.value.missing == "text"


async def test_generate_then_approve_keeps_the_model_and_its_original(
    session: DraftSession, services: Services, wire_server: WireServer
) -> None:
    customer_id, conversation_id = seed_customer(services, messages=("Where is my parcel?",))
    wire_server.enqueue(stream_text("It ships today.", usage=(20, 4)))
    await session.open(customer_id)
    assert await generate(session) == "It ships today."
    await session.settle()
    assert session.draft_id is not None
    assert session.result is not None
    assert session.result.finish_reason == "stop"
    assert agent_rows(services, conversation_id) == [("draft", "It ships today.", "It ships today.", SERVED)]
    assert session.saved_text == "It ships today."

    sent = await session.approve("It ships today. Sorry!")
    assert (sent.state, sent.text, sent.original_text, sent.model) == (
        "sent",
        "It ships today. Sorry!",
        "It ships today.",
        SERVED,
    )
    assert sent.approved_by == "alice"
    assert session.draft_id is None
    assert session.saved_text == ""
    assert services.store.pending_draft(conversation_id) is None
    assert wire_server.last.json["messages"][-1] == {"role": "user", "content": "Where is my parcel?"}


async def test_stopping_a_silent_stream_keeps_what_came_in_the_same_draft(
    session: DraftSession, services: Services, wire_server: WireServer
) -> None:
    customer_id, conversation_id = seed_customer(services, messages=("Hello",))
    wire_server.enqueue(stall_after(stream_text(WORDS), 6, 10.0))
    await session.open(customer_id)
    generation = await session.prepare()
    got: list[str] = []

    async def consume() -> None:
        async for event in session.stream(generation):
            got.append(event.text)

    assert not session.stop()  # nothing streams yet
    task = asyncio.create_task(consume())
    for _ in range(500):
        if len(got) >= 6:  # then the server sends nothing more
            break
        await asyncio.sleep(0.01)
    assert session.stop()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not session.streaming
    assert not session.stop()
    await session.settle()
    draft = services.store.pending_draft(conversation_id)
    assert draft is not None
    assert draft.id == session.draft_id
    assert draft.text == "".join(got) == session.saved_text
    assert draft.error == STOPPED_NOTE


async def test_a_regeneration_that_produced_nothing_leaves_the_session_on_the_draft_it_had(
    session: DraftSession, services: Services, wire_server: WireServer
) -> None:
    customer_id, conversation_id = seed_customer(services, messages=("Where is my parcel?",))
    wire_server.enqueue(stream_text("It ships today.", usage=(20, 4)))
    await session.open(customer_id)
    await generate(session)
    await session.settle()
    draft_id = session.draft_id
    kept = [("draft", "It ships today.", "It ships today.", SERVED)]

    wire_server.enqueue(error(401, {"error": {"message": "Incorrect API key provided."}}))
    generation = await session.prepare()
    with pytest.raises(LLMError):
        async for _ in session.stream(generation):
            pass
    await session.settle()
    assert (session.draft_id, session.saved_text, session.unsaved) == (draft_id, "It ships today.", False)
    assert generation.drafter.wrote_nothing
    assert session.send_risk("It ships today.") is None  # the complete reply it holds, not the failure
    assert agent_rows(services, conversation_id) == kept

    wire_server.enqueue(stall_after(stream_text(WORDS), 1, 10.0))  # the role chunk, then silence
    generation = await session.prepare()
    task = asyncio.create_task(generate_with(session, generation))
    for _ in range(500):
        if len(wire_server.requests) == 3:
            break
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.2)
    assert session.stop()
    with pytest.raises(asyncio.CancelledError):
        await task
    await session.settle()
    assert (session.draft_id, session.saved_text) == (draft_id, "It ships today.")
    assert session.send_risk("It ships today.") is None
    assert agent_rows(services, conversation_id) == kept

    sent = await session.approve("It ships today.")
    assert (sent.id, sent.state, sent.original_text, sent.model) == (
        draft_id,
        "sent",
        "It ships today.",
        SERVED,
    )
    assert [g.error_kind for g in services.store.generations(conversation_id)] == [None, "auth", "stopped"]


async def generate_with(session: DraftSession, generation: Generation) -> str:
    """Stream a prepared generation to its end; the text that came."""
    return "".join([event.text async for event in session.stream(generation)])


async def test_edits_are_merged_and_a_hand_written_reply_is_sent(
    session: DraftSession, services: Services
) -> None:
    customer_id, conversation_id = seed_customer(services, messages=("Hello",))
    await session.open(customer_id)
    assert await session.save_edit("   ") is None  # nothing typed yet: no empty draft
    results = await asyncio.gather(*[session.save_edit(text) for text in ("H", "Hi", "Hi Jane")])
    draft_id = session.draft_id
    assert draft_id is not None
    assert set(results) == {draft_id}
    assert agent_rows(services, conversation_id) == [("draft", "Hi Jane", None, None)]
    assert session.saved_text == "Hi Jane"
    sent = await session.approve("Hi Jane, done.")
    assert (sent.id, sent.state, sent.text, sent.model, sent.original_text) == (
        draft_id,
        "sent",
        "Hi Jane, done.",
        None,
        None,
    )


async def test_discard_and_restore(
    session: DraftSession, services: Services, wire_server: WireServer
) -> None:
    customer_id, conversation_id = seed_customer(services, messages=("Hello",))
    wire_server.enqueue(stream_text("First."), stream_text("Second."))
    await session.open(customer_id)
    await generate(session)
    await session.settle()
    first_id = session.draft_id
    again = DraftSession(services)  # a restarted console finds the draft
    try:
        restored = (await again.open(customer_id)).draft
        assert restored is not None
        assert (restored.id, restored.text, restored.model_text) == (first_id, "First.", "First.")
        assert again.draft_id == first_id
    finally:
        await again.aclose()
    await generate(session)  # regenerating replaces the draft in place
    await session.settle()
    assert session.draft_id == first_id
    await session.discard()
    assert session.draft_id is None
    assert services.store.pending_draft(conversation_id) is None
    assert agent_rows(services, conversation_id) == []  # discarded drafts are hidden


async def test_the_stream_does_not_wait_for_a_save_stuck_on_the_write_lock(
    tmp_path: Path, wire_server: WireServer
) -> None:
    services = services_for(ui_settings(tmp_path, wire_server))  # the default 30 s busy timeout
    session = DraftSession(services)
    try:
        customer_id, conversation_id = seed_customer(services, messages=("Hello",))
        list(services.store.history_newest_first(conversation_id, "o200k_base"))  # counts stored now
        await session.open(customer_id)
        wire_server.enqueue(stream_text(WORDS, delay=0.01))
        with WriteLock(tmp_path / "console.db") as lock:
            generation = await session.prepare()  # reads only: the lock does not matter
            started = time.monotonic()
            text = "".join([event.text async for event in session.stream(generation)])
            streamed_in = time.monotonic() - started
            assert text == WORDS
            assert lock.held  # the whole reply came while the first save still waited for the lock
            approving = asyncio.create_task(session.approve(text + " Thanks."))
            await asyncio.sleep(0.2)
            assert not approving.done()  # queued behind the saves, not lost
            assert services.store.pending_draft(conversation_id) is None
            lock.release()
        sent = await asyncio.wait_for(approving, 20)
        await session.settle()
        assert streamed_in < 5
        assert (sent.state, sent.text, sent.original_text, sent.model) == (
            "sent",
            WORDS + " Thanks.",
            WORDS,
            SERVED,
        )
        assert agent_rows(services, conversation_id) == [("sent", WORDS + " Thanks.", WORDS, SERVED)]
    finally:
        await session.aclose()
        await services.aclose()


async def test_a_failed_save_keeps_the_draft_identity_and_its_ai_origin(
    tmp_path: Path, wire_server: WireServer
) -> None:
    """The write lock held past the (short) busy timeout mid-stream: the draft saved before the lock is the
    one approved afterwards, with the model's whole text as its original; nothing hand-written appears."""
    services = services_for(ui_settings(tmp_path, wire_server, config_text=SHORT_BUSY))
    session = DraftSession(services)
    try:
        assert pragmas(services.store.engine)["busy_timeout"] == 300
        customer_id, conversation_id = seed_customer(services, messages=("Hello",))
        list(services.store.history_newest_first(conversation_id, "o200k_base"))
        await session.open(customer_id)
        wire_server.enqueue(stream_text(WORDS, delay=0.05))
        generation = await session.prepare()
        got: list[str] = []
        stream = session.stream(generation)
        async for event in stream:  # the first save (it creates the draft) lands before the lock
            got.append(event.text)
            if len(got) == 3:
                break
        await asyncio.sleep(0.2)
        first = services.store.pending_draft(conversation_id)
        assert first is not None
        with WriteLock(tmp_path / "console.db") as lock:
            got.extend([event.text async for event in stream])
            with pytest.raises(StoreError, match="locked"):
                await session.settle()
            assert session.unsaved
            assert session.draft_id == first.id  # the identity survives the failure
            assert session.saved_text != WORDS  # the store holds an earlier, shorter text
            with pytest.raises(StoreError):
                await session.approve("Approved while locked")  # refused, and still nothing lost
            assert session.draft_id == first.id
            assert session.unsaved
            lock.release()
        assert "".join(got) == WORDS
        sent = await session.approve(WORDS + " Bye.")
        assert sent.id == first.id
        assert (sent.state, sent.original_text, sent.model) == ("sent", WORDS, SERVED)
        assert not session.unsaved
        assert agent_rows(services, conversation_id) == [("sent", WORDS + " Bye.", WORDS, SERVED)]
    finally:
        await session.aclose()
        await services.aclose()


async def test_a_draft_never_saved_is_created_with_its_ai_origin_once_the_lock_is_gone(
    tmp_path: Path, wire_server: WireServer
) -> None:
    services = services_for(ui_settings(tmp_path, wire_server, config_text=SHORT_BUSY))
    session = DraftSession(services)
    try:
        customer_id, conversation_id = seed_customer(services, messages=("Hello",))
        list(services.store.history_newest_first(conversation_id, "o200k_base"))
        await session.open(customer_id)
        other_id, _ = seed_customer(services, "Bob", "bob@example.com", messages=("Hi",))
        wire_server.enqueue(stream_text("All fixed now.", usage=(9, 3)))
        with WriteLock(tmp_path / "console.db") as lock:
            assert await generate(session) == "All fixed now."
            with pytest.raises(StoreError):
                await session.settle()
            assert session.draft_id is None
            assert session.unsaved
            with pytest.raises(StoreError):  # switching customers would lose the draft: refused
                await session.open(other_id)
            assert session.conversation_id == conversation_id
            lock.release()
        await session.save_edit("All fixed now!")  # saves the model's draft first, then the edit
        draft = services.store.pending_draft(conversation_id)
        assert draft is not None
        assert (draft.id, draft.text, draft.original_text, draft.model, draft.finish_reason) == (
            session.draft_id,
            "All fixed now!",
            "All fixed now.",
            SERVED,
            "stop",
        )
        assert (draft.prompt_tokens, draft.completion_tokens) == (9, 3)
        sent = await session.approve("All fixed now!")
        assert (sent.id, sent.original_text, sent.model) == (draft.id, "All fixed now.", SERVED)
    finally:
        await session.aclose()
        await services.aclose()


async def test_the_queue_runs_in_order_and_a_cancelled_waiter_drops_nothing() -> None:
    queue = StoreQueue()
    ran: list[int] = []
    try:
        gate = asyncio.Event()
        loop = asyncio.get_running_loop()

        def slow() -> None:
            asyncio.run_coroutine_threadsafe(gate.wait(), loop).result(5)
            ran.append(1)

        first = asyncio.create_task(queue.run(slow))
        second = asyncio.create_task(queue.run(lambda: ran.append(2)))
        await asyncio.sleep(0.05)
        assert queue.pending == 2
        second.cancel()
        gate.set()
        await first
        await queue.idle()
        assert ran == [1, 2]
        assert queue.pending == 0
    finally:
        queue.close()
