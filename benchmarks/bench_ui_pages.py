"""Benchmark: time per earlier page of a 10,000-message conversation, early and late.

The console opens the customer (the newest 100 messages), then the agent presses the "load earlier" key
(ctrl+up) again and again. Each figure is the time from the key to the frame that shows the page: reading it
(in a thread), mounting its messages, and the layout and render that follow. Reported for the 1st, the 50th
and the 99th earlier page (the last one: 100 pages in all, the newest shown on opening), plus the median of
all of them. Target: each page costs the same whatever came before (the last page within noise of the first).

Headless, in one process; keys are posted to the app as the terminal driver posts them.

Run: .venv/bin/python benchmarks/bench_ui_pages.py [--pages N]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from textual import events
from textual.app import App
from textual.pilot import Pilot

from benchmarks.ui_driving import frame, rows_shown, until

REPORTED = (1, 50, 99)


def oldest_shown(app: App[Any]) -> int | None:
    """The id of the oldest message widget mounted in the transcript."""
    views = app.screen.query(".message")
    return getattr(views.first(), "message_id", None) if views else None


async def measure(db: Path, pages: int) -> list[float]:
    from support_console.config.settings import CliOverrides, load_settings
    from support_console.ui.app import create_app

    config = Path(tempfile.mkdtemp()) / "config.toml"
    config.write_text('[agent]\nname = "bench"\n', encoding="utf-8")
    settings = load_settings(
        CliOverrides(base_url="http://127.0.0.1:9/v1", model="gpt-4o", db=str(db), config=config),
        env={"OPENAI_API_KEY": "sk-bench"},
    )
    app = create_app(settings)
    times: list[float] = []

    async def body(pilot: Pilot[Any]) -> None:
        await until(lambda: getattr(app, "main_screen", None) is not None, 0.01)
        await until(rows_shown(app), 0.01)
        app.post_message(events.Key("enter", "\r"))
        await until(lambda: oldest_shown(app) is not None, 0.01)
        await asyncio.sleep(0.5)
        for _ in range(pages):
            before = oldest_shown(app)
            started = time.perf_counter()
            app.post_message(events.Key("ctrl+up", None))
            await until(lambda b=before: oldest_shown(app) != b)  # type: ignore[misc]
            times.append(await frame(app) - started)
        app.exit()

    await app.run_async(headless=True, size=(120, 40), auto_pilot=body)
    return times


def main(pages: int) -> None:
    from benchmarks.ui_data import long_conversation_db, message_count

    db = long_conversation_db()
    started = time.perf_counter()
    times = asyncio.run(measure(db, pages))
    print(f"earlier pages of a {message_count(db):,}-message conversation, 100 messages each (key to frame)")
    around: dict[int, float] = {}
    for page in REPORTED:
        if page <= len(times):
            window = times[max(0, page - 2) : page + 1]  # the page and its neighbours: one sample is noise
            around[page] = statistics.median(window)
            span = f"pages {page - 1 or 1}-{min(page + 1, len(times))}"
            print(f"  page {page:3d}                {around[page] * 1000:8.1f} ms  (median of {span})")
    print(f"  median of {len(times):3d} pages     {statistics.median(times) * 1000:8.1f} ms")
    print(f"  slowest page            {max(times) * 1000:8.1f} ms  (page {times.index(max(times)) + 1})")
    last = around[max(around)]
    print(f"  last / first            {last / around[1]:8.2f}x   target: flat (within noise)")
    print(f"  whole run               {time.perf_counter() - started:8.1f} s")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--pages", type=int, default=99)
    main(parser.parse_args().pages)
