"""Snapshots (pytest-textual-snapshot) of the logs screen, the audit view and the stats screen, on the shipped
sample imported into a fresh database: data and times are fixed, and nothing on screen depends on the clock
or the temporary path. The screens read the store in workers, so each snapshot waits for them first.
Regenerate with ``pytest --snapshot-update`` and review the SVGs."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

from support_console.workflows.importer import import_file
from support_console.workflows.services import Services, build_services
from tests.logs_helpers import Host, open_ellens_edited_reply, settle
from tests.ui_helpers import ui_settings

SnapCompare = Callable[..., bool]
SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample_conversations.jsonl"


@pytest.fixture
def services(tmp_path: Path) -> Iterator[Services]:
    services = build_services(ui_settings(tmp_path, None))
    assert import_file(services.store, SAMPLE).ok
    try:
        yield services
    finally:
        services.close()


def test_logs_screen(snap_compare: SnapCompare, services: Services) -> None:
    assert snap_compare(Host(services), run_before=settle, terminal_size=(140, 40))


def test_audit_view_of_an_edited_ai_reply(snap_compare: SnapCompare, services: Services) -> None:
    assert snap_compare(Host(services), run_before=open_ellens_edited_reply, terminal_size=(140, 40))


def test_stats_screen(snap_compare: SnapCompare, services: Services) -> None:
    async def open_stats(pilot: Pilot[Any]) -> None:
        await settle(pilot)
        await pilot.press("s")
        await settle(pilot)

    assert snap_compare(Host(services), run_before=open_stats, terminal_size=(140, 40))
