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
