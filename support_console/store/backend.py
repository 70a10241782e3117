"""The seam between the store and a particular database: what a backend must provide.

The store speaks portable SQLAlchemy everywhere (tables, queries, counters, customer matching). What cannot
be portable lives behind :class:`Backend`, one implementation per database, chosen by ``engine.backend_for``:
today ``store/sqlite/`` (pragmas and ``BEGIN IMMEDIATE``, triggers, FTS5, the bulk-insert tricks); a
PostgreSQL backend implements the same methods (tsvector or pg_trgm, ``ON CONFLICT``, ``COPY``) and nothing
else in the store changes. (One more SQLite-only read stays outside the seam on purpose: the console's first
page, ``first_page.read_first_queue``, reads a SQLite file with the standard library before SQLAlchemy is
loaded, and steps aside, returning None, for any other database URL.)

What every implementation must guarantee, because the rest of the store relies on it:

* **Write transactions** serialise: a write transaction takes the write lock (or its equivalent) at its
  start, so a read-then-write in one transaction never races another writer. A transaction on a
  ``reader`` view (``engine.reader``) never takes it; one on a ``no_wait`` view (``engine.no_wait``) fails
  at once instead of waiting when another connection holds it.
* **The customer roll-up** (``tables.customer_rollup``) is re-run by the database after every change to a
  conversation, whoever writes (the Store, the importer, another process).
* **Full-text search** finds messages containing every word of a query, case- and accent-insensitively,
  newest (highest id) first, each with a snippet whose matched words are spans; or says it has no index
  (``None``), and the store falls back to a portable ``LIKE`` scan.
* **Events commit in id order** (``serialise_events``): a reader that has seen event N never later finds
  an event below N appear, so "events after N" is a complete change feed and a draft's basis.
* **A change signal** (``open_change_signal``) wakes a waiting console soon after another connection
  commits (SQLite: ``PRAGMA data_version``; PostgreSQL: LISTEN/NOTIFY with event ids as the payload).
* **One clock for every console** (``clock``): times that consoles compare with each other's (presence
  heartbeats) are written and compared by the database's clock, not each console machine's (PostgreSQL:
  the server's; SQLite: the clock of the machine whose programs open the file).
* **Bulk writes** (the importer's path) give exactly the rows, counters and search index that the same
  messages written one by one give: they may only be faster.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any, Final, Protocol

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

#: Execution option of a read-only engine view (``engine.reader``): its transactions take no write lock.
READ_ONLY_OPTION: Final = "support_console_read"

#: Execution option of a write that is only worth making if it costs no wait (``engine.no_wait``): its
#: transaction fails at once, as ``base.WriteLockBusy``, when another connection holds the write lock.
NO_WAIT_OPTION: Final = "support_console_no_wait"

#: Execution option of a no-wait write that no other transaction's read-then-write depends on (a
#: console's heartbeat: its own row, and a sweep of expired rows), so it need not take turns with the
#: others (``engine.independent``): where the database can write without the write lock (PostgreSQL), its
#: transaction takes none; where it cannot (SQLite), it is a no-wait write.
INDEPENDENT_OPTION: Final = "support_console_independent"

#: Message columns a bulk insert sets (``Backend.insert_messages``), in the order of each row's values. The
#: import parser (``workflows/import_rows.py``) builds its rows in this order, without the first column.
BULK_COLUMNS: Final = (
    "conversation_id", "role", "state", "text", "original_text", "persona_id", "model", "finish_reason",
    "prompt_tokens", "completion_tokens", "approved_by", "approved_at", "created_at", "updated_at",
    "external_id",
)  # fmt: skip

#: A snippet of a matching message: plain text, and the matched words as (start, end) character spans.
Snippet = tuple[str, tuple[tuple[int, int], ...]]


#: How long (milliseconds) a writer waits for another connection's write lock before it fails, unless
#: ``[store] busy_timeout`` says otherwise. Generous on purpose: a queued writer is a short pause, a failed
#: one is lost work.
BUSY_TIMEOUT_MS: Final = 30_000


class ChangeSignal(Protocol):
    """A dedicated connection that notices other connections' commits (``Backend.open_change_signal``)."""

    def wait(self, timeout: float) -> bool:
        """Block up to ``timeout`` seconds; True as soon as something may have changed (False: nothing did).
        StoreError when the connection is lost: the caller opens a new signal."""

    def close(self) -> None:
        """Close the connection (from the thread that waits, or after it has stopped)."""


