"""Build (once) a synthetic support database: 1,000,000 messages across 10,000 customers.

Usage: ``python benchmarks/make_big_db.py [--messages N] [--customers N] [--force]``; prints the path and
how long it took. Other benchmarks call :func:`ensure_big_db` and reuse the cached file, which lives under
``/tmp/support-console-bench/`` keyed by the schema version and the sizes: a schema change builds a new one.

The data goes through the same write path as ``support-console import`` (``Store.bulk_importer``: customers,
messages and conversations per batch, indexed for search per batch), so the file has exactly the schema,
indexes, triggers and counters a real database has. Each customer has ten conversations (tickets) of ten
messages: customer messages, sent replies (half AI-assisted, some edited) and a few internal notes, with
text drawn from support phrases so full-text search has realistic word frequencies. A real queue has
customers waiting: one open ticket in ten (2% of all, 2,000 conversations) ends with the customer's
message instead of a reply, so the console's default "needs a reply" view has rows.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from support_console.core.matching import fold  # noqa: E402
from support_console.store import Store  # noqa: E402
from support_console.store.migrations import latest_version  # noqa: E402
from support_console.store.times import to_stored  # noqa: E402

CACHE_DIR = Path("/tmp/support-console-bench")
PERSONAS = ("xbox-support", "billing-refunds", "tech-support")
STATUSES = ("resolved", "resolved", "resolved", "pending", "open")
AGENTS = ("Priya Nair", "Marcus Webb", "Elena Rossi", "Tom Okafor", "Sam Lee")
CUSTOMER_LINES = (
    "my controller keeps disconnecting from the console every few minutes",
    "I was charged twice for my Game Pass subscription this month",
    "the app crashes right after the splash screen since the last update",
    "I can't sign in, it says my password is wrong but I just reset it",
    "the disc drive makes a grinding noise and won't read any discs",
    "please refund the order, the game never downloaded",
    "NAT type is strict and party chat does not work",
    "wifi drops every few minutes on my laptop but other devices are fine",
    "I need an invoice with our VAT number for the business purchase",
    "the console turns off by itself after twenty minutes of playing",
    "my gamertag change says the name is taken",
    "install fails at 87 percent with error 0x80070643",
)
REPLY_LINES = (
    "thanks for the details, please update the controller firmware from Settings and try again",
    "I've refunded the duplicate charge; it takes 3-5 business days to appear on your card",
    "please repair the app from Settings > Apps > Advanced options, then restart",
    "for your security use the account recovery form; never share your password with anyone",
    "this sounds like a hardware fault, so I've started a repair under your warranty",
    "enable UPnP on your router, restart it and test the NAT type again",
    "turn off power saving on the wifi adapter in Device Manager",
    "you can download the VAT invoice from your order history page",
)
NOTES = (
    "checked the order history, charge is a duplicate",
    "escalated to tier 2",
    "customer verified by email",
)


WAITING_EVERY = 50
"""One ticket in 50 waits for a reply: those numbered 4 modulo 50, all of them open (``STATUSES[4]``)."""


def db_path(messages: int, customers: int) -> Path:
    """The cache file for this schema version and size (``-waiting``: built since tickets wait for replies;
    older files, where every ticket ended with a reply, are not reused)."""
    return CACHE_DIR / f"big-v{latest_version()}-{messages}m-{customers}c-waiting.db"


def waits(ticket: int) -> bool:
    """Whether the ticket's last message is the customer's (an open ticket waiting for a reply)."""
    return ticket % WAITING_EVERY == len(STATUSES) - 1


Row = tuple[object, ...]  # a message in the import parser's layout (import_rows.parse_batches)


def _ticket_rows(ticket: int, when: datetime, size: int, rng: random.Random) -> list[Row]:
    """One ticket's messages: customer and reply alternate; some tickets get a note, a few end with the
    customer waiting (:func:`waits`). None is NULL (``Backend.insert_messages``)."""
    persona = PERSONAS[ticket % len(PERSONAS)]
    rows: list[Row] = []
    for n in range(size):
        stamp = to_stored(when + timedelta(minutes=7 * n))
        key = f"T{ticket}/{n}"
        if n == size - 2 and ticket % 4 == 0:
            rows.append(("note", "note", rng.choice(NOTES), *[None] * 8, stamp, stamp, key))
        elif n % 2 == 0 or (n == size - 1 and waits(ticket)):
            text = f"{rng.choice(CUSTOMER_LINES)} (ticket {ticket})"
            rows.append(("customer", "received", text, *[None] * 8, stamp, stamp, key))
        else:
            rows.append(_reply(persona, stamp, key, rng))
    return rows


def _reply(persona: str, stamp: str, key: str, rng: random.Random) -> Row:
    """A sent reply: half AI-assisted (of those, 40% sent unchanged), half hand-written."""
    text = rng.choice(REPLY_LINES)
    agent = rng.choice(AGENTS)
    if rng.random() < 0.5:
        return ("agent", "sent", text, None, persona, None, None, None, None, agent, stamp, stamp, stamp, key)
    original = text if rng.random() < 0.4 else text.replace("please", "kindly") + " Let me know."
    ai = (original, persona, "gpt-4o-2024-08-06", "stop", 600, 60, agent)
    return ("agent", "sent", text, *ai, stamp, stamp, stamp, key)


def build(path: Path, messages: int, customers: int, *, per_ticket: int = 10, batch: int = 10_000) -> None:
    """Write the synthetic database to ``path`` (replacing it)."""
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    store = Store.open(f"sqlite:///{path}")
    try:
        fill(store, messages, customers, per_ticket=per_ticket, batch=batch)
    finally:
        store.close()  # the last connection closing checkpoints the WAL into the file


def fill(store: Store, messages: int, customers: int, *, per_ticket: int = 10, batch: int = 10_000) -> None:
    """Write the synthetic conversations into ``store`` (any backend: bench_postgres.py fills PostgreSQL)."""
    rng = random.Random(42)
    start = datetime(2024, 1, 1, tzinfo=UTC)
    tickets = messages // per_ticket
    span = timedelta(days=700) / max(1, tickets)
    with store.bulk_importer() as writer:
        for first in range(0, tickets, batch // per_ticket):
            rows: list[tuple[tuple[str, str], Row]] = []
            firsts: dict[tuple[str, str], tuple[str, str, str, str]] = {}
            statuses: dict[tuple[str, str], str] = {}
            for t in range(first, min(tickets, first + batch // per_ticket)):
                owner = t % customers
                email = f"customer{owner}@example.com"
                key = (fold(email), f"T{t}")
                when = start + span * t
                firsts[key] = (email, f"Customer {owner}", to_stored(when), PERSONAS[t % len(PERSONAS)])
                statuses[key] = STATUSES[t % len(STATUSES)]
                rows.extend((key, row) for row in _ticket_rows(t, when, per_ticket, rng))
            writer.write(rows, firsts, statuses)


def ensure_big_db(messages: int = 1_000_000, customers: int = 10_000, *, force: bool = False) -> Path:
    """The cached database of this size, built first if missing (prints the build time)."""
    path = db_path(messages, customers)
    if path.exists() and not force:
        return path
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    building = path.with_suffix(f".building-{os.getpid()}")  # concurrent builders never share a file
    started = time.perf_counter()
    build(building, messages, customers)
    building.rename(path)
    for suffix in ("-wal", "-shm"):
        Path(f"{building}{suffix}").unlink(missing_ok=True)
    seconds = time.perf_counter() - started
    print(f"built {path} ({messages:,} messages, {customers:,} customers) in {seconds:.1f} s "
          f"({messages / seconds:,.0f} messages/s)")  # fmt: skip
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--force", action="store_true", help="rebuild even if the cached file exists")
    args = parser.parse_args()
    started = time.perf_counter()
    path = ensure_big_db(args.messages, args.customers, force=args.force)
    size = path.stat().st_size / 1e6
    print(f"database: {path} ({size:,.0f} MB; ready in {time.perf_counter() - started:.1f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
