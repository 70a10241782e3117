"""The console while another program holds the SQLite write lock (a real child process in BEGIN IMMEDIATE):
every key is handled while the lock is held, the draft streams, an approval waits its turn, and once the lock
is gone everything lands: the reply keeps its AI origin and nothing is lost or sent twice. Loopback model
server, real SQLite files; nothing of ours is patched."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from support_console.ui.app import create_app
from support_console.ui.widgets.live import LiveUpdates
from support_console.workflows.services import Services
from tests.db_lock import WriteLock
from tests.ui_helpers import (
    console,
    draft_status,
    notifications,
    open_first_customer,
    screen_text,
    seed_customer,
    services_for,
    settle,
    ui_settings,
    wait_for,
)
from tests.wire_replies import stream_text
from tests.wire_server import WireServer

SERVED = "gpt-4o-2024-08-06"  # the model the loopback server says it served
REPLY = " ".join(f"word{i}" for i in range(300))
SHORT_BUSY = '[agent]\nname = "alice"\n[store]\nbusy_timeout = 0.3\n'


def counted(services: Services, conversation_id: int) -> None:
    """Count and store the history's tokens now, as an earlier draft would have (so drafting only reads)."""
    list(services.store.history_newest_first(conversation_id, "o200k_base"))


def agent_rows(services: Services, conversation_id: int) -> list[tuple[str, str, str | None, str | None]]:
    return [
        (m.state, m.text, m.original_text, m.model)
        for m in services.store.page_messages(conversation_id)
        if m.role == "agent"
    ]


async def test_keys_streams_and_approval_while_another_program_holds_the_write_lock(
    tmp_path: Path, wire_server: WireServer
) -> None:
    services = services_for(ui_settings(tmp_path, wire_server))  # the default 30 s busy timeout
    try:
        _, conversation_id = seed_customer(services, messages=("My invoice is wrong",))
        counted(services, conversation_id)
        wire_server.enqueue(stream_text(REPLY, delay=0.002))
        app = create_app(services.settings, services)
        async with console(app, (120, 40)) as pilot:
            main = await open_first_customer(pilot, app)
            with WriteLock(tmp_path / "console.db") as lock:
                # Typing into the incoming box: each key shows at once.
                main.incoming.area.focus()
                for char in "VIP, be nice":
                    await pilot.press("space" if char == " " else char)
                assert main.incoming.text == "VIP, be nice"
                # Generating: the request only reads; the saves wait for the lock, the stream does not.
                await pilot.press("ctrl+g")
                await wait_for(pilot, lambda: main.draft.text == REPLY and not main.streaming, within=20)
                assert lock.held
                assert services.store.pending_draft(conversation_id) is None  # not saved yet: queued
                await wait_for(
                    pilot, lambda: "waiting for the database" in screen_text(app), what="the notice"
                )
                # Editing the streamed draft, then approving it: both are queued behind the saves.
                await pilot.press("ctrl+n", "space", "T", "h", "x")
                await pilot.press("backspace", "a", "n", "k", "s")
                assert main.draft.text == REPLY + " Thanks"
                await pilot.press("ctrl+s")
                assert "Sending" in str(main.query_one("#draft-status").render())
                await pilot.press("ctrl+s")  # a second press does not send it twice
                assert ("information", "The reply is already being sent.") in notifications(app)
                await pilot.press("f4")  # the typed note, queued too
                # Keys that need no database still work: help opens and closes.
                await pilot.press("f1")
                assert type(app.screen).__name__ == "HelpScreen"
                await pilot.press("escape")
                assert lock.held  # everything above happened while the lock was held
                assert agent_rows(services, conversation_id) == []
                lock.release()
            await settle(pilot)
            assert agent_rows(services, conversation_id) == [("sent", REPLY + " Thanks", REPLY, SERVED)]
            messages = services.store.page_messages(conversation_id)
            assert [(m.role, m.text) for m in messages][-1] == ("note", "VIP, be nice")
            assert services.store.pending_draft(conversation_id) is None
            assert main.draft.text == ""
            assert app.clipboard == REPLY + " Thanks"
            assert main.incoming.text == ""
            assert any(m.startswith("Reply approved and sent.") for _, m in notifications(app))
            await wait_for(pilot, lambda: "VIP, be nice" in screen_text(app), what="the note on screen")
            await wait_for(
                pilot, lambda: "waiting for the database" not in screen_text(app), what="no notice"
            )
            shown = screen_text(app)
            assert "word298 word299" in shown  # the end of the sent reply, above the note
        assert len(wire_server.requests) == 1
    finally:
        services.close()


