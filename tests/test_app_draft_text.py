"""What the agent sees in the draft editor is what is sent: the model's text, minus only escape sequences.

Streamed from the loopback server, approved unchanged with the agent's key: the stored sent text is the
model's text minus the dropped sequences (the stored original keeps them), the stats and the audit count it
unedited, direction marks and RTL text go out untouched, and no raw ESC or bidi control is ever drawn. A long
reply keeps the editor's document small while it streams and holds all of it once the model stops.
"""

from __future__ import annotations

from pathlib import Path

from textual.widgets import TextArea

from support_console.core.safe_text import UNSAFE
from support_console.store import Message
from support_console.ui.app import create_app
from support_console.workflows.services import Services
from tests.ui_helpers import (
    console,
    notifications,
    open_first_customer,
    paste,
    screen_text,
    seed_customer,
    services_for,
    settle,
    ui_settings,
    wait_for,
)
from tests.wire_replies import stream_text
from tests.wire_server import WireServer

ESCAPED_CHUNKS = ["Hello \x1b[", "31mred\x1b[0m", " and a bell\x07", " done\r", "\nbye \x1b]0;pwned\x07."]
ESCAPED_CLEAN = "Hello red and a bell done\nbye ."
ARABIC = "مرحبا بك! \u200fشكرا لتواصلك معنا\u200e (order #12) \u061cسنساعدك اليوم."
ISOLATED = "Your order \u2067رقم ١٢٣\u2069 ships \u202eoday\u202c."


def drawn(editor: TextArea) -> str:
    """Every character the editor draws for its visible rows (what would be written to the terminal)."""
    return "".join(seg.text for y in range(editor.size.height) for seg in editor.render_line(y))


def sent_reply(services: Services, conversation_id: int) -> Message:
    return [m for m in services.store.page_messages(conversation_id) if m.role == "agent"][-1]


def assert_unedited(services: Services, conversation_id: int, message: Message) -> None:
    (row,) = services.store.stats().by_persona
    assert (row.sent, row.unchanged) == (1, 1)
    trail = services.store.audit_conversation(conversation_id)
    (reply,) = [m for m in trail.messages if m.message_id == message.id]
    assert reply.edit_distance == 0.0
    assert not reply.edited


async def stream_and_approve(tmp_path: Path, wire_server: WireServer, chunks: list[str]) -> tuple[
    Services, int, Message, list[str], list[tuple[str, str]]
]:  # fmt: skip
    """Stream ``chunks`` as the model's reply, approve it unchanged; (services, conversation, the sent
    message, the screens and drawn editor rows seen while and after it streamed, the notifications)."""
    services = services_for(ui_settings(tmp_path, wire_server))
    _, conversation_id = seed_customer(services, messages=("Hi, where is my order?",))
    wire_server.enqueue(stream_text("".join(chunks), chunks=chunks, delay=0.02))
    app = create_app(services.settings, services)
    seen: list[str] = []
    async with console(app, (120, 40)) as pilot:
        main = await open_first_customer(pilot, app)
        await pilot.press("ctrl+g")
        while main.drafting.generating:
            seen.append(screen_text(app) + drawn(main.draft.editor))
            await pilot.pause(0.02)
        await settle(pilot)
        seen.append(screen_text(app) + drawn(main.draft.editor))
        assert not main.draft.edited
        await pilot.press("ctrl+s")
        await settle(pilot)
        notes = notifications(app)
        seen.append(screen_text(app))
    return services, conversation_id, sent_reply(services, conversation_id), seen, notes


async def test_escape_sequences_are_dropped_counted_and_the_rest_sent_unedited(
    tmp_path: Path, wire_server: WireServer
) -> None:
    services, conversation_id, sent, seen, notes = await stream_and_approve(
        tmp_path, wire_server, ESCAPED_CHUNKS
    )
    try:
        assert sent.state == "sent"
        assert sent.text == ESCAPED_CLEAN  # the model's text minus the sequences, nothing substituted
        assert sent.original_text == "".join(ESCAPED_CHUNKS)  # the stored original is the raw model text
        assert sent.model is not None
        assert_unedited(services, conversation_id, sent)
        assert all("\x1b" not in screen and "\x07" not in screen for screen in seen)
        assert not any("␛" in screen or "[31m" in screen or "0;pwned" in screen for screen in seen)
        # ESC[31m, ESC[0m, BEL and the OSC title (a CR before a newline is a line ending); the agent is
        # told on the status line while the draft is shown, and in a notice.
        assert "4 escape sequences removed from the model's text" in seen[-2]
        assert ("warning", "4 escape sequences removed from the model's text.") in notes
    finally:
        services.close()


