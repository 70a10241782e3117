"""Helpers for the logs, audit and stats screens' Pilot and snapshot tests: a bare host app that records the
notifications it shows (through Textual's public ``notify``), and a wait for the screens' store workers."""

from __future__ import annotations

import time
from typing import Any

from textual.app import App
from textual.notifications import SeverityLevel
from textual.worker import WorkerState

from support_console.ui.screens.logs import LogsScreen
from support_console.workflows.services import Services


class Host(App[None]):
    """A bare app that shows the logs screen, as the console does on its logs key; ``notices`` holds every
    notification's (severity, message)."""

    def __init__(self, services: Services) -> None:
        super().__init__()
        self.services = services
        self.notices: list[tuple[str, str]] = []

    def on_mount(self) -> None:
        self.push_screen(LogsScreen(self.services))

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = True,
    ) -> None:
        self.notices.append((severity, message))
        super().notify(message, title=title, severity=severity, timeout=timeout, markup=markup)


async def settle(pilot: Any, within: float = 5.0) -> None:
    """Let the app run until no worker is pending or running (the screens read the store in workers, and a
    page that arrives may start the next), then one more refresh. The console's live-updates worker runs for
    its whole life: it is not waited for."""
    app = pilot.app
    await pilot.pause()  # a screen pushed or an event posted just now starts its worker here
    deadline = time.monotonic() + within
    busy = (WorkerState.PENDING, WorkerState.RUNNING)
    while any(w.state in busy and w.group != "live" for w in app.workers):
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for the store workers")
        await pilot.pause(0.01)
    await pilot.pause()


async def open_ellens_edited_reply(pilot: Any) -> None:
    """In the logs of the shipped sample: open the audit of ticket BL-31102 (Ellen Brooks, charged twice),
    whose AI reply the agent edited before sending, as an agent would (filters, cursor, Enter)."""
    from textual.widgets import Input, Select

    from support_console.ui.widgets.logs_tables import ConversationTable

    await settle(pilot)
    screen = pilot.app.screen
    screen.query_one("#filter-customer", Input).value = "ellen.brooks"
    screen.query_one("#filter-status", Select).value = "resolved"
    await settle(pilot)
    table = screen.query_one(ConversationTable)
    table.move_cursor(row=table.row_count - 1)  # the older of her two resolved tickets
    table.focus()
    await pilot.press("enter")
    await settle(pilot)
