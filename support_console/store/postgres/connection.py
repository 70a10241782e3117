"""PostgreSQL connections made safe for several writers: one write lock, lock timeouts, reader snapshots.

What the store relies on (``store/backend.py``) and how PostgreSQL gives it:

* **Write transactions serialise.** Every write transaction takes one transaction-level advisory lock
  (:data:`WRITE_LOCK`) as its first statement, the equivalent of SQLite's ``BEGIN IMMEDIATE``: a
  read-then-write in one transaction (a counter, a draft's supersession, the importer's id reservation)
  never interleaves with another writer, in this process or another console. The lock goes with the
  transaction (commit, rollback, a dropped connection), so a crashed console never leaves it held.
  Transactions stay READ COMMITTED: each statement after the lock sees every earlier writer's commit, where
  REPEATABLE READ would keep the snapshot taken before the lock was granted.
* **A writer waits at most the busy timeout** (``lock_timeout``, set for each transaction); past it
  PostgreSQL cancels the wait with SQLSTATE 55P03, which ``base.translated_errors`` turns into
  ``WriteLockBusy`` as it does SQLite's "database is locked".
* **A ``no_wait`` write fails at once**: its lock is taken with a 1 ms ``lock_timeout`` (0 would mean "wait
  for ever"), then the timeout is put back for the rest of the transaction.
* **An ``independent`` write takes no write lock** (``engine.independent``: a heartbeat, which writes its own
  row and sweeps expired ones): row locks are all it needs, so 200 consoles beating every few seconds
  never hold the team's replies up; its row-lock waits are bounded by the 1 ms timeout (a busy row is a
  beat skipped, as a busy lock is for ``no_wait``).
* **Readers never take the lock** and read one snapshot (REPEATABLE READ, READ ONLY) for the whole
  transaction, as a SQLite deferred transaction in WAL mode does; READ ONLY also makes a write slipped
  into a reader view fail loudly instead of racing the writers.
* **PgBouncer-safe**: ``prepare_threshold=None`` (no server-side prepared statements, which a
  transaction-pooling bouncer cannot route), and the lock and the timeouts are the transaction's, never
  the session's.
"""

from __future__ import annotations

import functools
from typing import Any, Final

from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine

from support_console.store.backend import INDEPENDENT_OPTION, NO_WAIT_OPTION, READ_ONLY_OPTION

#: The advisory lock key every support-console write transaction takes ("sc" + "wr" as bytes): one
#: number that other applications sharing the server are unlikely to use.
WRITE_LOCK: Final = 0x7363_7772

#: What the engine passes to psycopg for every connection (see the module docstring).
CONNECT_ARGS: Final[dict[str, Any]] = {"prepare_threshold": None, "application_name": "support-console"}


def configure(engine: Engine, *, busy_timeout_ms: int) -> None:
    """Begin every transaction as the module docstring says."""
    event.listen(engine, "begin", functools.partial(_on_begin, busy_timeout_ms=busy_timeout_ms))


def _on_begin(conn: Connection, *, busy_timeout_ms: int) -> None:
    """The transaction's first statement: a reader's snapshot, or the write lock (at once for no_wait).

    The lock timeout is set for the transaction only (``set_config(…, true)``), in the same statement as
    the lock: nothing is left on the server session, which a transaction-pooling PgBouncer hands to
    another client next.
    """
    options = conn.get_execution_options()
    wait = f"set_config('lock_timeout', '{int(busy_timeout_ms)}', true)"
    if options.get(READ_ONLY_OPTION):
        conn.exec_driver_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
    elif options.get(INDEPENDENT_OPTION):
        conn.exec_driver_sql("SELECT set_config('lock_timeout', '1', true)")
    elif options.get(NO_WAIT_OPTION):
        conn.exec_driver_sql(
            f"SELECT set_config('lock_timeout', '1', true), pg_advisory_xact_lock({WRITE_LOCK}), {wait}"
        )
    else:
        conn.exec_driver_sql(f"SELECT {wait}, pg_advisory_xact_lock({WRITE_LOCK})")