async def test_rtl_text_and_direction_marks_go_out_exactly_as_written(
    tmp_path: Path, wire_server: WireServer
) -> None:
    chunks = ARABIC.split(" ")
    chunks = [c + " " for c in chunks[:-1]] + chunks[-1:]
    services, conversation_id, sent, seen, notes = await stream_and_approve(tmp_path, wire_server, chunks)
    try:
        assert sent.text == ARABIC
        assert sent.original_text == ARABIC
        assert "\ufffd" not in sent.text
        assert_unedited(services, conversation_id, sent)
        assert "مرحبا بك" in seen[-2]
        assert "escape sequence" not in seen[-2]
        assert not any("escape sequence" in message for _, message in notes)
    finally:
        services.close()


async def test_bidi_isolates_are_kept_in_the_text_and_never_drawn_raw(
    tmp_path: Path, wire_server: WireServer
) -> None:
    chunks = [ISOLATED[:14], ISOLATED[14:30], ISOLATED[30:]]
    services, conversation_id, sent, seen, _ = await stream_and_approve(tmp_path, wire_server, chunks)
    try:
        assert sent.text == ISOLATED  # held by the editor as it is: the customer gets what the model wrote
        assert_unedited(services, conversation_id, sent)
        for screen in seen:
            assert UNSAFE.search(screen) is None, repr(UNSAFE.findall(screen))
        assert "\ufffdرقم ١٢٣\ufffd" in seen[-2]  # drawn as visible symbols, one for one
    finally:
        services.close()


async def test_pasted_escape_sequences_are_dropped_and_the_agent_told(
    tmp_path: Path, wire_server: WireServer
) -> None:
    services = services_for(ui_settings(tmp_path, wire_server))
    try:
        _, conversation_id = seed_customer(services, messages=("Hello",))
        app = create_app(services.settings, services)
        async with console(app, (100, 30)) as pilot:
            main = await open_first_customer(pilot, app)
            await pilot.press("ctrl+n")
            await paste(pilot, "draft-editor", "Thanks \x1b[1;31mfor\x1b[0m waiting \u200fشكرا")
            assert main.draft.text == "Thanks for waiting \u200fشكرا"
            assert ("warning", "2 escape sequences removed from the pasted text.") in notifications(app)
            assert "\x1b" not in drawn(main.draft.editor)
            await pilot.press("ctrl+s")
            await settle(pilot)
        assert sent_reply(services, conversation_id).text == "Thanks for waiting \u200fشكرا"
    finally:
        services.close()


async def test_a_restored_model_draft_is_shown_clean_and_sent_unedited(
    tmp_path: Path, wire_server: WireServer
) -> None:
    services = services_for(ui_settings(tmp_path, wire_server))
    try:
        _, conversation_id = seed_customer(services, messages=("Hello",))
        raw = "Sure \x1b[2Jthing\x1b[0m."
        services.store.save_draft(
            conversation_id, text=raw, original_text=raw, persona_id="tech-support", model="gpt-4o"
        )
        app = create_app(services.settings, services)
        async with console(app, (120, 40)) as pilot:
            main = await open_first_customer(pilot, app)
            assert main.draft.text == "Sure thing."
            assert not main.draft.edited
            assert "2 escape sequences removed from the model's text" in screen_text(app)
            await pilot.press("ctrl+s")
            await settle(pilot)
        sent = sent_reply(services, conversation_id)
        assert (sent.text, sent.original_text) == ("Sure thing.", raw)
        assert_unedited(services, conversation_id, sent)
    finally:
        services.close()


async def test_a_long_reply_keeps_the_editor_small_while_it_streams(
    tmp_path: Path, wire_server: WireServer
) -> None:
    personas = tmp_path / "personas"
    personas.mkdir()
    (personas / "tech-support.toml").write_text(
        'name = "Long"\nsystem = "You help."\n[parameters]\nmax_tokens = 16000\n', encoding="utf-8"
    )
    services = services_for(ui_settings(tmp_path, wire_server, personas=personas))
    try:
        _, conversation_id = seed_customer(services, messages=("Tell me everything.",))
        pieces = [f" w{i}" if i % 50 else f"\n\nw{i}" for i in range(6000)]
        wire_server.enqueue(stream_text("".join(pieces), chunks=pieces, delay=0.0005))
        app = create_app(services.settings, services)
        async with console(app, (100, 30)) as pilot:
            main = await open_first_customer(pilot, app)
            editor = main.draft.editor
            await pilot.press("ctrl+g")
            await wait_for(pilot, lambda: main.draft.streaming, what="the stream to start")
            largest = 0
            while main.streaming:
                largest = max(largest, len(editor.document.text))
                assert UNSAFE.search(drawn(editor)) is None
                await pilot.pause(0.01)
            await settle(pilot)
            total = len("".join(pieces))
            assert largest < total / 3  # the editor held only the newest text while it streamed
            assert editor.text == main.draft.text == "".join(pieces)  # and all of it once it stopped
            assert not editor.read_only
            await pilot.press("ctrl+s")
            await settle(pilot)
        assert sent_reply(services, conversation_id).text == "".join(pieces)
    finally:
        services.close()
