"""A terminal resized while the console runs: the main screen takes the layout of the new width (its
breakpoint class, the customers as a column or a strip). The main screen lets Textual lay it out again only
when the size really changed (screens/main.py, ``on_resize``), so this is the case that must still work."""

from __future__ import annotations

from support_console.ui.app import create_app
from support_console.workflows.services import Services
from tests.ui_helpers import console, seed_customer, wait_for


async def test_resizing_the_terminal_lays_the_main_screen_out_for_the_new_width(services: Services) -> None:
    seed_customer(services, "Jane Doe", "jane@example.com", ("Hello?",))
    app = create_app(services.settings, services)
    async with console(app, (160, 45)) as pilot:
        main = app.main_screen
        assert main is not None
        await wait_for(pilot, lambda: bool(main.customers.entries), what="the customer list")
        assert main.has_class("-wide")
        await wait_for(pilot, lambda: main.customers.size.height > 20, what="the customers as a column")

        await pilot.resize_terminal(100, 30)
        await wait_for(pilot, lambda: main.has_class("-narrow"), what="the narrow layout")
        await wait_for(pilot, lambda: main.customers.size.height == 5, what="the customers as a strip")
        assert main.customers.size.width > 90
        assert not main.has_class("-wide")
        assert main.size == (100, 30)

        await pilot.resize_terminal(150, 40)
        await wait_for(pilot, lambda: main.has_class("-wide"), what="the wide layout again")
        await wait_for(pilot, lambda: main.customers.size.height > 20, what="the customers as a column")
        assert main.size == (150, 40)
