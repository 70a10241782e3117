"""Schema migrations: an ordered list of functions and a ``schema_version`` table.

HOW TO ADD A MIGRATION (this is all it takes)
    Write ``def _vN_what_it_does(conn: Connection) -> None`` and append it to ``MIGRATIONS`` below.
    Its version is its position in the list (the first entry is version 1). Never reorder, edit or remove an
    entry that has shipped: databases in the field record which versions they have run.

    Each migration runs in its own write transaction (``BEGIN IMMEDIATE`` on SQLite), together with the update
    of ``schema_version``: it either happens completely or not at all, and a crash mid-upgrade leaves the
    database at the previous version with every conversation intact. Use ``conn`` only (never the ORM session
    or another connection), and only additive, data-keeping changes (CREATE, ALTER TABLE ADD, backfills).
    What only one database can do goes through its backend (``engine.backend_for(conn)``: triggers, FTS5).

    Migration 1 creates the version-1 tables frozen in ``schema_v1.py`` (``tables.py`` describes the latest
    schema, which later migrations ALTER version 1 into), plus the triggers that keep each customer's
    roll-up of their conversations current.

Several processes may open the same file at once: the current version is re-read inside each migration's
write transaction, so a migration that another process has just applied is skipped, not run twice.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlmodel import SQLModel

from support_console.core.errors import StoreError
from support_console.core.vocabulary import (
    GENERATION_DRAFT,
    REFUSAL_NOTE,
    ROLE_AGENT,
    STATE_DISCARDED,
    STATE_DRAFT,
    STOPPED_NOTE,
    ErrorKind,
)
from support_console.store.conversation_list import migrate_logs_indexes
from support_console.store.counters import waiting_since
from support_console.store.customers import customer_keys
from support_console.store.engine import backend_for
from support_console.store.history import create_history_index
from support_console.store.like import contains
from support_console.store.schema_v1 import V1
from support_console.store.schema_v9 import V9, V9_GENERATIONS
from support_console.store.tables import (
    CONVERSATIONS,
    CUSTOMERS,
    GENERATIONS,
    MESSAGES,
    SERVED_MODELS,
    SERVER_MODELS,
    UTCDateTime,
    ai_assisted,
)
from support_console.store.team import migrate_team_mode

Migration = Callable[[Connection], None]

_VERSION_TABLE = "schema_version"


def _v1_core_schema(conn: Connection) -> None:
    """Version 1: customers, conversations, messages, their indexes, and the customer roll-up triggers.

    On a database without a backend (not SQLite) this refuses, naming what to use instead.
    """
    backend = backend_for(conn)
    V1.create_all(conn)
    backend.create_rollup_triggers(conn)


def _v2_full_text(conn: Connection) -> None:
    """Version 2: the full-text index over message text, with every existing message in it."""
    backend_for(conn).create_full_text_index(conn)


def _v5_served_models(conn: Connection) -> None:
    """Version 5: the served_models table (which model a deployment name really runs as)."""
    SQLModel.metadata.create_all(conn, tables=[SERVED_MODELS])


def _v6_bulk_indexing(conn: Connection) -> None:
    """Version 6: bulk writers index a batch at once (SQLite: ``sqlite/fts.py`` deferred_fts)."""
    backend_for(conn).prepare_bulk_indexing(conn)


#: Customers read and rewritten per statement by the version 7 backfill (bounded memory on any size).
_BACKFILL_BATCH = 5000


def _v7_customer_keys(conn: Connection) -> None:
    """Version 7: the customers' folded keys (``tables.Customer``: email_key, match_key), backfilled.

    Until now emails were unique by SQL ``lower()``, which folds ASCII letters only, while the importer
    folded in Python: ``Élise@x`` and ``élise@x`` could become two customers. Such pairs cannot be merged
    safely (they may differ in name, external id, attributes), so the oldest keeps the email key and the
    later ones get NULL there: they are still listed, filtered, searched and exported (``match_key``), and
    every lookup by that email finds the oldest. The unique index on ``email_key`` then replaces the one on
    ``lower(email)``, so no new pair can appear, whoever writes.
    """
    conn.exec_driver_sql("ALTER TABLE customers ADD COLUMN email_key VARCHAR")
    conn.exec_driver_sql("ALTER TABLE customers ADD COLUMN match_key VARCHAR NOT NULL DEFAULT ''")
    k = CUSTOMERS.c
    read = sa.select(k.id, k.name, k.email, k.external_id).order_by(k.id).limit(_BACKFILL_BATCH)
    write = (
        CUSTOMERS.update()
        .where(k.id == sa.bindparam("cid"))
        .values(email_key=sa.bindparam("ek"), match_key=sa.bindparam("mk"))
    )
    taken: set[str] = set()
    last = 0
    while rows := conn.execute(read.where(k.id > last)).all():
        updates = []
        for customer_id, name, email, external_id in rows:
            keys = customer_keys(name, email, external_id)
            email_key = keys["email_key"]
            if email_key in taken:
                email_key = None  # a later customer with an email an older one has (see above)
            taken.add(keys["email_key"])
            updates.append({"cid": customer_id, "ek": email_key, "mk": keys["match_key"]})
        conn.execute(write, updates)
        last = rows[-1][0]
    conn.exec_driver_sql("DROP INDEX IF EXISTS ix_customers_email_lower")
    conn.exec_driver_sql("CREATE UNIQUE INDEX ix_customers_email_key ON customers (email_key)")


def _v8_error_kinds(conn: Connection) -> None:
    """Version 8: ``messages.error_kind``, what kind of failure ended a draft (stats count by it).

    Backfilled by the rules the stats used until now, so an upgraded database keeps its figures: a content
    filter (finish reason ``content_filter``, or an error that says so), the model's refusal
    (``REFUSAL_NOTE``), the agent's stop (``STOPPED_NOTE``), and any other error as ``unknown``.
    """
    conn.exec_driver_sql("ALTER TABLE messages ADD COLUMN error_kind VARCHAR")
    m = MESSAGES.c
    error = sa.func.lower(m.error)
    filtered = sa.or_(
        m.finish_reason == "content_filter",
        contains(error, "content filter"),
        contains(error, "content_filter"),
    )
    kind = sa.case(
        (filtered, ErrorKind.CONTENT_FILTER.value),
        (m.error == REFUSAL_NOTE, ErrorKind.REFUSED.value),
        (m.error == STOPPED_NOTE, ErrorKind.STOPPED.value),
        else_=ErrorKind.UNKNOWN.value,
    )
    failed = sa.or_(m.error.is_not(None), m.finish_reason == "content_filter")
    conn.execute(MESSAGES.update().where(m.role == ROLE_AGENT, failed).values(error_kind=kind))


def _v9_generations(conn: Connection) -> None:
    """Version 9: every generation its own record (``tables.Generation``), and one pending draft per
    conversation.

    Each AI-assisted reply stored so far (draft, sent or discarded) gets one generation from its own fields
    (what the message knew: persona, model, tokens, finish reason, error kind; started at its creation,
    ended at its last update), and the message links to it. Parameters were not recorded before: ``{}``.
    A conversation with several pending drafts keeps the newest one with text (else the newest) pending;
    the others become superseded by it, so the console restores the one worth reviewing.
    """
    conn.exec_driver_sql("ALTER TABLE messages ADD COLUMN generation_id INTEGER")
    conn.exec_driver_sql("ALTER TABLE messages ADD COLUMN superseded_by INTEGER")
    V9.create_all(conn, tables=[V9_GENERATIONS])
    m, g = MESSAGES.c, GENERATIONS.c
    stopped = sa.case((m.error_kind == ErrorKind.STOPPED.value, True), else_=False)
    columns = (
        "conversation_id", "message_id", "persona_id", "model", "parameters", "prompt_tokens",
        "completion_tokens", "finish_reason", "error", "error_kind", "started_at", "ended_at",
        "stopped_by_agent",
    )  # fmt: skip
    rows = sa.select(
        m.conversation_id, m.id, m.persona_id, m.model, sa.literal({}, V9_GENERATIONS.c.parameters.type),
        m.prompt_tokens, m.completion_tokens, m.finish_reason, m.error, m.error_kind, m.created_at,
        m.updated_at, stopped,
    ).where(ai_assisted(m)).order_by(m.id)  # fmt: skip
    conn.execute(V9_GENERATIONS.insert().from_select(columns, rows))
    linked = sa.select(sa.func.max(g.id)).where(g.message_id == m.id).scalar_subquery()
    conn.execute(MESSAGES.update().where(ai_assisted(m)).values(generation_id=linked))
    _supersede_extra_drafts(conn)


def _supersede_extra_drafts(conn: Connection) -> None:
    """Leave one pending draft per conversation (see ``_v9_generations``)."""
    m = MESSAGES.c
    crowded = (
        sa.select(m.conversation_id)
        .where(m.state == STATE_DRAFT)
        .group_by(m.conversation_id)
        .having(sa.func.count() > 1)
    )
    for (conversation_id,) in conn.execute(crowded).all():
        drafts = conn.execute(
            sa.select(m.id, m.text)
            .where(m.conversation_id == conversation_id, m.state == STATE_DRAFT)
            .order_by(m.id.desc())
        ).all()
        keep = next((i for i, text in drafts if text.strip()), drafts[0][0])
        conn.execute(
            MESSAGES.update()
            .where(m.conversation_id == conversation_id, m.state == STATE_DRAFT, m.id != keep)
            .values(state=STATE_DISCARDED, superseded_by=keep)
        )


def _v10_work_queue(conn: Connection) -> None:
    """Version 10: the work queue's counters (``counters.py``: ``waiting_since``, ``seen_id``), backfilled
    by their one definition, and the indexes its views walk (``queue_rows.py``)."""
    conn.exec_driver_sql(f"ALTER TABLE conversations ADD COLUMN waiting_since {_time_type(conn)}")
    conn.exec_driver_sql("ALTER TABLE conversations ADD COLUMN seen_id INTEGER")
    c = CONVERSATIONS.c
    conn.execute(CONVERSATIONS.update().values(waiting_since=waiting_since(c.id)))
    conn.exec_driver_sql(
        "CREATE INDEX IF NOT EXISTS ix_conversations_waiting ON conversations (status, waiting_since, id) "
        "WHERE waiting_since IS NOT NULL"
    )
    conn.exec_driver_sql(
        "CREATE INDEX IF NOT EXISTS ix_conversations_status_activity "
        "ON conversations (status, (coalesce(last_activity, created_at)), id)"
    )


def _v11_server_models(conn: Connection) -> None:
    """Version 11: the server_models table, what each OpenAI-compatible server said about a model (its
    context window, the names it offers, how its prompt counts compare with ours)."""
    SQLModel.metadata.create_all(conn, tables=[SERVER_MODELS])


def _time_type(conn: Connection) -> str:
    """The column type of a stored time on this database (``tables.UTCDateTime``: DATETIME on SQLite,
    TIMESTAMP WITHOUT TIME ZONE on PostgreSQL), for ``ALTER TABLE … ADD COLUMN``."""
    return str(UTCDateTime().compile(dialect=conn.dialect))


def _v12_generation_kinds(conn: Connection) -> None:
    """Version 12: what each generation was for (``kind``: every earlier one was a draft), the rewrite tool
    and the agent behind it, the text of one that went into no draft, and what the agent did with it."""
    for ddl in (
        f"ALTER TABLE generations ADD COLUMN kind VARCHAR NOT NULL DEFAULT '{GENERATION_DRAFT}'",
        "ALTER TABLE generations ADD COLUMN tool_id VARCHAR",
        "ALTER TABLE generations ADD COLUMN agent VARCHAR",
        "ALTER TABLE generations ADD COLUMN output_text VARCHAR",
        "ALTER TABLE generations ADD COLUMN outcome VARCHAR",
    ):
        conn.exec_driver_sql(ddl)
    conn.exec_driver_sql("CREATE INDEX IF NOT EXISTS ix_generations_kind ON generations (kind, started_at)")


def _v13_summaries_and_ratings(conn: Connection) -> None:
    """Version 15 in the team's plan (the lead renumbers at merge): the newest message a summary read
    (``covers_message_id``: a newer one makes it stale) and the agent's thumbs up or down on a generation
    (``rating`` +1 or -1, an optional ``rating_reason``, who rated and when)."""
    for ddl in (
        "ALTER TABLE generations ADD COLUMN covers_message_id INTEGER",
        "ALTER TABLE generations ADD COLUMN rating INTEGER",
        "ALTER TABLE generations ADD COLUMN rating_reason VARCHAR",
        "ALTER TABLE generations ADD COLUMN rated_by VARCHAR",
        "ALTER TABLE generations ADD COLUMN rated_at TIMESTAMP",
    ):
        conn.exec_driver_sql(ddl)


def _v15_bulk_writes(conn: Connection) -> None:
    """Version 15: PostgreSQL rolls up a statement's customers once, not once per conversation row
    (``postgres/rollup.py``: the importer's batches spent a tenth of their time there), and inlines the
    search folding into the generated vector column (``postgres/search.create_fold_function``)."""
    backend_for(conn).speed_up_bulk_writes(conn)


#: The ordered migrations. Append only (see the module docstring).
MIGRATIONS: list[Migration] = [
    _v1_core_schema,
    _v2_full_text,
    migrate_logs_indexes,  # v3: conversations by last activity, for the logs list (conversation_list.py)
    create_history_index,  # v4: partial index of the messages that reach the model (history.py)
    _v5_served_models,
    _v6_bulk_indexing,
    _v7_customer_keys,
    _v8_error_kinds,
    _v9_generations,
    _v10_work_queue,
    _v11_server_models,
    _v12_generation_kinds,
    _v13_summaries_and_ratings,
    migrate_team_mode,  # v14: assignee, events, presence, a draft's basis (team.py)
    _v15_bulk_writes,
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


def foreign_tables(tables: Collection[str]) -> list[str]:
    """The tables that make a database another application's (empty when it is ours, or empty).

    Ours has the ``schema_version`` table, and from version 1 on the ``customers`` table; a database with
    tables but neither is someone else's, and support-console must not add its own to it. (A new file, or
    one that holds no table yet, becomes a support-console database.)
    """
    names = sorted(t for t in tables if not t.startswith("sqlite_"))
    if _VERSION_TABLE in names and ("customers" in names or names == [_VERSION_TABLE]):
        return []
    return names


def refuse_foreign(where: str, tables: Collection[str]) -> None:
    """StoreError naming the database ``where`` when ``tables`` are another application's."""
    foreign = foreign_tables(tables)
    if foreign:
        shown = ", ".join(foreign[:5]) + (f" and {len(foreign) - 5} more" if len(foreign) > 5 else "")
        raise StoreError(
            f"{where} is not a support-console database (it holds other tables: {shown}), so nothing was "
            "written to it: choose another file with --db (a new path or an empty file becomes a "
            "support-console database)."
        )


