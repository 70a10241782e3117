"""Benchmark: a 2,000-word stream into the draft pane vs a bare openai SDK loop over the same stream.

Both read the same synthesised stream (2,000 content chunks, the real OpenAI chunk shape) from the loopback
wire server at full speed; the server runs in its own process so its threads do not compete for this process's
GIL. The bare loop is ``AsyncOpenAI(...).chat.completions.create(stream=True)`` appending each delta to a
list. The console figure is the time from the generate key until the draft pane's TextArea holds the last
word: it includes preparing the request (history, token count), the Drafter's crash-safe saves (off the event
loop) and the per-frame flushes into the TextArea. Target: console / bare <= 1.2, for the first draft after
the console starts and for the next one.

- First and second draft, fresh processes: each console child starts as ``support-console`` does (the store
  opening behind the first frame, the model SDK loading in a thread after it; the token tables load when the
  first draft is prepared), opens the customer, lets the agent read for a moment (until that loading is
  done), then presses the generate key twice (a draft, then a regenerated one). Each bare child imports the
  SDK, builds its client, and streams twice. Keys are posted as the terminal driver posts them.
- Warm, in one process: the median of several drafts once everything is loaded.

For comparison it also times the naive way, one TextArea update per token, both as an insert at the end and as
a reassignment of the whole text (``editor.text += delta``), fed by the same SDK loop.

Run: .venv/bin/python benchmarks/bench_ui_stream.py [--runs N] [--fresh-runs N]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from textual import events
from textual.pilot import Pilot

from benchmarks.ui_driving import rows_shown, until
from support_console.config.settings import CliOverrides, Settings, load_settings
from support_console.ui.app import create_app
from support_console.workflows.services import build_services

if TYPE_CHECKING:  # the console child must load the SDK its own way (in the background), so: not here
    import openai

ROOT = Path(__file__).resolve().parents[1]

TOKENS = 2_000
PIECES = [f" word{i}" if i % 10 else f"\nword{i}." for i in range(TOKENS)]
TEXT = "".join(PIECES)

SERVER = """
import sys
from tests.wire_replies import stream_text
from tests.wire_server import WireServer
from benchmarks.bench_ui_stream import PIECES, TEXT
server = WireServer()
server.enqueue(*[stream_text(TEXT, chunks=PIECES)] * int(sys.argv[1]))
print(server.base_url, flush=True)
sys.stdin.read()
server.close()
"""


def start_server(replies: int) -> tuple[subprocess.Popen[str], str]:
    """The loopback wire server in a child process, queued with ``replies`` copies of the stream."""
    child = subprocess.Popen(
        [sys.executable, "-c", SERVER, str(replies)],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    return child, child.stdout.readline().strip()


async def bare_sdk(client: openai.AsyncOpenAI) -> float:
    started = time.perf_counter()
    stream = await client.chat.completions.create(
        model="gpt-4o",
        messages=[{"role": "user", "content": "Hello"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    parts: list[str] = []
    async for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            parts.append(chunk.choices[0].delta.content)
    elapsed = time.perf_counter() - started
    assert "".join(parts) == TEXT
    return elapsed


def bench_settings(base_url: str, db: Path) -> Settings:
    config = db.with_suffix(".toml")
    config.write_text('[agent]\nname = "bench"\n', encoding="utf-8")
    # The stream is 5,400 tokens: ask for as many, or the client stops it as a reply far past max_tokens.
    personas = db.parent / "personas"
    personas.mkdir(exist_ok=True)
    (personas / "tech-support.toml").write_text(
        'name = "Bench"\nsystem = "You help."\n[parameters]\nmax_tokens = 6000\n', encoding="utf-8"
    )
    return load_settings(
        CliOverrides(base_url=base_url, model="gpt-4o", db=str(db), config=config, personas=personas),
        env={"OPENAI_API_KEY": "sk-bench"},
    )


def seed(settings: Settings) -> None:
    services = build_services(settings)
    try:
        customer = services.store.add_customer("Bench Customer", "bench@example.com")
        assert customer.id is not None
        conversation = services.store.current_conversation(customer.id)
        assert conversation.id is not None
        services.store.add_message(conversation.id, "customer", "My internet is down, can you help?")
    finally:
        services.close()


def idle(main: Any) -> bool:
    """Nothing streams and no store call waits (the saves of the last draft are done)."""
    session = getattr(main, "session", None)  # (the console before DraftSession saved on the event loop)
    return not main.streaming and (session is None or not session.queue.pending)


async def console_child(base_url: str, db: Path) -> list[float]:
    """A fresh console: open the customer, wait for the background loading, draft twice; the two times."""
    import support_console.cli.main  # noqa: F401 (what the support-console command imports first)

    app = create_app(bench_settings(base_url, db))
    times: list[float] = []

    async def body(pilot: Pilot[Any]) -> None:
        await until(lambda: app.main_screen is not None, 0.01)
        main = app.main_screen
        assert main is not None
        await until(rows_shown(app), 0.01)
        app.post_message(events.Key("enter", "\r"))
        await until(lambda: main.customer is not None, 0.01)
        await until(lambda: not any(w.is_running for w in app.workers if w.group == "store"), 0.01)
        await asyncio.sleep(0.2)
        for _ in range(2):
            await until(lambda: idle(main), 0.01)
            started = time.perf_counter()
            app.post_message(events.Key("ctrl+g", None))
            await until(lambda: main.draft.streaming)
            await until(lambda: main.draft.text == TEXT)
            times.append(time.perf_counter() - started)
        app.exit()

    await app.run_async(headless=True, size=(120, 40), auto_pilot=body)
    return times


async def bare_child(base_url: str) -> list[float]:
    import openai

    client = openai.AsyncOpenAI(base_url=base_url, api_key="sk-bench", max_retries=0)
    try:
        return [await bare_sdk(client), await bare_sdk(client)]
    finally:
        await client.close()


def fresh(kind: str, base_url: str, db: Path) -> list[float]:
    """Run one fresh child process; its first and second times."""
    out = subprocess.run(
        [sys.executable, __file__, "--child", kind, base_url, str(db)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return [float(x) for x in out.stdout.split()[-2:]]


def child(kind: str, base_url: str, db: Path) -> None:
    times = asyncio.run(console_child(base_url, db) if kind == "console" else bare_child(base_url))
    print(*times)


async def main(runs: int, fresh_runs: int) -> None:
    server, base_url = start_server(2 * (runs + 2) + 4 + 4 * fresh_runs)
    tmp = Path(tempfile.mkdtemp())
    settings = bench_settings(base_url, tmp / "bench.db")
    seed(settings)
    firsts: dict[str, list[float]] = {"bare": [], "console": []}
    seconds: dict[str, list[float]] = {"bare": [], "console": []}
    for _ in range(fresh_runs):
        for kind in ("bare", "console"):
            first, second = fresh(kind, base_url, tmp / "bench.db")
            firsts[kind].append(first)
            seconds[kind].append(second)
    import openai

    services = build_services(settings)
    client = openai.AsyncOpenAI(base_url=base_url, api_key="sk-bench", max_retries=0)

    app = create_app(settings, services)
    bare_times: list[float] = []
    ui_times: list[float] = []
    async with app.run_test(size=(120, 40)) as pilot:
        await until(rows_shown(app), 0.01)
        await pilot.press("enter")
        main = app.main_screen
        assert main is not None
        while main.customer is None:
            await pilot.pause(0.01)

        async def console() -> float:
            main.draft.clear_draft()
            started = time.perf_counter()
            main.action_generate()
            while main.draft.text != TEXT:  # noqa: ASYNC110 (watching the pane from outside)
                await asyncio.sleep(0.0005)
            elapsed = time.perf_counter() - started
            while main.streaming:  # noqa: ASYNC110
                await asyncio.sleep(0.001)
            return elapsed

        async def per_token(reassign: bool) -> float:
            main.draft.clear_draft()
            editor = main.draft.editor
            started = time.perf_counter()
            stream = await client.chat.completions.create(
                model="gpt-4o", messages=[{"role": "user", "content": "Hello"}], stream=True
            )
            async for chunk in stream:
                if chunk.choices and chunk.choices[0].delta.content:
                    delta = chunk.choices[0].delta.content
                    if reassign:
                        editor.text = editor.text + delta
                    else:
                        editor.insert(delta, editor.document.end)
                    editor.scroll_end(animate=False, immediate=True)
            await pilot.pause()  # let the last update render, as the console's figure includes its last frame
            elapsed = time.perf_counter() - started
            assert editor.text == TEXT
            return elapsed

        naive_insert = [await per_token(False) for _ in range(2)]
        naive_reassign = [await per_token(True) for _ in range(2)]

        for _ in range(2):  # warm up both paths (imports, connection pools, tiktoken)
            await bare_sdk(client)
            await console()
        for _ in range(runs):
            bare_times.append(await bare_sdk(client))
            ui_times.append(await console())
    await client.close()
    services.close()
    assert server.stdin is not None
    server.stdin.close()
    server.wait(timeout=10)

    print(f"stream of {TOKENS:,} chunks ({len(TEXT):,} chars) from the loopback server, key to last word")
    for title, figures in (
        ("first draft, fresh processes", firsts),
        ("second draft, same processes", seconds),
    ):
        bare_f, ui_f = statistics.median(figures["bare"]), statistics.median(figures["console"])
        print(f"  {title}, median of {fresh_runs}:")
        print(f"    bare openai SDK loop      {bare_f * 1000:8.1f} ms")
        print(f"    console                   {ui_f * 1000:8.1f} ms  {verdict(ui_f / bare_f)}")
    bare, ui = statistics.median(bare_times), statistics.median(ui_times)
    print(f"  warm, in one process, median of {runs}:")
    print(f"    bare openai SDK loop      {bare * 1000:8.1f} ms  (min {min(bare_times) * 1000:.1f})")
    print(f"    console                   {ui * 1000:8.1f} ms  {verdict(ui / bare)}")
    insert, reassign = statistics.median(naive_insert), statistics.median(naive_reassign)
    print("  naive, one TextArea update per token (median of 2):")
    print(f"    insert at the end         {insert * 1000:8.1f} ms  ({insert / bare:.2f}x bare)")
    print(f"    text = text + delta       {reassign * 1000:8.1f} ms  ({reassign / bare:.2f}x bare)")


def verdict(ratio: float) -> str:
    return f"{ratio:5.2f}x   target <= 1.2x: {'OK' if ratio <= 1.2 else 'MISSED'}"


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--fresh-runs", type=int, default=5)
    parser.add_argument("--child", nargs=3, metavar=("KIND", "URL", "DB"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], args.child[1], Path(args.child[2]))
    else:
        asyncio.run(main(args.runs, args.fresh_runs))
