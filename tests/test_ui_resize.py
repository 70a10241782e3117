"""A terminal resized while the console runs: the main screen takes the layout of the new width (its
breakpoint class, the customers as a column or a strip) and the queue's rows, one line each, are cut to the
list's new width. The screens let Textual lay them out again only when the size really changed
(screens/laid_out_once.py, ``on_resize``), and the rows are cut by the list's style (app.tcss), not
re-rendered on a resize, so this is the case that must still work."""

from __future__ import annotations

from support_console.ui.app import create_app
from support_console.workflows.services import Services
from tests.ui_helpers import console, listed, screen_text, seed_customer, wait_for

LONG = "Maximilian Alexander Featherstonehaugh-Worthington"


def row_of(app: object) -> str:
    """The screen line with the long-named customer's queue row."""
    from support_console.ui.app import SupportConsoleApp

    assert isinstance(app, SupportConsoleApp)
    return next(line for line in screen_text(app).splitlines() if "Maximilian" in line)


async def test_resizing_the_terminal_lays_the_main_screen_out_for_the_new_width(services: Services) -> None:
    seed_customer(services, LONG, "max@example.com", ("Hello?",))
    app = create_app(services.settings, services)
    async with console(app, (160, 45)) as pilot:
        main = await listed(pilot, app)
        assert main.has_class("-wide")
        await wait_for(pilot, lambda: main.customers.size.height > 20, what="the customers as a column")
        await pilot.pause()
        assert "Maximilian Alexander" in row_of(app)
        assert "Featherstonehaugh" not in row_of(app)  # the 38-column list: one line, cut
        assert "…" in row_of(app)
        assert sum("Maximilian" in line for line in screen_text(app).splitlines()) == 1

        await pilot.resize_terminal(100, 30)
        await wait_for(pilot, lambda: main.has_class("-narrow"), what="the narrow layout")
        await wait_for(pilot, lambda: main.customers.size.height == 5, what="the customers as a strip")
        assert main.customers.size.width > 90
        assert not main.has_class("-wide")
        assert main.size == (100, 30)
        await pilot.pause()
        assert LONG in row_of(app)  # the strip is wide enough for all of it

        await pilot.resize_terminal(150, 40)
        await wait_for(pilot, lambda: main.has_class("-wide"), what="the wide layout again")
        await wait_for(pilot, lambda: main.customers.size.height > 20, what="the customers as a column")
        assert main.size == (150, 40)
        await pilot.pause()
        assert "Featherstonehaugh" not in row_of(app)  # cut again to the column
        assert "…" in row_of(app)


async def test_screens_take_the_width_they_open_at_and_the_one_they_come_back_to(services: Services) -> None:
    """The logs screen is composed with the breakpoint class of the terminal's width (screens/
    laid_out_once.py); a resize while it is open changes its class, and the main screen under it has the
    class of the new width when the agent comes back."""
    from support_console.ui.screens.logs import LogsScreen

    seed_customer(services, LONG, "max@example.com", ("Hello?",))
    app = create_app(services.settings, services)
    async with console(app, (100, 30)) as pilot:
        main = await listed(pilot, app)
        assert main.has_class("-narrow")
        logs = LogsScreen(services)
        await app.push_screen(logs)
        assert logs.has_class("-narrow")  # from its first frame
        assert not logs.has_class("-wide")

        await pilot.resize_terminal(150, 40)
        await wait_for(pilot, lambda: logs.has_class("-wide"), what="the logs' wide layout")
        assert not logs.has_class("-narrow")
        app.pop_screen()
        await wait_for(pilot, lambda: app.screen is main, what="the main screen back")
        await wait_for(pilot, lambda: main.has_class("-wide"), what="the main screen's wide layout")
        assert not main.has_class("-narrow")
        await wait_for(pilot, lambda: main.customers.size.height > 20, what="the customers as a column")
