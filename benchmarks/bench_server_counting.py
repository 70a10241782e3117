"""Benchmark: the extra cost per draft of counting with the server's own tokenizer.

Target: one round trip per new message, none for a conversation counted before (issue 12). Per family
(llama-cpp-python, vLLM, llama-server: tests/wire_local.py's loopback model, real HTTP on 127.0.0.1), for a
40-message conversation, side by side in one run: the first prepare (the window probe, the template measured
once per model, every kept message counted), a prepare after one new message, the same prepare again, and
the same prepares against a server that does not count (LM Studio: tiktoken only). Round trips are
the requests the server received during that prepare. Then the count alone (ServerKnowledge.server_count,
without the store's reads, which are noisy on a shared disk) of the request with one new message, and of
the same again; for comparison, one count of the whole request (what each draft cost before counts were
kept per message: one round trip, two on llama-server, the whole history tokenized again).

Run: .venv/bin/python benchmarks/bench_server_counting.py [--runs N]
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
from support_console.core.tokens import ChatMessage
from support_console.llm.server_tokens import count_request
from support_console.workflows.drafting import Drafter, record_customer_message
from support_console.workflows.services import Services, build_services
from tests.wire_local import Family, LocalModel
from tests.wire_server import WireServer, lm_studio_models

N_MESSAGES = 40
CYCLES = 5  # new messages per run (each prepared twice): enough samples for a median on a noisy machine
SENTENCE = (
    "my parcel was due on Tuesday and the tracking page still says it is waiting at the depot, so I wonder "
    "whether it was lost or sent back"
)
WORDS = SENTENCE.split()


def _services(folder: Path, base_url: str) -> Services:
    personas = folder / "personas"
    personas.mkdir(parents=True, exist_ok=True)
    system = "You are the support assistant of Example Ltd. Be precise, kind and brief."
    (personas / "bench.toml").write_text(f'id = "bench"\nname = "Bench"\nsystem = "{system}"\n')
    config = folder / "config.toml"
    config.write_text('[agent]\nname = "bench"\n[models."local"]\ncontext_window = 8192\n')
    overrides = CliOverrides(base_url=base_url, model="local", db=str(folder / "d.db"), config=config,
                             personas=personas)  # fmt: skip
    return build_services(load_settings(overrides, env={"OPENAI_API_KEY": "sk-bench"}))


def _conversation(services: Services) -> int:
    store = services.store
    customer = store.add_customer("Bench", f"bench{time.monotonic_ns()}@example.com")
    assert customer.id is not None
    conversation = record_customer_message(store, customer.id, "Where is my order?", "bench")
    for n in range(N_MESSAGES - 1):
        text = f"{n}: " + " ".join(WORDS[(n + k) % len(WORDS)] for k in range(60))
        if n % 2:
            store.add_message(conversation, "customer", text)
        else:
            draft = store.save_draft(
                conversation, text=text, original_text=text, persona_id="bench", final=True
            )
            store.approve_draft(draft, text, "bench")
    store.add_message(conversation, "customer", "Any news?")
    return conversation


def _asked(server: WireServer) -> int:
    return len(server.requests) + len(server.side_requests)


def _since(start: float, server: WireServer, before: int) -> tuple[float, int]:
    return (time.perf_counter() - start) * 1000, _asked(server) - before


def _prepare(services: Services, server: WireServer, conversation: int) -> tuple[float, int]:
    """One prepare: milliseconds and the requests the server received meanwhile."""
    before = _asked(server)
    start = time.perf_counter()
    Drafter(services).prepare(conversation, "bench")
    return (time.perf_counter() - start) * 1000, _asked(server) - before


def _family_run(folder: Path, family: Family, rows: dict[str, list[tuple[float, int]]]) -> None:
    with WireServer() as server:
        LocalModel(family, "chatml", name="local").install(server)
        services = _services(folder / family, server.base_url)
        try:
            conversation = _conversation(services)
            rows[f"{family} first"].append(_prepare(services, server, conversation))
            for _ in range(CYCLES):
                services.store.add_message(conversation, "customer", f"One more thing {time.monotonic_ns()}")
                rows[f"{family} new message"].append(_prepare(services, server, conversation))
                rows[f"{family} again"].append(_prepare(services, server, conversation))
            prepared = Drafter(services).prepare(conversation, "bench")
            messages: list[ChatMessage] = [
                {"role": m["role"], "content": str(m["content"])} for m in prepared.request.messages
            ]
            knowledge = services.server_knowledge
            for _ in range(CYCLES):  # the count alone, without the store's reads (noisy on a shared disk)
                new: ChatMessage = {"role": "user", "content": f"Now? {time.monotonic_ns()}"}
                grown = [*messages, new]
                for case in ("count, new message", "count again"):
                    before, start = _asked(server), time.perf_counter()
                    assert knowledge.server_count("local", grown) is not None
                    rows[f"{family} {case}"].append(_since(start, server, before))
            if family != "llama-cpp-python":  # its whole count would be a completion: never asked
                label = "vLLM" if family == "vllm" else family
                plain = [{"role": str(m["role"]), "content": str(m["content"])} for m in messages]
                before, start = _asked(server), time.perf_counter()
                count_request(server.base_url, "local", plain, label)
                rows[f"{family} whole count"].append(_since(start, server, before))
        finally:
            services.close()


def _uncounted_run(folder: Path, rows: dict[str, list[tuple[float, int]]]) -> None:
    with WireServer() as server:
        server.route("GET", "/api/v0/models", lm_studio_models("local", loaded=8192))
        services = _services(folder / "lm", server.base_url)
        try:
            conversation = _conversation(services)
            _prepare(services, server, conversation)
            for _ in range(CYCLES):
                services.store.add_message(conversation, "customer", f"One more thing {time.monotonic_ns()}")
                rows["uncounted new message"].append(_prepare(services, server, conversation))
                rows["uncounted again"].append(_prepare(services, server, conversation))
        finally:
            services.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    rows: dict[str, list[tuple[float, int]]] = {}
    families: tuple[Family, ...] = ("llama-cpp-python", "vllm", "llama-server")
    for each in families:
        for case in ("first", "new message", "again", "count, new message", "count again", "whole count"):
            rows[f"{each} {case}"] = []
    rows["uncounted new message"] = []
    rows["uncounted again"] = []
    with tempfile.TemporaryDirectory() as tmp:
        for run in range(args.runs):  # interleaved, so that machine noise hits every row alike
            for family in families:
                _family_run(Path(tmp) / f"run{run}", family, rows)
            _uncounted_run(Path(tmp) / f"run{run}", rows)
    print(f"Drafter.prepare of a {N_MESSAGES}-message conversation, median of {args.runs} runs "
          f"({CYCLES} new messages each):")  # fmt: skip
    print(f"  {'case':<34} {'ms':>8} {'round trips':>12}")
    for name, values in rows.items():
        if values:
            ms = statistics.median(v[0] for v in values)
            trips = statistics.median(v[1] for v in values)
            print(f"  {name:<34} {ms:8.2f} {trips:12.0f}")
    plain = statistics.median(v[0] for v in rows["uncounted new message"])
    plain_again = statistics.median(v[0] for v in rows["uncounted again"])
    for family in families:
        new = statistics.median(v[0] for v in rows[f"{family} new message"])
        again = statistics.median(v[0] for v in rows[f"{family} again"])
        ratios = f"new message: {new / plain:.2f}x uncounted; again: {again / plain_again:.2f}x uncounted"
        print(f"  {family}: {ratios}")


if __name__ == "__main__":
    main()
