"""Full-text search on SQLite: an FTS5 index over message text, kept in sync by triggers.

Why FTS5 and why this shape:

* ``messages_fts`` is an *external-content* FTS5 table over ``messages.text``: the text is stored once (in
  ``messages``) and the index holds only tokens. Triggers on insert, update of ``text`` and delete keep it in
  sync on every write, whoever writes (the store, the importer, another process). The migration
  (:func:`create_fts5`, version 2) also indexes the rows that already exist, so upgrading a database makes
  its whole history searchable. The ``unicode61 remove_diacritics 2`` tokenizer folds case and accents.
* User input never reaches FTS5 syntax: every term is quoted (:func:`fts_query`), so ``"``, ``*``, ``AND``,
  ``NEAR`` or ``[bold]`` are searched as words, never parsed as operators. A trailing ``*`` on a term is kept
  as a prefix search, the one operator worth offering.
* Newest first means by message id; FTS5 walks its index in descending rowid order, so the first page of a
  common word costs no sort, and the snippets are made only for the rows returned.
* Bulk writers index their batches set-based (:func:`deferred_fts`): the insert trigger indexes one row at a
  time, and SQLite runs it in a sub-transaction per statement at which FTS5 flushes its pending data;
  indexing a batch with one ``INSERT … SELECT`` costs about a quarter as much.

On a SQLite built without FTS5 the migrations do nothing and :func:`full_text_search` returns None: the store
then scans with LIKE (``store/search.py``).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from support_console.core.errors import StoreError
from support_console.store.backend import Snippet
from support_console.store.search import (
    SNIPPET_CLOSE,
    SNIPPET_ELLIPSIS,
    SNIPPET_OPEN,
    parse_marked,
    query_terms,
)
from support_console.store.tables import CONVERSATIONS, MESSAGES

FTS_TABLE: Final = "messages_fts"
#: Tokens around the match in a snippet (FTS5 allows at most 64).
_SNIPPET_TOKENS: Final = 16
#: Up to this many conversations, a customer-filtered search starts from the customer's messages.
_FEW_CONVERSATIONS: Final = 1000

_M = MESSAGES.c
_C = CONVERSATIONS.c


# ---------------------------------------------------------------------------------------------- migrations


def create_fts5(conn: Connection) -> None:
    """Migration 2: the FTS5 index over messages.text, its sync triggers, and the index of existing rows."""
    if not _fts5_compiled(conn):
        return
    statements = (
        f"CREATE VIRTUAL TABLE IF NOT EXISTS {FTS_TABLE} USING fts5("
        "text, content='messages', content_rowid='id', tokenize='unicode61 remove_diacritics 2')",
        f"CREATE TRIGGER IF NOT EXISTS messages_fts_ai AFTER INSERT ON messages BEGIN "
        f"INSERT INTO {FTS_TABLE}(rowid, text) VALUES (new.id, new.text); END",
        f"CREATE TRIGGER IF NOT EXISTS messages_fts_ad AFTER DELETE ON messages BEGIN "
        f"INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, text) VALUES ('delete', old.id, old.text); END",
        f"CREATE TRIGGER IF NOT EXISTS messages_fts_au AFTER UPDATE OF text ON messages BEGIN "
        f"INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, text) VALUES ('delete', old.id, old.text); "
        f"INSERT INTO {FTS_TABLE}(rowid, text) VALUES (new.id, new.text); END",
        # Index every row already there: an upgraded database is searchable at once.
        f"INSERT INTO {FTS_TABLE}({FTS_TABLE}) VALUES ('rebuild')",
    )
    for statement in statements:
        conn.exec_driver_sql(statement)


def create_fts_deferral(conn: Connection) -> None:
    """Migration 6: let bulk writers index a batch at once (:func:`deferred_fts`) instead of row by row.

    Adds the ``fts_deferred`` marker table (empty except inside a bulk writer's transaction) and makes the
    insert trigger stand aside while it holds a row. A trigger cannot see a connection's temp tables, hence a
    table in the main schema. Also lets FTS5 merge index segments 16 at a time rather than 4 (``automerge``):
    less merging work per import batch, while searches still read few segments.
    """
    if not has_fts(conn):
        return
    statements = (
        "CREATE TABLE IF NOT EXISTS fts_deferred (since INTEGER NOT NULL)",
        "DROP TRIGGER IF EXISTS messages_fts_ai",
        "CREATE TRIGGER messages_fts_ai AFTER INSERT ON messages "
        "WHEN NOT EXISTS (SELECT 1 FROM fts_deferred) BEGIN "
        f"INSERT INTO {FTS_TABLE}(rowid, text) VALUES (new.id, new.text); END",
        f"INSERT INTO {FTS_TABLE}({FTS_TABLE}, rank) VALUES ('automerge', 16)",
    )
    for statement in statements:
        conn.exec_driver_sql(statement)


def _fts5_compiled(conn: Connection) -> bool:
    """Whether this SQLite library has FTS5 (virtually all builds do; a few minimal ones do not)."""
    options = {row[0] for row in conn.exec_driver_sql("PRAGMA compile_options").all()}
    if "ENABLE_FTS5" in options:
        return True
    try:  # FTS5 can also be built in without the compile option: ask it directly.
        conn.exec_driver_sql("CREATE VIRTUAL TABLE temp.support_console_fts5_probe USING fts5(x)")
    except sa.exc.DBAPIError:
        return False
    conn.exec_driver_sql("DROP TABLE temp.support_console_fts5_probe")
    return True


def _has_table(conn: Connection, name: str) -> bool:
    found = conn.exec_driver_sql(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)
    ).first()
    return found is not None


def has_fts(conn: Connection) -> bool:
    """Whether the FTS5 index exists in this database (it does after migration on SQLite with FTS5)."""
    return _has_table(conn, FTS_TABLE)


# ---------------------------------------------------------------------------------------------- bulk index


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
    if not _has_table(conn, "fts_deferred"):
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


# ------------------------------------------------------------------------------------------------- search


def fts_query(query: str) -> str | None:
    """An FTS5 MATCH expression that finds all of the user's words; None if there is nothing to search.

    Each term becomes a quoted string (``"`` doubled inside), so FTS5 never sees an operator from the user.
    """
    parts = []
    for term, prefix in query_terms(query):
        quoted = '"' + term.replace('"', '""') + '"'
        parts.append(quoted + ("*" if prefix else ""))
    return " ".join(parts) or None


def full_text_search(
    conn: Connection,
    query: str,
    where: Sequence[sa.ColumnElement[bool]],
    owners: sa.Select[Any] | None,
    limit: int,
) -> list[tuple[int, Snippet]] | None:
    """``Backend.full_text_search`` on FTS5 (None when the database has no index).

    With a customer filter (``owners``) and no prefix term, the few matching customers' conversations are
    searched message by message (:func:`_search_within`); otherwise the index is walked newest first with
    every filter applied (:func:`_search_walk`).
    """
    if not has_fts(conn):
        return None
    prefix = any(is_prefix for _term, is_prefix in query_terms(query))
    if owners is not None and not prefix:
        stmt = sa.select(_C.id).where(_C.customer_id.in_(owners)).limit(_FEW_CONVERSATIONS + 1)
        few = [int(i) for i in conn.scalars(stmt)]
        if len(few) <= _FEW_CONVERSATIONS:
            return _search_within(conn, query, few, where, limit)
    clauses = list(where)
    if owners is not None:
        mine = sa.select(_C.id).where(_C.id == _M.conversation_id, _C.customer_id.in_(owners))
        clauses.append(mine.exists())
    return _search_walk(conn, query, clauses, limit)


def _search_walk(
    conn: Connection, query: str, where: Sequence[sa.ColumnElement[bool]], limit: int
) -> list[tuple[int, Snippet]]:
    """Matching messages newest first, with their snippets, in one statement.

    FTS5 walks its index in descending rowid order and SQLite stops after ``limit`` rows passing the filters,
    so ``snippet()`` runs only for the rows returned (no sort step: see tests/test_search.py). A second
    ``MATCH … AND rowid IN (…)`` query for the snippets would re-run the whole match once per id, which is
    slow for a prefix query over a common prefix.
    """
    fts = sa.table(FTS_TABLE, sa.column("rowid"))
    snippet = sa.func.snippet(
        sa.literal_column(FTS_TABLE), 0, SNIPPET_OPEN, SNIPPET_CLOSE, SNIPPET_ELLIPSIS, _SNIPPET_TOKENS,
        type_=sa.String(),
    )  # fmt: skip
    stmt = (
        sa.select(fts.c.rowid, snippet)
        .select_from(fts.join(MESSAGES, _M.id == fts.c.rowid))
        .where(sa.text(f"{FTS_TABLE} MATCH :match"), *where)
        .order_by(fts.c.rowid.desc())
        .limit(limit)
    )
    return [(int(rowid), parse_marked(raw)) for rowid, raw in conn.execute(stmt, {"match": fts_query(query)})]


def _search_within(
    conn: Connection,
    query: str,
    conversations: list[int],
    where: Sequence[sa.ColumnElement[bool]],
    limit: int,
) -> list[tuple[int, Snippet]]:
    """A search limited to a few conversations (a customer filter): their messages, each checked in the index.

    Walking the whole index newest first and skipping other customers' messages would read every match of a
    common word; here each of the few conversations' messages is looked up in the index by rowid (a seek per
    term). Only for queries without a prefix term: a prefix is re-expanded at every lookup, so those take the
    index walk instead.
    """
    if not conversations:
        return []
    match = fts_query(query)
    in_index = sa.text(
        f"EXISTS (SELECT 1 FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH :match AND rowid = messages.id)"
    )
    stmt = (
        sa.select(_M.id)
        .where(_M.conversation_id.in_(conversations), in_index, *where)
        .order_by(_M.id.desc())
        .limit(limit)
    )
    ids = [int(i) for i in conn.scalars(stmt, {"match": match})]
    one = sa.text(
        f"SELECT snippet({FTS_TABLE}, 0, :open, :close, :ellipsis, :tokens) FROM {FTS_TABLE} "
        f"WHERE {FTS_TABLE} MATCH :match AND rowid = :id"
    )
    params = {
        "open": SNIPPET_OPEN,
        "close": SNIPPET_CLOSE,
        "ellipsis": SNIPPET_ELLIPSIS,
        "tokens": _SNIPPET_TOKENS,
        "match": match,
    }
    return [(i, parse_marked(str(conn.execute(one, {**params, "id": i}).scalar_one()))) for i in ids]
