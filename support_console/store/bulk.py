"""Bulk writes: the importer's and the benchmarks' fast paths into the messages and conversations tables.

Bulk writes and the triggers: the insert trigger indexes one row at a time, and SQLite runs it in a
sub-transaction per statement at which FTS5 flushes its pending data; indexing a batch with one
``INSERT … SELECT`` costs about a quarter as much. So bulk writers (:func:`insert_messages_bulk`, the
importer) insert inside :func:`deferred_fts`, which makes the trigger stand aside for the duration of their
write transaction and indexes the batch at the end of it. Every other write is indexed by the triggers.
"""

from __future__ import annotations

import sqlite3
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from itertools import chain
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from support_console.core.errors import StoreError
from support_console.core.vocabulary import ROLE_CUSTOMER, STATE_SENT
from support_console.store.engine import insert_ignoring_duplicates, is_sqlite
from support_console.store.search import FTS_TABLE
from support_console.store.tables import Conversation, Message
from support_console.store.times import utcnow

#: Message columns a bulk insert may set, in the order of each row's values.
BULK_COLUMNS: Final = (
    "conversation_id", "role", "state", "text", "original_text", "persona_id", "model", "finish_reason",
    "prompt_tokens", "completion_tokens", "approved_by", "approved_at", "created_at", "updated_at",
    "external_id",
)  # fmt: skip


def stored_datetime(value: datetime | None) -> str | None:
    """The text SQLAlchemy's SQLite DateTime stores for ``value`` (naive UTC), so comparisons stay right."""
    if value is None:
        return None
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value.isoformat(sep=" ", timespec="microseconds")


#: The messages-table INSERT of a bulk write, for many rows per statement. Two per-row costs are avoided:
#: pysqlite binds ``None`` through its adapter lookup (slow), while a ``str`` binds directly, so optional
#: columns go through ``NULLIF(?, '')`` and callers may send ``''`` for NULL (``None`` still works); and the
#: CHECK constraints' ``IN (…)`` lists are set up once per statement, not once per row as an executemany does.
_NULLABLE: Final = frozenset(BULK_COLUMNS[4:12])
_BULK_INSERT_HEAD: Final = f"INSERT INTO messages ({', '.join(BULK_COLUMNS)}) VALUES "
_BULK_INSERT_ROW: Final = (
    "(" + ", ".join("NULLIF(?, '')" if c in _NULLABLE else "?" for c in BULK_COLUMNS) + ")"
)
#: Rows per INSERT statement (fewer when SQLite allows fewer than 500 * 15 parameters per statement).
_ROWS_PER_INSERT: Final = 500


