"""A snapshot (pytest-textual-snapshot) of the rewrite preview: the word diff of a "shorter" rewrite that
changed a price, with the preservation check's flag above the keys. Data and replies are fixed.
Regenerate with ``pytest --snapshot-update`` and review the SVG."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

from support_console.core.rewrite_tools import load_tools
from support_console.ui.app import create_app
from support_console.ui.screens.rewrite_preview import RewritePreview
from support_console.workflows.services import Services
from tests.ui_helpers import (
    open_first_customer,
    screen_of,
    seed_customer,
    services_for,
    settle,
    ui_settings,
    wait_for,
)
from tests.wire_replies import stream_text
from tests.wire_server import WireServer

SnapCompare = Callable[..., bool]

DRAFT = (
    "Hi Jane,\n\nI'm sorry you were charged twice. I have refunded $59.99 for order ORD-1234; the status is "
    "at https://shop.example.com/orders/1234.\n\nBest regards,\nAlice"
)
SHORTER = "Hi Jane,\n\nSorry for the double charge: $49.99 for ORD-1234 is refunded.\n\nBest regards,\nAlice"


@pytest.fixture
def console(tmp_path: Path, wire_server: WireServer) -> Iterator[Services]:
    services = services_for(ui_settings(tmp_path, wire_server))
    seed_customer(services, messages=("I was charged twice for order ORD-1234.",))
    try:
        yield services
    finally:
        services.close()


def test_rewrite_preview(snap_compare: SnapCompare, console: Services, wire_server: WireServer) -> None:
    wire_server.enqueue(stream_text(DRAFT, usage=(300, 40)), stream_text(SHORTER, usage=(200, 20)))

    async def rewrite(pilot: Pilot[Any]) -> None:
        main = await open_first_customer(pilot, pilot.app)
        await pilot.press("ctrl+g")
        await wait_for(pilot, lambda: main.draft.text == DRAFT and not main.streaming, what="the draft")
        await settle(pilot)
        shorter = [t.id for t in load_tools().ordered()].index("shorter")
        await pilot.press("shift+f2", *["down"] * shorter, "enter")
        await wait_for(pilot, lambda: isinstance(screen_of(pilot.app), RewritePreview), what="the preview")
        preview = screen_of(pilot.app)
        assert isinstance(preview, RewritePreview)
        await wait_for(pilot, lambda: not preview.streaming, what="the rewrite")
        await pilot.pause()

    assert snap_compare(create_app(console.settings, console), run_before=rewrite, terminal_size=(100, 30))
