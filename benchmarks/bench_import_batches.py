"""The importer's batch size: import speed against how long each batch holds the write lock, side by side.

Each batch is one write transaction, so its size trades the import's speed (a batch costs some tens of
milliseconds whatever its size) against the longest wait of another agent's write meanwhile (on
PostgreSQL every writer queues on the team's write lock; on SQLite, on the file's). This imports the same
100,000-message file into fresh SQLite and PostgreSQL databases with each batch size, the sizes
interleaved run after run, and prints the median speed and how long a batch took: the time between two
of the importer's progress reports (one comes after each batch), so at most the time it held the lock.

Usage: ``python benchmarks/bench_import_batches.py [--sizes 3000,10000] [--runs 3] [--rows 100000]``.
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.bench_logs import calibration_ms, write_import_file  # noqa: E402
from support_console.store import Store  # noqa: E402
from support_console.workflows.importer import BATCH_ROWS, import_file  # noqa: E402
from tests.pg_server import running_server  # noqa: E402

Figures = tuple[float, list[float]]  # messages/s, each batch's seconds


def one_import(url: str, source: Path, batch_rows: int) -> Figures:
    """Import ``source`` into the fresh database at ``url``; its speed and its batches' durations."""
    store = Store.open(url)
    marks: list[float] = []
    try:
        report = import_file(store, source, lambda _d, _t: marks.append(time.perf_counter()), batch_rows)
    finally:
        store.close()
    # Between two reports: one batch written (and any wait for the parser, so at most its lock time). The
    # first batch is left out (it includes starting the parser), and the last report is the end's.
    batches = [later - earlier for earlier, later in itertools.pairwise(marks)][:-1]
    return report.added / report.seconds, batches


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default=f"3000,{BATCH_ROWS}")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--rows", type=int, default=100_000)
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")]
    results: dict[tuple[str, int], list[Figures]] = {}
    print(f"calibration {calibration_ms():.0f} ms (lower is a faster machine)")
    with running_server() as server, tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "import.jsonl"
        write_import_file(source, args.rows)
        for run in range(args.runs):
            for size in sizes if run % 2 == 0 else sizes[::-1]:
                for backend in ("sqlite", "postgresql"):
                    name = f"r{run}_{size}"
                    sqlite = f"sqlite:///{Path(tmp) / name}.db"
                    url = sqlite if backend == "sqlite" else server.create_database(name)
                    results.setdefault((backend, size), []).append(one_import(url, source, size))
    for (backend, size), figures in sorted(results.items()):
        speeds = [speed for speed, _batches in figures]
        batches = [seconds * 1000 for _speed, durations in figures for seconds in durations]
        print(
            f"{backend:10s} {size:6,d} rows a batch: {statistics.median(speeds):7,.0f} messages/s median "
            f"({min(speeds):,.0f}-{max(speeds):,.0f}), a batch {statistics.median(batches):4.0f} ms median, "
            f"{max(batches):4.0f} ms longest"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
