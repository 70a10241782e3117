"""Literal text, the no-provider start, hand-written replies, adding customers, help and rebinding keys.

Customer and model text must never style or break the screen: markup-like text stays literal and control
characters are shown as symbols. Real store, real persona files, loopback model server."""

from __future__ import annotations

from pathlib import Path

from support_console.ui.app import create_app
from support_console.ui.screens.no_provider import NoProviderScreen
from tests.ui_helpers import (
    console,
    notifications,
    open_first_customer,
    paste,
    screen_of,
    screen_text,
    seed_customer,
    services_for,
    settle,
    ui_settings,
    wait_for,
)
from tests.wire_replies import stream_text
from tests.wire_server import WireServer

NASTY = "[bold]x[/] and [/] and [link=http://x]y[/link] \x1b[31mred\x1b[0m bell\x07 nul\x00 end"
NASTY_NAME = "[bold red]Mallory[/]"


async def test_markup_and_escape_codes_are_shown_literally(tmp_path: Path, wire_server: WireServer) -> None:
    services = services_for(ui_settings(tmp_path, wire_server))
    try:
        _, conversation_id = seed_customer(services, NASTY_NAME, "m@example.com", messages=(NASTY,))
        services.store.add_message(conversation_id, "note", "note with [i]markup[/i]")
        wire_server.enqueue(stream_text("Reply [b]bold?[/b] \x1b[2J cleared?"))
        app = create_app(services.settings, services)
        async with console(app, (120, 40)) as pilot:
            main = await open_first_customer(pilot, app)
            await pilot.press("ctrl+g")
            await wait_for(pilot, lambda: not main.streaming and "cleared?" in main.draft.text)
            await settle(pilot)
            shown = screen_text(app)
            assert NASTY_NAME in shown  # customer list and title: brackets and all
            assert "[bold]x[/] and [/] and [link=http://x]y[/link]" in shown
            assert "␛[31mred␛[0m bell␇ nul␀ end" in shown
            assert "note with [i]markup[/i]" in shown
            # The draft holds the model's text minus the escape sequence, and says it went.
            assert "Reply [b]bold?[/b]  cleared?" in shown
            assert "1 escape sequence removed from the model's text" in shown
            assert "\x1b" not in shown
            assert "\x07" not in shown
            assert "\x00" not in shown
            # The same text through the incoming box, a notification and a persona-free approval.
            await paste(pilot, "incoming-text", "[/] again \x1b[1m")
            assert "\x1b" not in screen_text(app)  # not even while it sits in the text box
            await pilot.press("f5")
            await settle(pilot)
            assert "[/] again " in screen_text(app)
            assert "[1m" not in screen_text(app)  # the sequence went whole
            await pilot.press("ctrl+s")  # the customer wrote after the draft: the guard asks for a review
            await settle(pilot)
            assert "a new customer message" in screen_text(app)
            assert "\x1b" not in screen_text(app)
            await pilot.press("ctrl+s")  # reviewed: sent anyway
            await settle(pilot)
            sent = [m for m in services.store.page_messages(conversation_id) if m.role == "agent"][-1]
            assert sent.state == "sent"
            assert sent.text == "Reply [b]bold?[/b]  cleared?"
            # The model's own text (with the real escape) is what the store keeps as the original.
            assert sent.original_text == "Reply [b]bold?[/b] \x1b[2J cleared?"
    finally:
        services.close()


async def test_no_provider_explains_and_hand_written_replies_still_work(tmp_path: Path) -> None:
    services = services_for(ui_settings(tmp_path, None))
    try:
        assert services.client is None
        _, conversation_id = seed_customer(services, messages=("Can you help?",))
        app = create_app(services.settings, services)
        async with console(app, (100, 30)) as pilot:
            await pilot.pause()
            assert isinstance(app.screen, NoProviderScreen)
            shown = screen_text(app)
            assert "No model provider is configured" in shown
            assert "OPENAI_API_KEY" in shown
            assert "AZURE_OPENAI_ENDPOINT" in shown
            await pilot.press("enter")
            main = app.main_screen
            assert main is not None
            assert screen_of(app) is main
            await wait_for(pilot, lambda: bool(main.customers.customer_ids))
            await pilot.press("enter")
            await wait_for(pilot, lambda: main.customer is not None)
            await settle(pilot)
            await pilot.press("ctrl+g")
            errors = [m for severity, m in notifications(app) if severity == "error"]
            assert errors
            assert "no model provider" in errors[0].lower()
            assert "by hand" in errors[0]
            await pilot.press("ctrl+n")
            assert app.focused is main.draft.editor
            await paste(pilot, "draft-editor", "Yes, we can.")
            await pilot.press("ctrl+s")
            await settle(pilot)
            sent = services.store.page_messages(conversation_id)[-1]
            assert (sent.role, sent.state, sent.text) == ("agent", "sent", "Yes, we can.")
            assert sent.original_text is None
            assert sent.model is None
            assert sent.approved_by == "alice"
            assert app.clipboard == "Yes, we can."
    finally:
        services.close()


async def test_hand_written_draft_is_saved_as_typed(tmp_path: Path) -> None:
    services = services_for(ui_settings(tmp_path, None))
    try:
        _, conversation_id = seed_customer(services, messages=("Hello",))
        app = create_app(services.settings, services)
        async with console(app, (100, 30)) as pilot:
            main = app.main_screen
            assert main is not None
            await wait_for(pilot, lambda: bool(main.customers.customer_ids))
            await pilot.press("enter", "enter")
            await wait_for(pilot, lambda: main.customer is not None)
            await settle(pilot)
            await paste(pilot, "draft-editor", "Half a reply")
            await wait_for(
                pilot,
                lambda: services.store.pending_draft(conversation_id) is not None,
                what="the typed draft to be saved",
            )
            draft = services.store.pending_draft(conversation_id)
            assert draft is not None
            assert draft.text == "Half a reply"
            assert draft.model is None
    finally:
        services.close()
