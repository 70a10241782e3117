"""Benchmark: open the work queue, and the next conversation waiting, with 1,000 / 10,000 / 100,000 open
conversations in the database.

Each database holds N open conversations of two messages (half answered, half waiting for a reply), built
through the importer and cached under the temp directory (``ui_data.CACHE``). For each size, headless in one
process as the agent's terminal would drive it:

* **queue**: start the console until the needs-a-reply view shows its rows (the first frame's read without
  SQLAlchemy, then the layout of the rows);
* **next**: press the next-waiting key (f12) until the longest-waiting conversation is open in the transcript
  with the cursor in the draft, nine times in a row (median reported);
* the store's own reads of the same view and of the next conversation (median of 50).

Target: flat as the database grows (each is an index walk of the rows shown; see store/queue_rows.py).

Run: .venv/bin/python benchmarks/bench_queue.py [--sizes 1000,10000,100000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from textual import events
from textual.pilot import Pilot

from benchmarks.ui_data import CACHE, cached
from benchmarks.ui_driving import frame, until

T0 = datetime(2026, 1, 1, 8, 0, tzinfo=UTC)
NEXT_PRESSES = 9


def queue_db(conversations: int) -> Path:
    """``conversations`` open conversations (customer message; every other one answered), cached."""
    from support_console.store import Store
    from support_console.store.migrations import latest_version
    from support_console.workflows.importer import import_file

    def fill(store: Store) -> None:
        source = Path(tempfile.mkdtemp()) / "queue.jsonl"
        with source.open("w", encoding="utf-8") as out:
            for c in range(conversations):
                when = T0 + timedelta(seconds=c)
                base = {"ticket": f"Q{c}", "email": f"q{c:06d}@example.com", "name": f"Queue {c:06d}"}
                out.write(json.dumps({**base, "id": f"{c}-1", "role": "customer", "timestamp": _iso(when),
                                      "text": f"My order #{c} has not arrived yet."}) + "\n")  # fmt: skip
                if c % 2:
                    out.write(json.dumps({**base, "id": f"{c}-2", "role": "agent", "approved_by": "bench",
                                          "timestamp": _iso(when + timedelta(minutes=5)),
                                          "text": "It ships tomorrow."}) + "\n")  # fmt: skip
        report = import_file(store, source)
        source.unlink()
        assert report.ok, report

    return cached(CACHE / f"queue-{conversations}-v{latest_version()}.db", fill)


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def opened(main: Any, before: int | None) -> bool:
    """Another conversation is on screen: the transcript and the draft column were given it (the draft
    pane's conversation is set in the same step), and the focus is in the draft."""
    now = main.session.conversation_id
    return (
        now not in (None, before)
        and main.draft.conversation_id == now
        and getattr(main.app.focused, "id", None) == "draft-editor"
    )


async def drive(db: Path) -> tuple[float, list[float]]:
    """(start to the queue's rows on screen, [next key to the conversation open, focus in the draft])."""
    from support_console.config.settings import CliOverrides, load_settings
    from support_console.ui.app import create_app

    config = Path(tempfile.mkdtemp()) / "config.toml"
    config.write_text('[agent]\nname = "bench"\n', encoding="utf-8")
    settings = load_settings(
        CliOverrides(base_url="http://127.0.0.1:9/v1", model="gpt-4o", db=str(db), config=config),
        env={"OPENAI_API_KEY": "sk-bench"},
    )
    started = time.perf_counter()
    app = create_app(settings)
    queue_time = 0.0
    nexts: list[float] = []

    async def body(pilot: Pilot[Any]) -> None:
        nonlocal queue_time
        await until(lambda: getattr(app, "main_screen", None) is not None)
        main: Any = getattr(app, "main_screen", None)
        await until(lambda: bool(main.customers.entries))
        queue_time = await frame(app) - started
        await until(lambda: main.services.store_is_open, 0.01)  # the next key reads through the store
        await asyncio.sleep(0.5)
        for _ in range(NEXT_PRESSES):
            before = main.session.conversation_id
            began = time.perf_counter()
            app.post_message(events.Key("f12", None))
            await until(lambda b=before: opened(main, b))  # type: ignore[misc]
            nexts.append(await frame(app) - began)
            await asyncio.sleep(0.2)  # the seen mark and the queue's refresh settle
        app.exit()

    await app.run_async(headless=True, size=(160, 45), auto_pilot=body)
    return queue_time, nexts


def store_reads(db: Path) -> tuple[float, float]:
    """Median seconds of the store's needs-a-reply view (100 rows) and of the next conversation waiting."""
    from support_console.store import Store

    store = Store.open(f"sqlite:///{db}")
    try:
        views, nexts = [], []
        for _ in range(50):
            began = time.perf_counter()
            store.list_queue("needs_reply", 100)
            views.append(time.perf_counter() - began)
            began = time.perf_counter()
            store.next_waiting(skip=1)
            nexts.append(time.perf_counter() - began)
        return statistics.median(views), statistics.median(nexts)
    finally:
        store.close()


def main(sizes: list[int]) -> None:
    whole = time.perf_counter()
    dbs = {n: queue_db(n) for n in sizes}
    rows: dict[int, tuple[float, float, float, float]] = {}
    for n, db in dbs.items():
        queue_time, nexts = asyncio.run(drive(db))
        view, next_read = store_reads(db)
        rows[n] = (queue_time, statistics.median(nexts), view, next_read)
    print("work queue: open conversations -> start to the queue's rows, next key to the conversation open")
    print(
        f"  {'conversations':>13}  {'queue shown':>11}  {'next (f12)':>10}  "
        f"{'store view':>10}  {'store next':>10}"
    )
    for n, (queue_time, next_time, view, next_read) in rows.items():
        print(
            f"  {n:>13,}  {queue_time * 1000:8.1f} ms  {next_time * 1000:7.1f} ms  "
            f"{view * 1000:7.2f} ms  {next_read * 1000:7.2f} ms"
        )
    small, big = rows[min(rows)], rows[max(rows)]
    ratios = " / ".join(f"{b / s:.2f}x" for s, b in zip(small, big, strict=True))
    print(f"  largest / smallest (queue / next / store view / store next): {ratios}   target: flat")
    print(f"  whole run {time.perf_counter() - whole:.1f} s")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,100000")
    main([int(n) for n in parser.parse_args().sizes.split(",")])
