"""Schema migrations: an ordered list of functions and a ``schema_version`` table.

HOW TO ADD A MIGRATION (this is all it takes)
    Write ``def _vN_what_it_does(conn: Connection) -> None`` and append it to ``MIGRATIONS`` below.
    Its version is its position in the list (the first entry is version 1). Never reorder, edit or remove an
    entry that has shipped: databases in the field record which versions they have run.

    Each migration runs in its own write transaction (``BEGIN IMMEDIATE`` on SQLite), together with the update
    of ``schema_version``: it either happens completely or not at all, and a crash mid-upgrade leaves the
    database at the previous version with every conversation intact. Use ``conn`` only (never the ORM session
    or another connection), and only additive, data-keeping changes (CREATE, ALTER TABLE ADD, backfills).
    A migration that is specific to SQLite (e.g. FTS5) checks ``engine.is_sqlite(conn)`` and does nothing
    elsewhere.

    Migration 1 creates the core tables from ``models.py`` with ``create_all``, plus the triggers that keep
    each customer's roll-up of their conversations current (``engine.create_rollup_triggers``). That is
    correct as long as ``models.py`` still describes the version-1 tables. The first migration that ALTERs an
    existing table must also freeze migration 1: copy the version-1 table definitions into this file and
    create those instead.

Several processes may open the same file at once: the current version is re-read inside each migration's
write transaction, so a migration that another process has just applied is skipped, not run twice.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlmodel import SQLModel

from support_console.core.errors import StoreError
from support_console.store.conversation_list import migrate_logs_indexes
from support_console.store.engine import create_rollup_triggers
from support_console.store.history import create_history_index
from support_console.store.search import migrate_fts5, migrate_fts_deferral
from support_console.store.tables import Conversation, Customer, Message, ServedModel

Migration = Callable[[Connection], None]

_VERSION_TABLE = "schema_version"


def _v1_core_schema(conn: Connection) -> None:
    """Version 1: customers, conversations, messages, their indexes, and the customer roll-up triggers."""
    tables = [SQLModel.metadata.tables[m.__tablename__] for m in (Customer, Conversation, Message)]
    SQLModel.metadata.create_all(conn, tables=tables)
    create_rollup_triggers(conn)


def _v5_served_models(conn: Connection) -> None:
    """Version 5: the served_models table (which model a deployment name really runs as)."""
    SQLModel.metadata.create_all(conn, tables=[SQLModel.metadata.tables[ServedModel.__tablename__]])


#: The ordered migrations. Append only (see the module docstring).
MIGRATIONS: list[Migration] = [
    _v1_core_schema,
    migrate_fts5,  # v2: FTS5 index over messages.text + sync triggers (store/search.py)
    migrate_logs_indexes,  # v3: conversations by last activity, for the logs screen (store/logs.py)
    create_history_index,  # v4: partial index of the messages that reach the model (store/history.py)
    _v5_served_models,
    migrate_fts_deferral,  # v6: bulk writers index a batch at once (store/bulk.py deferred_fts)
]


def latest_version(migrations: Sequence[Migration] | None = None) -> int:
    """The version a fully migrated database has."""
    return len(MIGRATIONS if migrations is None else migrations)


def current_version(conn: Connection) -> int:
    """The version recorded in the database (0 for a new, empty database)."""
    if not sa.inspect(conn).has_table(_VERSION_TABLE):
        return 0
    value = conn.exec_driver_sql(f"SELECT max(version) FROM {_VERSION_TABLE}").scalar()
    return int(value or 0)


def migrate(engine: Engine, migrations: Sequence[Migration] | None = None) -> int:
    """Bring the database up to the latest version, one transaction per migration; return the version.

    ``migrations`` defaults to :data:`MIGRATIONS` (tests pass their own list to simulate an upgrade).
    Refuses to touch a database written by a newer support-console, rather than corrupt it.
    """
    steps = list(MIGRATIONS if migrations is None else migrations)
    with engine.begin() as conn:
        conn.exec_driver_sql(f"CREATE TABLE IF NOT EXISTS {_VERSION_TABLE} (version INTEGER NOT NULL)")
        version = current_version(conn)
    if version > len(steps):
        raise StoreError(
            f"The database is at schema version {version}, newer than this support-console understands "
            f"({len(steps)}): upgrade support-console, or open another database with --db."
        )
    for target, step in enumerate(steps, start=1):
        if version >= target:
            continue
        with engine.begin() as conn:
            version = current_version(conn)  # another process may have migrated meanwhile
            if version >= target:
                continue
            step(conn)
            conn.execute(sa.text(f"INSERT INTO {_VERSION_TABLE} (version) VALUES (:v)"), {"v": target})
            version = target
    return version
