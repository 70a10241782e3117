"""A draft too long to be held whole by the editor (one paragraph over ``long_text.LINE_MAX`` characters) is
edited through the part around the cursor: the editor stays small, the agent's keys land where the cursor
is, moving towards either end brings the rest into view, and what is approved is the whole text, exactly.
"""

from __future__ import annotations

from pathlib import Path

from textual.pilot import Pilot

from support_console.config.settings import Settings
from support_console.ui.app import SupportConsoleApp, create_app
from support_console.ui.screens.main import MainScreen
from support_console.ui.widgets.draft_pane import SELECTED_PART
from support_console.ui.widgets.long_text import LINE_MAX
from support_console.workflows.services import Services
from tests.test_app_draft_text import sent_reply
from tests.ui_helpers import (
    console,
    notifications,
    open_first_customer,
    seed_customer,
    services_for,
    settle,
    ui_settings,
    wait_for,
)
from tests.wire_replies import stream_text
from tests.wire_server import WireServer

WORDS = [f" w{i}" if i else "w0" for i in range(2600)]
PIECES = ["".join(WORDS[i : i + 20]) for i in range(0, len(WORDS), 20)]
PARAGRAPH = "".join(PIECES)  # about 15,000 characters on one line
assert len(PARAGRAPH) > LINE_MAX  # too long to be held whole


def long_reply_settings(tmp_path: Path, wire_server: WireServer) -> Settings:
    personas = tmp_path / "personas"
    personas.mkdir(exist_ok=True)
    (personas / "tech-support.toml").write_text(
        'name = "Long"\nsystem = "You help."\n[parameters]\nmax_tokens = 16000\n', encoding="utf-8"
    )
    return ui_settings(tmp_path, wire_server, personas=personas)


def seeded(tmp_path: Path, wire_server: WireServer) -> tuple[Services, int]:
    """A customer who asked for everything, and the paragraph queued as the model's reply."""
    services = services_for(long_reply_settings(tmp_path, wire_server))
    _, conversation_id = seed_customer(services, messages=("Tell me everything.",))
    wire_server.enqueue(stream_text(PARAGRAPH, chunks=PIECES))
    return services, conversation_id


async def draft_the_paragraph(pilot: Pilot[None], app: SupportConsoleApp) -> MainScreen:
    """Open the customer and let the model write the paragraph, to its end."""
    main = await open_first_customer(pilot, app)
    await pilot.press("ctrl+g")
    await wait_for(pilot, lambda: done(main), within=30, what="the whole reply")
    await settle(pilot)
    return main


def done(main: MainScreen) -> bool:
    return not main.streaming and main.draft.text == PARAGRAPH


async def walk_to_the_start(pilot: object, main: MainScreen) -> None:
    """Press Page Up until the cursor is at the very start of the draft (near the top of the part shown,
    the text before it comes into view), then Home."""
    from textual.pilot import Pilot

    assert isinstance(pilot, Pilot)
    editor = main.draft.editor
    for _ in range(200):
        if "from character 1 shown" in str(editor.border_subtitle) and editor.cursor_location[0] == 0:
            await pilot.press("home")
            if editor.cursor_location == (0, 0):
                return
        await pilot.press("pageup")
    raise AssertionError(f"Page Up never reached the start: {editor.border_subtitle}")


async def test_a_very_long_paragraph_is_edited_in_part_and_sent_whole(
    tmp_path: Path, wire_server: WireServer
) -> None:
    services, conversation_id = seeded(tmp_path, wire_server)
    try:
        app = create_app(services.settings, services)
        async with console(app, (100, 30)) as pilot:
            main = await draft_the_paragraph(pilot, app)
            editor = main.draft.editor
            assert main.draft.text == PARAGRAPH
            assert not main.draft.edited
            assert len(editor.text) < len(PARAGRAPH) / 4  # the editor holds a part, the newest
            assert PARAGRAPH.endswith(editor.text)
            assert "long draft, " in str(editor.border_subtitle)
            main.draft.editor.focus()
            await pilot.press("!")
            assert main.draft.text == PARAGRAPH + "!"
            await walk_to_the_start(pilot, main)
            assert len(editor.text) < len(PARAGRAPH) / 4  # still a part, now the oldest
            await pilot.press("H", "i", ".", "space")
            assert main.draft.text == "Hi. " + PARAGRAPH + "!"
            assert main.draft.edited
            await pilot.press("ctrl+a")  # select all: only the part, and the agent is told
            assert ("warning", SELECTED_PART) in notifications(app)
            await pilot.press("home")
            await pilot.press("ctrl+s")
            await settle(pilot)
        assert sent_reply(services, conversation_id).text == "Hi. " + PARAGRAPH + "!"
    finally:
        services.close()


async def test_a_restored_long_draft_is_shown_in_part_and_sent_whole(
    tmp_path: Path, wire_server: WireServer
) -> None:
    services, conversation_id = seeded(tmp_path, wire_server)
    try:
        app = create_app(services.settings, services)
        async with console(app, (100, 30)) as pilot:  # the model writes it; the console is closed
            await draft_the_paragraph(pilot, app)
        app = create_app(services.settings, services)
        async with console(app, (100, 30)) as pilot:
            main = await open_first_customer(pilot, app)
            editor = main.draft.editor
            assert main.draft.text == PARAGRAPH
            assert not main.draft.edited
            assert len(editor.text) < len(PARAGRAPH) / 4
            assert PARAGRAPH.endswith(editor.text)
            await pilot.press("ctrl+s")
            await settle(pilot)
        sent = sent_reply(services, conversation_id)
        assert (sent.text, sent.original_text) == (PARAGRAPH, PARAGRAPH)
    finally:
        services.close()
