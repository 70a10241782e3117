"""What every part of the Store shares: the engine, read and write sessions, and database-error translation.

Writes go through :meth:`StoreBase._write` (one ``BEGIN IMMEDIATE`` transaction: writers queue instead of
failing), reads through :meth:`StoreBase._read` (a deferred transaction that never takes the write lock).
Objects returned to callers are detached (``expire_on_commit=False``): plain values that stay readable after
the session closes.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Final, NoReturn

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlmodel import Session

from support_console.core.errors import DiskFullError, NotFoundError, StoreError
from support_console.store.backend import Backend
from support_console.store.engine import backend_for, reader
from support_console.store.postgres.errors import explain, sqlstate
from support_console.store.tables import Conversation


class StoreBase:
    """The engine plus session helpers; the Store's parts (customers, messages, drafts) build on it.

    ``backend`` is the database's implementation of what portable SQLAlchemy cannot say (``backend.py``).
    """

    engine: Engine
    backend: Backend

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.backend = backend_for(engine)
        self._reader = reader(engine)

    @contextmanager
    def _write(self) -> Iterator[Session]:
        """A session in one write transaction, committed on success and rolled back on any error."""
        with translated_errors(), Session(self.engine, expire_on_commit=False) as session, session.begin():
            yield session

    @contextmanager
    def _read(self) -> Iterator[Session]:
        """A session for reads only (no write lock; sees a consistent snapshot for its lifetime)."""
        with translated_errors(), Session(self._reader, expire_on_commit=False) as session:
            yield session

    @contextmanager
    def _reading(self) -> Iterator[Connection]:
        """A Core connection for reads only (no write lock; one snapshot while its transaction lasts)."""
        with translated_errors(), self._reader.connect() as conn:
            yield conn

    @staticmethod
    def _conversation(session: Session, conversation_id: int) -> Conversation:
        """The conversation, or NotFoundError with the id."""
        conversation = session.get(Conversation, conversation_id)
        if conversation is None:
            raise NotFoundError(
                f"Conversation {conversation_id} does not exist: it may have been deleted; "
                "reload the customer list."
            )
        return conversation


#: What the database says when its disk is full: SQLite's SQLITE_FULL, PostgreSQL's disk_full SQLSTATE.
_SQLITE_FULL: Final = 13
_PG_DISK_FULL: Final = "53100"

#: PostgreSQL's lock_not_available: a wait past ``lock_timeout`` (the write lock: postgres/connection.py).
_PG_LOCK_TIMEOUT: Final = "55P03"
_LOCKED: Final = (
    "The database stayed locked by another program for too long: close other support-console sessions or "
    "imports using the same database, then try again."
)

#: The sentence for a full disk (callers add what it means for them: rows imported, the draft kept).
DISK_FULL = (
    "The disk holding the database is full, so the last change was not saved (nothing is half-written): "
    "free some space on it, then try again."
)


class WriteLockBusy(StoreError):
    """Another program held the database's write lock: past the busy timeout, or at once for a write on a
    ``no_wait`` view (``engine.no_wait``), which its caller may simply skip and make later."""


@contextmanager
def translated_errors() -> Iterator[None]:  # also used by messages.py's raw-cursor reads
    """Turn driver errors into StoreError sentences (no SQL or parameters: they may hold customer data).

    The one place that knows the drivers' error codes: a full disk becomes :class:`DiskFullError`. The
    raw-cursor fast paths (``store/sqlite/``) raise the driver's own ``sqlite3`` errors, translated alike.
    """
    try:
        yield
    except sa.exc.DBAPIError as exc:
        _raise_translated(exc)
    except sqlite3.OperationalError as exc:
        _raise_translated(exc)


def _raise_translated(exc: BaseException) -> NoReturn:
    """The StoreError sentence for a driver error (see :func:`translated_errors`). Errors the database did not
    answer with (SQLite's misuse errors) go on as they are; any PostgreSQL error has an SQLSTATE, and one
    that is not about the data (a missing table, say) means the database cannot be used as it is."""
    orig = exc.orig if isinstance(exc, sa.exc.DBAPIError) else exc
    if sqlstate(orig) == _PG_LOCK_TIMEOUT:
        raise WriteLockBusy(_LOCKED) from exc
    refusal = explain(orig, "the database")
    if refusal is not None:
        raise StoreError(refusal) from exc
    if isinstance(exc, IntegrityError):
        raise StoreError(
            f"The database refused the change ({_driver_message(exc)}): it conflicts with existing data."
        ) from exc
    if isinstance(exc, OperationalError | sqlite3.OperationalError) or sqlstate(orig) is not None:
        if disk_is_full(orig):
            raise DiskFullError(DISK_FULL) from exc
        message = _driver_message(exc)
        if "locked" in message or "busy" in message:
            raise WriteLockBusy(_LOCKED) from exc
        raise StoreError(
            f"The database could not be used ({message}): check that --db points to a support-console "
            "database file you can write to."
        ) from exc
    raise exc


def disk_is_full(error: BaseException | None) -> bool:
    """Whether a driver error says the disk (or SQLite's page limit) is full, by its error code."""
    code = getattr(error, "sqlite_errorcode", None)
    if isinstance(code, int):
        return code & 0xFF == _SQLITE_FULL
    return getattr(error, "sqlstate", getattr(error, "pgcode", None)) == _PG_DISK_FULL


def _driver_message(exc: BaseException) -> str:
    """The driver's own one-line message, without SQLAlchemy's statement and parameters."""
    orig = exc.orig if isinstance(exc, sa.exc.DBAPIError) else exc
    return str(orig).splitlines()[0] if orig is not None else type(exc).__name__
