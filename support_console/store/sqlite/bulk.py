"""Bulk writes on SQLite: the importer's fast paths into the messages and conversations tables.

Three tricks, each measured by ``benchmarks/bench_logs.py`` (import speed):

* **Multi-row INSERTs on the raw pysqlite connection** (:func:`insert_messages`): no per-row SQLAlchemy
  processing; the CHECK constraints' ``IN (…)`` lists are set up once per statement, not once per row as an
  executemany does. The rows are indexed for search per batch (``fts.deferred_fts``).
* **Conversations inserted after their messages, counters included** (:func:`reserve_conversation_ids`,
  :func:`insert_conversations_counted`): inserting a conversation with its final counters runs the customer
  roll-up trigger once, where inserting it first and counting after runs it twice (a third of an import's
  time went to those two). The counters are ``counters.py``'s own expressions, compiled into the INSERT.
* **Fewer, larger WAL checkpoints** while an import runs (:func:`bulk_writing`).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from functools import cache
from itertools import chain
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.dialects import sqlite as sqlite_dialect
from sqlalchemy.engine import Connection

from support_console.core.clock import utcnow
from support_console.core.errors import StoreError
from support_console.store.backend import BULK_COLUMNS
from support_console.store.counters import newest_activity, unread, waiting_since
from support_console.store.sqlite.connection import dbapi
from support_console.store.sqlite.fts import deferred_fts
from support_console.store.times import to_stored

_BULK_INSERT_HEAD: Final = f"INSERT INTO messages ({', '.join(BULK_COLUMNS)}) VALUES "
_BULK_INSERT_ROW: Final = "(" + ", ".join("?" for _ in BULK_COLUMNS) + ")"
#: Rows per INSERT statement (fewer when SQLite allows fewer parameters per statement).
_ROWS_PER_INSERT: Final = 500
#: WAL pages between checkpoints while a bulk writer runs (SQLite's default is 1,000, i.e. about 4 MB).
_BULK_CHECKPOINT_PAGES: Final = 10_000


def _per_statement(raw: sqlite3.Connection, width: int) -> int:
    return max(1, min(_ROWS_PER_INSERT, raw.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER) // width))


def insert_messages(conn: Connection, rows: Sequence[Sequence[Any]]) -> int:
    """``Backend.insert_messages``: multi-row INSERTs, ``ON CONFLICT DO NOTHING``, indexed per batch."""
    if not rows:
        return 0
    raw = dbapi(conn)
    per = _per_statement(raw, len(BULK_COLUMNS))
    added = 0
    with deferred_fts(conn):
        for start in range(0, len(rows), per):
            chunk = rows[start : start + per]
            sql = _BULK_INSERT_HEAD + ", ".join([_BULK_INSERT_ROW] * len(chunk)) + " ON CONFLICT DO NOTHING"
            added += raw.execute(sql, list(chain.from_iterable(chunk))).rowcount
    return added  # rows the ON CONFLICT skipped are not counted


@contextmanager
def bulk_writing(conn: Connection) -> Iterator[None]:
    """For a connection about to write many batches (outside a transaction): fewer, larger WAL checkpoints.

    With the default, the committing writer copies the WAL back into the database every few batches, and
    the pages a batch rewrites (index and FTS segment pages) are copied again and again. Afterwards the
    connection gets the default back and checkpoints what is left (PASSIVE: readers and writers go on).
    """
    raw = dbapi(conn)
    default = raw.execute("PRAGMA wal_autocheckpoint").fetchone()[0]
    raw.execute(f"PRAGMA wal_autocheckpoint = {_BULK_CHECKPOINT_PAGES}")
    try:
        yield
    except BaseException:
        # The import's own error (a full disk, say) is what the user must see, not this clean-up's.
        with suppress(sqlite3.Error):
            raw.execute(f"PRAGMA wal_autocheckpoint = {int(default)}")
        raise
    raw.execute(f"PRAGMA wal_autocheckpoint = {int(default)}")
    if not conn.in_transaction():
        with suppress(sqlite3.Error):  # an optimisation only: the next writer checkpoints anyway
            raw.execute("PRAGMA wal_checkpoint(PASSIVE)")


def reserve_conversation_ids(conn: Connection) -> int:
    """In a write transaction: the id the next new conversation gets, for messages inserted first.

    Their conversations are then inserted by :func:`insert_conversations_counted` in the same transaction;
    until then the foreign keys wait for the commit (``defer_foreign_keys``, reset by SQLite at its end).
    """
    if not conn.in_transaction():
        raise StoreError("reserve_conversation_ids needs a write transaction: use engine.begin().")
    conn.exec_driver_sql("PRAGMA defer_foreign_keys = ON")
    return int(conn.exec_driver_sql("SELECT coalesce(max(id), 0) FROM conversations").scalar_one()) + 1


def insert_conversations_counted(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """``Backend.insert_conversations_counted``: one INSERT … SELECT per chunk of conversations."""
    if not rows:
        return
    now = to_stored(utcnow())
    params = [
        (r["id"], r["customer_id"], r["status"], r.get("persona_id") or "", to_stored(r["created_at"]), now)
        for r in rows
    ]
    raw = dbapi(conn)
    per = _per_statement(raw, 6)
    for start in range(0, len(params), per):
        chunk = params[start : start + per]
        values = ", ".join(["(?, ?, ?, ?, ?, ?)"] * len(chunk))
        raw.execute(f"{_counted_insert()} FROM (VALUES {values}) AS v", list(chain.from_iterable(chunk)))


@cache
def _counted_insert() -> str:
    """The INSERT … SELECT head: each conversation with ``counters.py``'s counters, compiled for SQLite."""
    new: sa.ColumnElement[int] = sa.literal_column("v.column1")

    def sql(expression: sa.ColumnElement[Any]) -> str:
        compiled = expression.compile(
            dialect=sqlite_dialect.dialect(), compile_kwargs={"literal_binds": True}
        )
        return str(compiled)

    everything = newest_activity(new, lambda m: sa.true())
    return (
        "INSERT INTO conversations (id, customer_id, status, persona_id, created_at, updated_at, "
        "unread_count, last_activity, waiting_since) SELECT v.column1, v.column2, v.column3, "
        f"NULLIF(v.column4, ''), v.column5, v.column6, {sql(unread(new))}, {sql(everything)}, "
        f"{sql(waiting_since(new))}"
    )
