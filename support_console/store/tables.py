"""The tables: customers, their conversations, and the messages in them (sqlmodel).

A customer message is ``role=customer, state=received``; a note is ``role=note, state=note``. A
reply (model-written or hand-written) is ``role=agent`` and stays ``state=draft`` until
``Store.approve_draft`` makes it ``sent``: only ``sent`` replies and customer messages count as
conversation output or reach the model.

Message order is insertion order (``id``), not ``created_at``: imported timestamps can be wrong or equal, ids
never are. Importers insert chronologically.

``Conversation.last_activity`` and ``Conversation.unread_count`` are counters maintained on every write; their
one definition is ``counters.py`` (``unread_count``: the customer messages after the last sent reply).
The customer rolls them up (``open_conversations``, ``unread``, ``last_activity``: see
:func:`customer_rollup`), kept current by database triggers whoever writes (the Store, the importer, another
process), so the customer list the UI starts with is an index walk of ``limit`` rows, whatever the number of
customers, conversations and messages.

All timestamps are timezone-aware UTC in Python; SQLite stores them as naive UTC text (``UTCDateTime``).

The classes describe the latest schema; ``migrations.py`` builds it (version 1 from its own frozen copy of
the first tables, then every change in order). Code that speaks SQLAlchemy Core uses the typed handles
:data:`CUSTOMERS`, :data:`CONVERSATIONS`, :data:`MESSAGES` and :data:`SERVED_MODELS` defined at the end.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlmodel import JSON, Field, SQLModel

from support_console.core.clock import as_utc, utcnow
from support_console.core.vocabulary import (
    GENERATION_DRAFT,
    ROLE_AGENT,
    ROLES,
    STATES,
    STATUS_OPEN,
    STATUSES,
    UNRESOLVED,
)
from support_console.store.times import from_stored, to_stored

#: Encoding name -> the Message column caching its token count.
TOKEN_COLUMNS: Final = {"o200k_base": "tokens_o200k", "cl100k_base": "tokens_cl100k"}


def _one_of(column: str, values: tuple[str, ...]) -> sa.CheckConstraint:
    """A CHECK that keeps typos in role/state/status out of the database, whoever writes to it."""
    allowed = ", ".join(f"'{v}'" for v in values)
    return sa.CheckConstraint(f"{column} IN ({allowed})", name=f"ck_{column}_known")


class _SQLiteDateTimeText(sa.types.UserDefinedType[str]):
    """A DATETIME column whose values pass through untouched: UTCDateTime does the (faster) conversion."""

    cache_ok = True

    def get_col_spec(self, **kw: Any) -> str:
        return "DATETIME"


class UTCDateTime(sa.TypeDecorator[datetime]):
    """Aware UTC datetimes in Python; naive UTC in the database (SQLite has no time zones).

    A naive datetime given to the store is taken to be UTC already (:func:`as_utc`). On SQLite
    the value is stored as text in SQLAlchemy's own layout (``YYYY-MM-DD HH:MM:SS.ffffff``, so text order is
    time order), but converted with the C-implemented ``isoformat``/``fromisoformat`` instead of
    SQLAlchemy's per-field formatting and regular expression: bulk imports and long pages handle many.
    """

    impl = sa.DateTime
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> sa.types.TypeEngine[Any]:
        if dialect.name == "sqlite":
            return _SQLiteDateTimeText()
        return dialect.type_descriptor(sa.DateTime())

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | str | None:
        if value is None:
            return None
        if dialect.name == "sqlite":
            return to_stored(value)
        return as_utc(value).replace(tzinfo=None)

    def process_result_value(self, value: datetime | str | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return from_stored(value) if isinstance(value, str) else as_utc(value)


class Customer(SQLModel, table=True):
    """A person who writes to support.

    ``email_key`` and ``match_key`` are the customer's folded keys (``core.matching.fold``; written with
    every customer write: ``customers.customer_keys``): ``email_key`` is the folded email, unique, used by
    every lookup by email; ``match_key`` the folded name, email and external id, one per line, searched by
    every customer filter. ``email_key`` is NULL only for a customer that, before schema version 7, shared an
    email with an older customer under this folding (the older one keeps the key: see migrations.py).
    """

    __tablename__ = "customers"
    __table_args__ = (
        sa.Index("ix_customers_email_key", "email_key", unique=True),
        sa.Index("ix_customers_external_id", "external_id", unique=True),
        # The customer list's order (customers.LIST_ORDER): open first, then newest activity.
        sa.Index(
            "ix_customers_list",
            sa.text("(open_conversations > 0) DESC"),
            sa.text("last_activity DESC"),
            sa.text("id DESC"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    name: str
    email: str = Field(unique=True)
    external_id: str | None = None
    attributes: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    # Roll-up of the customer's conversations (customer_rollup), kept current by triggers.
    open_conversations: int = 0
    unread: int = 0
    last_activity: datetime | None = Field(default=None, sa_type=UTCDateTime)
    email_key: str | None = None
    match_key: str = ""


class Conversation(SQLModel, table=True):
    """One thread with a customer; at most one is current (unresolved) per customer at a time."""

    __tablename__ = "conversations"
    __table_args__ = (
        sa.Index("ix_conversations_customer_status", "customer_id", "status"),
        _one_of("status", STATUSES),
    )

    id: int | None = Field(default=None, primary_key=True)
    customer_id: int = Field(foreign_key="customers.id", ondelete="CASCADE")
    status: str = STATUS_OPEN
    persona_id: str | None = None
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    # Denormalised counters, maintained by the Store on every write (see the module docstring).
    last_activity: datetime | None = Field(default=None, sa_type=UTCDateTime)
    unread_count: int = 0
    # Schema version 10 (counters.py): when the customer started waiting for a reply (NULL: answered), and
    # the newest message the agent has seen (unread counts only what came after it).
    waiting_since: datetime | None = Field(default=None, sa_type=UTCDateTime)
    seen_id: int | None = None
    # Schema version 14 (team.py): the agent working on it (NULL: unassigned, anyone may take it).
    assignee: str | None = None


class Message(SQLModel, table=True):
    """A customer message, a note, or an agent reply (draft, sent or discarded)."""

    __tablename__ = "messages"
    __table_args__ = (
        sa.Index("ix_messages_conversation_id_id", "conversation_id", "id"),
        sa.Index("ix_messages_conversation_external", "conversation_id", "external_id", unique=True),
        _one_of("role", ROLES),
        _one_of("state", STATES),
    )

    id: int | None = Field(default=None, primary_key=True)
    conversation_id: int = Field(foreign_key="conversations.id", ondelete="CASCADE")
    role: str
    state: str
    text: str
    original_text: str | None = None  # the model's text, kept when the agent edits before sending
    persona_id: str | None = None
    model: str | None = None
    finish_reason: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    error: str | None = None
    approved_by: str | None = None
    approved_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    external_id: str | None = None
    # Token counts of ``text`` per encoding; NULL until history_newest_first first needs them.
    tokens_o200k: int | None = None
    tokens_cl100k: int | None = None
    # How the draft failed (core.vocabulary.ErrorKind's value), NULL when it did not: stats count by it.
    error_kind: str | None = None
    # The generation the text came from (schema version 9; no foreign key: generations refer to messages).
    generation_id: int | None = None
    # The newer draft that replaced this one (state ``discarded``; the audit says "superseded").
    superseded_by: int | None = None
    # Schema version 14: the newest event (``events.id``) the draft was written against; approving it is
    # refused when an answer-changing event of its conversation came after (``drafts.approve_draft``).
    basis_event_id: int | None = None
    # Schema version 14: the agent whose draft this is. A new draft supersedes only its author's earlier
    # one (and drafts without an author), so two agents drafting on one conversation keep their own.
    author: str | None = None


def customer_rollup(customer_id: sa.ColumnElement[int]) -> sa.Update:
    """The UPDATE that recomputes one customer's roll-up of their conversations (:func:`customers_rollup`)."""
    return customers_rollup(CUSTOMERS.c.id == customer_id)


