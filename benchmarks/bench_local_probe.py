"""Benchmark: what asking a local server for its window costs a draft's preparation.

Target: the server is asked once per server and model per process (a few loopback round trips), and never
again once the answer is stored; an unreachable server costs one refused connection, not four timeouts.
Printed side by side in one run: the first Drafter.prepare against a llama-server (probe: /v1/models,
/props), later prepares in that process (cached), the first prepare of a new process on the same database
(read from the store), and the first prepare against a closed port. The cost of counting on the server is
benchmarks/bench_server_counting.py.

Run: .venv/bin/python benchmarks/bench_local_probe.py [--runs N]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from support_console.config.settings import CliOverrides, load_settings
from support_console.workflows.drafting import Drafter, record_customer_message
from support_console.workflows.server_facts import ServerKnowledge
from support_console.workflows.services import Services, build_services
from tests.wire_server import (
    WireServer,
    llama_props,
    llama_server_models,
)


def _services(folder: Path, base_url: str, model: str) -> Services:
    personas = folder / "personas"
    personas.mkdir(parents=True, exist_ok=True)
    (personas / "bench.toml").write_text('id = "bench"\nname = "Bench"\nsystem = "You help."\n')
    config = folder / "config.toml"
    config.write_text('[agent]\nname = "bench"\n')
    overrides = CliOverrides(base_url=base_url, model=model, db=str(folder / "d.db"), config=config,
                             personas=personas)  # fmt: skip
    return build_services(load_settings(overrides, env={"OPENAI_API_KEY": "sk-bench"}))


def _conversation(services: Services) -> int:
    customer = services.store.add_customer("Bench", f"bench{time.monotonic_ns()}@example.com")
    assert customer.id is not None
    return record_customer_message(services.store, customer.id, "Where is my order?", "bench")


def _prepare_ms(services: Services, conversation: int) -> float:
    start = time.perf_counter()
    Drafter(services).prepare(conversation, "bench")
    return (time.perf_counter() - start) * 1000


def _forget(services: Services) -> None:
    """What a new process knows: nothing in memory (the store keeps what it keeps)."""
    services.server_knowledge = ServerKnowledge(services.settings.provider)


def _one_run(folder: Path, server: WireServer, closed_url: str, rows: dict[str, list[float]]) -> None:
    local = _services(folder / "local", server.base_url, "gemma")
    other = _services(folder / "closed", closed_url, "gemma")
    try:
        conversation = _conversation(local)
        _prepare_ms(local, conversation)  # warm-up: imports, first SQL, tiktoken tables
        _forget(local)
        local.store.remember_server_model(server.base_url, "gemma", context_window=None, source="")
        rows["first"].append(_prepare_ms(local, conversation))
        rows["cached"].append(statistics.median(_prepare_ms(local, conversation) for _ in range(5)))
        _forget(local)
        rows["new process"].append(_prepare_ms(local, conversation))
        rows["closed"].append(_prepare_ms(other, _conversation(other)))
    finally:
        local.close()
        other.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    names = ("first", "cached", "new process", "closed")
    rows: dict[str, list[float]] = {k: [] for k in names}
    with WireServer() as server, tempfile.TemporaryDirectory() as tmp:
        server.route("GET", "/v1/models", llama_server_models())
        server.route("GET", "/props", llama_props(4096))
        closed = WireServer()
        closed_url = closed.base_url
        closed.close()
        for run in range(args.runs):
            _one_run(Path(tmp) / f"run{run}", server, closed_url, rows)
        probes = len(server.requests_to("/props"))
    print(f"Drafter.prepare, median of {args.runs} runs (ms):")
    for name, values in rows.items():
        print(f"  {name:<14} {statistics.median(values):7.2f}")
    print(f"  /props asked {probes} times in {args.runs} runs (2 per run: the warm-up and the first prepare)")
    base = statistics.median(rows["cached"])
    print(f"  first / cached = {statistics.median(rows['first']) / base:.1f}x; "
          f"new process / cached = {statistics.median(rows['new process']) / base:.1f}x")  # fmt: skip


if __name__ == "__main__":
    main()
