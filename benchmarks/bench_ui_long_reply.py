"""Benchmark: a very long reply streamed into the console: time, memory, and key echo while it streams.

A 20,000-word reply (one word per chunk, a paragraph every 100 words) and a 5 MB reply (64 characters per
chunk, one paragraph: the worst case for soft wrapping) come from the loopback wire server, each in a fresh
console process (the server in its own process too, so its threads do not compete for the console's GIL). The
persona asks for enough max_tokens that the client's reply cap does not stop them. While the reply streams,
the agent types into the incoming box every 100 ms; a key's echo is the time from posting the key (as the
terminal driver does) to the frame that shows the typed character. Once the reply has ended, the agent goes
on typing into the incoming box for a while, then into the draft itself (the end of the reply), each key timed
the same way.

Figures: key to the frame that shows the reply ended, all of it in the pane (or how much arrived by
``--timeout``), the process's resident memory before the draft and at its peak, and key echo latency (median,
95th percentile, worst) while it streams, after it ended, and in the draft.
Targets: memory bounded (peak minus before within a small multiple of the reply's size), key echo under
100 ms while it streams and after.

Run: .venv/bin/python benchmarks/bench_ui_long_reply.py [--timeout SECONDS] [--only words|5mb]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from textual import events
from textual.pilot import Pilot

from benchmarks.ui_driving import frame, rows_shown, until
from support_console.config.settings import CliOverrides, Settings, load_settings
from support_console.ui.app import create_app
from support_console.workflows.services import build_services

ROOT = Path(__file__).resolve().parents[1]
WORDS = 20_000
BIG = 5_000_000
CHUNK = 64
ECHO_EVERY = 0.1
AFTER_KEYS = 20
"""Keys typed into the incoming box after the reply ended, then into the draft."""

SERVER = """
import sys
from tests.wire_replies import huge_stream, stream_text
from tests.wire_server import WireServer
from benchmarks.bench_ui_long_reply import CHUNK, BIG, words_pieces
server = WireServer()
if sys.argv[1] == "words":
    pieces = words_pieces()
    server.enqueue(stream_text("".join(pieces), chunks=pieces))
else:
    server.enqueue(huge_stream(BIG, chunk_chars=CHUNK, word="lorem ipsum "))