async def test_a_draft_asked_for_behind_a_waiting_message_includes_that_message(
    tmp_path: Path, wire_server: WireServer
) -> None:
    services = services_for(ui_settings(tmp_path, wire_server))
    try:
        _, conversation_id = seed_customer(services, messages=("Hello",))
        counted(services, conversation_id)
        wire_server.enqueue(stream_text("Sorry about that."))
        app = create_app(services.settings, services)
        async with console(app, (120, 40)) as pilot:
            main = await open_first_customer(pilot, app)
            with WriteLock(tmp_path / "console.db") as lock:
                main.incoming.area.focus()
                await pilot.press(*"late", "space", *"again")
                await pilot.press("f5")  # waits for the lock
                await pilot.press("ctrl+g")  # prepared after it, so the draft answers it
                await pilot.pause(0.3)
                assert wire_server.requests == []
                assert lock.held
                lock.release()
            await wait_for(pilot, lambda: main.draft.text == "Sorry about that.", within=20)
            await settle(pilot)
        assert wire_server.last.json["messages"][-1] == {"role": "user", "content": "late again"}
        assert [m.text for m in services.store.page_messages(conversation_id) if m.role == "customer"] == [
            "Hello",
            "late again",
        ]
    finally:
        services.close()


async def test_stopping_a_draft_still_being_prepared_says_so_and_sends_nothing(
    tmp_path: Path, wire_server: WireServer
) -> None:
    """The request waits behind a message the store cannot write yet (another program holds the lock);
    the agent stops it: the status says nothing was sent (it stayed "Preparing the request…"), and no
    request ever goes out, after the lock is gone either."""
    services = services_for(ui_settings(tmp_path, wire_server))
    try:
        _, conversation_id = seed_customer(services, messages=("Hello",))
        app = create_app(services.settings, services)
        async with console(app, (120, 40)) as pilot:
            main = await open_first_customer(pilot, app)
            with WriteLock(tmp_path / "console.db") as lock:
                main.incoming.area.focus()
                await pilot.press(*"late", "f5")  # waits for the lock
                await pilot.press("ctrl+g")  # prepared behind it
                await wait_for(pilot, lambda: "Preparing" in draft_status(main), what="preparing")
                await pilot.press("escape")
                await wait_for(pilot, lambda: "Stopped before the request" in draft_status(main))
                lock.release()
            await wait_for(
                pilot,
                lambda: len(services.store.page_messages(conversation_id)) == 2,
                what="the message saved",
            )
            await pilot.pause(0.3)
            assert draft_status(main) == "Stopped before the request was sent."
            assert main.draft.text == ""
        assert wire_server.requests == []
    finally:
        services.close()


async def test_a_failed_save_keeps_the_draft_so_approval_keeps_its_ai_origin(
    tmp_path: Path, wire_server: WireServer
) -> None:
    """The lock held past a short busy timeout mid-stream (issue 9): the pane keeps the draft it holds, the
    approval after the lock is gone updates that AI draft, and no hand-written copy is left behind."""
    services = services_for(ui_settings(tmp_path, wire_server, config_text=SHORT_BUSY))
    try:
        _, conversation_id = seed_customer(services, messages=("My parcel is late",))
        counted(services, conversation_id)
        words = " ".join(f"w{i}" for i in range(60))
        wire_server.enqueue(stream_text(words, delay=0.03))
        app = create_app(services.settings, services)
        async with console(app, (120, 40)) as pilot:
            main = await open_first_customer(pilot, app)
            await pilot.press("ctrl+g")
            await wait_for(pilot, lambda: services.store.pending_draft(conversation_id) is not None)
            first = services.store.pending_draft(conversation_id)
            assert first is not None
            with WriteLock(tmp_path / "console.db") as lock:
                await wait_for(pilot, lambda: main.draft.text == words and not main.streaming, within=20)
                await wait_for(
                    pilot, lambda: "Not saved yet" in str(main.query_one("#draft-status").render())
                )
                assert main.draft.draft_id == first.id
                assert any(s == "error" and "locked" in m for s, m in notifications(app))
                await pilot.press("ctrl+s")  # refused by the lock: the draft stays, editable
                await wait_for(pilot, lambda: "Not sent" in str(main.query_one("#draft-status").render()))
                assert main.draft.text == words
                assert main.draft.draft_id == first.id
                assert not main.draft.editor.read_only
                assert lock.held
                lock.release()
            await pilot.press("ctrl+s")
            await settle(pilot)
            assert any(m.startswith("Reply approved and sent.") for _, m in notifications(app))
        rows = services.store.page_messages(conversation_id)
        assert [(m.id, m.state, m.text, m.original_text, m.model) for m in rows if m.role == "agent"] == [
            (first.id, "sent", words, words, SERVED)
        ]
        assert services.store.pending_draft(conversation_id) is None
    finally:
        services.close()


