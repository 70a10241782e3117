"""Benchmark: key-to-screen latency in the console while another process holds the database's write lock.

Another process (a child in ``BEGIN IMMEDIATE``, as an import or a second console would be) takes the SQLite
write lock and keeps it for a few seconds. Meanwhile the agent works as usual: types a customer message into
the incoming box, adds it (a write: it must wait for the lock), writes a reply by hand (its crash-safe saves
are writes too), marks the conversation pending, approves the reply, and opens and closes the help. Each key's
latency is the time from the key to the frame that shows its effect (the typed character in its box). The
same script runs once with no lock held, side by side. Target: no key waits on the lock (the worst key
under the lock stays within noise of the worst key without it; the writes land after the lock is released).

Headless, in one process; keys are posted to the app as the terminal driver posts them.

Run: .venv/bin/python benchmarks/bench_ui_lock.py [--hold SECONDS]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from textual import events
from textual.app import App
from textual.pilot import Pilot

from benchmarks.ui_driving import frame, rows_shown, until
from tests.db_lock import WriteLock

CUSTOMER_TEXT = "my router blinks red since this morning"
REPLY_TEXT = "we are sending a technician tomorrow"


async def key(app: App[Any], name: str, char: str | None, shown: Callable[[], bool]) -> float:
    """Post one key; seconds until ``shown()`` holds and the next frame is rendered."""
    started = time.perf_counter()
    app.post_message(events.Key(name, char))
    await until(shown)
    return await frame(app) - started


async def type_text(app: App[Any], text: str, box: Callable[[], str]) -> list[float]:
    """Type ``text`` key by key; each key counts once the box ends with what was typed so far."""
    latencies = []
    for typed in range(1, len(text) + 1):
        char = text[typed - 1]
        name = "space" if char == " " else char
        latencies.append(await key(app, name, char, lambda n=typed: box().endswith(text[:n])))  # type: ignore[misc]
    return latencies


async def session(db: Path, hold: float | None) -> tuple[list[float], float]:
    """One console run; the key latencies and how long the writes took to land after the first key."""
    from support_console.config.settings import CliOverrides, load_settings
    from support_console.ui.app import create_app

    config = Path(tempfile.mkdtemp()) / "config.toml"
    config.write_text('[agent]\nname = "bench"\n', encoding="utf-8")
    settings = load_settings(CliOverrides(db=str(db), config=config), env={})
    app = create_app(settings)
    latencies: list[float] = []
    landed: list[float] = []

    async def body(pilot: Pilot[Any]) -> None:
        await until(lambda: getattr(app, "main_screen", None) is not None, 0.01)
        main: Any = getattr(app, "main_screen", None)
        await until(lambda: main.is_mounted and bool(main.customers.reads), 0.01)
        if app.screen is not main:  # no provider configured: the explanation comes first
            app.post_message(events.Key("enter", "\r"))
            await until(lambda: app.screen is main, 0.01)
        await until(rows_shown(app), 0.01)
        app.post_message(events.Key("enter", "\r"))
        await until(lambda: main.customer is not None, 0.01)
        await asyncio.sleep(1.0)  # the store opened and settled
        incoming = main.incoming.area
        editor = main.draft.editor
        lock = WriteLock(db, hold=hold) if hold is not None else None
        if lock is not None:
            lock.__enter__()
        started = time.perf_counter()
        try:
            incoming.focus()
            latencies.extend(await type_text(app, CUSTOMER_TEXT, lambda: incoming.text))
            app.post_message(events.Key("f5", None))  # a write: waits for the lock
            editor.focus()
            latencies.extend(await type_text(app, REPLY_TEXT, lambda: editor.text))
            app.post_message(events.Key("f6", None))  # mark pending: no letter typed
            app.post_message(events.Key("ctrl+s", None))
            latencies.append(await key(app, "f1", None, lambda: type(app.screen).__name__ == "HelpScreen"))
            latencies.append(await key(app, "escape", None, lambda: app.screen is main))
            await until(lambda: not (main.draft.text or incoming.text), 0.01)  # sent, and recorded
            landed.append(time.perf_counter() - started)
        finally:
            if lock is not None:
                lock.__exit__(None, None, None)
        app.exit()

    await app.run_async(headless=True, size=(120, 40), auto_pilot=body)
    return latencies, landed[0]


def fresh_db() -> Path:
    from support_console.store import Store

    path = Path(tempfile.mkdtemp()) / "lock.db"
    store = Store.open(f"sqlite:///{path}")
    try:
        customer = store.add_customer("Bench Customer", "bench@example.com")
        assert customer.id is not None
        conversation = store.current_conversation(customer.id)
        assert conversation.id is not None
        store.add_message(conversation.id, "customer", "Hello, anyone there?")
    finally:
        store.close()
    return path


def report(title: str, latencies: list[float], landed: float) -> None:
    ms = sorted(x * 1000 for x in latencies)
    print(f"  {title}")
    print(f"    keys {len(ms):3d}: median {statistics.median(ms):7.1f} ms   worst {ms[-1]:7.1f} ms")
    print(f"    every write landed {landed:5.2f} s after the first key")


def main(hold: float) -> None:
    free, free_landed = asyncio.run(session(fresh_db(), None))
    held, held_landed = asyncio.run(session(fresh_db(), hold))
    print("key to screen while typing, adding messages, writing and approving a reply (console, headless)")
    report("no lock held", free, free_landed)
    report(f"another process holds the write lock for {hold:.0f} s", held, held_landed)
    worst_free, worst_held = max(free) * 1000, max(held) * 1000
    verdict = "OK" if worst_held < max(100.0, 3 * worst_free) else "MISSED"
    print(f"    worst key under the lock {worst_held:.1f} ms vs {worst_free:.1f} ms free: {verdict}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--hold", type=float, default=3.0)
    main(parser.parse_args().hold)
