"""Benchmark: building a rewrite request for a long draft, and checking the rewrite that comes back.

A rewrite request is the tool's instruction plus the rules, and the draft with its quoted blocks and signature
cut off (workflows/rewriting.prepare_rewrite). Its cost is dominated by counting the draft's tokens twice
(once to size the reply, once for the exact prompt), so it is printed beside the floor: one tiktoken encode
of the same text. The preservation check (core/preservation.check_rewrite) on the same draft is printed
too, since it runs after every rewrite. Target, as for drafts: ≤ 5 ms for a long draft. No summary request
is built yet, so there is no 10,000-message figure here (benchmarks/bench_context.py has the drafts' one).

Run: .venv/bin/python benchmarks/bench_rewrite_request.py [--runs N]
"""

from __future__ import annotations

import argparse
import functools
import gc
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from support_console.core.model_facts import resolve_model
from support_console.core.preservation import check_rewrite
from support_console.core.rewrite_tools import load_tools
from support_console.core.tokens import count_text, get_encoding
from support_console.workflows.rewriting import prepare_rewrite

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


if __name__ == "__main__":
    main()
