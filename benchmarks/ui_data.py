"""Databases for the UI benchmarks, built with the store's bulk path and cached under the temp directory.

``benchmarks/make_big_db.py`` (``ensure_big_db``) provides the 1,000,000-message database when present;
otherwise this builds an equivalent one: 1,000 customers with one conversation of 1,000 messages each.
Not a benchmark itself; the bench_ui_* scripts import it.
"""

from __future__ import annotations

import contextlib
import importlib.util
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from support_console.store import NewMessage, Store
from support_console.store.migrations import latest_version

T0 = datetime(2026, 1, 1, 8, 0, tzinfo=UTC)
CACHE = Path(tempfile.gettempdir()) / "support-console-bench"  # names carry the schema version they hold
TEXTS = (
    "Hi, my internet drops every evening since Tuesday. I restarted the router twice already.",
    "Thanks for writing in. Could you tell me the model of your router and when the drops happen?",
    "It is the HomeBox 3, and it happens around 8 pm, for about ten minutes each time.",
    "Thank you. I have scheduled a line check for tomorrow morning; you do not need to be at home.",
)


def _rows(conversation_id: int, count: int, start: int) -> list[NewMessage]:
    return [
        NewMessage(
            conversation_id=conversation_id,
            role="customer" if i % 2 == 0 else "agent",
            text=f"{TEXTS[i % 4]} (#{start + i})",
            created_at=T0 + timedelta(seconds=start + i),
            external_id=f"b{start + i}",
            approved_by=None if i % 2 == 0 else "bench",
        )
        for i in range(count)
    ]


def build(path: Path, customers: int, per_conversation: int) -> Path:
    """A database with ``customers`` customers, each with one open conversation of ``per_conversation``."""

    def fill(store: Store) -> None:
        batch: list[NewMessage] = []
        for c in range(customers):
            customer = store.add_customer(f"Customer {c:05d}", f"customer{c:05d}@example.com")
            assert customer.id is not None
            conversation = store.current_conversation(customer.id)
            assert conversation.id is not None
            batch.extend(_rows(conversation.id, per_conversation, c * per_conversation))
            if len(batch) >= 50_000:
                store.add_messages_bulk(batch)
                batch = []
        if batch:
            store.add_messages_bulk(batch)

    return cached(path, fill)


def cached(path: Path, fill: Callable[[Store], None]) -> Path:
    """``path`` if it exists; else a database filled by ``fill(store)`` under a partial name, renamed to
    ``path`` once complete (so an interrupted build is never taken for a cached one)."""
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    for leftover in path.parent.glob(partial.name + "*"):
        leftover.unlink()
    started = time.perf_counter()
    store = Store.open(f"sqlite:///{partial}")
    try:
        fill(store)
    finally:
        store.close()
    for suffix in ("-wal", "-shm"):
        Path(str(partial) + suffix).unlink(missing_ok=True)
    partial.rename(path)
    print(f"(built {path} in {time.perf_counter() - started:.1f} s)", file=sys.stderr)
    return path


def big_db() -> Path:
    """1,000,000 messages: make_big_db.ensure_big_db() (10,000 customers) if present, else our own build."""
    script = Path(__file__).with_name("make_big_db.py")
    if script.exists():
        spec = importlib.util.spec_from_file_location("make_big_db", script)
        if spec is not None and spec.loader is not None:
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            ensure = getattr(module, "ensure_big_db", None)
            if callable(ensure) and schema_version(path := Path(ensure())) == latest_version():
                return path
    return build(CACHE / f"million-v{latest_version()}.db", customers=1_000, per_conversation=1_000)


def long_conversation_db() -> Path:
    """One customer with a 10,000-message conversation."""
    return build(CACHE / f"ten-thousand-v{latest_version()}.db", customers=1, per_conversation=10_000)


def schema_version(path: Path) -> int | None:
    """The schema version a cached file is at. The cache is shared by every checkout on the machine, and a
    newer support-console migrates a file it opens: such a file is not this checkout's to use."""
    import sqlite3

    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
        found = conn.execute("SELECT max(version) FROM schema_version").fetchone()
    return None if found is None else found[0]


def message_count(path: Path) -> int:
    import sqlite3

    with sqlite3.connect(path) as conn:
        return int(conn.execute("select count(*) from messages").fetchone()[0])
