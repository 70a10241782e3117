"""Snapshots of the console (pytest-textual-snapshot): the main screen at 80x24 and wide, the persona
picker, the help screen, a model error, the no-provider screen, and the work queue at 80x24 and
160x45. Data, times and model replies are fixed; nothing on screen depends on the clock (the queue's waits are
seeded relative to now in hours and days, or are past its >99 d cap), the temporary path or the server's port.
Regenerate with ``pytest --snapshot-update`` and review the SVGs."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import TextArea

from support_console.core.clock import utcnow
from support_console.ui.app import SupportConsoleApp, create_app
from support_console.ui.screens.main import MainScreen
from support_console.workflows.services import Services
from tests.ui_helpers import open_first_customer, seed_customer, services_for, settle, ui_settings, wait_for
from tests.wire_replies import replay, stream_text
from tests.wire_server import WireServer

SnapCompare = Callable[..., bool]

REPLY = (
    "Hi Jane,\n\nI'm sorry you were charged twice for your subscription. I have passed your refund request "
    "to our billing team with the date and amount you gave; they usually decide within 3 business days.\n\n"
    "Best regards,\nAlice"
)


def seed(services: Services) -> None:
    seed_customer(
        services,
        messages=(
            "Hello, my Series X stopped reading discs.",
            "Also: I was charged twice for my subscription this month. Can I get a refund?",
        ),
    )
    seed_customer(services, "Bob Stone", "bob@example.com", messages=("Is there a [bold]sale[/] on?",))
    seed_customer(services, "Carla Diaz", "carla@example.com", conversation=False)


@pytest.fixture
def console(tmp_path: Path, wire_server: WireServer) -> Iterator[Services]:
    services = services_for(ui_settings(tmp_path, wire_server))
    seed(services)
    try:
        yield services
    finally:
        services.close()


async def open_customer_steadily(pilot: Pilot[Any]) -> MainScreen:
    """Open the first customer; the draft (which now has the focus) shows its cursor without blinking, so
    the picture does not depend on the moment it is taken."""
    main = await open_first_customer(pilot, pilot.app)
    for area in main.query(TextArea):
        area.cursor_blink = False
    await pilot.pause()
    return main


async def open_and_generate(pilot: Pilot[Any]) -> None:
    main = await open_customer_steadily(pilot)
    await pilot.press("ctrl+g")
    await wait_for(pilot, lambda: main.draft.draft_id is not None and not main.streaming)
    await settle(pilot)
    # Where the draft is scrolled depends on whether its last chunk was laid out before the pane scrolled
    # to its end (a loaded machine differs): scroll once more after the layout, so the picture never varies.
    await pilot.pause()
    main.draft.editor.scroll_cursor_visible(animate=False)
    main.draft.editor.cursor_blink = False  # the cursor is drawn, whatever the blink's phase at the picture
    await pilot.pause()


def test_main_screen_80x24(snap_compare: SnapCompare, console: Services, wire_server: WireServer) -> None:
    wire_server.enqueue(stream_text(REPLY, usage=(412, 58)))
    assert snap_compare(create_app(console.settings, console), run_before=open_and_generate)


def test_main_screen_wide(snap_compare: SnapCompare, console: Services, wire_server: WireServer) -> None:
    wire_server.enqueue(stream_text(REPLY, usage=(412, 58)))
    app = create_app(console.settings, console)
    assert snap_compare(app, run_before=open_and_generate, terminal_size=(160, 40))


def test_persona_picker(snap_compare: SnapCompare, console: Services) -> None:
    async def open_picker(pilot: Pilot[Any]) -> None:
        await open_customer_steadily(pilot)
        await pilot.press("ctrl+o")

    assert snap_compare(create_app(console.settings, console), run_before=open_picker)


def test_help_screen(snap_compare: SnapCompare, console: Services) -> None:
    async def open_help(pilot: Pilot[Any]) -> None:
        await open_customer_steadily(pilot)
        await pilot.press("f1")
        await pilot.pause()

    assert snap_compare(create_app(console.settings, console), run_before=open_help, terminal_size=(100, 45))


def test_error_state(snap_compare: SnapCompare, console: Services, wire_server: WireServer) -> None:
    wire_server.enqueue(replay("az_400_content_filter_stream_2025"))
    assert snap_compare(create_app(console.settings, console), run_before=open_and_generate)


def test_no_provider_screen(snap_compare: SnapCompare) -> None:
    # The screen shows the config and database paths, so their length must not depend on pytest's numbering
    # (pytest-7 vs pytest-12, popen-gw0 under xdist): mkdtemp's names have a fixed length.
    folder = Path(tempfile.mkdtemp(prefix="snap-", dir="/tmp"))
    services = services_for(ui_settings(folder, None))
    try:
        seed(services)

        async def listed(pilot: Pilot[Any]) -> None:
            main = pilot.app.main_screen  # type: ignore[attr-defined]
            await wait_for(pilot, lambda: bool(main.customers.customer_ids), what="the customer list")
            await settle(pilot)

        assert snap_compare(create_app(services.settings, services), run_before=listed)
    finally:
        services.close()
        shutil.rmtree(folder, ignore_errors=True)


def seed_queue_now(services: Services) -> None:
    """A queue whose waits read the same for half an hour whenever the test runs (hours and days, never
    minutes): open conversations waiting 2 d, 5 h and 3 h, one answered, one pending, one resolved."""
    store = services.store
    now = utcnow()
    rows = (
        ("Jane Doe", "xbox-support", timedelta(hours=5, minutes=30), "open"),
        ("Bob Stone", "billing-refunds", timedelta(days=2, hours=3), "open"),
        ("Zoë [bold]Ångström[/]", None, timedelta(hours=3, minutes=30), "open"),
        ("Carla Diaz", "tech-support", timedelta(hours=8, minutes=30), "pending"),
        ("Dev Patel", "tech-support", timedelta(days=1, hours=2), "resolved"),
    )
    for i, (name, persona, ago, status) in enumerate(rows):
        customer = store.add_customer(name, f"c{i}@example.com")
        assert customer.id is not None
        conversation = store.current_conversation(customer.id, persona)
        assert conversation.id is not None
        store.add_message(conversation.id, "customer", "Help please", created_at=now - ago)
        if status != "open":
            store.set_status(conversation.id, status)
    answered = seed_customer(services, "Eve Answered", "eve@example.com", messages=("Hi",))[1]
    store.approve_draft(store.save_draft(answered, text="Hello!"), "Hello!", "alice")


@pytest.fixture
def queue_console(tmp_path: Path, wire_server: WireServer) -> Iterator[Services]:
    services = services_for(ui_settings(tmp_path, wire_server))
    seed_queue_now(services)
    try:
        yield services
    finally:
        services.close()


async def queue_loaded(pilot: Pilot[Any]) -> None:
    app = pilot.app
    assert isinstance(app, SupportConsoleApp)
    main = app.main_screen
    assert main is not None
    await wait_for(
        pilot, lambda: bool(main.customers.entries) and not main.customers.reading, what="the queue"
    )
    await settle(pilot)
    await pilot.pause()


@pytest.mark.parametrize("size", [(80, 24), (160, 45)], ids=["80x24", "160x45"])
def test_queue_needs_a_reply(
    snap_compare: SnapCompare, queue_console: Services, size: tuple[int, int]
) -> None:
    """The default view: open conversations whose customer wrote last, longest waiting first."""
    app = create_app(queue_console.settings, queue_console)
    assert snap_compare(app, run_before=queue_loaded, terminal_size=size)


def test_queue_all_conversations_160x45(snap_compare: SnapCompare, queue_console: Services) -> None:
    """Every status in one view, each styled differently (open, pending, resolved)."""

    async def all_view(pilot: Pilot[Any]) -> None:
        await queue_loaded(pilot)
        await pilot.press("5")
        await queue_loaded(pilot)

    app = create_app(queue_console.settings, queue_console)
    assert snap_compare(app, run_before=all_view, terminal_size=(160, 45))
