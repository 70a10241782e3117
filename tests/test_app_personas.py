"""Personas in the console: the picker, trigger suggestions, the command palette, and persona files edited
on disk while the console runs. Real persona files, real store, loopback model server."""

from __future__ import annotations

from pathlib import Path

from support_console.ui.app import create_app
from support_console.ui.screens.persona_picker import PersonaPicker
from support_console.ui.widgets.suggestion import SuggestionBanner
from tests.ui_helpers import (
    console,
    notifications,
    open_first_customer,
    paste,
    seed_customer,
    services_for,
    settle,
    ui_settings,
    wait_for,
)
from tests.wire_replies import stream_text
from tests.wire_server import WireServer

BILLING_MESSAGE = "Hi, I was charged twice for my subscription and want a refund."

PIRATE = """
id = "pirate"
name = "Pirate Support"
description = "Answers like a pirate."
triggers = ["ahoy", "treasure"]
system = "You are a pirate support agent writing to {{ name }}. Arr."
"""


async def test_picker_switches_persona_and_the_request_uses_it(
    tmp_path: Path, wire_server: WireServer
) -> None:
    services = services_for(ui_settings(tmp_path, wire_server))
    try:
        _, conversation_id = seed_customer(services, messages=("Hello there",))
        wire_server.enqueue(stream_text("Ahoy."))
        app = create_app(services.settings, services)
        async with console(app, (100, 30)) as pilot:
            main = await open_first_customer(pilot, app)
            assert main.persona_id == "tech-support"
            await pilot.press("ctrl+o")
            assert isinstance(app.screen, PersonaPicker)
            ordered = [p.id for p in services.personas.ordered()]
            target = "xbox-support"
            steps = ordered.index(target) - ordered.index("tech-support")
            await pilot.press(*(["down"] * steps if steps > 0 else ["up"] * -steps), "enter")
            await settle(pilot)
            assert main.persona_id == target
            assert services.store.get_conversation(conversation_id).persona_id == target
            assert "Xbox Support" in str(main.query_one("#draft-header").render())
            await pilot.press("ctrl+g")
            await wait_for(pilot, lambda: main.draft.text == "Ahoy." and not main.streaming)
        system = wire_server.last.json["messages"][0]
        assert system["role"] == "system"
        assert "Xbox Support agent" in system["content"]
    finally:
        services.close()


async def test_trigger_suggestion_is_accepted_with_one_key(tmp_path: Path, wire_server: WireServer) -> None:
    services = services_for(ui_settings(tmp_path, wire_server))
    try:
        _, conversation_id = seed_customer(services, messages=("Hello",))
        app = create_app(services.settings, services)
        async with console(app, (100, 30)) as pilot:
            main = await open_first_customer(pilot, app)
            banner = main.query_one(SuggestionBanner)
            assert not banner.display
            await paste(pilot, "incoming-text", BILLING_MESSAGE)
            await pilot.press("f5")
            await settle(pilot)
            assert banner.display
            assert banner.persona_id == "billing-refunds"
            assert "Billing & Refunds" in str(banner.render())
            assert "^t" in str(banner.render())  # the accept key is named in the banner
            await pilot.press("ctrl+t")
            await settle(pilot)
            assert main.persona_id == "billing-refunds"
            assert not banner.display
            assert services.store.get_conversation(conversation_id).persona_id == "billing-refunds"
        assert wire_server.requests == []  # suggesting and accepting never call the model
    finally:
        services.close()


async def test_reopening_a_customer_suggests_from_their_last_message(
    tmp_path: Path, wire_server: WireServer
) -> None:
    services = services_for(ui_settings(tmp_path, wire_server))
    try:
        seed_customer(services, messages=("My Xbox controller keeps disconnecting",))
        app = create_app(services.settings, services)
        async with console(app, (100, 30)) as pilot:
            main = await open_first_customer(pilot, app)
            assert main.query_one(SuggestionBanner).persona_id == "xbox-support"
    finally:
        services.close()


async def test_command_palette_lists_personas_and_actions(tmp_path: Path, wire_server: WireServer) -> None:
    services = services_for(ui_settings(tmp_path, wire_server))
    try:
        seed_customer(services, messages=("Hello",))
        app = create_app(services.settings, services)
        async with console(app, (100, 30)) as pilot:
            main = await open_first_customer(pilot, app)
            await pilot.press("ctrl+p")
            await pilot.press(*"billing")
            await pilot.pause(0.3)
            await pilot.press("enter")
            await wait_for(pilot, lambda: main.persona_id == "billing-refunds", what="the palette's persona")
            await pilot.press("ctrl+p")
            await pilot.press(*"resolved")
            await pilot.pause(0.3)
            await pilot.press("enter")
            assert main.conversation is not None
            assert main.conversation.id is not None
            conversation_id = main.conversation.id
            await wait_for(
                pilot, lambda: services.store.get_conversation(conversation_id).status == "resolved"
            )
    finally:
        services.close()


async def test_persona_files_edited_on_disk_are_picked_up(tmp_path: Path, wire_server: WireServer) -> None:
    persona_dir = tmp_path / "personas"
    persona_dir.mkdir()
    services = services_for(ui_settings(tmp_path, wire_server, personas=persona_dir))
    try:
        app = create_app(services.settings, services)
        async with console(app, (100, 30)) as pilot:
            assert "pirate" not in services.personas.personas
            assert app.check_personas() is False  # nothing changed
            (persona_dir / "pirate.toml").write_text(PIRATE, encoding="utf-8")
            assert app.check_personas() is True
            assert "pirate" in services.personas.personas
            # A broken file is reported and the others keep working.
            (persona_dir / "broken.toml").write_text(
                'id = "broken"\nname = "Broken"\nsystem = "{{ nope }}"\n'
            )
            assert app.check_personas() is True
            await pilot.pause()
            errors = [m for severity, m in notifications(app) if severity == "error"]
            assert any("broken.toml" in m for m in errors), errors
            assert "pirate" in services.personas.personas
            assert "tech-support" in services.personas.personas
            # The timer does the same on its own within a couple of seconds.
            (persona_dir / "pirate.toml").write_text(PIRATE.replace("Pirate Support", "Captain Support"))
            await wait_for(
                pilot,
                lambda: services.personas.personas["pirate"].name == "Captain Support",
                within=6,
                what="the persona poll",
            )
    finally:
        services.close()
