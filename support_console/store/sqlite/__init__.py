"""The SQLite backend: everything in the store that only SQLite understands (``store/backend.py``).

``connection.py``: pragmas and BEGIN IMMEDIATE; ``fts.py``: the FTS5 index and search; ``bulk.py``: the
import's fast paths. This module ties them into :data:`SQLITE` and adds the roll-up triggers.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from datetime import datetime, timedelta
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection, Engine

from support_console.core.clock import utcnow
from support_console.store.backend import ChangeSignal, Snippet
from support_console.store.sqlite import bulk, connection, fts

#: What changes a customer's roll-up (tables.customer_rollup).
_ROLLUP_COLUMNS: Final = "status, unread_count, last_activity, created_at, customer_id"


class SQLiteBackend:
    """``Backend`` for SQLite (3.35 or later: RETURNING, and FTS5 in virtually every build)."""

    name = "sqlite"

    def configure(self, engine: Engine, *, busy_timeout_ms: int) -> None:
        connection.configure(engine, busy_timeout_ms=busy_timeout_ms)

    def create_rollup_triggers(self, conn: Connection) -> None:
        """Triggers that re-run ``tables.customer_rollup`` after any conversation insert, update or delete.

        Triggers, not Python, so the roll-up stays right whoever writes (the Store, the importer's direct
        inserts, another process).
        """
        from support_console.store.tables import customer_rollup

        def body(ref: str) -> str:
            statement = customer_rollup(sa.literal_column(f"{ref}.customer_id"))
            return str(statement.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True}))

        events = {
            "ai": ("AFTER INSERT", body("NEW")),
            "au": (f"AFTER UPDATE OF {_ROLLUP_COLUMNS}", body("NEW")),
            # A conversation moved to another customer: the old owner's roll-up changes too.
            "am": ("AFTER UPDATE OF customer_id", body("OLD")),
            "ad": ("AFTER DELETE", body("OLD")),
        }
        for suffix, (when, action) in events.items():
            conn.exec_driver_sql(
                f"CREATE TRIGGER IF NOT EXISTS conversations_rollup_{suffix} {when} ON conversations "
                f"{'WHEN OLD.customer_id != NEW.customer_id ' if suffix == 'am' else ''}BEGIN {action}; END"
            )

    def speed_up_bulk_writes(self, conn: Connection) -> None:
        """Nothing: SQLite has no statement triggers (its row triggers above stay), and FTS5 folds."""

    def create_full_text_index(self, conn: Connection) -> None:
        fts.create_fts5(conn)

    def create_change_notification(self, conn: Connection) -> None:
        """Nothing to create: other connections notice commits through ``PRAGMA data_version``."""

    def serialise_events(self, conn: Connection) -> None:
        """Nothing to do: a write transaction began with BEGIN IMMEDIATE, so writers commit one by one."""

    def open_change_signal(self, engine: Engine) -> ChangeSignal:
        from support_console.store.sqlite.signal import DataVersionSignal

        return DataVersionSignal(engine)

    def clock(self, earlier_by: float = 0.0) -> sa.ColumnElement[datetime]:
        """This machine's clock, as a bound value: SQLite has no server, and every program on the file
        reads the clock of the machine it runs on (SQLite's own ``'now'`` is that clock too, to the
        millisecond only, in another layout than ``tables.UTCDateTime``'s)."""
        from support_console.store.tables import UTCDateTime

        return sa.literal(utcnow() - timedelta(seconds=earlier_by), UTCDateTime())

    def prepare_bulk_indexing(self, conn: Connection) -> None:
        fts.create_fts_deferral(conn)

    def full_text_search(
        self,
        conn: Connection,
        query: str,
        where: Sequence[sa.ColumnElement[bool]],
        owners: sa.Select[Any] | None,
        limit: int,
    ) -> list[tuple[int, Snippet]] | None:
        return fts.full_text_search(conn, query, where, owners, limit)

    def bulk_writing(self, conn: Connection) -> AbstractContextManager[None]:
        return bulk.bulk_writing(conn)

    def insert_messages(self, conn: Connection, rows: Sequence[Sequence[Any]]) -> int:
        return bulk.insert_messages(conn, rows)

    def reserve_conversation_ids(self, conn: Connection) -> int:
        return bulk.reserve_conversation_ids(conn)

    def insert_conversations_counted(self, conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
        bulk.insert_conversations_counted(conn, rows)

    def insert_ignoring_duplicates(self, table: sa.Table) -> sa.Insert:
        return sqlite_insert(table).on_conflict_do_nothing()

    def bytewise(self, text: sa.ColumnElement[str]) -> sa.ColumnElement[str]:
        return text  # SQLite's default collation, BINARY, already is


#: The one SQLite backend (it keeps no state).
SQLITE: Final = SQLiteBackend()