def check_readable_version(engine: Engine, where: str) -> None:
    """For a database opened read-only (never migrated): StoreError unless its schema is this program's."""
    with engine.connect() as conn:
        version = current_version(conn)
    latest = latest_version()
    if version > latest:
        raise StoreError(
            f"The database {where} is at schema version {version}, newer than this support-console "
            f"understands ({latest}): upgrade support-console, or open another database with --db."
        )
    if version < latest:
        raise StoreError(
            f"The database {where} is read-only here and at schema version {version}, older than this "
            f"support-console's ({latest}): open it once where it is writable to upgrade it, then read it "
            "here."
        )


def migrate(engine: Engine, migrations: Sequence[Migration] | None = None) -> int:
    """Bring the database up to the latest version, one transaction per migration; return the version.

    ``migrations`` defaults to :data:`MIGRATIONS` (tests pass their own list to simulate an upgrade).
    Refuses to touch a database written by a newer support-console, rather than corrupt it.
    """
    steps = list(MIGRATIONS if migrations is None else migrations)
    backend_for(engine)  # a database without a backend is refused before anything is written to it
    with engine.begin() as conn:
        refuse_foreign(engine.url.render_as_string(hide_password=True), sa.inspect(conn).get_table_names())
        if not sa.inspect(conn).has_table(_VERSION_TABLE):  # a role that may not create tables opens a
            conn.exec_driver_sql(f"CREATE TABLE {_VERSION_TABLE} (version INTEGER NOT NULL)")  # current one
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
