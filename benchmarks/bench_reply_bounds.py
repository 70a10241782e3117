"""Benchmark: the model client's memory and time for huge replies from the loopback server.

A server that ignores max_tokens made the client keep everything: a 50 MB reply (max_tokens 600 sent) took
709 MB. The client now stops a reply at 4 × max_tokens + 1,000 tokens (and caps the bytes of one response), so
its memory is bounded whatever the server sends. Figures for a 20,000-word and a 5 MB reply, each sent as
one word per chunk (the real shape), and 5 MB in one single event; with the persona default max_tokens (750)
and with a generous one (32,000, as for a long honest reply). For comparison, the same replies read by a bare
openai SDK loop that keeps every delta, which is what the client did before.

Each case runs in a fresh process; the server runs in another process so its threads do not compete with the
client for the GIL. Memory is the client process's peak RSS while the reply streams (Linux: the peak is reset
just before the request) above its RSS at that moment, with imports, the SDK client and the tiktoken encoding
already loaded (the console and the CLI load it to trim the history). Target: bounded (a few MB, not growing
with the reply).

Run: .venv/bin/python benchmarks/bench_reply_bounds.py
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

WORDS_20K = 20_000
FIVE_MB = 5_000_000
CASES: list[tuple[str, str, int]] = [  # (label, reply, max_tokens)
    ("20,000 words", "words", 750),
    ("20,000 words", "words", 32_000),
    ("5 MB, a word per chunk", "5mb", 750),
    ("5 MB, a word per chunk", "5mb", 32_000),
    ("5 MB in one event", "5mb-one", 750),
]
BARE = [0, 2, 4]  # the cases the bare SDK loop reads too (it ignores max_tokens: once per reply)


def serve(kinds: list[str]) -> None:
    """The loopback server (in its own process), queued with one reply per kind; stops when stdin closes."""
    from tests.wire_replies import huge_stream, stream_text
    from tests.wire_server import WireServer

    words = " ".join(f"word{i}" for i in range(WORDS_20K))
    server = WireServer()
    for kind in kinds:
        if kind == "words":
            server.enqueue(stream_text(words))
        elif kind == "5mb":
            server.enqueue(huge_stream(FIVE_MB))
        else:
            server.enqueue(huge_stream(FIVE_MB, chunk_chars=FIVE_MB))
    print(server.base_url, flush=True)
    sys.stdin.read()
    server.close()


def _status_mb(field: str) -> float:
    with open("/proc/self/status") as status:
        line = next(line for line in status if line.startswith(field + ":"))
    return int(line.split()[1]) / 1e3


def _baseline() -> float:
    """Reset the peak RSS (Linux: clear_refs 5) and return the RSS now."""
    with open("/proc/self/clear_refs", "w") as refs:
        refs.write("5")
    return _status_mb("VmRSS")


async def read_reply(base_url: str, max_tokens: int, bare: bool) -> dict[str, object]:
    """One reply read by the client (or the bare SDK loop): time, peak memory growth, text kept, outcome."""
    import openai

    from support_console.config.settings import ProviderSettings
    from support_console.core.model_facts import resolve_model
    from support_console.core.personas import ModelParams
    from support_console.core.tokens import count_text
    from support_console.llm import LLMError, ModelClient, make_request

    text: list[str] = []
    if bare:
        sdk = openai.AsyncOpenAI(api_key="k", base_url=base_url, max_retries=0)
        before, started = _baseline(), time.perf_counter()
        stream = await sdk.chat.completions.create(
            model="gpt-4o", messages=[{"role": "user", "content": "hi"}], stream=True, max_tokens=max_tokens
        )
        async for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                text.append(chunk.choices[0].delta.content)
        outcome = "kept all"
        await sdk.close()
    else:
        client = ModelClient(ProviderSettings(kind="compatible", model="gpt-4o", base_url=base_url))
        client._client()  # the SDK loaded and its client built before the baseline,
        count_text("warm", "o200k_base")  # and the encoding, as drafting loads it to trim the history
        request = make_request(
            resolve_model("gpt-4o"), [{"role": "user", "content": "hi"}], ModelParams(max_tokens=max_tokens)
        )
        before, started = _baseline(), time.perf_counter()
        try:
            async for event in client.stream(request):
                text.append(event.text)
            outcome = "complete"
        except LLMError as exc:
            outcome = "stopped" if "ran far past" in str(exc) else f"error: {exc.kind}"
        await client.aclose()
    seconds = time.perf_counter() - started
    grown = _status_mb("VmHWM") - before
    return {"seconds": seconds, "memory": grown, "chars": len("".join(text)), "outcome": outcome}


def run_case(base_url: str, max_tokens: int, bare: bool) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, __file__, "--read", base_url, str(max_tokens), "bare" if bare else "client"],
        cwd=ROOT, capture_output=True, text=True, timeout=600, check=True,
    )  # fmt: skip
    result: dict[str, object] = json.loads(done.stdout)
    return result


def main() -> int:
    if sys.argv[1:2] == ["--serve"]:
        serve(sys.argv[2].split(","))
        return 0
    if sys.argv[1:2] == ["--read"]:
        base_url, max_tokens, reader = sys.argv[2:5]
        print(json.dumps(asyncio.run(read_reply(base_url, int(max_tokens), reader == "bare"))))
        return 0
    kinds = [kind for _, kind, _ in CASES]
    server = subprocess.Popen(
        [sys.executable, __file__, "--serve", ",".join([*kinds, *(kinds[i] for i in BARE)])],
        cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert server.stdout is not None
    base_url = server.stdout.readline().strip()
    try:
        print("{:<24} {:>10}  {:<8} {:>8} {:>9} {:>12}  outcome".format(
            "reply", "max_tokens", "reader", "time", "memory", "kept"))  # fmt: skip
        rows = [
            (label, tokens, "client", run_case(base_url, tokens, bare=False)) for label, _, tokens in CASES
        ]
        for label, _, tokens in (CASES[i] for i in BARE):  # the same replies, read by the bare SDK loop
            rows.append((label, tokens, "bare SDK", run_case(base_url, tokens, bare=True)))
        for label, tokens, reader, r in rows:
            seconds, memory, chars = float(str(r["seconds"])), float(str(r["memory"])), int(str(r["chars"]))
            print(f"{label:<24} {tokens:>10,}  {reader:<8} {seconds:>7.2f}s {memory:>7.1f}MB {chars:>11,}c  "
                  f"{r['outcome']}")  # fmt: skip
    finally:
        assert server.stdin is not None
        server.stdin.close()
        server.wait(timeout=30)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
