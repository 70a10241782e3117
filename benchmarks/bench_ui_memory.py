"""Benchmark: memory with a 10,000-message conversation open, minus a bare Textual app.

Each figure comes from a fresh process (so nothing is shared or cached between them): the resident set size
(VmRSS) once the app shows its first frame, and for the console once the customer with the 10,000-message
conversation is opened (the transcript holds its newest page; older pages load on demand). The console is
also measured after loading every page of that conversation, for what an agent who scrolls all the way back
would use, and after the token meter has measured the next request (what preparing a draft adds: the tiktoken
tables). Each console figure is taken once the start-up thread is done (the store open, the model SDK
loaded): the settled figure, not one caught half-way. Target: console with the conversation open - bare app
<= 80 MB.

Run: .venv/bin/python benchmarks/bench_ui_memory.py
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

ROOT = Path(__file__).resolve().parents[1]


def rss_mb() -> float:
    """This process's resident set size in MB (Linux /proc)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("VmRSS not found: this benchmark needs Linux /proc")


async def measure_bare() -> float:
    from textual.app import App, ComposeResult
    from textual.pilot import Pilot
    from textual.widgets import Footer, Header, Static

    class BareApp(App[None]):
        def compose(self) -> ComposeResult:
            yield Header()
            yield Static("Hello")
            yield Footer()

    result: list[float] = []

    async def body(pilot: Pilot[Any]) -> None:
        await pilot.pause(0.2)
        result.append(rss_mb())
        pilot.app.exit()

    await BareApp().run_async(headless=True, size=(120, 40), auto_pilot=body)
    return result[0]


async def measure_console(db: str, load_all: bool, meter: bool = False) -> float:
    from textual.pilot import Pilot

    from benchmarks.ui_driving import rows_shown, until
    from support_console.config.settings import CliOverrides, load_settings
    from support_console.ui.app import create_app

    config = Path(tempfile.mkdtemp()) / "config.toml"
    config.write_text('[agent]\nname = "bench"\n', encoding="utf-8")
    settings = load_settings(
        CliOverrides(base_url="http://127.0.0.1:9/v1", model="gpt-4o", db=db, config=config),
        env={"OPENAI_API_KEY": "sk-bench"},
    )
    app = create_app(settings)
    result: list[float] = []

    async def body(pilot: Pilot[Any]) -> None:
        await until(rows_shown(app), 0.01)
        await pilot.press("enter")
        main = app.main_screen
        assert main is not None
        while main.customer is None:
            await pilot.pause(0.01)
        while any(w.is_running for w in app.workers if w.group == "store"):  # the store and the SDK loaded
            await pilot.pause(0.01)
        if load_all:
            transcript = main.transcript
            while transcript.older:
                left = transcript.older
                transcript.load_earlier()
                while transcript.older == left:
                    await pilot.pause(0.005)
        if meter:  # what drafting adds: the prepared request and the tiktoken tables behind the meter
            main.measure()
            while main.draft.meter is None:
                await pilot.pause(0.05)
        await pilot.pause(0.2)
        shown = len(main.transcript.query(".message"))
        result.append(rss_mb())
        result.append(shown)
        app.exit()

    await app.run_async(headless=True, size=(120, 40), auto_pilot=body)
    print(f"messages in transcript: {int(result[1])}", file=sys.stderr)
    return result[0]


def child(kind: str, db: str = "") -> tuple[float, str]:
    code = (
        "import asyncio, sys; sys.path.insert(0, sys.argv[1]); from benchmarks import bench_ui_memory as b; "
        "kind = sys.argv[2]; "
        "work = b.measure_bare() if kind == 'bare' else "
        "b.measure_console(sys.argv[3], kind == 'all', kind == 'meter'); "
        "print(asyncio.run(work))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(ROOT), kind, db],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return float(out.stdout.strip().splitlines()[-1]), out.stderr.strip()


def main() -> None:
    from benchmarks.ui_data import long_conversation_db, message_count

    db = long_conversation_db()
    bare, _ = child("bare")
    opened, opened_note = child("open", str(db))
    everything, all_note = child("all", str(db))
    metered, _ = child("meter", str(db))
    print(f"resident memory, conversation of {message_count(db):,} messages")
    print(f"  bare Textual app                      {bare:7.1f} MB")
    print(f"  console, conversation open            {opened:7.1f} MB  ({opened_note})")
    print(f"  console, every page loaded            {everything:7.1f} MB  ({all_note})")
    print(f"  console, open + token meter measured  {metered:7.1f} MB  (tiktoken o200k tables loaded)")
    extra = opened - bare
    verdict = "OK" if extra <= 80 else "MISSED"
    print(f"  console open - bare                   {extra:7.1f} MB   target <= 80 MB: {verdict}")
    print(f"  all pages loaded - bare               {everything - bare:7.1f} MB")


if __name__ == "__main__":
    main()
