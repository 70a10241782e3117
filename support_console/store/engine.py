"""The one seam for SQLite-only behaviour of the engine.

Why a seam: the store speaks SQLAlchemy everywhere else, so that PostgreSQL can be added later by changing
only this file (and the FTS5 code in ``search.py``). Everything SQLite needs to be safe with several writers
lives here:

* ``journal_mode=WAL`` so readers never block the writer and the writer never blocks readers;
* ``foreign_keys=ON`` because SQLite ignores foreign keys unless asked, per connection;
* ``synchronous=NORMAL``: durable across application crashes in WAL mode, and much faster than FULL;
* ``busy_timeout`` so a writer that finds the file locked waits instead of failing;
* ``BEGIN IMMEDIATE`` for write transactions. With pysqlite's default (deferred) transactions, two connections
  that both read and then try to write deadlock, and SQLite fails one of them at once with "database is
  locked" without consulting the busy timeout. Taking the write lock at BEGIN makes writers queue on the busy
  timeout instead. This is SQLAlchemy's documented recipe: disable pysqlite's own transaction handling
  (``isolation_level = None``) and emit BEGIN ourselves from the ``begin`` event.

Reads that must not take the write lock use :func:`reader`, an engine view whose transactions start with a
plain (deferred) ``BEGIN``; in WAL mode they run concurrently with the writer.

Nothing here runs at import time: an engine exists only once :func:`create_engine` is called.
"""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.exc import ArgumentError
from sqlalchemy.pool import ConnectionPoolEntry

from support_console.core.errors import StoreError

#: How long (milliseconds) a writer waits for the lock before SQLite gives up. Generous on purpose: a queued
#: writer is a short pause, a failed one is lost work.
BUSY_TIMEOUT_MS = 30_000

#: Execution option that marks a read-only engine view (see :func:`reader`).
_READ_OPTION = "support_console_read"


def is_sqlite(engine: Engine | Connection) -> bool:
    """True for the SQLite dialect: the only place the store asks which database it talks to."""
    return engine.dialect.name == "sqlite"


def create_engine(url: str, *, busy_timeout_ms: int = BUSY_TIMEOUT_MS) -> Engine:
    """Create the engine for ``url``; for SQLite, apply the pragmas and BEGIN IMMEDIATE described above.

    For a file URL the parent directory is created, so a first start with a fresh data directory works.
    An in-memory URL (``sqlite://``) is for one thread only: SQLAlchemy gives each thread its own connection,
    hence its own empty database. Other databases get a plain engine: SQLite pragmas would be syntax errors
    there. ``busy_timeout_ms`` is how long a writer waits for another connection's write lock.
    """
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise StoreError(
            "The database URL (--db, SUPPORT_CONSOLE_DB or DATABASE_URL) is not valid: "
            "use sqlite:///path/to/file.db or another SQLAlchemy URL."
        ) from exc
    if parsed.get_backend_name() != "sqlite":
        try:
            return sa.create_engine(parsed)
        except ImportError as exc:
            raise StoreError(
                f"The database driver for {parsed.drivername} is not installed ({exc.name}): install it into "
                "support-console's environment, or use a sqlite:/// URL."
            ) from exc
    database = parsed.database or ""
    in_memory = database in ("", ":memory:") or database.startswith("file::memory:")
    if not in_memory and not parsed.query.get("uri"):
        _make_parent_dir(Path(database))
    engine = sa.create_engine(parsed, connect_args={"timeout": busy_timeout_ms / 1000})
    event.listen(engine, "connect", functools.partial(_on_sqlite_connect, busy_timeout_ms=busy_timeout_ms))
    event.listen(engine, "begin", _on_sqlite_begin)
    return engine


def reader(engine: Engine) -> Engine:
    """A view of ``engine`` whose transactions do not take the SQLite write lock (plain deferred BEGIN).

    Use it only for reads: a write inside such a transaction could fail with "database is locked".
    """
    return engine.execution_options(**{_READ_OPTION: True})


def insert_ignoring_duplicates(table: sa.Table, engine: Engine | Connection) -> sa.Insert:
    """An INSERT that silently skips rows violating a unique constraint (idempotent re-import).

    Dialect-specific syntax, hence here. PostgreSQL has the same construct under the same name.
    """
    if is_sqlite(engine):
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        return sqlite_insert(table).on_conflict_do_nothing()
    if engine.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(table).on_conflict_do_nothing()
    raise StoreError(
        f"Bulk import is not supported on {engine.dialect.name}: use a SQLite or PostgreSQL database URL."
    )


#: What changes a customer's roll-up (models.customer_rollup).
_ROLLUP_COLUMNS = "status, unread_count, last_activity, created_at, customer_id"


def create_rollup_triggers(conn: Connection) -> None:
    """Triggers that re-run ``models.customer_rollup`` after any conversation insert, update or delete.

    Triggers, not Python, so the roll-up stays right whoever writes (the Store, the importer's direct inserts,
    another process). SQLite syntax; other databases are refused until the triggers are ported there.
    """
    from support_console.store.tables import customer_rollup

    if not is_sqlite(conn):
        raise StoreError(
            f"support-console keeps its data in SQLite for now, not {conn.dialect.name}: "
            "use a sqlite:/// database URL."
        )

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


def _make_parent_dir(path: Path) -> None:
    """Create the database file's directory, with an error that says which directory could not be made."""
    try:
        path.expanduser().resolve().parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(
            f"Cannot create the directory for the database {path}: {exc.strerror}. "
            "Choose another location with --db or SUPPORT_CONSOLE_DB."
        ) from exc


def _on_sqlite_connect(
    dbapi_connection: DBAPIConnection, _record: ConnectionPoolEntry, *, busy_timeout_ms: int
) -> None:
    """Per new DBAPI connection: hand transaction control to SQLAlchemy and set the pragmas."""
    assert isinstance(dbapi_connection, sqlite3.Connection)
    # pysqlite must not emit BEGIN itself: we emit BEGIN / BEGIN IMMEDIATE in _on_sqlite_begin.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        # busy_timeout first, so that switching to WAL on a brand-new file waits for a concurrent opener.
        cursor.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
    finally:
        cursor.close()


def _on_sqlite_begin(conn: Connection) -> None:
    """Emit the transaction's BEGIN: IMMEDIATE (take the write lock now) unless this is a reader view."""
    if conn.get_execution_options().get(_READ_OPTION):
        conn.exec_driver_sql("BEGIN")
    else:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def pragmas(engine: Engine) -> Mapping[str, Any]:
    """The effective pragma values of one connection (used by tests and ``doctor``-style diagnostics)."""
    names: Iterable[str] = ("journal_mode", "foreign_keys", "synchronous", "busy_timeout")
    with reader(engine).connect() as conn:
        return {name: conn.exec_driver_sql(f"PRAGMA {name}").scalar() for name in names}
