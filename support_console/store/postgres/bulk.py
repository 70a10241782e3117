"""Bulk writes on PostgreSQL: the importer's fast paths (``COPY``, counted conversation inserts).

* **``COPY`` into a temporary table, then one ``INSERT … SELECT … ON CONFLICT DO NOTHING``**
  (:func:`insert_messages`): ``COPY`` is PostgreSQL's fastest way in but cannot skip duplicates, and an
  import re-run must skip the (conversation, external id) pairs it already wrote. The temporary table is
  the transaction's own (``ON COMMIT DROP``); its ``ord`` column keeps the rows' order, so ids stay
  in import order (chronological: ``tables.py``). The search vector is a generated column: nothing to do.
* **Conversations inserted after their messages, counters included** (:func:`reserve_conversation_ids`,
  :func:`insert_conversations_counted`), as on SQLite: the foreign keys that point at conversations are
  DEFERRABLE (made so by migration 1, :func:`make_foreign_keys_deferrable`) and deferred to the commit for
  that transaction. The ids are taken as ``max(id) + 1`` under the write lock (no other writer can insert
  meanwhile) and the sequence is moved past them afterwards, so the next ordinary insert does not collide.
* **``synchronous_commit = off``** for the import's transactions (``SET LOCAL`` in :func:`insert_messages`):
  a commit does not wait for its WAL flush. A crash can lose the last batches, never corrupt the database,
  and re-running the import skips what was written (external ids).
* **``jit = off``** for the same transactions: the counters' statements over a batch's conversations
  (``counters.update_counters``, :func:`insert_conversations_counted`) carry correlated subqueries whose
  estimated cost passes ``jit_above_cost``, and compiling them took 300–490 ms a statement (auto_explain)
  for 2 ms of work: most of the import's time, batch after batch.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import cache
from typing import Any, Final

import psycopg
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Connection

from support_console.core.clock import as_utc, utcnow
from support_console.core.errors import StoreError
from support_console.store.backend import BULK_COLUMNS, BULK_NULLABLE
from support_console.store.counters import newest_activity, unread, waiting_since

_STAGING: Final = "support_console_import"
_NULLABLE: Final = tuple(i for i, name in enumerate(BULK_COLUMNS) if name in BULK_NULLABLE)
_COLUMNS: Final = ", ".join(BULK_COLUMNS)
_DIALECT: Final = postgresql.psycopg.dialect()  # type: ignore[no-untyped-call]


def dbapi(conn: Connection) -> psycopg.Connection[Any]:
    """The psycopg connection under ``conn``, for ``COPY``."""
    raw = conn.connection.driver_connection
    assert isinstance(raw, psycopg.Connection)
    return raw


def make_foreign_keys_deferrable(conn: Connection) -> None:
    """Migration 1 (PostgreSQL): the foreign keys that point at conversations may wait for the commit.

    ``SET CONSTRAINTS … DEFERRED`` then lets the importer insert messages before their conversation; every
    other transaction still checks them at each statement (``INITIALLY IMMEDIATE``).
    """
    names = conn.exec_driver_sql(
        "SELECT conrelid::regclass::text, conname FROM pg_constraint "
        "WHERE contype = 'f' AND confrelid = 'conversations'::regclass"
    ).all()
    for table, name in names:
        conn.exec_driver_sql(f'ALTER TABLE {table} ALTER CONSTRAINT "{name}" DEFERRABLE INITIALLY IMMEDIATE')


def insert_messages(conn: Connection, rows: Sequence[Sequence[Any]]) -> int:
    """``Backend.insert_messages``: ``COPY`` into the staging table, then insert what is new, in order."""
    if not rows:
        return 0
    raw = dbapi(conn)
    with raw.cursor() as cursor:
        cursor.execute("SET LOCAL synchronous_commit = off")
        cursor.execute("SET LOCAL jit = off")  # see the module docstring
        cursor.execute(
            f"CREATE TEMPORARY TABLE IF NOT EXISTS {_STAGING} ON COMMIT DROP AS "
            f"SELECT 0 AS ord, {_COLUMNS} FROM messages WITH NO DATA"
        )
        cursor.execute(f"TRUNCATE {_STAGING}")
        with cursor.copy(f"COPY {_STAGING} (ord, {_COLUMNS}) FROM STDIN") as copy:
            for number, row in enumerate(rows):
                values = list(row)
                for i in _NULLABLE:
                    if values[i] == "":
                        values[i] = None
                copy.write_row((number, *values))
        cursor.execute(
            f"INSERT INTO messages ({_COLUMNS}) SELECT {_COLUMNS} FROM {_STAGING} ORDER BY ord "
            "ON CONFLICT DO NOTHING"
        )
        added = cursor.rowcount
        cursor.execute(f"TRUNCATE {_STAGING}")
    return int(added)


@contextmanager
def bulk_writing(conn: Connection) -> Iterator[None]:
    """Nothing to tune for the whole import: each batch's transaction sets what it needs (``SET LOCAL``),
    so no setting outlives it on a server session that PgBouncer may hand to another client."""
    yield


def reserve_conversation_ids(conn: Connection) -> int:
    """In a write transaction: the id the next new conversation gets (see the module docstring)."""
    if not conn.in_transaction():
        raise StoreError("reserve_conversation_ids needs a write transaction: use engine.begin().")
    conn.exec_driver_sql("SET CONSTRAINTS ALL DEFERRED")
    return int(conn.exec_driver_sql("SELECT coalesce(max(id), 0) FROM conversations").scalar_one()) + 1


def insert_conversations_counted(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """``Backend.insert_conversations_counted``: one INSERT … SELECT, then the sequence past the new ids."""
    if not rows:
        return
    now = utcnow().replace(tzinfo=None)
    columns = (
        [r["id"] for r in rows], [r["customer_id"] for r in rows], [r["status"] for r in rows],
        [r.get("persona_id") or None for r in rows],
        [as_utc(r["created_at"]).replace(tzinfo=None) for r in rows], [now] * len(rows),
    )  # fmt: skip
    # One array per column (unnest): six parameters, however many conversations.
    values = (
        "unnest(%s::integer[], %s::integer[], %s::varchar[], %s::varchar[], %s::timestamp[], "
        "%s::timestamp[]) AS v(column1, column2, column3, column4, column5, column6)"
    )
    with dbapi(conn).cursor() as cursor:
        cursor.execute(f"{_counted_insert()} FROM {values}", columns)
        cursor.execute(
            "SELECT setval(pg_get_serial_sequence('conversations', 'id'), "
            "greatest((SELECT max(id) FROM conversations), 1))"
        )


@cache
def _counted_insert() -> str:
    """The INSERT … SELECT head with ``counters.py``'s counters, compiled for PostgreSQL."""
    new: sa.ColumnElement[int] = sa.literal_column("v.column1")

    def sql(expression: sa.ColumnElement[Any]) -> str:
        compiled = expression.compile(dialect=_DIALECT, compile_kwargs={"literal_binds": True})
        return str(compiled).replace("%", "%%")

    everything = newest_activity(new, lambda m: sa.true())
    return (
        "INSERT INTO conversations (id, customer_id, status, persona_id, created_at, updated_at, "
        "unread_count, last_activity, waiting_since) SELECT v.column1, v.column2, v.column3, "
        f"v.column4, v.column5, v.column6, {sql(unread(new))}, {sql(everything)}, "
        f"{sql(waiting_since(new))}"
    )