class Backend(Protocol):
    """One database's implementation of what the store cannot say in portable SQLAlchemy."""

    name: str  # the SQLAlchemy dialect name it serves, e.g. "sqlite"

    # ---- engine -------------------------------------------------------------------------------------------

    def configure(self, engine: Engine, *, busy_timeout_ms: int) -> None:
        """Set up a new engine: per-connection settings and how transactions begin (see the guarantees);
        a writer waits up to ``busy_timeout_ms`` for another connection's write lock."""

    # ---- schema (called by migrations, inside their transaction) -----------------------------------------

    def create_rollup_triggers(self, conn: Connection) -> None:
        """Make the database re-run the customer roll-up after every conversation insert, update, delete."""

    def speed_up_bulk_writes(self, conn: Connection) -> None:
        """Migration 15: what makes the importer's batches cheaper where the database allows it
        (PostgreSQL: the customer roll-up once per statement, not per row; the search folding function
        inlined into the generated column. SQLite: nothing to do)."""

    def create_full_text_index(self, conn: Connection) -> None:
        """Create the full-text index over ``messages.text`` and index the rows already there (v2)."""

    def prepare_bulk_indexing(self, conn: Connection) -> None:
        """Let bulk writers index a batch at once instead of row by row (v6; may do nothing)."""

    # ---- team mode (schema version 14: ``store/team.py``, ``store/live.py``) ----------------------------

    def create_change_notification(self, conn: Connection) -> None:
        """Make the database announce every new event (PostgreSQL: a NOTIFY trigger; may do nothing)."""

    def serialise_events(self, conn: Connection) -> None:
        """Before inserting an event in a write transaction: make event ids commit in id order (SQLite's
        write lock already does; PostgreSQL takes a transaction-scoped advisory lock)."""

    def open_change_signal(self, engine: Engine) -> ChangeSignal:
        """A new :class:`ChangeSignal` on the engine's database."""

    def clock(self, earlier_by: float = 0.0) -> sa.ColumnElement[datetime]:
        """The time now by the clock every console of the database shares, less ``earlier_by`` seconds: an
        SQL expression to store in a ``tables.UTCDateTime`` column or compare with one, in the layout the
        column stores (a console whose own clock is off by seconds still agrees with the others)."""

    # ---- full-text search ---------------------------------------------------------------------------------

    def full_text_search(
        self,
        conn: Connection,
        query: str,
        where: Sequence[sa.ColumnElement[bool]],
        owners: sa.Select[Any] | None,
        limit: int,
    ) -> list[tuple[int, Snippet]] | None:
        """Ids and snippets of the newest ``limit`` messages that contain every word of ``query`` and pass
        ``where`` (clauses over ``MESSAGES``); only those of the customers ``owners`` selects (ids) when
        given. None when this database has no full-text index: the caller scans with LIKE instead."""

    # ---- bulk writes (inside the caller's write transaction) ----------------------------------------------

    def bulk_writing(self, conn: Connection) -> AbstractContextManager[None]:
        """Around many batches written on ``conn`` (outside a transaction): tune the database for them."""

    def insert_messages(self, conn: Connection, rows: Sequence[Sequence[Any]]) -> int:
        """Insert message rows (values in :data:`BULK_COLUMNS` order, datetimes as ``times.to_stored``
        text, None for NULL: the import parser and ``messages.py`` give it, so no writer looks at every
        value), skipping (conversation, external id) repeats, indexed for search; return how many were
        added."""

    def reserve_conversation_ids(self, conn: Connection) -> int:
        """The id the next new conversation gets, so messages can be inserted before their conversation
        (foreign keys checked at commit)."""

    def insert_conversations_counted(self, conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
        """Insert conversations (id, customer_id, status, persona_id, created_at) whose messages this
        transaction already inserted, with their counters (``counters.py``) computed as they are inserted."""

    def insert_ignoring_duplicates(self, table: sa.Table) -> sa.Insert:
        """An INSERT into ``table`` that silently skips rows violating a unique constraint."""

    def bytewise(self, text: sa.ColumnElement[str]) -> sa.ColumnElement[str]:
        """``text`` compared character code by character code, whatever the database's collation: a range
        such as ``'T1/' <= id < 'T10'`` must hold every ``T1/…`` (a linguistic collation may ignore ``/``)."""
