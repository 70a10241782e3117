"""The logs list: every conversation, most recent activity first, filtered and paged.

The list orders conversations by their last activity (the counter ``last_activity``: see ``counters.py``;
creation time for an empty one), newest first, through an expression index created by
:func:`migrate_logs_indexes` (migration 3). With that index the first page of 100,000 conversations is an
index walk of ``limit`` rows, not a sort; deep pages use OFFSET, which walks the index too (still
milliseconds at 100,000).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from support_console.core.vocabulary import STATE_NOTE, STATE_RECEIVED, STATE_SENT
from support_console.store.base import StoreBase
from support_console.store.customers import customer_filter
from support_console.store.tables import CONVERSATIONS, CUSTOMERS, MESSAGES, UTCDateTime

ACTIVITY_INDEX: Final = "ix_conversations_activity"
PREVIEW_CHARS: Final = 160
#: The messages of a conversation's audit trail (``audit.py``), which the list counts and previews: what the
#: customer wrote, notes and sent replies; not unsent or discarded drafts.
AUDITED_STATES: Final = (STATE_RECEIVED, STATE_SENT, STATE_NOTE)

_M = MESSAGES.c
_C = CONVERSATIONS.c
_K = CUSTOMERS.c


@dataclass(frozen=True)
class LogFilters:
    """What the logs list shows. ``customer`` matches name, email or external id (``customers.
    customer_filter``: any case, any script); ``since``/``until`` bound the conversation's last activity
    (inclusive / exclusive)."""

    customer: str | None = None
    persona: str | None = None
    status: str | None = None
    since: datetime | None = None
    until: datetime | None = None


@dataclass(frozen=True)
class ConversationRow:
    """One line of the logs list."""

    conversation_id: int
    customer_id: int
    customer_name: str
    customer_email: str
    status: str
    persona_id: str | None
    created_at: datetime
    last_activity: datetime
    messages: int
    preview: str  # the newest message's text, first PREVIEW_CHARS characters (never an unsent draft)


def migrate_logs_indexes(conn: Connection) -> None:
    """Migration 3: the index that orders conversations by last activity (see the module docstring)."""
    conn.exec_driver_sql(
        f"CREATE INDEX IF NOT EXISTS {ACTIVITY_INDEX} "
        "ON conversations ((coalesce(last_activity, created_at)), id)"  # (( )): also valid PostgreSQL
    )


def _activity() -> sa.ColumnElement[datetime]:
    """The ordering key; the same expression as the index, so SQLite walks the index."""
    return sa.func.coalesce(_C.last_activity, _C.created_at, type_=UTCDateTime())


def where_clauses(filters: LogFilters | None) -> list[sa.ColumnElement[bool]]:
    """WHERE clauses over conversations (and their customers) for ``filters``; the audit export uses them."""
    f = filters or LogFilters()
    clauses: list[sa.ColumnElement[bool]] = []
    if f.customer and f.customer.strip():
        clauses.append(_C.customer_id.in_(sa.select(_K.id).where(customer_filter(f.customer))))
    if f.persona:
        clauses.append(_C.persona_id == f.persona)
    if f.status:
        clauses.append(_C.status == f.status)
    if f.since is not None:
        clauses.append(_activity() >= sa.literal(f.since, UTCDateTime()))
    if f.until is not None:
        clauses.append(_activity() < sa.literal(f.until, UTCDateTime()))
    return clauses


class ConversationListMixin(StoreBase):
    """The logs list of the Store."""

    def list_conversations(
        self, filters: LogFilters | None = None, offset: int = 0, limit: int = 50
    ) -> list[ConversationRow]:
        """Conversations matching ``filters``, most recent activity first, ``limit`` rows from ``offset``."""
        count = (
            sa.select(sa.func.count())
            .where(_M.conversation_id == _C.id, _M.state.in_(AUDITED_STATES))  # as its audit trail counts
            .scalar_subquery()
        )
        preview = (
            sa.select(sa.func.substr(_M.text, 1, PREVIEW_CHARS))
            .where(_M.conversation_id == _C.id, _M.state.in_(AUDITED_STATES))
            .order_by(_M.id.desc())
            .limit(1)
            .scalar_subquery()
        )
        stmt = (
            sa.select(
                _C.id,
                _C.customer_id,
                _K.name,
                _K.email,
                _C.status,
                _C.persona_id,
                _C.created_at,
                _activity(),
                count,
                preview,
            )
            .join_from(CONVERSATIONS, CUSTOMERS, _K.id == _C.customer_id)
            .where(*where_clauses(filters))
            .order_by(_activity().desc(), _C.id.desc())
            .offset(max(0, offset))
            .limit(max(0, limit))
        )
        with self._reading() as conn:
            rows = conn.execute(stmt).all()
        return [
            ConversationRow(
                conversation_id=r[0],
                customer_id=r[1],
                customer_name=r[2],
                customer_email=r[3],
                status=r[4],
                persona_id=r[5],
                created_at=r[6],
                last_activity=r[7],
                messages=int(r[8] or 0),
                preview=r[9] or "",
            )
            for r in rows
        ]

    def count_conversations(self, filters: LogFilters | None = None) -> int:
        """How many conversations match ``filters`` (for the list's size and paging)."""
        stmt = sa.select(sa.func.count()).select_from(CONVERSATIONS).where(*where_clauses(filters))
        with self._reading() as conn:
            return int(conn.execute(stmt).scalar_one())
