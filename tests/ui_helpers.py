"""Helpers for the console's Pilot tests: hermetic settings on a temporary SQLite file, the loopback server.

Settings are built with ``load_settings(CliOverrides(...), env={...})`` and a config path that does not exist,
so nothing reads the real user's config, environment or database.
"""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from weakref import WeakKeyDictionary

from textual.app import App
from textual.notifications import Notification
from textual.pilot import Pilot

from support_console.config.settings import CliOverrides, Settings, load_settings
from support_console.workflows.services import Services, build_services
from tests.wire_server import WireServer

if TYPE_CHECKING:
    from textual.screen import Screen

    from support_console.ui.screens.main import MainScreen

T0 = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


async def generate(pilot: Pilot[Any], main: MainScreen) -> None:
    """Press ctrl+g as the agent does and wait until the draft has streamed in and the screen settled."""
    await pilot.press("ctrl+g")
    await wait_for(pilot, lambda: not main.streaming and bool(main.draft.text), what="the draft")
    await settle(pilot)


def draft_status(main: MainScreen) -> str:
    """The draft pane's status line, as shown."""
    return str(main.draft.query_one("#draft-status").render())


def ui_settings(
    tmp_path: Path,
    server: WireServer | None,
    *,
    model: str = "gpt-4o",
    db_name: str = "console.db",
    keys: Mapping[str, str] | None = None,
    personas: Path | None = None,
    config_text: str | None = None,
) -> Settings:
    """Settings for a compatible server at ``server`` (or no provider at all when ``server`` is None);
    ``db_name`` is a file in ``tmp_path`` or a database URL (conftest's ``db_url``)."""
    config = tmp_path / "config.toml"
    text = config_text if config_text is not None else '[agent]\nname = "alice"\n'
    if keys:
        text += "\n[keys]\n" + "".join(f'{k} = "{v}"\n' for k, v in keys.items())
    config.write_text(text, encoding="utf-8")
    overrides = CliOverrides(
        base_url=server.base_url if server else None,
        model=model if server else None,
        db=db_name if "://" in db_name else str(tmp_path / db_name),  # a database URL, or a file here
        config=config,
        personas=personas,
    )
    env = {"OPENAI_API_KEY": "sk-test-not-a-real-key"} if server else {}
    return load_settings(overrides, env=env)


def seed_customer(
    services: Services,
    name: str = "Jane Doe",
    email: str = "jane@example.com",
    messages: tuple[str, ...] = (),
    *,
    conversation: bool = True,
) -> tuple[int, int]:
    """A customer with an open conversation holding ``messages`` (customer role), at fixed times;
    with ``conversation=False`` just the customer (the conversation id returned is then 0)."""
    store = services.store
    customer = store.add_customer(name, email)
    assert customer.id is not None
    if not conversation:
        return customer.id, 0
    opened = store.current_conversation(customer.id)
    assert opened.id is not None
    for i, text in enumerate(messages):
        store.add_message(opened.id, "customer", text, created_at=T0 + timedelta(minutes=i))
    return customer.id, opened.id


def seed_history(services: Services, conversation_id: int, count: int, *, text: str = "Message {i}") -> None:
    """``count`` alternating customer messages and sent replies in one bulk insert, at fixed times."""
    from support_console.store import NewMessage

    rows = [
        NewMessage(
            conversation_id=conversation_id,
            role="customer" if i % 2 == 0 else "agent",
            text=text.format(i=i),
            created_at=T0 + timedelta(seconds=i),
            external_id=f"seed-{i}",
            approved_by=None if i % 2 == 0 else "bob",
        )
        for i in range(count)
    ]
    services.store.add_messages_bulk(rows)


async def paste(pilot: object, widget_id: str, text: str) -> None:
    """Paste ``text`` into a widget as a terminal does (bracketed paste), after focusing it."""
    from textual import events
    from textual.pilot import Pilot

    assert isinstance(pilot, Pilot)
    widget = pilot.app.screen.query_one(f"#{widget_id}")
    widget.focus()
    pilot.app.post_message(events.Paste(text))  # as the driver does: the app routes it to the focus
    await pilot.pause()


def services_for(settings: Settings) -> Services:
    return build_services(settings)


async def wait_for(pilot: object, condition: object, within: float = 5.0, what: str = "condition") -> None:
    """Let the app run until ``condition()`` holds (AssertionError after ``within`` seconds)."""
    import time

    from textual.pilot import Pilot

    assert isinstance(pilot, Pilot)
    assert callable(condition)
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.02)


async def settle(pilot: object, within: float = 10.0) -> None:
    """Let the app finish the store work the last keys started: the session's queue is empty and no worker
    but a streaming draft is still running (their outcome is then on screen)."""
    import time

    from textual.pilot import Pilot

    assert isinstance(pilot, Pilot)
    app = pilot.app
    deadline = time.monotonic() + within
    while True:
        await pilot.pause()
        main = getattr(app, "main_screen", None)
        queued = main.session.queue.pending if main is not None else 0
        running = [w for w in app.workers if w.is_running and w.group not in _LONG_WORKERS]
        if not queued and not running:
            await pilot.pause()
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"the console did not settle: {queued} store calls, workers {running}")
        await pilot.pause(0.01)


