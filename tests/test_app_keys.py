"""Keyboard paths: adding a customer (validation keeps what was typed), the help screen, keys rebound from the
config file's [keys] table, and the logs key. Real store, loopback model server."""

from __future__ import annotations

from pathlib import Path

from support_console.ui.app import create_app
from support_console.ui.screens.add_customer import AddCustomerScreen
from support_console.ui.screens.help import HelpScreen
from tests.ui_helpers import (
    console,
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


async def test_add_customer_validates_and_keeps_what_was_typed(tmp_path: Path) -> None:
    services = services_for(ui_settings(tmp_path, None))
    try:
        seed_customer(services, "Existing", "taken@example.com")
        app = create_app(services.settings, services)
        async with console(app, (100, 30)) as pilot:
            main = app.main_screen
            assert main is not None
            await wait_for(pilot, lambda: main.is_attached and not main.customers.reading)
            await pilot.press("enter", "f2")  # enter: past the no-provider notice
            assert isinstance(app.screen, AddCustomerScreen)
            dialog = app.screen
            await paste(pilot, "name", "New Person")
            await pilot.press("enter")
            await paste(pilot, "email", "not-an-email")
            await pilot.press("ctrl+s")
            await settle(pilot)
            assert app.screen is dialog
            assert "valid email" in str(dialog.query_one("#add-customer-error").render())
            dialog.query_one("#email").clear()  # type: ignore[attr-defined]
            await paste(pilot, "email", "TAKEN@example.com")
            await pilot.press("ctrl+s")
            await settle(pilot)
            assert app.screen is dialog  # the store refuses a duplicate email; the dialog stays, text kept
            assert "already exists" in str(dialog.query_one("#add-customer-error").render())
            assert dialog.query_one("#name").value == "New Person"  # type: ignore[attr-defined]
            dialog.query_one("#email").clear()  # type: ignore[attr-defined]
            await paste(pilot, "email", "new@example.com")
            await pilot.press("ctrl+s")
            await settle(pilot)
            main = app.main_screen
            assert main is not None
            assert screen_of(app) is main
            customer = services.store.find_customer("new@example.com")
            assert customer is not None
            assert customer.name == "New Person"
            assert main.customer is not None
            assert main.customer.id == customer.id
    finally:
        services.close()


async def test_help_lists_every_action_and_keys_rebind_from_config(
    tmp_path: Path, wire_server: WireServer
) -> None:
    services = services_for(
        ui_settings(tmp_path, wire_server, keys={"generate": "ctrl+b", "help": "ctrl+end"})
    )
    try:
        seed_customer(services, messages=("Hi",))
        wire_server.enqueue(stream_text("Rebound."))
        app = create_app(services.settings, services)
        async with console(app, (120, 50)) as pilot:
            await pilot.press("ctrl+end")
            assert isinstance(app.screen, HelpScreen)
            shown = screen_text(app)
            for words in (
                "Generate",
                "Approve & send",
                "Discard",
                "Persona",
                "Mark resolved",
                "Logs",
                "Quit",
            ):
                assert words in shown
            assert "^b" in shown
            assert "Config id ([keys])" in shown  # the header is text, not markup
            assert "generate" in shown
            await pilot.press("escape")
            main = await open_first_customer(pilot, app)
            await pilot.press("ctrl+g")  # no longer bound
            await pilot.pause()
            assert wire_server.requests == []
            await pilot.press("ctrl+b")
            await wait_for(pilot, lambda: main.draft.text == "Rebound." and not main.streaming)
            await settle(pilot)
            assert "^b Generate" in screen_text(app)  # the footer shows the new key
    finally:
        services.close()


async def test_logs_key_opens_the_logs_screen(tmp_path: Path) -> None:
    services = services_for(ui_settings(tmp_path, None))
    try:
        app = create_app(services.settings, services)
        async with console(app, (100, 30)) as pilot:
            await pilot.press("enter", "ctrl+l")
            assert type(app.screen).__name__ == "LogsScreen"
    finally:
        services.close()


async def test_help_fits_80x24_and_scrolls_to_its_last_key(tmp_path: Path, wire_server: WireServer) -> None:
    services = services_for(ui_settings(tmp_path, wire_server))
    try:
        app = create_app(services.settings, services)
        async with console(app, (80, 24)) as pilot:
            await pilot.press("f1")
            assert isinstance(app.screen, HelpScreen)
            await pilot.pause()
            dialog = app.screen.query_one("#help-dialog")
            assert dialog.region.bottom <= 24  # the whole dialog, hint included, is on screen
            assert "esc closes" in screen_text(app)
            body = app.screen.query_one("#help-body")
            assert body.has_focus
            assert body.max_scroll_y > 0  # more keys than fit: they scroll
            await pilot.press("end")
            await pilot.pause()
            assert body.scroll_y == body.max_scroll_y
            assert "Logs" in screen_text(app)
    finally:
        services.close()
