"""Key to last word on a real terminal: the console in tmux vs a bare openai SDK loop in tmux.

Not a ``bench_*`` script (``make bench`` needs no tmux): run it by hand where tmux is installed. Both sides
read the same 2,000-word stream from the loopback wire server (in its own process), and both are watched
the same way: ``tmux capture-pane`` is polled until the stream's last word is on the screen, from the moment
the key is sent with ``tmux send-keys``. The console is the real ``support-console`` command (a fresh HOME,
its own database), started, given time to open the store and load the SDK in the background, then the
agent opens the customer and presses ctrl+g twice (a draft, then a regenerated one). The bare loop is a
script that streams on Enter and prints each delta as it comes. Polling adds a few milliseconds to both.

Run: .venv/bin/python benchmarks/tmux_stream.py [--size 160x45] [--rounds N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.bench_ui_stream import TEXT, bench_settings, seed, start_server  # noqa: E402

LAST_WORD = TEXT.split()[-1]

BARE = """
import asyncio, sys
import openai
async def main():
    client = openai.AsyncOpenAI(base_url=sys.argv[1], api_key="sk-bench", max_retries=0)
    while sys.stdin.readline():
        sys.stdout.write("\\x1b[2J\\x1b[H")
        stream = await client.chat.completions.create(
            model="gpt-4o", messages=[{"role": "user", "content": "Hello"}], stream=True
        )
        async for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                sys.stdout.write(chunk.choices[0].delta.content)
                sys.stdout.flush()
asyncio.run(main())
"""


def tmux(*args: str) -> str:
    return subprocess.run(["tmux", *args], capture_output=True, text=True, check=True).stdout


def screen(session: str) -> str:
    return tmux("capture-pane", "-p", "-t", session)


def wait_for(session: str, condition: object, within: float = 30.0) -> float:
    assert callable(condition)
    deadline = time.monotonic() + within
    while not condition(screen(session)):
        if time.monotonic() > deadline:
            raise TimeoutError(f"{session}: timed out; screen:\n{screen(session)}")
        time.sleep(0.002)
    return time.perf_counter()


def timed_key(session: str, key: str) -> float:
    """Send ``key``; seconds until the last word has left the screen (a new stream) and come back."""
    started = time.perf_counter()
    tmux("send-keys", "-t", session, key)
    wait_for(session, lambda text: LAST_WORD not in text)
    return wait_for(session, lambda text: LAST_WORD in text) - started


def one_round(size: str, base_url: str, tmp: Path) -> tuple[list[float], list[float]]:
    """A fresh console and a fresh bare loop, two drafts each: (console times, bare times)."""
    width, height = size.split("x")
    db = Path(tempfile.mkdtemp(dir=tmp)) / "bench.db"
    seed(bench_settings(base_url, db))
    console, bare = f"bench-console-{os.getpid()}", f"bench-bare-{os.getpid()}"
    home = Path(tempfile.mkdtemp(dir=tmp))
    command = (  # python -m support_console from this tree: what the support-console command runs
        f"cd {ROOT} && env HOME={home} OPENAI_API_KEY=sk-bench {sys.executable} -m support_console "
        f"--db {db} --base-url {base_url} --model gpt-4o --config {db.with_suffix('.toml')} "
        f"--personas {db.parent / 'personas'}"  # bench_settings' persona: max_tokens for the whole stream
    )
    try:
        tmux("new-session", "-d", "-s", console, "-x", width, "-y", height, command)
        wait_for(console, lambda text: "Bench Customer" in text)
        time.sleep(3)  # the store opens and the SDK loads behind the first frame, as an agent reads the list
        tmux("send-keys", "-t", console, "Enter")
        wait_for(console, lambda text: "My internet is down" in text)
        time.sleep(1)
        console_times = [timed_key(console, "C-g") for _ in range(2)]
        script = tmp / "bare.py"
        script.write_text(BARE, encoding="utf-8")
        tmux(
            "new-session", "-d", "-s", bare, "-x", width, "-y", height,
            f"{sys.executable} {script} {base_url}",
        )  # fmt: skip
        time.sleep(2)
        bare_times = [timed_key(bare, "Enter") for _ in range(2)]
    finally:
        for session in (console, bare):
            subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)
    return console_times, bare_times


def main(size: str, rounds: int) -> None:
    server, base_url = start_server(4 * rounds + 4)
    tmp = Path(tempfile.mkdtemp())
    results = []
    try:
        results = [one_round(size, base_url, tmp) for _ in range(rounds)]
    finally:
        assert server.stdin is not None
        server.stdin.close()
        server.wait(timeout=10)
    print(f"key to last word of a {len(TEXT.split()):,}-word stream, tmux {size}, capture-pane polled")
    for index, name in enumerate(("first", "second")):
        console_time = statistics.median(r[0][index] for r in results)
        bare_time = statistics.median(r[1][index] for r in results)
        ratio = console_time / bare_time
        print(
            f"  {name} draft, median of {rounds}: console {console_time * 1000:7.1f} ms   "
            f"bare SDK loop {bare_time * 1000:7.1f} ms   ratio {ratio:5.2f}x (target <= 1.2x)"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--size", default="160x45")
    parser.add_argument("--rounds", type=int, default=5)
    arguments = parser.parse_args()
    main(arguments.size, arguments.rounds)
