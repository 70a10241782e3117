"""Benchmark: a team of simulated agents, each its own process, working one queue at once.

Every agent loops for the whole run: take next (timed: the claim latency), draft a reply with the real
Drafter against the loopback model server (tests/wire_server.py, in a process of its own), add a note,
approve the draft, and resolve the conversation. A customer process keeps adding new waiting conversations.
At the end the database is checked against what every agent says it did:

* claimed twice: conversations two agents were handed (from the events log; must be 0);
* lost writes: a note or reply an agent was told was saved that is not in the database (must be 0);
* duplicated writes: one note or reply stored twice (must be 0);
* errors: any exception an agent hit (must be 0; a refused stale draft would count here too).

Each agent's console also says where it is, as the console does: a heartbeat every
``live.HEARTBEAT_SECONDS`` on the conversation it works on. ``--watchers N`` adds N more consoles that only
beat (agents with a conversation open, reading), as the rest of a large team would: their beats are writes
too. Skipped beats (the write lock busy: a beat never waits) are counted.

On SQLite (the default: a new file) writers queue on one lock; for PostgreSQL pass ``--db URL`` once the
PostgreSQL backend is in (the same script: the Store decides).

Run: .venv/bin/python benchmarks/bench_team_agents.py [--agents 20] [--seconds 60] [--db URL] [--watchers N]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

ROOT = Path(__file__).resolve().parents[1]
REPLY = "Thanks for writing in: I have looked at your order and a replacement is on its way today."

SERVER = """
import sys
from tests.wire_replies import stream_text
from tests.wire_server import WireServer
from benchmarks.bench_team_agents import REPLY
server = WireServer()
server.enqueue(*[stream_text(REPLY)] * int(sys.argv[1]))
print(server.base_url, flush=True)
sys.stdin.read()
server.close()
"""


def settings_for(url: str, base_url: str, agent: str, home: Path) -> Any:
    from support_console.config.settings import CliOverrides, load_settings

    config = home / f"{agent}.toml"
    config.write_text(f'[agent]\nname = "{agent}"\n', encoding="utf-8")
    overrides = CliOverrides(db=url, base_url=base_url, model="gpt-4o", config=config)
    return load_settings(overrides, env={"OPENAI_API_KEY": "sk-bench-not-a-key"})


def agent_loop(url: str, base_url: str, agent: str, home: str, seconds: float) -> dict[str, Any]:
    """One agent's process: the loop of the module docstring; what it did, for the check."""
    from support_console.workflows.drafting import Drafter
    from support_console.workflows.services import build_services

    services = build_services(settings_for(url, base_url, agent, Path(home)))
    store = services.store
    persona = services.personas.ordered()[0].id
    claims: list[float] = []
    taken: list[int] = []
    notes: list[int] = []
    replies: list[int] = []
    errors: list[str] = []
    working: list[int | None] = [None]  # the conversation its heartbeat names
    stop = threading.Event()
    beats = Beats(errors)
    beating = threading.Thread(target=beats.run, args=(store, agent, working, stop), daemon=True)
    beating.start()

    async def work() -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                started = time.perf_counter()
                row = store.take_next(agent)
                if row is None:
                    await asyncio.sleep(0.05)
                    continue
                claims.append(time.perf_counter() - started)
                cid = working[0] = row.conversation_id
                taken.append(cid)
                drafter = Drafter(services, author=agent)
                async for _ in drafter.stream(drafter.prepare(cid, persona)):
                    pass
                assert drafter.draft_id is not None
                notes.append(store.add_message(cid, "note", f"{agent} on {cid}", agent=agent).id or 0)
                sent = store.approve_draft(drafter.draft_id, drafter.saved_text, agent)
                replies.append(sent.id or 0)
                store.set_status(cid, "resolved", agent=agent)
            except Exception as exc:  # every failure is a figure of the benchmark
                errors.append(f"{type(exc).__name__}: {exc}")
        if services.client is not None:
            await services.client.aclose()

    asyncio.run(work())
    stop.set()
    beating.join()
    services.close()
    return {"claims": claims, "taken": taken, "notes": notes, "replies": replies, "errors": errors,
            "beats": (beats.sent, beats.skipped)}  # fmt: skip


class Beats:
    """The heartbeats of one process's consoles: how many were sent, how many skipped (the write lock
    busy: a beat never waits), and any other failure, as an error of the benchmark."""

    def __init__(self, errors: list[str]) -> None:
        self.sent = self.skipped = 0
        self.errors = errors
        self._lock = threading.Lock()  # several consoles' threads count here

    def run(self, store: Any, console: str, working: list[int | None], stop: threading.Event) -> None:
        """Beat for ``console`` every HEARTBEAT_SECONDS until ``stop``, as the console's live worker does."""
        from support_console.store import WriteLockBusy
        from support_console.store.live import HEARTBEAT_SECONDS

        while not stop.is_set():
            try:
                store.heartbeat(console, console, working[0], "drafting")
                outcome = "sent"
            except WriteLockBusy:
                outcome = "skipped"
            except Exception as exc:  # every failure is a figure of the benchmark
                outcome = f"{type(exc).__name__}: {exc}"
            with self._lock:
                if outcome == "sent":
                    self.sent += 1
                elif outcome == "skipped":
                    self.skipped += 1
                else:
                    self.errors.append(outcome)
            stop.wait(HEARTBEAT_SECONDS)


