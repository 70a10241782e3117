"""Benchmark: the store's hot paths on real SQLite files.

Prints:

* history → request for a 10,000-message conversation (Store.history_newest_first → build_messages): the first
  time (token counts computed and stored); with the counts stored, read for the first time by this process
  (a CLI run, or the console's first draft for the conversation); drafted again; and after one new customer
  message. The target for building the request is ≤ 5 ms;
* list_customers and a 10-message history on a 10,000-customer / 1,000,000-message database, when one is at
  hand (benchmarks/make_big_db.py builds it; this script works on a copy, so the cached file is untouched);
* save_draft latency as a streaming reply uses it (one insert, then updates with the growing text) and
  approve_draft.

Run: .venv/bin/python benchmarks/bench_store.py [--runs N] [--big PATH | --no-big]
"""

from __future__ import annotations

import argparse
import gc
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.bench_context import MAX_REPLY, N_MESSAGES, SYSTEM, realistic_history  # noqa: E402
from support_console.core.model_facts import ModelInfo, resolve_model  # noqa: E402
from support_console.core.tokens import get_encoding  # noqa: E402
from support_console.core.trimming import build_messages  # noqa: E402
from support_console.store import NewMessage, Store  # noqa: E402

BIG_CACHE = Path("/tmp/support-console-bench")


def timed(fn: Callable[[], object], runs: int) -> list[float]:
    """Wall-clock milliseconds of each of ``runs`` calls (collector run before each, not paused)."""
    samples = []
    for _ in range(runs):
        gc.collect()
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def line(label: str, samples: list[float]) -> str:
    if len(samples) == 1:
        return f"  {label:<58} {samples[0]:9.2f} ms"
    return (
        f"  {label:<58} median {statistics.median(samples):8.2f} ms   best {min(samples):8.2f} ms"
        f"   (n={len(samples)})"
    )


def seed_conversation(store: Store, model: ModelInfo) -> int:
    """A customer with a 10,000-message conversation (customer / sent reply in turn), no counts stored."""
    customer = store.add_customer("Bench Customer", f"bench-{model.name}@example.com")
    assert customer.id is not None
    conversation_id = store.current_conversation(customer.id).id
    assert conversation_id is not None
    history = realistic_history(N_MESSAGES, model.encoding)
    store.add_messages_bulk(
        NewMessage(conversation_id, "customer" if h.role == "user" else "agent", h.text, external_id=str(i))
        for i, h in enumerate(reversed(history))
    )
    return conversation_id


def timed_each(setup: Callable[[], object], fn: Callable[[], object], runs: int) -> list[float]:
    """Like :func:`timed`, with ``setup()`` run untimed before each call."""
    samples = []
    for _ in range(runs):
        setup()
        samples.extend(timed(fn, 1))
    return samples


def bench_history(tmp: Path, runs: int) -> None:
    print(f"history → request, {N_MESSAGES:,}-message conversation, reply limit {MAX_REPLY} (target ≤ 5 ms):")
    for name in ("gpt-4o", "gpt-4", "gpt-4.1"):
        url = f"sqlite:///{tmp / f'history-{name}.db'}"
        stores = [Store.open(url)]
        try:
            _bench_one_history(stores, url, resolve_model(name), runs)
        finally:
            for store in stores:
                store.close()
    print()


def _bench_one_history(stores: list[Store], url: str, model: ModelInfo, runs: int) -> None:
    """The figures for one model; ``stores[-1]`` is the Store in use (a new one stands for a new process)."""
    conversation_id = seed_conversation(stores[0], model)

    def build() -> None:
        history = stores[-1].history_newest_first(conversation_id, model.encoding)
        build_messages(SYSTEM, history, model, MAX_REPLY)

    def fresh_store() -> None:  # nothing read yet by this Store: a CLI run, or the console's first draft
        stores.append(Store.open(url))
        stores[-1].count_messages(conversation_id)  # its connection is open, as it would be by then

    def new_message() -> None:
        stores[-1].add_message(conversation_id, "customer", "One more thing: the light is orange now.")

    def length() -> None:
        len(stores[-1].history_newest_first(conversation_id, model.encoding))

    first = timed(build, 1)
    _, report = build_messages(
        SYSTEM, stores[-1].history_newest_first(conversation_id, model.encoding), model, MAX_REPLY
    )
    print(
        f" {model.name} (window {model.context_window:,}): kept {report.kept:,}, dropped {report.dropped:,}"
    )
    print(line("first time (token counts computed and stored)", first))
    print(
        line("counts stored, first read by this Store (e.g. a CLI run)", timed_each(fresh_store, build, runs))
    )
    print(line("drafting again (what was read is kept; only re-checked)", timed(build, runs)))
    print(line("after a new customer message (only it is read)", timed_each(new_message, build, runs)))
    print(line("  of which the length/id-sum statement (partial index)", timed(length, runs)))


