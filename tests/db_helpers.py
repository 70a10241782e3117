"""Helpers for tests that run on both backends (conftest's ``db_url`` / ``store``) and look under the Store.

Plain SQL in a test is written once with named parameters (:func:`sql`), which SQLAlchemy turns into each
driver's own placeholders; a query plan is read the way each database shows it (:func:`plan_walks_index`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from support_console.store import Store
from support_console.store.times import to_stored


def is_sqlite(store_or_url: Store | str) -> bool:
    """Whether this is the SQLite run of a test (else PostgreSQL)."""
    url = store_or_url if isinstance(store_or_url, str) else str(store_or_url.engine.url)
    return url.startswith("sqlite")


def sqlite_only(store_or_url: Store | str, why: str = "what SQLite alone does") -> None:
    """Skip the PostgreSQL run of a test about SQLite itself (its files, FTS5 internals, pysqlite hooks)."""
    if not is_sqlite(store_or_url):
        pytest.skip(f"about {why}")


def sql(conn: Connection, statement: str, **params: Any) -> sa.CursorResult[*tuple[Any, ...]]:
    """Run plain SQL with ``:name`` parameters on either backend."""
    return conn.execute(sa.text(statement), params)


def stored_text(value: str | datetime | None) -> str | None:
    """A time column's raw value as SQLite's stored text (PostgreSQL hands back a naive UTC datetime)."""
    return to_stored(value) if isinstance(value, datetime) else value


def plan_walks_index(store: Store, statement: str, params: Any, index: str) -> bool:
    """Whether the database answers ``statement`` by walking ``index`` in order, with no sort step.

    SQLite: its plan names the index and has no temporary B-tree. PostgreSQL: on a test's few rows the
    planner rightly prefers a scan and a sort, so both are priced out (``enable_seqscan``, ``enable_sort``
    off for the transaction); if the index can give the order, the plan then has no Sort node.
    """
    with store.engine.begin() as conn:
        if is_sqlite(store):
            rows = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, params).all()
            plan = " | ".join(str(row[3]) for row in rows)
            return f"USING INDEX {index}" in plan and "TEMP B-TREE" not in plan
        conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
        conn.exec_driver_sql("SET LOCAL enable_sort = off")
        plan = " | ".join(str(row[0]) for row in conn.exec_driver_sql("EXPLAIN " + statement, params))
        return index in plan and "Sort" not in plan


def search_index_exists(store: Store) -> bool:
    """Whether the database has its full-text index (SQLite: the FTS5 table; PostgreSQL: the vector
    column and its GIN index)."""
    with store.engine.connect() as conn:
        if is_sqlite(store):
            from support_console.store.sqlite.fts import has_fts

            return has_fts(conn)
        from support_console.store.postgres.search import INDEX_NAME, VECTOR_COLUMN

        column = sql(
            conn,
            "SELECT 1 FROM information_schema.columns WHERE table_name = 'messages' AND column_name = :c",
            c=VECTOR_COLUMN,
        ).first()
        index = sql(conn, "SELECT indisvalid FROM pg_index WHERE indexrelid = to_regclass(:i)", i=INDEX_NAME)
        return column is not None and index.scalar() is True


def assert_index_consistent(store: Store) -> None:
    """The full-text index agrees with the messages table. SQLite: FTS5's own check of its external-content
    index, and no deferral marker left. PostgreSQL: exactly the searched messages have a vector (it is a
    generated column: the database computes it), and the GIN index is valid."""
    assert search_index_exists(store)
    with store.engine.connect() as conn:
        if is_sqlite(store):
            conn.exec_driver_sql("INSERT INTO messages_fts(messages_fts, rank) VALUES ('integrity-check', 1)")
            assert conn.exec_driver_sql("SELECT count(*) FROM fts_deferred").scalar_one() == 0
            return
        wrong = conn.exec_driver_sql(
            "SELECT count(*) FROM messages "
            "WHERE (search_vector IS NULL) = (state IN ('received', 'sent', 'note'))"
        ).scalar_one()
        assert wrong == 0