print(server.base_url, flush=True)
sys.stdin.read()
server.close()
"""


def words_pieces() -> list[str]:
    return [f"\n\nword{i}." if i % 100 == 0 and i else f" word{i}" for i in range(WORDS)]


def expected_chars(kind: str) -> int:
    return len("".join(words_pieces())) if kind == "words" else BIG


def rss_mb() -> float:
    """Resident memory of this process now, in MB (Linux)."""
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * 4096 / 1e6


def settings_for(base_url: str, tmp: Path) -> Settings:
    config = tmp / "config.toml"
    config.write_text(
        '[agent]\nname = "bench"\n[models."gpt-4o"]\nfamily = "gpt-4o"\ncontext_window = 3000000\n'
        "max_output_tokens = 2000000\n",
        encoding="utf-8",
    )
    personas = tmp / "personas"
    personas.mkdir(exist_ok=True)
    (personas / "tech-support.toml").write_text(
        'name = "Bench"\nsystem = "You help."\n[parameters]\nmax_tokens = 1500000\n', encoding="utf-8"
    )
    return load_settings(
        CliOverrides(
            base_url=base_url, model="gpt-4o", db=str(tmp / "bench.db"), config=config, personas=personas
        ),
        env={"OPENAI_API_KEY": "sk-bench"},
    )


def seed(settings: Settings) -> None:
    services = build_services(settings)
    try:
        customer = services.store.add_customer("Bench Customer", "bench@example.com")
        assert customer.id is not None
        conversation = services.store.current_conversation(customer.id)
        assert conversation.id is not None
        services.store.add_message(conversation.id, "customer", "Tell me everything, please.")
    finally:
        services.close()


async def console(kind: str, base_url: str, tmp: Path, give_up: float, after: int) -> dict[str, object]:
    import support_console.cli.main  # noqa: F401 (what the support-console command imports first)

    app = create_app(settings_for(base_url, tmp))
    figures: dict[str, object] = {}

    async def body(pilot: Pilot[Any]) -> None:
        await until(lambda: app.main_screen is not None, 0.01)
        main = app.main_screen
        assert main is not None
        await until(rows_shown(app), 0.01)
        app.post_message(events.Key("enter", "\r"))
        await until(lambda: main.customer is not None, 0.01)
        await until(lambda: not any(w.is_running for w in app.workers if w.group == "store"), 0.01)
        await asyncio.sleep(0.3)
        incoming = main.incoming.area
        incoming.focus()
        before = peak = rss_mb()
        started = time.perf_counter()
        app.post_message(events.Key("ctrl+g", None))
        await until(lambda: main.draft.streaming, 0.001)
        echoes: list[float] = []

        async def echo(length: Any) -> None:
            """Type one key into the focused box and time it to the frame that shows it."""
            nonlocal peak
            wanted = length() + 1
            pressed = time.perf_counter()
            app.post_message(events.Key("x", "x"))
            await until(lambda: length() >= wanted, 0.001)
            echoes.append(await frame(app) - pressed)
            peak = max(peak, rss_mb())
            await asyncio.sleep(max(0.0, ECHO_EVERY - (time.perf_counter() - pressed)))

        while main.draft.streaming and time.perf_counter() - started < give_up:
            await echo(lambda: len(incoming.text))
        finished = not main.draft.streaming
        streamed = len(echoes)
        elapsed = await frame(app) - started  # the frame that shows the reply ended
        shown = len(main.draft.text)
        keys = after if finished else 0  # a draft still streaming is read-only
        for _ in range(keys):
            await echo(lambda: len(incoming.text))
        main.draft.editor.focus()
        for _ in range(keys):
            await echo(lambda: len(main.draft.editor.text))
        peak = max(peak, rss_mb())
        figures.update(
            finished=finished, seconds=elapsed, shown=shown, before=before, peak=peak,
            echoes=echoes[:streamed], after=echoes[streamed : streamed + keys],
            draft=echoes[streamed + keys :], sent_ok=main.draft.text.endswith("x" * keys),
        )  # fmt: skip
        app.exit()

    await app.run_async(headless=True, size=(160, 45), auto_pilot=body)
    return figures


def figure(kind: str, timeout: float, after: int) -> dict[str, Any]:
    """One fresh server and one fresh console process for ``kind``; the console's figures."""
    server = subprocess.Popen(
        [sys.executable, "-c", SERVER, kind], cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    assert server.stdout is not None
    assert server.stdin is not None
    base_url = server.stdout.readline().strip()
    try:
        tmp = Path(tempfile.mkdtemp())
        seed(settings_for(base_url, tmp))
        out = subprocess.run(
            [sys.executable, __file__, "--child", kind, base_url, str(tmp), str(timeout), str(after)],
            cwd=ROOT, capture_output=True, text=True, check=True, timeout=timeout + 120,
        )  # fmt: skip
        result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
        return result
    finally:
        server.stdin.close()
        server.wait(timeout=10)


def report(kind: str, f: dict[str, Any]) -> None:
    want = expected_chars(kind)
    label = f"{WORDS:,} words" if kind == "words" else f"{BIG / 1e6:.0f} MB"
    done = (
        "all shown" if f["finished"] and f["shown"] == want else f"NOT DONE: {f['shown']:,} of {want:,} chars"
    )
    print(f"  {label} ({want:,} chars): key to last word {f['seconds']:7.2f} s  ({done})")
    print(
        f"    memory: {f['before']:.0f} MB before, peak {f['peak']:.0f} MB "
        f"(+{f['peak'] - f['before']:.0f} MB for {want / 1e6:.1f} MB of text)"
    )
    for what, key in (("while streaming", "echoes"), ("after the end", "after"), ("in the draft", "draft")):
        echo_line(f"key echo {what}", f[key])
    if not f["sent_ok"]:
        print("    the keys typed into the draft are NOT at the end of its text")


def echo_line(title: str, echoes: list[float]) -> None:
    echoes = sorted(echoes) or [0.0]
    p95 = echoes[min(len(echoes) - 1, int(len(echoes) * 0.95))]
    median = statistics.median(echoes)
    ok = "OK" if median < 0.1 else "MISSED"
    print(
        f"    {title} ({len(echoes)} keys): median {median * 1000:.0f} ms,"
        f" p95 {p95 * 1000:.0f} ms, worst {echoes[-1] * 1000:.0f} ms   target: median < 100 ms: {ok}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--timeout", type=float, default=45.0, help="give up on a reply after this long")
    parser.add_argument("--only", choices=("words", "5mb"))
    parser.add_argument("--after", type=int, default=AFTER_KEYS, help="keys typed after the end, per box")
    parser.add_argument("--child", nargs=5, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, base_url, tmp, timeout, after = args.child
        print(json.dumps(asyncio.run(console(kind, base_url, Path(tmp), float(timeout), int(after)))))
        return
    print("a long reply streamed from the loopback server into the console (fresh processes)")
    for kind in ("words", "5mb"):
        if args.only in (None, kind):
            report(kind, figure(kind, args.timeout, args.after))


if __name__ == "__main__":
    main()