def find_big_db(explicit: Path | None) -> Path | None:
    if explicit is not None:
        return explicit
    candidates = sorted(BIG_CACHE.glob("big-v*-1000000m-10000c-waiting.db"), key=lambda p: p.stat().st_mtime)
    return candidates[-1] if candidates else None


def bench_big(source: Path, tmp: Path, runs: int) -> None:
    copy = tmp / "big.db"
    shutil.copyfile(source, copy)
    started = time.perf_counter()
    store = Store.open(f"sqlite:///{copy}")  # migrates a copy made by an older schema version
    opened = (time.perf_counter() - started) * 1000
    try:
        with store.engine.connect() as conn:
            customers = conn.exec_driver_sql("SELECT count(*) FROM customers").scalar_one()
            messages = conn.exec_driver_sql("SELECT max(id) FROM messages").scalar_one()
        print(f"big database: {customers:,} customers, ~{messages:,} messages (copy of {source.name})")
        print(line("Store.open (migrating the copy to the current schema)", [opened]))
        print(line("list_customers() — first 500, open first", timed(store.list_customers, runs)))
        print(line("list_customers('customer 99')", timed(lambda: store.list_customers("customer 99"), runs)))
        conversation_id = store.list_customers(limit=1)[0].customer.id or 0
        conversation = store.current_conversation(conversation_id)
        assert conversation.id is not None
        model = resolve_model("gpt-4o")

        def build() -> None:
            history = store.history_newest_first(conversation.id or 0, model.encoding)
            build_messages(SYSTEM, history, model, MAX_REPLY)

        print(line("history → request for one of its conversations (first time)", timed(build, 1)))
        print(line("history → request, stored counts", timed(build, runs)))
    finally:
        store.close()
    print()


def bench_drafts(tmp: Path, runs: int) -> None:
    store = Store.open(f"sqlite:///{tmp / 'drafts.db'}")
    try:
        customer = store.add_customer("Draft Bench", "drafts@example.com")
        conversation_id = store.current_conversation(customer.id or 0).id or 0
        store.add_message(conversation_id, "customer", "My controller keeps disconnecting.")
        words = ["Thanks", "for", "writing", "in.", "Please", "update", "the", "controller", "firmware."]
        created: list[float] = []
        updated: list[float] = []
        approved: list[float] = []
        for _ in range(max(runs // 10, 5)):
            start = time.perf_counter()
            draft_id = store.save_draft(conversation_id, text="", persona_id="xbox-support", model="gpt-4o")
            created.append((time.perf_counter() - start) * 1000)
            text = ""
            for i in range(40):  # a ~400-word reply saved as it grows
                text += " ".join(words[i % len(words) :] + words) + " "
                start = time.perf_counter()
                store.save_draft(conversation_id, draft_id=draft_id, text=text)
                updated.append((time.perf_counter() - start) * 1000)
            start = time.perf_counter()
            store.approve_draft(draft_id, text, "bench")
            approved.append((time.perf_counter() - start) * 1000)
        print("drafts (WAL, synchronous=NORMAL, FTS5 triggers on):")
        print(line("save_draft: new draft (INSERT)", created))
        print(line("save_draft: update with the growing text (UPDATE)", updated))
        print(line("approve_draft", approved))
    finally:
        store.close()
    print()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=30, help="timed runs per figure (default 30)")
    parser.add_argument("--big", type=Path, help="a 10k-customer / 1M-message database (make_big_db.py)")
    parser.add_argument("--no-big", action="store_true", help="skip the big-database figures")
    args = parser.parse_args()
    for encoding in ("o200k_base", "cl100k_base"):
        get_encoding(encoding)  # load the rank files outside the timings
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        bench_history(tmp, args.runs)
        big = None if args.no_big else find_big_db(args.big)
        if big is None:
            print("big database: none found; build one with benchmarks/make_big_db.py (or pass --big PATH)\n")
        else:
            bench_big(big, tmp, args.runs)
        bench_drafts(tmp, args.runs)


if __name__ == "__main__":
    main()
