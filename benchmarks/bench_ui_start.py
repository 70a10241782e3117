"""Benchmark: console start on a 1,000,000-message database vs a bare Textual app's first frame.

Two figures for the console. "First frame": everything ``support-console`` does after parsing flags (build
the services, load the persona files, build the app, compose the main screen, fill the work queue) until
the frame that shows the list. "First conversation open": from the same start until the frame that shows the
first customer's conversation, Enter being pressed the moment the list is on screen, as an agent who knows
whom to answer would (the store is still opening behind the first frame then). The bare app is a Textual App
with a Header, a Static and a Footer, timed to its first frame. The provider is configured (a server that is
never contacted) so no help screen shows. Targets: first frame / bare <= 1.3; conversation open / bare <= 2.

Two ways of timing, both reported:

- in process, imports done, median of several runs: what the screen itself costs;
- as fresh processes, from just before the process is spawned to the frame, so interpreter start and imports
  count: what an agent waits for after typing ``support-console``. The console child imports what the
  ``support-console`` command imports (the CLI module first); the bare child imports Textual alone. Keys are
  posted to the app as the terminal driver posts them (Pilot's ``press`` waits for the whole process to be
  idle, which the store opening in a thread is not). The child reports ``time.perf_counter()``, which on
  Linux is CLOCK_MONOTONIC, shared by parent and child.

The console is timed as installed: the package's bytecode is compiled first (``compileall``, as
``pip install`` and ``make`` do; an editable install run with PYTHONDONTWRITEBYTECODE=1 would otherwise
compile every module from source at each start). ``--from-source`` times it without bytecode, to compare.

For context it also times the console's widget set alone (same layout, stylesheet and a 100-option list, no
store, no personas, no logic): the floor Textual itself sets for a screen with the widgets the console needs.

Run: .venv/bin/python benchmarks/bench_ui_start.py [--runs N] [--fresh-runs N] [--from-source] [--db FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import compileall
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual import events
from textual.app import App, ComposeResult
from textual.containers import Horizontal, Vertical
from textual.pilot import Pilot
from textual.widgets import Footer, Header, Input, OptionList, Static, TextArea
from textual.widgets.option_list import Option

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

if TYPE_CHECKING:
    from support_console.config.settings import Settings

# The console's own modules are imported inside the functions that need them, so a fresh "bare" or
# "widgets" child process pays for Textual's imports and nothing of ours.


class BareApp(App[None]):
    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("Hello")
        yield Footer()


class WidgetsOnlyApp(App[None]):
    """The console's widgets and stylesheet without the console: Textual's floor for this screen."""

    CSS_PATH = str(ROOT / "support_console" / "ui" / "app.tcss")

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


def console_settings(db: Path) -> Settings:
    from support_console.config.settings import CliOverrides, load_settings

    config = Path(tempfile.mkdtemp()) / "config.toml"
    config.write_text('[agent]\nname = "bench"\n', encoding="utf-8")
    return load_settings(
        CliOverrides(base_url="http://127.0.0.1:9/v1", model="gpt-4o", db=str(db), config=config),
        env={"OPENAI_API_KEY": "sk-bench"},
    )


async def first_frame(app: App[Any], ready: Callable[[], bool]) -> float:
    """Run ``app`` headless until ``ready()`` holds and a frame has been rendered after it; the
    ``perf_counter()`` of that frame."""
    done: asyncio.Future[float] = asyncio.get_running_loop().create_future()

    async def pilot_body(pilot: Pilot[Any]) -> None:
        while not ready():  # noqa: ASYNC110 (polling the app from outside, like a user looking at it)
            await asyncio.sleep(0.0005)
        app.screen.call_after_refresh(lambda: done.set_result(time.perf_counter()))
        await done
        app.exit()

    await app.run_async(headless=True, size=(120, 40), auto_pilot=pilot_body)
    return done.result()


async def bare_frame() -> float:
    app = BareApp()
    return await first_frame(app, lambda: app.screen.is_mounted and bool(app.screen.query(Static)))


async def widgets_frame() -> float:
    app = WidgetsOnlyApp()
    return await first_frame(app, lambda: app.screen.is_mounted and bool(app.screen.query(TextArea)))


async def console_frame(db: Path, settings: Settings | None = None, *, open_first: bool = False) -> float:
    """The console's first frame with the work queue; with ``open_first``, the frame that then shows the
    first customer's conversation (Enter pressed as soon as the list is on screen)."""
    import support_console.cli.main  # noqa: F401 (what the support-console command imports first)
    from benchmarks.ui_driving import rows_shown
    from support_console.ui.app import create_app

    app = create_app(settings or console_settings(db))

    def listed() -> bool:
        """The first read of the work queue is on screen (its rows, or that its view is empty)."""
        main = app.main_screen
        return main is not None and main.is_mounted and app.screen is main and bool(main.customers.reads)

    if not open_first:
        return await first_frame(app, listed)
    pressed = False
    has_rows = rows_shown(app)  # an empty needs-a-reply view: the all view, with its key

    def opened() -> bool:
        nonlocal pressed
        if not pressed:
            if has_rows():
                app.post_message(events.Key("enter", "\r"))
                pressed = True
            return False
        main = app.main_screen
        return main is not None and main.customer is not None and bool(main.transcript.query(".message"))

    return await first_frame(app, opened)