def customers_rollup(which: sa.ColumnElement[bool]) -> sa.Update:
    """The UPDATE that recomputes the roll-up of the customers ``which`` picks: its one definition.

    ``open_conversations`` counts unresolved (open or pending) conversations, ``unread`` sums their
    ``unread_count``, ``last_activity`` is the newest conversation activity (creation time for an empty one).
    It reads only those customers' conversations (index on customer_id). The backends' triggers run it after
    every change to a conversation (``Backend.create_rollup_triggers``).
    """
    c = CONVERSATIONS.c
    k = CUSTOMERS
    mine = c.customer_id == k.c.id
    unresolved = sa.and_(mine, c.status.in_(UNRESOLVED))
    return (
        k.update()
        .where(which)
        .values(
            open_conversations=sa.select(sa.func.count()).where(unresolved).scalar_subquery(),
            unread=sa.select(sa.func.coalesce(sa.func.sum(c.unread_count), 0))
            .where(unresolved)
            .scalar_subquery(),
            last_activity=sa.select(sa.func.max(sa.func.coalesce(c.last_activity, c.created_at)))
            .where(mine)
            .scalar_subquery(),
        )
    )


class ServedModel(SQLModel, table=True):
    """What model a requested name really ran as, from the responses' ``model`` field (schema version 5).

    Azure deployment names are arbitrary ("prod-chat"): only the service knows that it serves
    ``gpt-4o-2024-08-06``. Remembering it lets the next request for that deployment be trimmed and
    parameterised for the right family (``models.resolve_model(..., served_model=...)``).
    """

    __tablename__ = "served_models"

    name: str = Field(primary_key=True)  # the model or deployment name requests use
    served_model: str
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Generation(SQLModel, table=True):
    """One request to the model and how it ended (schema version 9): its own record, never reused.

    ``message_id`` is the draft its text went into (NULL when it failed or was stopped before a draft
    existed; a regeneration that produced no text names the draft it left as it was); ``replaces`` the
    generation it regenerated (the one whose text the draft held). A draft's final text is kept in
    ``output_text`` too, so regenerating the draft in place loses no earlier generation's text. The facts
    are this generation's alone: a stopped regeneration has no finish reason and no usage, whatever came
    before. The message keeps a copy of the facts of the generation whose text it holds (what the console
    and the stats read).
    """

    __tablename__ = "generations"
    __table_args__ = (
        sa.Index("ix_generations_conversation_id", "conversation_id", "id"),
        sa.Index("ix_generations_message_id", "message_id"),
        sa.Index("ix_generations_started_at", "started_at"),
        sa.Index("ix_generations_kind", "kind", "started_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    conversation_id: int = Field(foreign_key="conversations.id", ondelete="CASCADE")
    message_id: int | None = Field(default=None, foreign_key="messages.id", ondelete="SET NULL")
    replaces: int | None = Field(default=None, foreign_key="generations.id", ondelete="SET NULL")
    persona_id: str | None = None
    model: str | None = None
    parameters: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    finish_reason: str | None = None
    error: str | None = None
    error_kind: str | None = None
    started_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    ended_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    stopped_by_agent: bool = False
    # schema version 12: what the generation was for (core/vocabulary GENERATION_*), the rewrite tool it ran,
    # the agent who asked for it, its text (a rewrite's preview, a summary; a draft's final text), and
    # what the agent did with such a text (OUTCOME_*; None while undecided or for drafts).
    kind: str = Field(default=GENERATION_DRAFT, sa_column_kwargs={"server_default": GENERATION_DRAFT})
    tool_id: str | None = None
    agent: str | None = None
    output_text: str | None = None
    outcome: str | None = None
    # schema version 13 (store/insight.py): the newest message a summary read (a newer one makes it stale),
    # and the agent's thumbs up (+1) or down (-1) on the generation, with an optional reason.
    covers_message_id: int | None = None
    rating: int | None = None
    rating_reason: str | None = None
    rated_by: str | None = None
    rated_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class ServerModel(SQLModel, table=True):
    """What an OpenAI-compatible server said about a model it serves (schema version 11).

    Keyed by the server's base URL and the model name, since two servers may serve one name with different
    windows. ``source`` says where the window came from (an endpoint, or an overflow error that named it);
    ``offered`` is the newline-joined list of model names the server listed.
    """

    __tablename__ = "server_models"

    base_url: str = Field(primary_key=True)
    model: str = Field(primary_key=True)
    context_window: int | None = None
    source: str = ""
    offered: str = ""
    count_ratio: float | None = None  # the server's prompt count over ours (its tokenizer vs tiktoken)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Event(SQLModel, table=True):
    """Who did what to a conversation, and when (schema version 14): notes, status changes, assignments,
    sent replies, customer messages, an agent having read what was unread (``core.vocabulary.EVENT_*``;
    ``agent`` NULL for what no agent did).

    The id order is commit order (``Backend.serialise_events``), so the table is also the change feed
    consoles follow (``live.py``: "what changed since event N") and the basis the send-time guard compares
    a draft against. ``conversation_id`` NULL: many conversations at once (an import).
    """

    __tablename__ = "events"
    __table_args__ = (sa.Index("ix_events_conversation_id", "conversation_id", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    conversation_id: int | None = Field(default=None, foreign_key="conversations.id", ondelete="CASCADE")
    agent: str | None = None
    kind: str
    detail: str = ""
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Presence(SQLModel, table=True):
    """One console's heartbeat (schema version 14): which agent, on which conversation, doing what.

    Rewritten every few seconds (``presence.HEARTBEAT_SECONDS``); a row older than the expiry is ignored and
    cleared, so a console that crashed leaves no ghost. Presence only warns: nothing is refused by it.
    """

    __tablename__ = "presence"

    console_id: str = Field(primary_key=True)
    agent: str
    conversation_id: int | None = None
    activity: str = "viewing"
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


# ------------------------------------------------------------------------------------------- typed handles

#: The tables as SQLAlchemy Core sees them, typed once (sqlmodel does not type ``__table__``).
CUSTOMERS: Final[sa.Table] = SQLModel.metadata.tables[str(Customer.__tablename__)]
CONVERSATIONS: Final[sa.Table] = SQLModel.metadata.tables[str(Conversation.__tablename__)]
MESSAGES: Final[sa.Table] = SQLModel.metadata.tables[str(Message.__tablename__)]
SERVED_MODELS: Final[sa.Table] = SQLModel.metadata.tables[str(ServedModel.__tablename__)]
GENERATIONS: Final[sa.Table] = SQLModel.metadata.tables[str(Generation.__tablename__)]
SERVER_MODELS: Final[sa.Table] = SQLModel.metadata.tables[str(ServerModel.__tablename__)]
EVENTS: Final[sa.Table] = SQLModel.metadata.tables[str(Event.__tablename__)]
PRESENCE: Final[sa.Table] = SQLModel.metadata.tables[str(Presence.__tablename__)]


def ai_assisted(m: sa.ColumnCollection[str, sa.ColumnElement[Any]] | Any) -> sa.ColumnElement[bool]:
    """An AI-assisted reply: an agent reply that came from the model (``original_text`` or ``model`` set;
    a hand-written reply has neither). The one definition: the stats count by it, the audit trail reads it."""
    return sa.and_(m.role == ROLE_AGENT, sa.or_(m.original_text.is_not(None), m.model.is_not(None)))


def happened_at(m: sa.ColumnCollection[str, sa.ColumnElement[Any]] | Any) -> sa.ColumnElement[datetime]:
    """When a message happened in its conversation: a reply when it was sent, anything else when it was
    written (``audit.AuditMessage.happened_at`` for a message read). The one definition in SQL: the activity
    counter (``counters.newest_activity``) and search's hits read it."""
    return sa.func.coalesce(m.approved_at, m.created_at)