_LONG_WORKERS = ("draft", "store", "live")  # a streaming draft; opening the store, loading the model SDK;
# following other consoles' changes (for the console's whole life)


async def show_all_conversations(pilot: Pilot[Any], main: MainScreen) -> None:
    """Once the queue has loaded: when its default view (needs a reply) is empty, switch to all
    conversations with its key ("5" on the list), as an agent would; when that is empty too (customers
    without a conversation), find every customer with the filter box ("@" is in every email)."""
    await wait_for(pilot, lambda: not main.customers.reading, what="the queue")
    if not main.customers.customer_ids:
        await pilot.press("5")
        await wait_for(pilot, lambda: not main.customers.reading, what="all conversations")
    if not main.customers.customer_ids:
        await pilot.press("ctrl+f", "@", "down")
        await wait_for(pilot, lambda: bool(main.customers.customer_ids), what="the customers found")
        await wait_for(pilot, lambda: not main.customers.reading, what="the customers found")
    await wait_for(pilot, lambda: bool(main.customers.customer_ids), what="the customer list")


async def listed(pilot: object, app: object) -> MainScreen:
    """The main screen once its first list is on screen (read, and no read of it running)."""
    from support_console.ui.app import SupportConsoleApp

    assert isinstance(app, SupportConsoleApp)
    main = app.main_screen
    assert main is not None
    await wait_for(
        pilot, lambda: bool(main.customers.entries) and not main.customers.reading, what="the list"
    )
    return main


async def open_first_customer(pilot: object, app: object) -> MainScreen:
    """Open the highlighted (first) customer with Enter, as an agent would; the main screen once open."""
    from textual.pilot import Pilot

    from support_console.ui.app import SupportConsoleApp

    assert isinstance(pilot, Pilot)
    assert isinstance(app, SupportConsoleApp)
    main = app.main_screen
    assert main is not None
    await show_all_conversations(pilot, main)
    await pilot.press("enter")  # the queue has focus, first conversation highlighted
    await wait_for(pilot, lambda: main.customer is not None, what="the customer to open")
    await settle(pilot)
    return main


@asynccontextmanager
async def console(
    app: App[Any], size: tuple[int, int] = (100, 30), *, toasts: bool = False
) -> AsyncIterator[Pilot[Any]]:
    """``app.run_test`` that also records what the app notified, for :func:`notifications`. ``run_test``
    draws no toasts at all; ``toasts=True`` draws them as a terminal would, for a test about where they go."""
    from textual.notifications import Notify

    seen: list[Notification] = []

    def hook(message: object) -> None:
        if isinstance(message, Notify):
            seen.append(message.notification)

    _NOTICES[app] = seen
    async with app.run_test(size=size, message_hook=hook, notifications=toasts) as pilot:
        yield pilot


_NOTICES: WeakKeyDictionary[App[Any], list[Notification]] = WeakKeyDictionary()


def notices(app: App[Any]) -> list[Notification]:
    """The notifications the app has raised and not yet expired (run it with :func:`console`)."""
    return [n for n in _NOTICES[app] if not n.has_expired]


def notifications(app: App[Any]) -> list[tuple[str, str]]:
    """(severity, message) of the notifications the app has shown and not yet expired."""
    return [(n.severity, n.message) for n in notices(app)]


_SVG_TEXT = re.compile(
    r'<text class="[^"]*" x="([0-9.]+)" y="[0-9.]+" textLength="([0-9.]+)" '
    r'clip-path="url\(#[^)]*-line-([0-9]+)\)">(.*?)</text>'
)


def screen_text(app: App[Any]) -> str:
    """The current screen as lines of plain text, exactly as composited (no styles): read back from the
    app's own SVG screenshot, so nothing private of Textual's is touched."""
    width, height = app.size
    rows = [[" "] * width for _ in range(height)]
    for x, length, line, escaped in _SVG_TEXT.findall(app.export_screenshot()):
        text = html.unescape(escaped).replace("\xa0", " ")
        column = round(float(x) / (float(length) / len(text)))
        row = rows[int(line)]
        for offset, char in enumerate(text):
            if column + offset < width:
                row[column + offset] = char
    return "\n".join("".join(row).rstrip() for row in rows)


async def crash_child(db: str, base_url: str, config: str) -> None:
    """For the crash test, in a child process: open the console, start a draft, wait for SIGKILL."""
    import asyncio

    from support_console.ui.app import create_app

    settings = load_settings(
        CliOverrides(base_url=base_url, model="gpt-4o", db=db, config=Path(config)),
        env={"OPENAI_API_KEY": "sk-test-not-a-real-key"},
    )
    app = create_app(settings)
    async with app.run_test(size=(100, 30)) as pilot:
        await open_first_customer(pilot, app)
        await pilot.press("ctrl+g")
        await asyncio.sleep(60)


if __name__ == "__main__":  # python -m tests.ui_helpers crash-child DB BASE_URL CONFIG
    import asyncio
    import sys

    if sys.argv[1:2] == ["crash-child"]:
        asyncio.run(crash_child(*sys.argv[2:5]))


def screen_of(app: App[Any]) -> Screen[Any]:
    """The app's current screen, typed as any screen: an earlier isinstance() on ``app.screen`` must not make
    the type checker believe it can never change."""
    return app.screen
