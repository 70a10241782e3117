"""The PostgreSQL backend: everything in the store that only PostgreSQL understands (``store/backend.py``).

``connection.py``: the write lock, lock timeouts, reader snapshots; ``search.py``: the tsvector column, its
GIN index and the search; ``bulk.py``: ``COPY`` and the counted conversation inserts; ``errors.py``: what
the server's refusals mean, in one sentence; ``live.py``: team mode's NOTIFY trigger, event lock and LISTEN.
``rollup.py``: the customer roll-up's triggers (plpgsql). This module ties them into :data:`POSTGRES`.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.engine import Connection, Engine

from support_console.store.backend import ChangeSignal, Snippet
from support_console.store.postgres import bulk, connection, live, rollup, search


class PostgresBackend:
    """``Backend`` for PostgreSQL 12 or later (stored generated columns), through psycopg 3."""

    name = "postgresql"

    def configure(self, engine: Engine, *, busy_timeout_ms: int) -> None:
        connection.configure(engine, busy_timeout_ms=busy_timeout_ms)

    def create_rollup_triggers(self, conn: Connection) -> None:
        """A plpgsql trigger that re-runs ``tables.customer_rollup`` after any conversation change (the old
        owner's too when a conversation moves: ``rollup.py``, per statement since version 15); and what
        else version 1 needs on PostgreSQL: deferrable foreign keys for the importer (``bulk.py``), the
        customer list's index in its order."""
        rollup.create_row_triggers(conn)
        bulk.make_foreign_keys_deferrable(conn)
        # The customer list's order (first_page.LIST_ORDER_SQL) puts customers without activity last, as
        # SQLite's DESC does by itself; PostgreSQL's DESC index would put them first, and not be walked.
        conn.exec_driver_sql("DROP INDEX ix_customers_list")
        conn.exec_driver_sql(
            "CREATE INDEX ix_customers_list ON customers "
            "((open_conversations > 0) DESC, last_activity DESC NULLS LAST, id DESC)"
        )

    def speed_up_bulk_writes(self, conn: Connection) -> None:
        rollup.create_statement_triggers(conn)
        search.create_fold_function(conn)

    def create_full_text_index(self, conn: Connection) -> None:
        from support_console.store.search import SEARCHED_STATES

        search.create_search_index(conn, SEARCHED_STATES)

    def prepare_bulk_indexing(self, conn: Connection) -> None:
        """Nothing to prepare: the search vector is a generated column, and GIN batches its own inserts."""

    def full_text_search(
        self,
        conn: Connection,
        query: str,
        where: Sequence[sa.ColumnElement[bool]],
        owners: sa.Select[Any] | None,
        limit: int,
    ) -> list[tuple[int, Snippet]] | None:
        from support_console.store.search import query_terms

        return search.full_text_search(conn, query_terms(query), where, owners, limit)

    def bulk_writing(self, conn: Connection) -> AbstractContextManager[None]:
        return bulk.bulk_writing(conn)

    def insert_messages(self, conn: Connection, rows: Sequence[Sequence[Any]]) -> int:
        return bulk.insert_messages(conn, rows)

    def reserve_conversation_ids(self, conn: Connection) -> int:
        return bulk.reserve_conversation_ids(conn)

    def insert_conversations_counted(self, conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
        bulk.insert_conversations_counted(conn, rows)

    def insert_ignoring_duplicates(self, table: sa.Table) -> sa.Insert:
        return pg_insert(table).on_conflict_do_nothing()

    def bytewise(self, text: sa.ColumnElement[str]) -> sa.ColumnElement[str]:
        return text.collate("C")  # a database's collation may be en_US, which ignores punctuation

    # ---- team mode (live.py) ------------------------------------------------------------------------------

    def create_change_notification(self, conn: Connection) -> None:
        live.create_change_notification(conn)

    def serialise_events(self, conn: Connection) -> None:
        live.serialise_events(conn)

    def open_change_signal(self, engine: Engine) -> ChangeSignal:
        return live.ListenSignal(engine)

    def clock(self, earlier_by: float = 0.0) -> sa.ColumnElement[datetime]:
        return live.server_clock(earlier_by)


#: The one PostgreSQL backend (it keeps no state).
POSTGRES: Final = PostgresBackend()
