"""Benchmark: a 2,000-token stream into the draft pane vs a bare openai SDK loop over the same stream.

Both read the same synthesised stream (2,000 content chunks, the real OpenAI chunk shape) from the loopback
wire server at full speed; the server runs in its own process so its threads do not compete for this process's
GIL. The bare loop is ``AsyncOpenAI(...).chat.completions.create(stream=True)`` appending
each delta to a list. The console figure is the time from the generate action until the draft pane's TextArea
holds the whole text: it includes preparing the request (history, token count), the Drafter's crash-safe saves
and the per-frame flushes into the TextArea. Target: console / bare ≤ 1.2.

For comparison it also times the naive way, one TextArea update per token, both as an insert at the end and as
a reassignment of the whole text (``editor.text += delta``), fed by the same SDK loop.

Run: .venv/bin/python benchmarks/bench_ui_stream.py [--runs N]
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

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import openai

from support_console.config.settings import CliOverrides, load_settings
from support_console.ui.app import create_app
from support_console.workflows.services import build_services

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


async def main(runs: int) -> None:
    server, base_url = start_server(2 * (runs + 2) + 4)
    tmp = Path(tempfile.mkdtemp())
    config = tmp / "config.toml"
    config.write_text('[agent]\nname = "bench"\n', encoding="utf-8")
    # The stream is 5,400 tokens: ask for as many, or the client stops it as a reply far past max_tokens.
    personas = tmp / "personas"
    personas.mkdir()
    (personas / "tech-support.toml").write_text(
        'name = "Bench"\nsystem = "You help."\n[parameters]\nmax_tokens = 6000\n', encoding="utf-8"
    )
    settings = load_settings(
        CliOverrides(
            base_url=base_url, model="gpt-4o", db=str(tmp / "bench.db"), config=config, personas=personas
        ),
        env={"OPENAI_API_KEY": "sk-bench"},
    )
    services = build_services(settings)
    customer = services.store.add_customer("Bench Customer", "bench@example.com")
    assert customer.id is not None
    conversation = services.store.current_conversation(customer.id)
    assert conversation.id is not None
    services.store.add_message(conversation.id, "customer", "My internet is down, can you help?")
    client = openai.AsyncOpenAI(base_url=base_url, api_key="sk-bench", max_retries=0)

    app = create_app(settings, services)
    bare_times: list[float] = []
    ui_times: list[float] = []
    async with app.run_test(size=(120, 40)) as pilot:
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

    bare, ui = statistics.median(bare_times), statistics.median(ui_times)
    print(
        f"stream of {TOKENS:,} chunks ({len(TEXT):,} chars) from the loopback server, median of {runs} runs"
    )
    print(f"  bare openai SDK loop        {bare * 1000:8.1f} ms  (min {min(bare_times) * 1000:.1f})")
    print(f"  console, until pane is full {ui * 1000:8.1f} ms  (min {min(ui_times) * 1000:.1f})")
    ratio = ui / bare
    verdict = "OK" if ratio <= 1.2 else "MISSED"
    print(f"  ratio console / bare        {ratio:8.2f}x   target <= 1.2x: {verdict}")
    insert, reassign = statistics.median(naive_insert), statistics.median(naive_reassign)
    print("  naive, one TextArea update per token (median of 2):")
    print(f"    insert at the end         {insert * 1000:8.1f} ms  ({insert / bare:.2f}x bare)")
    print(f"    text = text + delta       {reassign * 1000:8.1f} ms  ({reassign / bare:.2f}x bare)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    asyncio.run(main(parser.parse_args().runs))