def insert_messages_bulk(conn: Connection, rows: Sequence[Sequence[Any]]) -> int:
    """Insert ``rows`` (values in BULK_COLUMNS order), skipping (conversation, external id) repeats.

    Returns how many rows were added. Inside the caller's write transaction; on SQLite the rows are indexed
    for search set-based (:func:`deferred_fts`). Datetime columns are given as :func:`stored_datetime` text
    (formatted once by the caller); ``''`` in an optional column (original text … approved_at) means NULL.
    """
    if not rows:
        return 0
    if not is_sqlite(conn):
        return _insert_messages_portable(conn, rows)
    dbapi = conn.connection.driver_connection
    assert isinstance(dbapi, sqlite3.Connection)
    width = len(BULK_COLUMNS)
    per = max(1, min(_ROWS_PER_INSERT, dbapi.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER) // width))
    added = 0
    with deferred_fts(conn):
        for start in range(0, len(rows), per):
            chunk = rows[start : start + per]
            sql = _BULK_INSERT_HEAD + ", ".join([_BULK_INSERT_ROW] * len(chunk)) + " ON CONFLICT DO NOTHING"
            added += dbapi.execute(sql, list(chain.from_iterable(chunk))).rowcount
    return added  # rows the ON CONFLICT skipped are not counted


def _insert_messages_portable(conn: Connection, rows: Sequence[Sequence[Any]]) -> int:
    """insert_messages_bulk on databases other than SQLite: one executemany through SQLAlchemy."""
    params = [dict(zip(BULK_COLUMNS, row, strict=True)) for row in rows]
    for p in params:
        for column in _NULLABLE:
            if p[column] == "":
                p[column] = None
        for column in ("approved_at", "created_at", "updated_at"):
            if p[column] is not None:
                p[column] = datetime.fromisoformat(p[column])
    result = conn.execute(insert_ignoring_duplicates(Message.__table__, conn), params)  # type: ignore[attr-defined]
    return int(result.rowcount)


#: WAL pages between checkpoints while a bulk writer runs (SQLite's default is 1,000, i.e. about 4 MB).
_BULK_CHECKPOINT_PAGES: Final = 10_000


@contextmanager
def bulk_writing(conn: Connection) -> Iterator[None]:
    """For a connection about to write many batches (outside a transaction): fewer, larger WAL checkpoints.

    With the default, the committing writer copies the WAL back into the database every few batches, and
    the pages a batch rewrites (index and FTS segment pages) are copied again and again. Afterwards the
    connection gets the default back and checkpoints what is left (PASSIVE: readers and writers go on).
    """
    if not is_sqlite(conn):
        yield
        return
    dbapi = conn.connection.driver_connection
    assert isinstance(dbapi, sqlite3.Connection)
    default = dbapi.execute("PRAGMA wal_autocheckpoint").fetchone()[0]
    dbapi.execute(f"PRAGMA wal_autocheckpoint = {_BULK_CHECKPOINT_PAGES}")
    try:
        yield
    finally:
        dbapi.execute(f"PRAGMA wal_autocheckpoint = {int(default)}")
        if not conn.in_transaction():
            dbapi.execute("PRAGMA wal_checkpoint(PASSIVE)")


@contextmanager
def deferred_fts(conn: Connection) -> Iterator[int]:
    """Within a write transaction: messages inserted in the block are indexed together at its end.

    The insert trigger indexes row by row, which costs about four times as much as indexing a batch with
    one ``INSERT … SELECT``. So, while a row is in ``fts_deferred`` the trigger stands aside; this block
    puts that row there, and at its end indexes every message with an id above the largest one before it
    (yielded) and removes the row. All in the caller's transaction (``BEGIN IMMEDIATE``, so no other writer
    interleaves): a crash rolls everything back, and no other connection ever sees the marker. The index is
    brought up to date even when the block raises, so a caller that commits anyway commits a consistent index.
    """
    if not conn.in_transaction():
        raise StoreError("deferred_fts needs a write transaction: use it inside engine.begin().")
    before = int(conn.exec_driver_sql("SELECT coalesce(max(id), 0) FROM messages").scalar_one())
    if not _has_deferral(conn):
        yield before
        return
    conn.exec_driver_sql("INSERT INTO fts_deferred (since) VALUES (?)", (before,))
    try:
        yield before
    finally:
        conn.exec_driver_sql(
            f"INSERT INTO {FTS_TABLE}(rowid, text) SELECT id, text FROM messages WHERE id > ?", (before,)
        )
        conn.exec_driver_sql("DELETE FROM fts_deferred")


def _has_deferral(conn: Connection) -> bool:
    """Whether this database has the deferrable FTS trigger (migration :func:`migrate_fts_deferral`)."""
    if not is_sqlite(conn):
        return False
    found = conn.exec_driver_sql(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'fts_deferred'"
    ).first()
    return found is not None


def insert_conversations_bulk(conn: Connection, rows: Sequence[dict[str, Any]]) -> list[int]:
    """Insert conversations (customer_id, status, persona_id, created_at) and return their ids, in order.

    On SQLite one executemany per batch: under our write lock new rowids follow the table's maximum in
    insertion order, which is checked against the customer ids before the ids are trusted. Elsewhere one
    insert per row. (No FTS trigger on this table, so executemany is fast here.)
    """
    table = Conversation.__table__  # type: ignore[attr-defined]
    if not rows:
        return []
    if not is_sqlite(conn):
        keys = [
            conn.execute(table.insert().values(**r, updated_at=r["created_at"])).inserted_primary_key
            for r in rows
        ]
        return [int(key[0]) for key in keys if key is not None]
    before = int(conn.execute(sa.select(sa.func.coalesce(sa.func.max(table.c.id), 0))).scalar_one())
    dbapi = conn.connection.driver_connection
    assert isinstance(dbapi, sqlite3.Connection)
    params = []
    for r in rows:
        when = stored_datetime(r["created_at"])
        params.append((r["customer_id"], r["status"], r.get("persona_id") or "", when, when))
    # Plain pysqlite (tuples, no per-row SQLAlchemy processing): an import creates many conversations.
    dbapi.executemany(
        "INSERT INTO conversations (customer_id, status, persona_id, created_at, updated_at, unread_count) "
        "VALUES (?, ?, NULLIF(?, ''), ?, ?, 0)",
        params,
    )
    made = conn.exec_driver_sql(
        "SELECT id, customer_id FROM conversations WHERE id > ? ORDER BY id", (before,)
    ).all()
    if [c for _, c in made] != [r["customer_id"] for r in rows] or [i for i, _ in made] != list(
        range(before + 1, before + 1 + len(rows))
    ):
        raise StoreError("The new conversations could not be matched to their tickets: run the import again.")
    return [int(i) for i, _ in made]


def _newest_sql(conversation: str, after: str = "0") -> str:
    """``last_activity`` (store/models.py): the newest time of the conversation's messages (those > after)."""
    where = f"m.conversation_id = {conversation} AND m.id > {after}"
    return f"(SELECT max(m.created_at) FROM messages m WHERE {where})"


def _unread_sql(conversation: str) -> str:
    """``unread_count`` (store/models.py): customer messages after the last sent reply, on the index."""
    return (
        f"(SELECT count(*) FROM messages m WHERE m.conversation_id = {conversation} "
        f"AND m.role = '{ROLE_CUSTOMER}' AND m.id > coalesce((SELECT max(s.id) FROM messages s "
        f"WHERE s.conversation_id = {conversation} AND s.state = '{STATE_SENT}'), 0))"
    )


def update_counters_bulk(conn: Connection, before: int, up_to: int | None = None) -> None:
    """Set-based upkeep of the conversations' counters after messages with id > ``before`` were inserted.

    Same definitions as ``store/models.py``: ``last_activity`` is the newest message time, ``unread_count``
    the customer messages after the last sent reply (recounted on the (conversation_id, id) index). Only
    conversations with an id up to ``up_to`` when given (the others are new: see
    :func:`insert_conversations_counted`). One statement on SQLite; elsewhere the store's per-conversation
    upkeep.
    """
    if not is_sqlite(conn):
        _update_counters_portable(conn, before)
        return
    newest = _newest_sql("conversations.id", ":before")
    conn.execute(
        sa.text(
            "UPDATE conversations SET "
            f"last_activity = max(coalesce(last_activity, {newest}), {newest}), "
            f"unread_count = {_unread_sql('conversations.id')}, updated_at = :now "
            "WHERE id IN (SELECT DISTINCT conversation_id FROM messages "
            "WHERE id > :before AND conversation_id <= :up_to)"
        ),
        {"now": stored_datetime(datetime.now(UTC)), "before": before, "up_to": up_to or sys.maxsize},
    )


def reserve_conversation_ids(conn: Connection) -> int:
    """SQLite, in a write transaction: the id the next new conversation gets, for messages inserted first.

    Their conversations are then inserted by :func:`insert_conversations_counted` in the same transaction;
    until then the foreign keys wait for the commit (``defer_foreign_keys``, reset by SQLite at its end).
    """
    if not is_sqlite(conn) or not conn.in_transaction():
        raise StoreError("reserve_conversation_ids needs a SQLite write transaction: use engine.begin().")
    conn.exec_driver_sql("PRAGMA defer_foreign_keys = ON")
    return int(conn.exec_driver_sql("SELECT coalesce(max(id), 0) FROM conversations").scalar_one()) + 1


def insert_conversations_counted(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Insert conversations whose messages this transaction already inserted, counters included.

    ``rows``: id (from :func:`reserve_conversation_ids`), customer_id, status, persona_id, created_at.
    Inserting a conversation with its final counters runs the customer roll-up trigger once, where inserting
    it first and counting after runs it twice (a third of an import's time went to those two).
    """
    if not rows:
        return
    now = stored_datetime(datetime.now(UTC))
    params = [
        (
            r["id"],
            r["customer_id"],
            r["status"],
            r.get("persona_id") or "",
            stored_datetime(r["created_at"]),
            now,
        )
        for r in rows
    ]
    dbapi = conn.connection.driver_connection
    assert isinstance(dbapi, sqlite3.Connection)
    dbapi = conn.connection.driver_connection
    assert isinstance(dbapi, sqlite3.Connection)
    per = max(1, min(_ROWS_PER_INSERT, dbapi.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER) // 6))
    for start in range(0, len(params), per):
        chunk = params[start : start + per]
        values = ", ".join(["(?, ?, ?, ?, ?, ?)"] * len(chunk))
        dbapi.execute(f"{_COUNTED_INSERT} FROM (VALUES {values}) AS v", list(chain.from_iterable(chunk)))


#: One INSERT … SELECT for many conversations (so the CHECK's ``IN`` list is set up once, not per row).
_COUNTED_INSERT: Final = (
    "INSERT INTO conversations (id, customer_id, status, persona_id, created_at, updated_at, unread_count, "
    "last_activity) SELECT v.column1, v.column2, v.column3, NULLIF(v.column4, ''), v.column5, v.column6, "
    f"{_unread_sql('v.column1')}, {_newest_sql('v.column1')}"
)


def _update_counters_portable(conn: Connection, before: int) -> None:
    """update_counters_bulk on databases other than SQLite: the same counters, per conversation.

    Reads only the new rows (primary key range), with a fixed number of statements whatever the number of
    conversations, so importing in batches stays linear.
    """
    m = Message.__table__.c  # type: ignore[attr-defined]
    c = Conversation.__table__  # type: ignore[attr-defined]
    new = m.id > before
    summary = {
        row[0]: (row[1], row[2])
        for row in conn.execute(
            sa.select(
                m.conversation_id,
                sa.func.max(m.created_at),
                sa.func.sum(sa.case((m.role == ROLE_CUSTOMER, 1), else_=0)),
            )
            .where(new)
            .group_by(m.conversation_id)
        )
    }
    if not summary:
        return
    last_sent = (
        sa.select(m.conversation_id, sa.func.max(m.id).label("last_id"))
        .where(new, m.state == STATE_SENT)
        .group_by(m.conversation_id)
        .subquery()
    )
    unread_after_sent: dict[int, int] = {
        row[0]: int(row[1])
        for row in conn.execute(
            sa.select(m.conversation_id, sa.func.count())
            .join(
                last_sent,
                sa.and_(last_sent.c.conversation_id == m.conversation_id, m.id > last_sent.c.last_id),
            )
            .where(m.role == ROLE_CUSTOMER)
            .group_by(m.conversation_id)
        )
    }
    replied = set(conn.execute(sa.select(last_sent.c.conversation_id)).scalars())
    ids = sorted(summary)
    old: dict[int, tuple[datetime | None, int]] = {}
    for start in range(0, len(ids), 1000):
        chunk = ids[start : start + 1000]
        query = sa.select(c.c.id, c.c.last_activity, c.c.unread_count).where(c.c.id.in_(chunk))
        old.update({row[0]: (row[1], row[2]) for row in conn.execute(query)})
    now = utcnow()
    updates = []
    for conversation_id in ids:
        newest, new_customer = summary[conversation_id]
        last_activity, unread = old[conversation_id]
        if conversation_id in replied:
            unread = unread_after_sent.get(conversation_id, 0)
        else:
            unread += int(new_customer)
        if last_activity is not None and last_activity > newest:
            newest = last_activity
        updates.append({"cid": conversation_id, "la": newest, "unread": unread, "now": now})
    conn.execute(
        c.update()
        .where(c.c.id == sa.bindparam("cid"))
        .values(
            last_activity=sa.bindparam("la"),
            unread_count=sa.bindparam("unread"),
            updated_at=sa.bindparam("now"),
        ),
        updates,
    )
