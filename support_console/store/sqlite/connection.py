"""SQLite connections made safe for several writers: pragmas, BEGIN IMMEDIATE, read-only transactions.

Everything SQLite needs to be safe with several writers lives here:

* ``journal_mode=WAL`` so readers never block the writer and the writer never blocks readers;
* ``foreign_keys=ON`` because SQLite ignores foreign keys unless asked, per connection;
* ``synchronous=NORMAL``: durable across application crashes in WAL mode, and much faster than FULL;
* ``busy_timeout`` so a writer that finds the file locked waits instead of failing;
* ``BEGIN IMMEDIATE`` for write transactions. With pysqlite's default (deferred) transactions, two connections
  that both read and then try to write deadlock, and SQLite fails one of them at once with "database is
  locked" without consulting the busy timeout. Taking the write lock at BEGIN makes writers queue on the busy
  timeout instead. This is SQLAlchemy's documented recipe: disable pysqlite's own transaction handling
  (``isolation_level = None``) and emit BEGIN ourselves from the ``begin`` event.

Reads that must not take the write lock use ``engine.reader(engine)``, an engine view whose transactions
start with a plain (deferred) ``BEGIN``; in WAL mode they run concurrently with the writer.
"""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.pool import ConnectionPoolEntry

from support_console.store.backend import NO_WAIT_OPTION, READ_ONLY_OPTION


def configure(engine: Engine, *, busy_timeout_ms: int) -> None:
    """Apply the pragmas to every new connection and make write transactions BEGIN IMMEDIATE."""
    event.listen(engine, "connect", functools.partial(_on_connect, busy_timeout_ms=busy_timeout_ms))
    event.listen(engine, "begin", functools.partial(_on_begin, busy_timeout_ms=busy_timeout_ms))


def configure_read_only(engine: Engine) -> None:
    """For a file opened read-only: foreign keys and a deferred BEGIN, and no pragma that writes (WAL)."""
    event.listen(engine, "connect", _on_connect_read_only)
    event.listen(engine, "begin", lambda conn: conn.exec_driver_sql("BEGIN"))


def _on_connect_read_only(dbapi_connection: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
    assert isinstance(dbapi_connection, sqlite3.Connection)
    dbapi_connection.isolation_level = None
    dbapi_connection.execute("PRAGMA foreign_keys = ON")


def dbapi(conn: Connection) -> sqlite3.Connection:
    """The pysqlite connection under ``conn``, for the bulk paths that skip SQLAlchemy's per-row work."""
    raw = conn.connection.driver_connection
    assert isinstance(raw, sqlite3.Connection)
    return raw


def _on_connect(
    dbapi_connection: DBAPIConnection, _record: ConnectionPoolEntry, *, busy_timeout_ms: int
) -> None:
    """Per new DBAPI connection: hand transaction control to SQLAlchemy and set the pragmas."""
    assert isinstance(dbapi_connection, sqlite3.Connection)
    # pysqlite must not emit BEGIN itself: we emit BEGIN / BEGIN IMMEDIATE in _on_begin.
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


def _on_begin(conn: Connection, *, busy_timeout_ms: int) -> None:
    """Emit the transaction's BEGIN: IMMEDIATE (take the write lock now) unless this is a reader view; on a
    no-wait view, with no busy timeout for that BEGIN only (the one statement of a WAL write transaction
    that waits for another writer: once the lock is held, the writes and the COMMIT never wait for it)."""
    options = conn.get_execution_options()
    if options.get(READ_ONLY_OPTION):
        conn.exec_driver_sql("BEGIN")
    elif options.get(NO_WAIT_OPTION):
        raw = dbapi(conn)
        raw.execute("PRAGMA busy_timeout = 0")
        try:
            raw.execute("BEGIN IMMEDIATE")
        finally:
            raw.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
    else:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def pragmas(engine: Engine) -> Mapping[str, Any]:
    """The effective pragma values of one connection (used by tests and ``doctor``-style diagnostics)."""
    names: Iterable[str] = ("journal_mode", "foreign_keys", "synchronous", "busy_timeout")
    with engine.execution_options(**{READ_ONLY_OPTION: True}).connect() as conn:
        return {name: conn.exec_driver_sql(f"PRAGMA {name}").scalar() for name in names}
