"""Benchmark: building the summary request for a 10,000-message conversation.

Target: ≤ 5 ms, as for drafts. The summary is built by ``workflows.summarising.build_summary_messages`` (the
drafts' exact trimming plus the closing ask) from a history whose token counts are precomputed, and, for
the whole path, from a real SQLite file through ``Store.history_newest_first``. Printed side by side with the
draft's own ``build_messages`` on the same history in the same run (the machine is shared and noisy: read
the ratio).

Run: .venv/bin/python benchmarks/bench_summary_request.py [--runs N]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.bench_context import MAX_REPLY, N_MESSAGES, SYSTEM, realistic_history, summary, timed
from support_console.core.model_facts import ModelInfo, resolve_model
from support_console.core.tokens import get_encoding
from support_console.core.trimming import build_messages
from support_console.workflows.summarising import build_summary_messages


def bench_in_memory(model: ModelInfo, runs: int) -> None:
    history = realistic_history(N_MESSAGES, model.encoding)
    _, report, newest = build_summary_messages(history, model, "en")
    print(
        f"{model.name} (window {model.context_window:,}): kept {report.kept:,} of {N_MESSAGES:,}, prompt "
        f"{report.prompt_tokens:,} tokens, newest message covered #{newest}"
    )
    print(
        summary(
            "summary request, precomputed counts",
            timed(lambda: build_summary_messages(history, model, "en"), runs),
        )
    )
    print(
        summary(
            "draft request (build_messages), same history",
            timed(lambda: build_messages(SYSTEM, iter(history), model, MAX_REPLY), runs),
        )
    )


def bench_store(model: ModelInfo, runs: int) -> None:
    from support_console.store import NewMessage, Store

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
            store.add_messages_bulk(rows)
            store.history_newest_first(conversation_id, model.encoding)  # counts computed and stored once

            def build() -> None:
                build_summary_messages(
                    store.history_newest_first(conversation_id, model.encoding), model, "en"
                )

            print(summary("store → summary request (counts stored)", timed(build, runs)))
        finally:
            store.close()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=200, help="timed runs per figure (default 200)")
    args = parser.parse_args()
    for encoding in ("o200k_base", "cl100k_base"):
        get_encoding(encoding)
    print(f"bench_summary_request: {N_MESSAGES:,}-message history, target: build ≤ 5 ms\n")
    for name in ("gpt-4o", "gpt-4", "gpt-4.1"):
        bench_in_memory(resolve_model(name), args.runs)
        print()
    print("SQLite, gpt-4o:")
    bench_store(resolve_model("gpt-4o"), max(args.runs // 4, 20))


if __name__ == "__main__":
    main()
