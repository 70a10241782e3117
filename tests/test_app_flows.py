"""Whole agent flows in the console, pressing keys as an agent would, against the loopback model server and a
real SQLite file. Nothing of ours is patched: the app is built by create_app from real Services."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from support_console.ui.app import SupportConsoleApp, create_app
from support_console.ui.screens.confirm import ConfirmScreen
from support_console.ui.screens.main import MainScreen
from support_console.workflows.services import Services
from tests.ui_helpers import (
    console,
    generate,
    notifications,
    open_first_customer,
    paste,
    seed_customer,
    settle,
    wait_for,
)
from tests.wire_replies import stall_after, stream_text
from tests.wire_server import WireServer

SLOW_TEXT = " ".join(f"word{i}" for i in range(200))


def main_of(app: SupportConsoleApp) -> MainScreen:
    assert app.main_screen is not None
    return app.main_screen


async def test_add_message_generate_stop_edit_approve(services: Services, wire_server: WireServer) -> None:
    customer_id, _ = seed_customer(services, conversation=False)
    wire_server.enqueue(stall_after(stream_text(SLOW_TEXT), 8, 10.0))  # 7 words, then a hung upstream
    app = create_app(services.settings, services)
    async with console(app, (100, 30)) as pilot:
        main = await open_first_customer(pilot, app)
        assert main.conversation is None  # a new customer has no conversation until a message arrives
        # The agent pastes the customer's message and adds it.
        await paste(pilot, "incoming-text", "My order never came")
        await pilot.press("f5")
        await settle(pilot)
        assert main.conversation is not None
        assert main.conversation.id is not None
        conversation_id = main.conversation.id
        stored = services.store.page_messages(conversation_id)
        assert [(m.role, m.text) for m in stored] == [("customer", "My order never came")]

        # Generate, let some text arrive, then stop.
        await pilot.press("ctrl+g")
        await wait_for(pilot, lambda: main.draft.text.count("word") == 7, what="some streamed text")
        assert main.streaming
        await pilot.press("escape")
        await wait_for(pilot, lambda: not main.streaming, what="the stream to stop")
        await settle(pilot)
        partial = main.draft.text
        assert partial.startswith("word0 word1")
        assert len(partial) < len(SLOW_TEXT)
        assert "Stopped" in str(main.query_one("#draft-status").render())

        # The agent edits the partial draft and approves it: a stopped partial is sent only when confirmed.
        await pilot.press("ctrl+n", "space", "o", "k")  # the cursor waits at the end of the draft
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the send guard")
        assert "partial reply" in str(app.screen.query_one("#confirm-question").render())
        await pilot.press("y")
        await settle(pilot)
        sent = [m for m in services.store.page_messages(conversation_id) if m.role == "agent"]
        assert len(sent) == 1
        assert sent[0].state == "sent"
        assert sent[0].text == partial + " ok"
        assert sent[0].original_text == partial
        assert sent[0].approved_by == "alice"
        assert sent[0].approved_at is not None
        assert app.clipboard == partial + " ok"
        assert main.draft.text == ""
        assert services.store.pending_draft(conversation_id) is None
        said = [m for _, m in notifications(app) if m.startswith("Reply approved and sent.")]
        assert said
        assert "sent to the terminal's clipboard (OSC 52)" in said[0]  # no copy command: never "copied"
        assert "copied" not in said[0].lower()
    assert len(wire_server.requests) == 1
    body = wire_server.last.json
    assert body["stream"] is True
    assert body["messages"][-1] == {"role": "user", "content": "My order never came"}
    assert main.customer is not None
    assert main.customer.id == customer_id


async def test_after_a_send_a_stray_key_and_the_send_key_send_nothing(
    services: Services, wire_server: WireServer
) -> None:
    """The focus leaves the emptied draft for the queue: a key typed after the send lands nowhere, and the
    send key then finds no draft (before, it sent that one letter as a hand-written reply, unasked)."""
    _, conversation_id = seed_customer(services, messages=("Where is my refund?",))
    wire_server.enqueue(stream_text("Your refund left today."))
    app = create_app(services.settings, services)
    async with console(app, (100, 30)) as pilot:
        main = await open_first_customer(pilot, app)
        await generate(pilot, main)
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: main.draft.text == "" and not main.drafting.sending, what="the send")
        await settle(pilot)
        assert app.focused is not None
        assert app.focused.id == "customer-options"
        await pilot.press("x", "ctrl+s")
        await settle(pilot)
        agent = [m for m in services.store.page_messages(conversation_id) if m.role == "agent"]
        assert [(m.state, m.text) for m in agent] == [("sent", "Your refund left today.")]
        assert main.draft.text == ""
        assert services.store.pending_draft(conversation_id) is None


async def test_sending_on_a_conversation_another_agent_has_asks_first(
    services: Services, wire_server: WireServer
) -> None:
    """Another agent took the conversation: the send asks, a no sends nothing and says why, a yes sends."""
    _, conversation_id = seed_customer(services, messages=("Where is my refund?",))
    services.store.assign(conversation_id, "lee", by="lee")
    wire_server.enqueue(stream_text("Your refund left today."))
    app = create_app(services.settings, services)
    async with console(app, (100, 30)) as pilot:
        main = await open_first_customer(pilot, app)
        await generate(pilot, main)
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the question")
        question = str(app.screen.query_one("#confirm-question").render())
        assert "lee has this conversation" in question
        await pilot.press("n")
        await settle(pilot)
        assert "Not sent. lee has this conversation" in str(main.query_one("#draft-status").render())
        assert [m.state for m in services.store.page_messages(conversation_id) if m.role == "agent"] == [
            "draft"
        ]
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the question again")
        await pilot.press("y")
        await wait_for(pilot, lambda: main.draft.text == "" and not main.drafting.sending, what="the send")
        agent = [m for m in services.store.page_messages(conversation_id) if m.role == "agent"]
        assert [(m.state, m.approved_by) for m in agent] == [("sent", "alice")]


async def test_full_stream_lands_in_pane_and_status_shows_usage(
    services: Services, wire_server: WireServer
) -> None:
    seed_customer(services, messages=("Where is my parcel?",))
    text = "Line one.\nLine two, with a tab\there."
    wire_server.enqueue(stream_text(text, usage=(123, 45)))
    app = create_app(services.settings, services)
    async with console(app, (100, 30)) as pilot:
        main = await open_first_customer(pilot, app)
        await pilot.press("ctrl+g")
        await wait_for(pilot, lambda: main.draft.text == text and not main.streaming, what="the whole reply")
        await settle(pilot)
        status = str(main.query_one("#draft-status").render())
        assert "Finished" in status
        assert "123 prompt + 45 reply tokens" in status
        header = str(main.query_one("#draft-header").render())
        assert "Tech Support" in header
        assert "gpt-4o" in header
        assert "prompt" in header
        assert "/" in header
        assert main.conversation is not None
        assert main.conversation.id is not None
        draft = services.store.pending_draft(main.conversation.id)
        assert draft is not None
        assert draft.text == text
        assert draft.finish_reason == "stop"


async def test_regenerate_over_edits_asks_first(services: Services, wire_server: WireServer) -> None:
    seed_customer(services, messages=("Hello?",))
    wire_server.enqueue(stream_text("First answer."), stream_text("Second answer."))
    app = create_app(services.settings, services)
    async with console(app, (100, 30)) as pilot:
        main = await open_first_customer(pilot, app)
        await pilot.press("ctrl+g")
        await wait_for(pilot, lambda: main.draft.text == "First answer." and not main.streaming)
        # Unedited: regenerate replaces it without asking.
        await pilot.press("ctrl+n", "space", "x")
        assert main.draft.edited
        await pilot.press("ctrl+r")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("n")
        assert main.draft.text == "First answer. x"
        assert len(wire_server.requests) == 1
        await pilot.press("ctrl+r")
        await pilot.press("y")
        await wait_for(pilot, lambda: main.draft.text == "Second answer." and not main.streaming)
        await settle(pilot)
        assert main.conversation is not None
        assert main.conversation.id is not None
        drafts = [m for m in services.store.page_messages(main.conversation.id) if m.role == "agent"]
        assert [(m.state, m.text) for m in drafts] == [("draft", "Second answer.")]  # same row, replaced


async def test_discard_asks_and_keeps_nothing(services: Services, wire_server: WireServer) -> None:
    seed_customer(services, messages=("Hello?",))
    wire_server.enqueue(stream_text("Unwanted answer."))
    app = create_app(services.settings, services)
    async with console(app, (100, 30)) as pilot:
        main = await open_first_customer(pilot, app)
        await pilot.press("ctrl+g")
        await wait_for(pilot, lambda: not main.streaming and main.draft.text == "Unwanted answer.")
        await settle(pilot)
        draft_id = main.draft.draft_id
        await pilot.press("f8")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        await settle(pilot)
        assert main.draft.text == ""
        assert main.conversation is not None
        assert main.conversation.id is not None
        assert services.store.pending_draft(main.conversation.id) is None
        states = {m.id: m.state for m in services.store.page_messages(main.conversation.id)}
        assert draft_id not in states  # discarded drafts are hidden from the conversation


async def test_ctrl_c_never_quits_and_quit_mid_draft_asks(
    services: Services, wire_server: WireServer
) -> None:
    seed_customer(services, messages=("Hello?",))
    wire_server.enqueue(stall_after(stream_text(SLOW_TEXT), 8, 10.0))
    app = create_app(services.settings, services)
    async with console(app, (100, 30)) as pilot:
        main = await open_first_customer(pilot, app)
        await pilot.press("ctrl+g")
        await wait_for(pilot, lambda: "word6" in main.draft.text)
        await pilot.press("ctrl+c")
        await pilot.pause()
        assert app.is_running
        assert main.streaming
        await pilot.press("ctrl+q")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("n")
        assert app.is_running
        assert main.streaming
        await pilot.press("escape")
        await wait_for(pilot, lambda: not main.streaming)
        await settle(pilot)
        assert main.conversation is not None
        assert main.conversation.id is not None
        saved = services.store.pending_draft(main.conversation.id)
        assert saved is not None
        assert saved.text == main.draft.text
        await pilot.press("ctrl+q")  # the stopped draft is open and unsent: asked again, then quits
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        await wait_for(pilot, lambda: not app.is_running, what="the console to quit")
        assert not app.is_running


async def test_quitting_mid_draft_keeps_what_came_as_a_stopped_model_draft(
    services: Services, wire_server: WireServer
) -> None:
    """Quit while the model streams: what came is saved as the model's stopped draft (its generation ended,
    with the text), so that on reopening it is a partial reply that asks before it is sent, not a draft
    that reads as hand-written."""
    seed_customer(services, messages=("Hello?",))
    wire_server.enqueue(stall_after(stream_text(SLOW_TEXT), 8, 10.0))
    app = create_app(services.settings, services)
    async with console(app, (100, 30)) as pilot:
        main = await open_first_customer(pilot, app)
        conversation = main.session.conversation_id
        await pilot.press("ctrl+g")
        await wait_for(pilot, lambda: "word6" in main.draft.text)
        await pilot.press("ctrl+q")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        await wait_for(pilot, lambda: not app.is_running, what="the console to quit")
    assert conversation is not None
    draft = services.store.pending_draft(conversation)
    assert draft is not None
    assert "word6" in draft.text
    assert (draft.error_kind, draft.model, draft.original_text) == ("stopped", "gpt-4o", draft.text)
    (generation,) = services.store.generations(conversation)
    assert generation.ended_at is not None
    assert generation.stopped_by_agent
    assert generation.output_text == draft.text
    again = create_app(services.settings, services)
    async with console(again, (100, 30)) as pilot:
        await open_first_customer(pilot, again)
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(again.screen, ConfirmScreen), what="the partial question")
        await pilot.press("escape")
    assert services.store.pending_draft(conversation) is not None  # not sent


async def test_quit_asks_when_an_unsent_draft_is_open_and_keeps_it(
    services: Services, wire_server: WireServer, tmp_path: Path
) -> None:
    seed_customer(services, messages=("Hello?",))
    wire_server.enqueue(stream_text("A generated draft."))
    app = create_app(services.settings, services)
    async with console(app, (100, 30)) as pilot:
        main = await open_first_customer(pilot, app)
        await pilot.press("ctrl+q")  # no draft open: quits at once
        await wait_for(pilot, lambda: not app.is_running, what="the console to quit without a draft")
    app = create_app(services.settings, services)
    async with console(app, (100, 30)) as pilot:
        main = await open_first_customer(pilot, app)
        await generate(pilot, main)
        await pilot.press("ctrl+q")  # generated, not edited, not approved: asks
        assert isinstance(app.screen, ConfirmScreen)
        assert "not sent yet (not edited)" in str(app.screen.query_one("#confirm-question").render())
        await pilot.press("n")
        assert app.is_running
        await pilot.press("ctrl+n", "space", "x")
        await pilot.press("ctrl+q")
        assert isinstance(app.screen, ConfirmScreen)
        assert "(edited)" in str(app.screen.query_one("#confirm-question").render())
        await pilot.press("y")
        await wait_for(pilot, lambda: not app.is_running, what="the console to quit")
    assert main.conversation is not None
    assert main.conversation.id is not None
    saved = services.store.pending_draft(main.conversation.id)
    assert saved is not None
    assert saved.text == "A generated draft. x"  # nothing lost: the edit typed just before quitting is saved


@pytest.mark.parametrize("number", [signal.SIGHUP, signal.SIGTERM], ids=["SIGHUP", "SIGTERM"])
async def test_a_closed_terminal_saves_the_last_edit_and_quits_without_asking(
    services: Services, wire_server: WireServer, number: signal.Signals
) -> None:
    """SIGHUP (the terminal closed) or SIGTERM: nobody can answer "quit anyway?", so the console saves the
    edit typed a moment before (not yet saved by its timer) and quits; before, the process just ended."""
    seed_customer(services, messages=("Hello?",))
    wire_server.enqueue(stream_text("A generated draft."))
    app = create_app(services.settings, services)
    async with console(app, (100, 30)) as pilot:
        main = await open_first_customer(pilot, app)
        await generate(pilot, main)
        await pilot.press("ctrl+n", "space", "x")
        # Handled by the console (else the signal would end this test process).
        assert signal.getsignal(number) not in (signal.SIG_DFL, signal.SIG_IGN, None)
        os.kill(os.getpid(), number)
        await wait_for(pilot, lambda: not app.is_running, what="the console to quit")
    assert main.conversation is not None
    assert main.conversation.id is not None
    saved = services.store.pending_draft(main.conversation.id)
    assert saved is not None
    assert saved.text == "A generated draft. x"
    assert signal.getsignal(number) == signal.SIG_DFL  # the handler went with the app
