"""Benchmark: console start to first interactive frame, 1,000,000-message database, vs a bare Textual app.

"Start" for the console is everything ``support-console`` does after parsing flags: build the services (open
the SQLite file and check its migrations, load the persona files), build the app, compose the main screen and
fill the customer list; it ends when the screen's first frame after that has been rendered. The bare app is a
Textual App with a Header, a Static and a Footer, timed the same way. Both are measured in this process with
imports done (median of several runs), and again as whole fresh processes (interpreter start, imports, first
frame) for context. The provider is configured (a server that is never contacted) so no help screen shows.
Target: console / bare <= 1.3 (in-process figure).

For context it also times the console's widget set alone (same layout, stylesheet and a 100-option list, no
store, no personas, no logic): the floor Textual sets for a screen like this one.

Run: .venv/bin/python benchmarks/bench_ui_start.py [--runs N]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from textual.app import App, ComposeResult
from textual.containers import Horizontal, Vertical
from textual.pilot import Pilot
from textual.widgets import Footer, Header, Input, OptionList, Static, TextArea
from textual.widgets.option_list import Option

from benchmarks.ui_data import big_db, message_count
from support_console.app import SupportConsoleApp, create_app
from support_console.config import CliOverrides, Settings, load_settings

ROOT = Path(__file__).resolve().parents[1]


class BareApp(App[None]):
    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("Hello")
        yield Footer()


class WidgetsOnlyApp(App[None]):
    """The console's widgets and stylesheet without the console: Textual's floor for this screen."""

    CSS_PATH = str(ROOT / "support_console" / "app.tcss")

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="body"):
            with Vertical(id="customers"):
                yield Input(id="customer-filter")
                yield OptionList(*[Option(f"Customer {i} (1 open)  c{i}@example.com") for i in range(100)])
            with Vertical(id="conversation"):
                yield Static("title", id="conversation-title")
                yield Static("transcript", id="transcript")
                yield TextArea(id="incoming-text")
            with Vertical(id="draft-column"):
                yield Static("header", id="draft-header")
                yield TextArea(id="draft-editor")
                yield Static("status", id="draft-status")
        yield Footer()


async def widgets_once() -> float:
    started = time.perf_counter()
    app = WidgetsOnlyApp()
    return await first_frame(app, lambda: app.screen.is_mounted and bool(app.screen.query(TextArea)), started)


def console_settings(db: Path) -> Settings:
    config = Path(tempfile.mkdtemp()) / "config.toml"
    config.write_text('[agent]\nname = "bench"\n', encoding="utf-8")
    return load_settings(
        CliOverrides(base_url="http://127.0.0.1:9/v1", model="gpt-4o", db=str(db), config=config),
        env={"OPENAI_API_KEY": "sk-bench"},
    )


async def first_frame(app: App[Any], ready: Callable[[], bool], started: float) -> float:
    """Run ``app`` headless until ``ready()`` holds and a frame has been rendered after it; seconds taken."""
    done: asyncio.Future[float] = asyncio.get_running_loop().create_future()

    async def pilot_body(pilot: Pilot[Any]) -> None:
        while not ready():  # noqa: ASYNC110 (polling the app from outside, like a user looking at it)
            await asyncio.sleep(0.0005)
        app.screen.call_after_refresh(lambda: done.set_result(time.perf_counter() - started))
        await done
        app.exit()

    await app.run_async(headless=True, size=(120, 40), auto_pilot=pilot_body)
    return done.result()


async def bare_once() -> float:
    started = time.perf_counter()
    app = BareApp()
    return await first_frame(app, lambda: app.screen.is_mounted and bool(app.screen.query(Static)), started)


async def console_once(settings: Settings) -> float:
    started = time.perf_counter()
    app: SupportConsoleApp = create_app(settings)

    def ready() -> bool:
        main = app.main_screen
        return (
            main is not None and main.is_mounted and app.screen is main and bool(main.customers.customer_ids)
        )

    return await first_frame(app, ready, started)


COLD = """
import sys, time
started = time.perf_counter()
sys.path.insert(0, {root!r})
import asyncio
from benchmarks import bench_ui_start as b
if sys.argv[1] == "bare":
    print(asyncio.run(b.first_frame_cold_bare(started)))
else:
    print(asyncio.run(b.first_frame_cold_console(started, sys.argv[2])))
"""


async def first_frame_cold_bare(started: float) -> float:
    app = BareApp()
    return await first_frame(app, lambda: app.screen.is_mounted and bool(app.screen.query(Static)), started)


async def first_frame_cold_console(started: float, db: str) -> float:
    app: SupportConsoleApp = create_app(console_settings(Path(db)))

    def ready() -> bool:
        main = app.main_screen
        return (
            main is not None and main.is_mounted and app.screen is main and bool(main.customers.customer_ids)
        )

    return await first_frame(app, ready, started)


def cold(kind: str, db: Path) -> float:
    """Seconds from interpreter start (after it is up) to the first frame, in a fresh process."""
    code = COLD.format(root=str(ROOT))
    out = subprocess.run(
        [sys.executable, "-c", code, kind, str(db)], cwd=ROOT, capture_output=True, text=True, check=True
    )
    return float(out.stdout.strip().splitlines()[-1])


async def main(runs: int) -> None:
    db = big_db()
    messages = message_count(db)
    settings = console_settings(db)
    await bare_once()
    await console_once(settings)  # warm: imports, persona files in the page cache
    await widgets_once()
    bare_times, console_times, widget_times = [], [], []
    for _ in range(runs):
        bare_times.append(await bare_once())
        console_times.append(await console_once(settings))
        widget_times.append(await widgets_once())
    bare, console = statistics.median(bare_times), statistics.median(console_times)
    widgets = statistics.median(widget_times)
    print(f"start to first interactive frame, database of {messages:,} messages ({db.name})")
    print(f"  in process, median of {runs}:")
    print(f"    bare Textual app   {bare * 1000:8.1f} ms")
    print(f"    console            {console * 1000:8.1f} ms")
    print(f"    its widgets alone  {widgets * 1000:8.1f} ms  (console / widgets: {console / widgets:.2f}x)")
    ratio = console / bare
    print(f"    ratio              {ratio:8.2f}x   target <= 1.3x: {'OK' if ratio <= 1.3 else 'MISSED'}")
    cold_bare = statistics.median(cold("bare", db) for _ in range(3))
    cold_console = statistics.median(cold("console", db) for _ in range(3))
    print("  fresh process (imports included), median of 3:")
    print(f"    bare Textual app   {cold_bare * 1000:8.1f} ms")
    print(f"    console            {cold_console * 1000:8.1f} ms")
    print(f"    ratio              {cold_console / cold_bare:8.2f}x")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    asyncio.run(main(parser.parse_args().runs))
