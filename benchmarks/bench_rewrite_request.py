"""Benchmark: building a rewrite request for a long draft, and checking the rewrite that comes back.

A rewrite request is the tool's instruction plus the rules, and the draft with its quoted blocks and signature
cut off (workflows/rewriting.prepare_rewrite). Its cost is dominated by counting the draft's tokens twice
(once to size the reply, once for the exact prompt), so it is printed beside the floor: one tiktoken encode
of the same text. The preservation check (core/preservation.check_rewrite) on the same draft is printed
too, since it runs after every rewrite. Target, as for drafts: ≤ 5 ms for a long draft.

Then the console's rewrite of the open draft in a 10,000-message conversation on a real SQLite file:
RewriteSession.prepare (on the draft session's thread: the persona and the request; the generation record
is queued behind it, not waited for), beside the same for a 10-message conversation. A rewrite request holds
the draft only, never the history, so the two should match. The time until the record is written too (the
session's queue idle again) is printed beside it: that write is off the event loop and not in the way of the
request.

Run: .venv/bin/python benchmarks/bench_rewrite_request.py [--runs N]
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import gc
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from support_console.config.settings import CliOverrides, load_settings
from support_console.core.clock import utcnow
from support_console.core.model_facts import resolve_model
from support_console.core.preservation import check_rewrite
from support_console.core.rewrite_tools import load_tools
from support_console.core.tokens import count_text, get_encoding
from support_console.workflows.draft_session import DraftSession
from support_console.workflows.rewrite_session import RewriteSession
from support_console.workflows.rewriting import prepare_rewrite
from support_console.workflows.services import Services, build_services

PARAGRAPH = (
    "Thanks for your patience while we looked into order ORD-{n}. The duplicate charge of $59.99 from "
    "2024-05-{d:02d} has been refunded, and the 1,299.00 EUR balance is unchanged; see "
    "https://shop.example.com/orders?id={n}&ref=mail for the status. If the router still drops Wi-Fi, "
    "unplug it for 30 seconds, wait for the light to turn green, and tell me what you see.\n\n"
)


def long_draft(paragraphs: int) -> str:
    """A reply with a quoted customer block on top, many paragraphs full of ids and prices, a signature."""
    quoted = "> I was charged twice and my router keeps dropping.\n> Please fix it today.\n\n"
    body = "".join(PARAGRAPH.format(n=10_000 + i, d=i % 28 + 1) for i in range(paragraphs))
    return quoted + "Hi Jane,\n\n" + body + "Best regards,\n\n-- \nAna\nBilling team"


def median_ms(fn: Callable[[], object], runs: int) -> float:
    fn()  # warm caches (tiktoken's tables, regexes)
    times = []
    gc.disable()
    try:
        for _ in range(runs):
            start = time.perf_counter()
            fn()
            times.append((time.perf_counter() - start) * 1000)
    finally:
        gc.enable()
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=50)
    args = parser.parse_args()
    model = resolve_model("gpt-4o")
    tool = load_tools().get("shorter")
    encoding = get_encoding(model.encoding)
    print(f"{'draft':>22}  {'tokens':>7}  {'encode once':>11}  {'prepare':>9}  {'ratio':>5}  {'check':>8}")
    for paragraphs in (5, 40, 200):
        draft = long_draft(paragraphs)
        rewritten = draft.replace("$59.99", "$49.99", 1)
        tokens = count_text(draft, model.encoding)
        floor = median_ms(functools.partial(encoding.encode_ordinary, draft), args.runs)
        build = median_ms(functools.partial(prepare_rewrite, tool, draft, model), args.runs)
        check = median_ms(functools.partial(check_rewrite, draft, rewritten), args.runs)
        label = f"{paragraphs} paragraphs, {len(draft):,} ch"
        print(
            f"{label:>22}  {tokens:>7,}  {floor:>9.2f}ms  {build:>7.2f}ms  {build / floor:>5.1f}"
            f"  {check:>6.2f}ms"
        )
    print(
        "target: prepare ≤ 5 ms for a long draft (a 40-paragraph draft is already longer than most replies)"
    )
    with tempfile.TemporaryDirectory() as tmp:
        console_rewrites(Path(tmp), args.runs)


def seeded(folder: Path, messages: int) -> tuple[Services, int]:
    """Services on a new SQLite file holding one customer whose conversation has ``messages`` messages."""
    from support_console.store import NewMessage

    config = folder / "config.toml"
    config.write_text('[agent]\nname = "bench"\n')
    overrides = CliOverrides(
        base_url="http://127.0.0.1:9/v1", model="gpt-4o", db=str(folder / f"c{messages}.db"), config=config
    )
    services = build_services(load_settings(overrides, env={"OPENAI_API_KEY": "sk-bench"}))
    store = services.store
    customer = store.add_customer(f"Customer {messages}", f"c{messages}@example.com")
    conversation_id = store.current_conversation(customer.id or 0).id or 0
    start = utcnow() - timedelta(days=30)
    rows = [
        NewMessage(
            conversation_id, "customer" if i % 2 == 0 else "agent", PARAGRAPH.format(n=i, d=i % 28 + 1),
            created_at=start + timedelta(seconds=i), external_id=f"m{i}",
            approved_by=None if i % 2 == 0 else "bob",
        )
        for i in range(messages)
    ]  # fmt: skip
    store.add_messages_bulk(rows)
    return services, customer.id or 0


def console_rewrites(folder: Path, runs: int) -> None:
    """RewriteSession.prepare in a 10-message and a 10,000-message conversation, side by side."""
    tool = load_tools().get("shorter")
    draft = long_draft(5)
    figures: dict[int, tuple[float, float]] = {}
    for messages in (10, 10_000):
        services, customer_id = seeded(folder, messages)
        try:
            figures[messages] = asyncio.run(_time_prepare(services, customer_id, tool, draft, runs))
        finally:
            services.close()
    (small, small_all), (big, big_all) = figures[10], figures[10_000]
    print(
        f"console rewrite request (5-paragraph draft): 10 messages {small:.2f} ms · 10,000 messages "
        f"{big:.2f} ms · ratio {big / small:.2f} · target ≤ 5 ms"
    )
    print(
        f"  … and its generation record written: 10 messages {small_all:.2f} ms · 10,000 messages "
        f"{big_all:.2f} ms · ratio {big_all / small_all:.2f}"
    )


async def _time_prepare(
    services: Services, customer_id: int, tool: object, draft: str, runs: int
) -> tuple[float, float]:
    """Median ms until the request is built, and until its record is written too."""
    from support_console.core.rewrite_tools import RewriteTool

    assert isinstance(tool, RewriteTool)
    session = DraftSession(services)
    rewrites = RewriteSession(services, session)
    try:
        await session.open(customer_id)
        await rewrites.prepare(tool, draft)  # warm: tiktoken's tables, the persona
        await rewrites.idle()
        built, recorded = [], []
        for _ in range(runs):
            start = time.perf_counter()
            await rewrites.prepare(tool, draft)
            built.append((time.perf_counter() - start) * 1000)
            await rewrites.idle()
            recorded.append((time.perf_counter() - start) * 1000)
        return statistics.median(built), statistics.median(recorded)
    finally:
        await session.aclose()


if __name__ == "__main__":
    main()
