"""A console rewrite without Textual (workflows/rewrite_session.py), and the send guard's placeholder block in
the draft session: real SQLite files and the loopback model server. Nothing of ours is patched."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from support_console.core.rewrite_tools import load_tools
from support_console.core.vocabulary import ErrorKind
from support_console.llm import LLMError
from support_console.store import GenerationRecord
from support_console.workflows.draft_session import DraftSession, NotReady
from support_console.workflows.rewrite_session import RewriteSession
from support_console.workflows.services import Services
from tests.ui_helpers import seed_customer, services_for, ui_settings
from tests.wire_replies import drop_after, stream_text
from tests.wire_server import WireServer

DRAFT = "Hi Jane,\n\nYour refund of $59.99 for ORD-1234 is sent.\n\n-- \nAlice"


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


async def opened(services: Services, session: DraftSession) -> int:
    customer_id, conversation_id = seed_customer(services, messages=("Where is my refund?",))
    await session.open(customer_id)
    await session.save_edit(DRAFT)
    return conversation_id


def record(services: Services, conversation_id: int) -> GenerationRecord:
    [only] = services.store.generations(conversation_id)
    return only


async def test_the_growing_text_is_kept_on_the_record_while_it_streams(
    services: Services, session: DraftSession, wire_server: WireServer
) -> None:
    conversation_id = await opened(services, session)
    rewrites = RewriteSession(services, session)
    words = " ".join(f"w{i}" for i in range(60))
    wire_server.enqueue(stream_text(words, delay=0.03))
    rewrite = await rewrites.prepare(load_tools().get("shorter"), DRAFT)
    seen_midway: list[str | None] = []
    async for _ in rewrites.stream(rewrite, save_every=0.1):
        if len(rewrite.pieces) == 40:
            await rewrites.idle()  # what a crash now would leave: the text so far, not ended
            midway = record(services, conversation_id)
            seen_midway.append(midway.output_text)
            assert midway.ended_at is None
    await rewrites.idle()
    assert seen_midway[0] is not None
    assert seen_midway[0].startswith("w0 w1 ")
    assert seen_midway[0] != words
    done = record(services, conversation_id)
    assert done.output_text == f"{words}\n\n-- \nAlice"  # the signature was never sent, and is put back
    assert (done.finish_reason, done.ended_at is not None, done.message_id) == (
        "stop",
        True,
        session.draft_id,
    )
    assert (
        wire_server.requests[-1].json["messages"][1]["content"]
        == "Hi Jane,\n\nYour refund of $59.99 for ORD-1234 is sent."
    )
    assert rewrite.outcome is not None
    assert rewrite.acceptable
    await rewrites.decide(rewrite, accepted=True)
    assert record(services, conversation_id).outcome == "accepted"


async def test_a_broken_stream_keeps_the_partial_text_with_its_error(
    services: Services, session: DraftSession, wire_server: WireServer
) -> None:
    conversation_id = await opened(services, session)
    rewrites = RewriteSession(services, session)
    wire_server.enqueue(drop_after(stream_text("one two three four five six"), 4))
    rewrite = await rewrites.prepare(load_tools().get("friendlier"), DRAFT)
    with pytest.raises(LLMError):
        async for _ in rewrites.stream(rewrite):
            pass
    await rewrites.idle()
    broken = record(services, conversation_id)
    assert broken.error_kind == ErrorKind.STREAM_ERROR
    assert broken.output_text
    assert "one" in broken.output_text
    assert not rewrite.acceptable


async def test_stop_cancels_the_stream_and_records_it_as_stopped(
    services: Services, session: DraftSession, wire_server: WireServer
) -> None:
    conversation_id = await opened(services, session)
    rewrites = RewriteSession(services, session)
    wire_server.enqueue(stream_text(" ".join(f"w{i}" for i in range(300)), delay=0.02))
    rewrite = await rewrites.prepare(load_tools().get("expand"), DRAFT)

    async def consume() -> None:
        async for _ in rewrites.stream(rewrite):
            if len(rewrite.pieces) == 5:
                assert rewrites.stop()

    with pytest.raises(asyncio.CancelledError):
        await asyncio.create_task(consume())
    await rewrites.idle()
    stopped = record(services, conversation_id)
    assert stopped.stopped_by_agent
    assert stopped.output_text is not None
    assert stopped.output_text.startswith("w0")
    assert not rewrites.stop()  # nothing streams now


async def test_refine_instructions_are_remembered_per_draft(
    services: Services, session: DraftSession
) -> None:
    await opened(services, session)
    rewrites = RewriteSession(services, session)
    refine = load_tools().get("refine")
    for instruction in ("mention the warranty", "be brief", "mention the warranty"):
        await rewrites.prepare(refine, DRAFT, {"instruction": instruction})
    assert rewrites.history() == ["mention the warranty", "be brief"]
    await session.discard()  # another draft: its own history
    assert rewrites.history() == []


async def test_a_reply_with_an_unfilled_placeholder_is_never_sent(
    services: Services, session: DraftSession
) -> None:
    customer_id, conversation_id = seed_customer(services, messages=("Where is my order?",))
    await session.open(customer_id)
    with pytest.raises(NotReady, match=r"Fill in \{\{ order_id \}\} before sending") as caught:
        await session.approve("Order {{ order_id }} ships today. It costs $5 {for real}.")
    assert caught.value.missing == "placeholders"
    sent = await session.approve("Order A-1 ships today. It costs $5 {for real}.")
    assert sent.state == "sent"
    assert services.store.pending_draft(conversation_id) is None


async def test_a_hand_written_reply_rewritten_by_the_model_says_so_in_its_trail(
    services: Services, session: DraftSession, wire_server: WireServer
) -> None:
    """The accepted rewrite's tool is named on the reply; a rejected one is not (it wrote nothing sent)."""
    conversation_id = await opened(services, session)
    rewrites = RewriteSession(services, session)
    tools = load_tools()
    for tool, text, accepted in (("friendlier", "Rejected words.", False), ("shorter", "Refund sent.", True)):
        wire_server.enqueue(stream_text(text))
        rewrite = await rewrites.prepare(tools.get(tool), DRAFT)
        async for _ in rewrites.stream(rewrite):
            pass
        await rewrites.decide(rewrite, accepted=accepted)
    await session.save_edit("Refund sent.\n\n-- \nAlice")  # the accepted text, as the editor saves it
    await session.approve("Refund sent.\n\n-- \nAlice")
    [reply] = [m for m in services.store.audit_conversation(conversation_id).messages if m.role == "agent"]
    assert not reply.ai_assisted  # where the draft came from: the agent's hands
    assert reply.rewrites_accepted == ("shorter",)
    assert reply.verdict == "hand-written, rewritten with the shorter rewrite tool"
