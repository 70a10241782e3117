"""Benchmark: building the request for a 10,000-message conversation.

Target: build_messages ≤ 5 ms for a 10k history whose token counts are precomputed (as the store keeps them).
For comparison it prints the naive way (re-encoding all 10k messages with tiktoken on every request), and the
same build fed from a real SQLite file through Store.history_newest_first (benchmarks/bench_store.py has more
store figures).

Run: .venv/bin/python benchmarks/bench_context.py [--runs N]
"""

from __future__ import annotations

import argparse
import gc
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Literal

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from support_console.core.model_facts import ModelInfo, resolve_model
from support_console.core.tokens import count_text, get_encoding
from support_console.core.trimming import HistoryItem, build_messages

N_MESSAGES = 10_000
MAX_REPLY = 1_000
SYSTEM = (
    "You are Ada, a support agent for Contoso Home Internet. Be warm and precise, answer in the customer's "
    "language, never promise refunds above 50 EUR without a supervisor, and end with a clear next step."
)
CUSTOMER = [
    "Hi, my internet has been dropping every evening since Tuesday.",
    "I was charged twice for my March invoice (#48213), can you refund one of them?",
    "The router's light is blinking orange and nothing connects.",
    "I already restarted it three times like the website says.",
    "Können Sie mir bitte sagen, wann der Techniker kommt?",
    "This is the third time I'm writing about this and I'm getting frustrated 😡",
    "Here is what the status page shows: DSL sync 0 kbps, error 0x80070005.",
    "I'm moving to 14 Rue des Lilas, Lyon on the 1st — can you transfer my contract?",
    "Thanks, that fixed it!",
    "Could you send me the invoice as a PDF to my work email?",
]
AGENT = [
    "Thanks for reaching out, and sorry for the trouble.",
    "I can see the line dropped 14 times yesterday between 19:00 and 23:00.",
    "I've issued a refund of 39.99 EUR for the duplicate charge; it takes 3–5 business days.",
    "Could you unplug the router for 30 seconds and plug it back in, then tell me the light colour?",
    "A technician is booked for Thursday between 08:00 and 12:00.",
    "I've moved your contract to the new address from the 1st; your number stays the same.",
    "Is there anything else I can help you with today?",
]


def realistic_history(n: int, encoding: str, seed: int = 7) -> list[HistoryItem]:
    """n support messages, newest first, with token counts computed once (as the store stores them)."""
    rng = random.Random(seed)
    items = []
    for message_id in range(n, 0, -1):
        role: Literal["user", "assistant"] = "user" if (n - message_id) % 2 == 0 else "assistant"
        pool = CUSTOMER if role == "user" else AGENT
        text = " ".join(rng.choice(pool) for _ in range(rng.randint(1, 5)))
        items.append(HistoryItem(message_id, role, text, count_text(text, encoding)))
    return items


def timed(fn: Callable[[], object], runs: int, *, gc_off: bool = False) -> list[float]:
    """Wall-clock ms per call. gc_off times like ``timeit`` does (collector paused while timing), which shows
    how much of a figure is the cyclic collector walking the long-lived history objects."""
    samples = []
    for _ in range(runs):
        gc.collect()
        if gc_off:
            gc.disable()
        try:
            start = time.perf_counter()
            fn()
            samples.append((time.perf_counter() - start) * 1000)
        finally:
            gc.enable()
    return samples


def summary(label: str, samples: list[float]) -> str:
    p95 = statistics.quantiles(samples, n=20)[-1] if len(samples) >= 20 else max(samples)
    return (
        f"  {label:<62} median {statistics.median(samples):8.3f} ms   p95 {p95:8.3f} ms   (n={len(samples)})"
    )


def bench_in_memory(model: ModelInfo, runs: int) -> None:
    history = realistic_history(N_MESSAGES, model.encoding)

    def build(source: Iterable[HistoryItem]) -> None:
        build_messages(SYSTEM, source, model, MAX_REPLY)

    _, report = build_messages(SYSTEM, iter(history), model, MAX_REPLY)
    print(
        f"{model.name} (window {model.context_window:,}): kept {report.kept:,} of {N_MESSAGES:,} messages, "
        f"prompt {report.prompt_tokens:,} / budget {report.budget:,} tokens"
    )
    gc_on = timed(lambda: build(iter(history)), runs)
    print(summary("build_messages, precomputed counts (lazy iterator)", gc_on))
    gc_off = timed(lambda: build(iter(history)), runs, gc_off=True)
    print(summary("build_messages, same, collector paused (timeit-style)", gc_off))
    enc = get_encoding(model.encoding)
    texts = [h.text for h in history]
    naive = timed(lambda: [len(enc.encode_ordinary(t)) for t in texts], max(runs // 20, 5))
    print(summary(f"naive: re-encode all {N_MESSAGES:,} messages with tiktoken", naive))


def bench_store(model: ModelInfo, runs: int) -> None:
    try:
        from support_console.store import NewMessage, Store
    except ImportError as exc:  # the store is another module; say so rather than crash the benchmark
        print(f"store: not usable ({exc}); skipped")
        return
    history = realistic_history(N_MESSAGES, model.encoding)
    with tempfile.TemporaryDirectory() as tmp:
        store = Store.open(f"sqlite:///{Path(tmp) / 'bench.db'}")
        try:
            customer = store.add_customer("Bench Customer", "bench@example.com")
            conversation_id = store.current_conversation(customer.id or 0).id or 0
            rows = [
                NewMessage(
                    conversation_id, "customer" if h.role == "user" else "agent", h.text, external_id=str(i)
                )
                for i, h in enumerate(reversed(history))
            ]
            start = time.perf_counter()
            store.add_messages_bulk(rows)
            print(f"store: seeded {N_MESSAGES:,} messages in {(time.perf_counter() - start) * 1000:.0f} ms")

            url = str(store.engine.url)
            current = [store]

            def build() -> None:
                history = current[-1].history_newest_first(conversation_id, model.encoding)
                build_messages(SYSTEM, history, model, MAX_REPLY)

            first = timed(build, 1)
            cold = []
            for _ in range(max(runs // 4, 5)):  # a Store that has read nothing yet: a CLI run, a first draft
                other = Store.open(url)
                other.count_messages(conversation_id)  # open its connection outside the timing
                current.append(other)
                cold += timed(build, 1)
                other.close()
                current.pop()
            print(summary("store → build_messages, first time (counts computed + stored)", first))
            print(summary("store → build_messages, counts stored, first read by a Store", cold))
            print(
                summary("store → build_messages, drafting again (read kept, re-checked)", timed(build, runs))
            )
        finally:
            store.close()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=200, help="timed runs per figure (default 200)")
    parser.add_argument("--no-store", action="store_true", help="skip the SQLite figures")
    args = parser.parse_args()
    for encoding in ("o200k_base", "cl100k_base"):
        get_encoding(encoding)  # load the rank files outside the timings
    print(
        f"bench_context: {N_MESSAGES:,}-message history, reply limit {MAX_REPLY} tokens, target: build ≤ 5 ms"
    )
    print()
    for name in ("gpt-4o", "gpt-4", "gpt-4.1"):
        bench_in_memory(resolve_model(name), args.runs)
        print()
    for name in () if args.no_store else ("gpt-4o", "gpt-4.1"):
        print(f"SQLite, {name}:")
        bench_store(resolve_model(name), max(args.runs // 4, 20))
        print()


if __name__ == "__main__":
    main()
