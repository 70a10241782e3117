"""The draft's status line says when the agent has changed the model's draft, and stops saying so when the
text is the model's again."""

from __future__ import annotations

from pathlib import Path

from support_console.ui.app import create_app
from support_console.ui.widgets.draft_pane import EDITED
from tests.ui_helpers import (
    console,
    draft_status,
    open_first_customer,
    seed_customer,
    services_for,
    settle,
    ui_settings,
    wait_for,
)
from tests.wire_replies import stream_text
from tests.wire_server import WireServer


async def test_the_status_says_the_model_draft_was_edited(tmp_path: Path, wire_server: WireServer) -> None:
    services = services_for(ui_settings(tmp_path, wire_server))
    try:
        seed_customer(services, messages=("Where is my parcel?",))
        wire_server.enqueue(stream_text("It left our depot this morning."))
        app = create_app(services.settings, services)
        async with console(app, (120, 40)) as pilot:
            main = await open_first_customer(pilot, app)
            await pilot.press("ctrl+g")
            await wait_for(pilot, lambda: "Finished" in draft_status(main), what="the draft")
            await settle(pilot)
            assert not draft_status(main).startswith(EDITED)
            main.draft.editor.focus()
            await pilot.press("end", "!")
            await wait_for(pilot, lambda: draft_status(main).startswith(EDITED), what="the edit")
            assert "Finished" in draft_status(main)  # how the model ended is still said
            await pilot.press("backspace")  # the model's text again
            await wait_for(pilot, lambda: not draft_status(main).startswith(EDITED), what="the undone edit")
            assert "Finished" in draft_status(main)
            await settle(pilot)
    finally:
        services.close()
