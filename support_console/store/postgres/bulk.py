"""Bulk writes on PostgreSQL: the importer's fast paths (``COPY``, counted conversation inserts).

* **``COPY``** (:func:`insert_messages`), PostgreSQL's fastest way in, which cannot skip duplicates, and an
  import re-run must skip the (conversation, external id) pairs it already wrote. So a batch whose rows
  all belong to conversations it creates (a first import: no message of theirs can exist yet) is copied
  straight into ``messages``, its own repeats skipped in Python; any other batch is copied into a
  temporary table, then inserted with one ``INSERT … SELECT … ON CONFLICT DO NOTHING``. The temporary
  table is the transaction's own (``ON COMMIT DROP``); its ``ord`` column keeps the rows' order, so ids
  stay in import order (chronological: ``tables.py``), as the straight ``COPY`` keeps them. The search
  vector is a generated column: nothing to do.
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

import json
import operator
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import cache
from typing import Any, Final

import psycopg
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Connection

from support_console.core.clock import utcnow
from support_console.core.errors import StoreError
from support_console.store.backend import BULK_COLUMNS
from support_console.store.counters import newest_activity, unread, waiting_since
from support_console.store.times import to_stored

_STAGING: Final = "support_console_import"
_COLUMNS: Final = ", ".join(BULK_COLUMNS)
_EXTERNAL_ID: Final = BULK_COLUMNS.index("external_id")
_conversation_of: Final = operator.itemgetter(BULK_COLUMNS.index("conversation_id"))
_DIALECT: Final = postgresql.psycopg.dialect()  # type: ignore[no-untyped-call]
#: The new conversations' rows, from one JSON array of arrays (:func:`insert_conversations_counted`).
_VALUES: Final = (
    "(SELECT (r->>0)::integer, (r->>1)::integer, r->>2, r->>3, (r->>4)::timestamp, (r->>5)::timestamp "
    "FROM json_array_elements(%s::json) AS r) AS v(column1, column2, column3, column4, column5, column6)"
)


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
    """``Backend.insert_messages``: straight ``COPY`` when every row belongs to a conversation this
    transaction creates, else through the staging table (see the module docstring)."""
    if not rows:
        return 0
    raw = dbapi(conn)
    with raw.cursor() as cursor:
        cursor.execute("SET LOCAL synchronous_commit = off")
        cursor.execute("SET LOCAL jit = off")  # see the module docstring
        newest = cursor.execute("SELECT coalesce(max(id), 0) FROM conversations").fetchone()
        if newest is not None and min(map(_conversation_of, rows)) > newest[0]:
            return _copy_new(cursor, rows)
        return _copy_staged(cursor, rows)


def _copy_new(cursor: psycopg.Cursor[Any], rows: Sequence[Sequence[Any]]) -> int:
    """Rows of conversations not inserted yet (their ids are above every existing one, and the write lock
    keeps them so): no message of theirs can be in the table, so only the batch's own repeats of a
    (conversation, external id) are skipped, here, and the rest is copied into ``messages`` in order."""
    seen: set[tuple[Any, Any]] = set()
    added = 0
    with cursor.copy(f"COPY messages ({_COLUMNS}) FROM STDIN") as copy:
        for row in rows:
            external = row[_EXTERNAL_ID]
            if external:
                key = (row[0], external)
                if key in seen:
                    continue
                seen.add(key)
            copy.write_row(row)
            added += 1
    return added


def _copy_staged(cursor: psycopg.Cursor[Any], rows: Sequence[Sequence[Any]]) -> int:
    """``COPY`` into the staging table, then insert what is new, in order."""
    cursor.execute(
        f"CREATE TEMPORARY TABLE IF NOT EXISTS {_STAGING} ON COMMIT DROP AS "
        f"SELECT 0 AS ord, {_COLUMNS} FROM messages WITH NO DATA"
    )
    cursor.execute(f"TRUNCATE {_STAGING}")
    with cursor.copy(f"COPY {_STAGING} (ord, {_COLUMNS}) FROM STDIN") as copy:
        for number, row in enumerate(rows):
            copy.write_row((number, *row))
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
    now = to_stored(utcnow())
    values = [
        (r["id"], r["customer_id"], r["status"], r.get("persona_id") or None, to_stored(r["created_at"]), now)
        for r in rows
    ]
    # One JSON parameter, however many conversations: json.dumps is C, where six arrays were dumped
    # element by element in Python (10% of the importer's own time), with the server waiting.
    with dbapi(conn).cursor() as cursor:
        cursor.execute(f"{_counted_insert()} FROM {_VALUES}", (json.dumps(values),))
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
