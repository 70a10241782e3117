"""PostgreSQL's conversation-logs figures beside SQLite's, measured in the same run on the same machine.

A throwaway PostgreSQL server (tests/pg_server.py: the machine's PostgreSQL binaries, ``fsync=off``, default
``shared_buffers``) is filled with the same synthetic 1,000,000 messages as ``make_big_db.py`` writes to
SQLite (through the importer's bulk path: that fill is itself an import figure), analysed as autovacuum
would, then both answer bench_logs.py's searches and the logs screen's first page. Last, a 100,000-message
JSONL file is imported into fresh databases of each by ``support-console import``, each run a process of its
own, as the command is run.

Targets (issue 11, as on SQLite): search median ≤ 50 ms, logs first page ≤ 300 ms, import ≥ 20,000
messages/s. Machines are noisy and shared: compare the two columns of one run, not runs.

Usage: ``python benchmarks/bench_postgres.py [--messages N] [--customers N] [--import-rows N]``.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.bench_logs import bench_first_page, bench_search, calibration_ms, write_import_file  # noqa: E402
from benchmarks.make_big_db import ensure_big_db, fill  # noqa: E402
from support_console.store import Store  # noqa: E402
from tests.pg_server import PostgresServer, running_server  # noqa: E402


def _analyse(server: PostgresServer, database: str) -> None:
    """What autovacuum does to a freshly loaded table: statistics for the planner, the visibility map."""
    import psycopg

    with psycopg.connect(server.dsn(database), autocommit=True) as conn:
        conn.execute("VACUUM (ANALYZE)")
        # The fill's dirty pages written out now, as the checkpointer would in the background, so that
        # the figures after it are not timed against a checkpoint the fill started.
        conn.execute("CHECKPOINT")


def big_postgres(server: PostgresServer, messages: int, customers: int) -> str:
    """A database of the synthetic conversations; prints how fast the bulk writer filled it."""
    url = server.create_database("bench_big")
    store = Store.open(url)
    try:
        started = time.perf_counter()
        fill(store, messages, customers)
        seconds = time.perf_counter() - started
    finally:
        store.close()
    print(
        f"PostgreSQL: filled {messages:,} messages in {seconds:.1f} s ({messages / seconds:,.0f} messages/s)"
    )
    started = time.perf_counter()
    _analyse(server, "bench_big")
    print(f"PostgreSQL: VACUUM ANALYZE in {time.perf_counter() - started:.1f} s")
    return url


def logs_figures(label: str, url: str) -> None:
    store = Store.open(url)
    try:
        print(f"--- {label}: {store.count_conversations():,} conversations")
        bench_search(store)
        bench_first_page(store, url)
    finally:
        store.close()


def cli_import(url: str, source: Path) -> str:
    """``support-console import FILE --db URL`` in a process of its own, as an agent or a script runs it;
    its summary line (the rate it prints is its import alone, without the process start). In this process
    the import would be timed against the garbage collector's passes over everything the benchmarks before
    it left in memory, which the command never has."""
    with tempfile.TemporaryDirectory() as home:
        done = subprocess.run(
            [sys.executable, "-m", "support_console", "import", str(source), "--db", url],
            capture_output=True, text=True, check=True, env={**os.environ, "HOME": home},
        )  # fmt: skip
    return done.stdout.strip().splitlines()[-1]


def import_figures(label: str, fresh_url: Callable[[], str], rows: int, source: Path, runs: int = 3) -> None:
    """The command-line import into ``runs`` fresh databases (median and spread), then a re-import of the
    same file into the last one."""
    rates: list[float] = []
    for _ in range(runs):
        url = fresh_url()
        summary = cli_import(url, source)
        found = re.search(r"([\d,]+) messages/s", summary)
        if found is None:
            raise RuntimeError(f"no rate in the import's summary: {summary!r}")
        rates.append(float(found.group(1).replace(",", "")))
    spread = f"{min(rates):,.0f}-{max(rates):,.0f}"
    print(f"{label}: import {rows:,} messages into a fresh database: {statistics.median(rates):,.0f} "
          f"messages/s median of {runs} ({spread}; target ≥ 20,000)")  # fmt: skip
    print(f"{label}: re-import: {cli_import(url, source)}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--import-rows", type=int, default=100_000)
    args = parser.parse_args()
    print(f"CPU calibration (fixed Python loop, lower is faster): {calibration_ms():.0f} ms")
    sqlite_db = ensure_big_db(args.messages, args.customers)
    with running_server() as server, tempfile.TemporaryDirectory() as tmp:
        postgres_url = big_postgres(server, args.messages, args.customers)
        logs_figures("SQLite", f"sqlite:///{sqlite_db}")
        logs_figures("PostgreSQL", postgres_url)
        source = Path(tmp) / "import.jsonl"
        write_import_file(source, args.import_rows)
        names = iter(range(1000))
        import_figures(
            "SQLite", lambda: f"sqlite:///{Path(tmp) / f'fresh{next(names)}.db'}", args.import_rows, source
        )
        import_figures(
            "PostgreSQL", lambda: server.create_database(f"import_{next(names)}"), args.import_rows, source
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