async def in_process(kind: str, db: Path, settings: Settings) -> float:
    """Seconds from building the app (services included, for the console) to its first frame."""
    started = time.perf_counter()
    if kind == "bare":
        return await bare_frame() - started
    if kind == "widgets":
        return await widgets_frame() - started
    return await console_frame(db, settings, open_first=kind == "open") - started


PACKAGE = ROOT / "support_console"


def prepare_bytecode(from_source: bool) -> dict[str, str]:
    """Compile the package's bytecode as an install does, or (``from_source``) remove it; the environment
    for the fresh processes (which never write bytecode when timing from source)."""
    if not from_source:
        compileall.compile_dir(PACKAGE, quiet=1)
        print("(compiled support_console's bytecode first, as pip install and make do)")
        return dict(os.environ)
    sys.dont_write_bytecode = True  # this process imports the package too
    for cache in PACKAGE.rglob("__pycache__"):
        shutil.rmtree(cache)
    print("(timing support_console from source: its bytecode removed, none written)")
    return {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}


def fresh_process(kind: str, db: Path, env: dict[str, str]) -> float:
    """Seconds from spawning ``python bench_ui_start.py --child KIND`` to that process's first frame."""
    started = time.perf_counter()
    out = subprocess.run(
        [sys.executable, __file__, "--child", kind, str(db)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        env=env,
    )
    return float(out.stdout.strip().splitlines()[-1]) - started


def child(kind: str, db: Path) -> None:
    frame = {"bare": bare_frame, "widgets": widgets_frame}.get(kind)
    print(asyncio.run(frame() if frame is not None else console_frame(db, open_first=kind == "open")))


def ms(seconds: float) -> str:
    return f"{seconds * 1000:8.1f} ms"


def verdict(ratio: float, target: float) -> str:
    return f"{ratio:8.2f}x   target <= {target:g}x: {'OK' if ratio <= target else 'MISSED'}"


def report(title: str, times: dict[str, list[float]]) -> None:
    bare, console, opened, widgets = (statistics.median(times[kind]) for kind in KINDS)
    print(f"  {title}, median of {len(times['bare'])}:")
    print(f"    bare Textual app, first frame       {ms(bare)}")
    print(f"    console, first frame (the list)     {ms(console)}  {verdict(console / bare, 1.3)}")
    print(f"    console, first conversation open    {ms(opened)}  {verdict(opened / bare, 2)}")
    floor = f"Textual's floor: {widgets / bare:.2f}x bare; console {console / widgets:.2f}x its widgets"
    print(f"    widgets alone, first frame          {ms(widgets)}  ({floor})")


KINDS = ("bare", "console", "open", "widgets")


async def main(runs: int, fresh_runs: int, *, from_source: bool, db: Path | None) -> None:
    env = prepare_bytecode(from_source)
    from benchmarks.ui_data import big_db, message_count

    db = db or big_db()
    settings = console_settings(db)
    for kind in KINDS:  # warm: imports, persona files and the database in the page cache
        await in_process(kind, db, settings)
    warm: dict[str, list[float]] = {kind: [] for kind in KINDS}
    for _ in range(runs):
        for kind in KINDS:
            warm[kind].append(await in_process(kind, db, settings))
    print(f"start to first interactive frame, database of {message_count(db):,} messages ({db.name})")
    report("in process (imports done)", warm)
    cold: dict[str, list[float]] = {kind: [] for kind in KINDS}
    for _ in range(fresh_runs):
        for kind in KINDS:
            cold[kind].append(fresh_process(kind, db, env))
    report("fresh process (interpreter start and imports included)", cold)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--fresh-runs", type=int, default=5)
    parser.add_argument("--from-source", action="store_true", help="time the package without its bytecode")
    parser.add_argument("--db", type=Path, help="another database file (default: make_big_db.py's)")
    parser.add_argument("--child", nargs=2, metavar=("KIND", "DB"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], Path(args.child[1]))
    else:
        asyncio.run(main(args.runs, args.fresh_runs, from_source=args.from_source, db=args.db))