def watchers(url: str, count: int, seconds: float, first_conversation: int) -> dict[str, Any]:
    """``count`` consoles that only beat (each on a conversation, reading it), spread over the beat's
    period, in one process: the rest of a large team."""
    from support_console.store import Store
    from support_console.store.live import HEARTBEAT_SECONDS

    store = Store.open(url)
    stop = threading.Event()
    beats = Beats([])
    threads = [
        threading.Thread(
            target=beats.run, args=(store, f"watcher{i}", [first_conversation + i], stop), daemon=True
        )
        for i in range(count)
    ]
    for thread in threads:
        thread.start()
        time.sleep(HEARTBEAT_SECONDS / max(count, 1))
    stop.wait(seconds)
    stop.set()
    for thread in threads:
        thread.join()
    store.close()
    return {"claims": [], "taken": [], "notes": [], "replies": [], "errors": beats.errors,
            "beats": (beats.sent, beats.skipped)}  # fmt: skip


def customers(url: str, count: int, start: int = 0) -> None:
    """New customers, each with an open conversation waiting for a reply."""
    from support_console.store import Store

    store = Store.open(url)
    try:
        for i in range(start, start + count):
            customer = store.add_customer(f"Customer {i}", f"c{i}@example.com")
            assert customer.id is not None
            conversation = store.current_conversation(customer.id)
            assert conversation.id is not None
            store.add_message(conversation.id, "customer", f"Order {i} has not arrived.")
    finally:
        store.close()


def check(url: str, results: list[dict[str, Any]]) -> dict[str, int]:
    """The figures that must be 0, read from the database against what the agents reported."""
    import sqlalchemy as sa

    from support_console.store import Store
    from support_console.store.tables import EVENTS, MESSAGES

    store = Store.open(url)
    try:
        with store.engine.connect() as conn:
            assigned = Counter(
                conn.execute(sa.select(EVENTS.c.conversation_id).where(EVENTS.c.kind == "assigned")).scalars()
            )
            stored = Counter(
                conn.execute(
                    sa.select(MESSAGES.c.conversation_id, MESSAGES.c.role).where(
                        MESSAGES.c.role.in_(("note", "agent")), MESSAGES.c.state.in_(("note", "sent"))
                    )
                ).all()
            )
            ids = set(conn.execute(sa.select(MESSAGES.c.id)).scalars())
    finally:
        store.close()
    written = [i for r in results for i in r["notes"] + r["replies"]]
    taken = [cid for r in results for cid in r["taken"]]
    return {
        "claimed twice": sum(1 for n in assigned.values() if n > 1) + (len(taken) - len(set(taken))),
        "lost writes": sum(1 for i in written if i not in ids),
        "duplicated writes": sum(1 for n in stored.values() if n > 1),
        "errors": sum(len(r["errors"]) for r in results),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--db", help="database URL (default: a new SQLite file)")
    parser.add_argument("--conversations", type=int, default=1500, help="waiting at the start")
    parser.add_argument("--watchers", type=int, default=0, help="more consoles that only send heartbeats")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.db or f"sqlite:///{Path(tmp) / 'team.db'}"
        customers(url, args.conversations)
        server = subprocess.Popen(
            [sys.executable, "-c", SERVER, str(args.conversations * 2)],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert server.stdout is not None
        base_url = server.stdout.readline().strip()
        try:
            context = multiprocessing.get_context("spawn")
            with context.Pool(args.agents + (1 if args.watchers else 0)) as pool:
                jobs = [
                    pool.apply_async(agent_loop, (url, base_url, f"agent{i}", tmp, args.seconds))
                    for i in range(args.agents)
                ]
                if args.watchers:
                    jobs.append(pool.apply_async(watchers, (url, args.watchers, args.seconds, 1)))
                results = [job.get(timeout=args.seconds + 120) for job in jobs]
        finally:
            server.communicate("", timeout=30)
        figures = check(url, results)
    claims = sorted(c for r in results for c in r["claims"])
    p95 = claims[min(len(claims) - 1, round(0.95 * (len(claims) - 1)))] if claims else 0.0
    kind = "PostgreSQL" if url.startswith("postgresql") else "SQLite"
    done = f"{len(claims)} conversations claimed, drafted, noted, approved and resolved"
    watching = f" (and {args.watchers} consoles only beating)" if args.watchers else ""
    print(f"{args.agents} agents × {args.seconds:.0f} s on {kind}{watching}: {done}")
    for name, value in figures.items():
        print(f"  {name}: {value}")
    sent, skipped = (sum(r["beats"][i] for r in results) for i in (0, 1))
    print(f"  heartbeats: {sent} sent, {skipped} skipped (the write lock busy: a beat never waits)")
    if claims:
        print(f"  claim latency: median {statistics.median(claims) * 1000:.1f} ms, p95 {p95 * 1000:.1f} ms")
    for r in results:
        for error in r["errors"][:3]:
            print(f"  error: {error}")


if __name__ == "__main__":
    main()
