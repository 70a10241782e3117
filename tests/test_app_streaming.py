"""The console stays responsive while a draft streams: keys open screens and the stream carries on.

Deltas are coalesced and flushed once per frame, so the event loop is free between frames. Real HTTP from
the loopback server, at a steady pace (300 words, one every 20 ms)."""

from __future__ import annotations

from pathlib import Path

from support_console.ui.app import create_app
from support_console.ui.screens.persona_picker import PersonaPicker
from tests.ui_helpers import (
    console,
    open_first_customer,
    seed_customer,
    services_for,
    ui_settings,
    wait_for,
)
from tests.wire_replies import stream_text
from tests.wire_server import WireServer


async def test_keys_work_while_a_draft_streams(tmp_path: Path, wire_server: WireServer) -> None:
    services = services_for(ui_settings(tmp_path, wire_server))
    try:
        seed_customer(services, messages=("Hello",))
        words = " ".join(f"w{i}" for i in range(300))
        wire_server.enqueue(stream_text(words, delay=0.02))
        app = create_app(services.settings, services)
        async with console(app, (100, 30)) as pilot:
            main = await open_first_customer(pilot, app)
            await pilot.press("ctrl+g")
            await wait_for(pilot, lambda: "w3" in main.draft.text)
            await pilot.press("ctrl+o")  # the picker opens mid-stream
            assert isinstance(app.screen, PersonaPicker)
            assert main.streaming
            await pilot.press("escape")
            await wait_for(pilot, lambda: main.draft.text == words and not main.streaming, within=20)
    finally:
        services.close()


async def test_a_whole_generation_is_one_undo_step(tmp_path: Path, wire_server: WireServer) -> None:
    from tests.ui_helpers import (
        console,
        open_first_customer,
        seed_customer,
        services_for,
        settle,
        ui_settings,
    )
    from tests.ui_helpers import wait_for as wait
    from tests.wire_replies import stream_text as text_stream

    services = services_for(ui_settings(tmp_path, wire_server))
    try:
        seed_customer(services, messages=("Hi",))
        reply = "One two three four five six seven eight nine ten."
        wire_server.enqueue(text_stream(reply, delay=0.05))  # a word per event, several frames apart
        app = create_app(services.settings, services)
        async with console(app, (100, 30)) as pilot:
            main = await open_first_customer(pilot, app)
            await pilot.press("ctrl+g")
            await wait(pilot, lambda: not main.streaming and main.draft.text == reply, what="the draft")
            await settle(pilot)
            await pilot.press("ctrl+n", "ctrl+z")  # undo: the whole generation goes, not its last word
            assert main.draft.text == ""
            await pilot.press("ctrl+y")  # redo: all of it comes back, as the model wrote it
            assert main.draft.text == reply
            assert not main.draft.edited
    finally:
        services.close()


async def test_typing_into_a_streaming_draft_says_why_it_is_not_added(
    tmp_path: Path, wire_server: WireServer
) -> None:
    from tests.ui_helpers import (
        console,
        notifications,
        open_first_customer,
        seed_customer,
        services_for,
        ui_settings,
    )
    from tests.ui_helpers import wait_for as wait
    from tests.wire_replies import stall_after
    from tests.wire_replies import stream_text as text_stream

    services = services_for(ui_settings(tmp_path, wire_server))
    try:
        seed_customer(services, messages=("Hi",))
        wire_server.enqueue(stall_after(text_stream(" ".join(f"w{i}" for i in range(50))), 6, 10.0))
        app = create_app(services.settings, services)
        async with console(app, (100, 30)) as pilot:
            main = await open_first_customer(pilot, app)
            await pilot.press("ctrl+g")
            await wait(pilot, lambda: "w3" in main.draft.text, what="some text")
            main.draft.editor.focus()
            await pilot.press("x", "y")
            await pilot.pause()
            said = [m for _, m in notifications(app) if "not added to a streaming draft" in m]
            assert len(said) == 1  # told once, not once per key
            assert "x" not in main.draft.text
            await pilot.press("escape")
            await wait(pilot, lambda: not main.streaming, what="the stop")
    finally:
        services.close()
