"""Engines: creating one for a URL, its read-only view, and the choice of the database backend.

The store speaks portable SQLAlchemy; what only one database understands sits behind a
:class:`~support_console.store.backend.Backend` (``store/backend.py`` says what each must guarantee), chosen
here by :func:`backend_for`. Today that is SQLite (``store/sqlite/``); a PostgreSQL backend is added by
implementing the same interface and naming it in :data:`_BACKENDS`.

Nothing here runs at import time: an engine exists only once :func:`create_engine` is called.
"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError

from support_console.core.errors import StoreError
from support_console.store.backend import (
    BUSY_TIMEOUT_MS,
    INDEPENDENT_OPTION,
    NO_WAIT_OPTION,
    READ_ONLY_OPTION,
    Backend,
)


def _sqlite() -> Backend:
    from support_console.store.sqlite import SQLITE

    return SQLITE


def _postgres() -> Backend:
    from support_console.store.postgres import POSTGRES

    return POSTGRES


#: Dialect name -> the backend serving it (loaded on first use).
_BACKENDS = {"sqlite": _sqlite, "postgresql": _postgres}

#: Driver names that mean PostgreSQL through psycopg 3, the one PostgreSQL driver support-console ships
#: (``postgresql://`` would otherwise ask SQLAlchemy for psycopg2).
_POSTGRES_NAMES = frozenset({"postgres", "postgresql", "postgresql+psycopg"})


def backend_for(bind: Engine | Connection) -> Backend:
    """The backend of this engine's database, or StoreError naming what to use instead."""
    found = _BACKENDS.get(bind.dialect.name)
    if found is None:
        raise StoreError(
            f"support-console keeps its data in SQLite or PostgreSQL, not {bind.dialect.name}: "
            "use a sqlite:/// or postgresql+psycopg:// database URL."
        )
    return found()


def create_engine(url: str, *, busy_timeout_ms: int = BUSY_TIMEOUT_MS) -> Engine:
    """Create the engine for ``url``, configured by its backend (for SQLite: pragmas, BEGIN IMMEDIATE).

    For a file URL the parent directory is created, so a first start with a fresh data directory works.
    An in-memory URL (``sqlite://``) is for one thread only: SQLAlchemy gives each thread its own connection,
    hence its own empty database. A database without a backend gets a plain engine, so that a missing
    driver is reported as such; opening a Store on it then says which databases are supported.
    ``busy_timeout_ms`` is how long a writer waits for another connection's write lock.
    """
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise StoreError(
            "The database URL (--db, SUPPORT_CONSOLE_DB or DATABASE_URL) is not valid: "
            "use sqlite:///path/to/file.db or another SQLAlchemy URL."
        ) from exc
    if parsed.drivername in _POSTGRES_NAMES:
        return _create_postgres_engine(parsed, busy_timeout_ms)
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
    backend_for(engine).configure(engine, busy_timeout_ms=busy_timeout_ms)
    return engine


def _create_postgres_engine(parsed: sa.URL, busy_timeout_ms: int) -> Engine:
    """A psycopg 3 engine (safe behind PgBouncer: ``postgres/connection.py``) with its transactions begun
    as the backend says. A password missing from the URL comes from ``PGPASSWORD`` or ``PGPASSFILE``
    (libpq reads them itself)."""
    from support_console.store.postgres.connection import CONNECT_ARGS

    engine = sa.create_engine(
        parsed.set(drivername="postgresql+psycopg"), connect_args=dict(CONNECT_ARGS), pool_pre_ping=True
    )
    backend_for(engine).configure(engine, busy_timeout_ms=busy_timeout_ms)
    return engine


def create_read_only_engine(path: Path) -> Engine:
    """An engine that only reads the SQLite file at ``path`` (which this process cannot write).

    ``mode=ro`` first; when SQLite cannot create the WAL index beside a WAL-mode file (a read-only mount or
    directory), ``immutable=1``: nobody can be writing a file on a read-only mount. No pragma that writes
    is set, and every transaction is a plain BEGIN.
    """
    import sqlite3
    from urllib.parse import quote

    from support_console.store.sqlite.connection import configure_read_only

    target = f"file:{quote(str(path.resolve()))}"
    options = "mode=ro"
    try:
        probe = sqlite3.connect(f"{target}?{options}", uri=True, timeout=1.0)
        try:
            probe.execute("SELECT count(*) FROM sqlite_master").fetchone()
        finally:
            probe.close()
    except sqlite3.OperationalError:
        options = "mode=ro&immutable=1"
    engine = sa.create_engine(
        f"sqlite:///{target}?{options}&uri=true",
        connect_args={"timeout": 1.0},
    )
    configure_read_only(engine)
    return reader(engine)


def reader(engine: Engine) -> Engine:
    """A view of ``engine`` whose transactions do not take the write lock (SQLite: plain deferred BEGIN).

    Use it only for reads: a write inside such a transaction could fail with "database is locked".
    """
    return engine.execution_options(**{READ_ONLY_OPTION: True})


def no_wait(engine: Engine) -> Engine:
    """A view of ``engine`` whose write transactions fail at once (``WriteLockBusy``) rather than wait for
    another connection's write lock: for writes that may be skipped and made later (cached token counts).
    """
    return engine.execution_options(**{NO_WAIT_OPTION: True})


def independent(engine: Engine) -> Engine:
    """A view of ``engine`` for writes that need not take turns with the others (``INDEPENDENT_OPTION``):
    on PostgreSQL they take no write lock, so a team's heartbeats never queue the team's replies behind
    them; on SQLite (one writer at a time, whatever the write) they fail at once when the lock is held.
    """
    return engine.execution_options(**{NO_WAIT_OPTION: True, INDEPENDENT_OPTION: True})


def _make_parent_dir(path: Path) -> None:
    """Create the database file's directory, with an error that says which directory could not be made."""
    try:
        path.expanduser().resolve().parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(
            f"Cannot create the directory for the database {path}: {exc.strerror}. "
            "Choose another location with --db or SUPPORT_CONSOLE_DB."
        ) from exc