async def test_a_first_message_and_a_draft_asked_for_at_once_both_happen(
    tmp_path: Path, wire_server: WireServer
) -> None:
    """A customer with no conversation yet: F5 then ctrl+g while the lock is held. The draft is not refused
    as "nothing to reply to": it waits for the conversation the message opens."""
    services = services_for(ui_settings(tmp_path, wire_server))
    try:
        seed_customer(services, conversation=False)
        wire_server.enqueue(stream_text("Welcome aboard."))
        app = create_app(services.settings, services)
        async with console(app, (120, 40)) as pilot:
            main = await open_first_customer(pilot, app)
            assert main.conversation is None
            with WriteLock(tmp_path / "console.db") as lock:
                main.incoming.area.focus()
                await pilot.press(*"hello", "f5", "ctrl+g")
                await pilot.pause(0.3)
                assert not any("Nothing to reply to" in m for _, m in notifications(app))
                assert lock.held
                lock.release()
            await wait_for(pilot, lambda: main.draft.text == "Welcome aboard.", within=20)
            await settle(pilot)
            assert main.conversation is not None
        assert wire_server.last.json["messages"][-1] == {"role": "user", "content": "hello"}
    finally:
        services.close()


@pytest.fixture
def hello(tmp_path: Path, wire_server: WireServer) -> Iterator[tuple[Services, int]]:
    """Services on ``tmp_path`` with a short busy timeout, and a customer's conversation that says "Hello"
    (its id); closed after the test."""
    services = services_for(ui_settings(tmp_path, wire_server, config_text=SHORT_BUSY))
    try:
        _, conversation_id = seed_customer(services, messages=("Hello",))
        yield services, conversation_id
    finally:
        services.close()


async def test_quitting_with_a_draft_the_database_refuses_asks_first(
    tmp_path: Path, hello: tuple[Services, int]
) -> None:
    services, conversation_id = hello
    app = create_app(services.settings, services)
    async with console(app, (120, 40)) as pilot:
        main = await open_first_customer(pilot, app)
        with WriteLock(tmp_path / "console.db") as lock:
            await pilot.press("ctrl+n", *"Dear Jane")
            await pilot.press("ctrl+q")  # asks first: an unsent draft is open
            assert "not sent yet" in screen_text(app)
            await pilot.press("y")  # the typed draft cannot be saved past the busy timeout
            await wait_for(pilot, lambda: "could not be saved" in screen_text(app), what="the question")
            assert type(app.screen).__name__ == "ConfirmScreen"
            await pilot.press("n")
            assert app.is_running
            assert main.draft.text == "Dear Jane"
            lock.release()
        await pilot.press("ctrl+q", "y")
        await wait_for(pilot, lambda: not app.is_running, what="the console to quit")
    draft = services.store.pending_draft(conversation_id)
    assert draft is not None
    assert draft.text == "Dear Jane"


async def test_an_edit_that_could_not_be_saved_is_saved_when_the_database_is_back(
    tmp_path: Path, hello: tuple[Services, int]
) -> None:
    services, conversation_id = hello
    app = create_app(services.settings, services)
    async with console(app, (120, 40)) as pilot:
        main = await open_first_customer(pilot, app)
        with WriteLock(tmp_path / "console.db"):
            await pilot.press("ctrl+n", *"Dear Jane")
            await wait_for(
                pilot,
                lambda: any("Could not save the draft" in m for _, m in notifications(app)),
                what="the failed save",
            )
            await pilot.press("ctrl+s")  # refused too: the database is away
            await wait_for(pilot, lambda: "Not sent" in draft_status(main), what="the refusal")
            await pilot.pause(1.0)  # past any later save of the same text (each fails at 0.3 s)
        await pilot.pause(0.5)
        assert services.store.pending_draft(conversation_id) is None  # nothing retries by itself
        # The feed says the database is back (as after a dropped PostgreSQL connection): no key pressed.
        main.query_one(LiveUpdates).post_message(LiveUpdates.ConnectionChanged(None))
        await wait_for(
            pilot,
            lambda: (
                (d := services.store.pending_draft(conversation_id)) is not None and d.text == "Dear Jane"
            ),
            what="the saved draft",
        )
        await wait_for(pilot, lambda: not main.draft.dirty, what="the pane to know it is saved")
        await wait_for(pilot, lambda: "The database is back and the draft is saved" in draft_status(main))
