"""Team mode in the Store: who did what (the events log), who works on which conversation (assignment), and
*take next*, which hands each agent a different conversation however many press it at once.

Why an events table rather than "updated_by" columns: one row per change keeps every step (a note, a status,
a reassignment) with its agent, and the same rows are the change feed other consoles follow (``live.py``)
and the basis of the send-time guard (``drafts.approve_draft``). Events are written in the transaction of
the change they record, after ``Backend.serialise_events``, so their ids are in commit order.

Why take next is one statement pair in one write transaction: on SQLite the transaction began with
``BEGIN IMMEDIATE`` (writers queue), on PostgreSQL the candidate row is locked ``FOR UPDATE SKIP LOCKED``
(a second agent skips it and takes the next). SQLAlchemy drops ``with_for_update`` on SQLite, so one query
serves both; the UPDATE re-checks ``assignee IS NULL`` so even a backend that did neither could not hand
one conversation to two agents.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlmodel import SQLModel

from support_console.core.clock import utcnow
from support_console.core.errors import NotFoundError, StoreError
from support_console.core.matching import fold, spelled_among
from support_console.core.vocabulary import (
    EVENT_ASSIGNED,
    EVENT_IMPORTED,
    EVENT_RELEASED,
    STATUS_OPEN,
)
from support_console.store.base import StoreBase
from support_console.store.engine import backend_for
from support_console.store.queue_rows import QueueRow, queue_row, row_sql
from support_console.store.tables import CONVERSATIONS, EVENTS, MESSAGES, PRESENCE


@dataclass(frozen=True)
class EventRecord:
    """One row of the events log, as the audit screen and the change feed read it."""

    id: int
    conversation_id: int | None
    agent: str | None
    kind: str
    detail: str
    at: datetime


def log_event(
    conn: Connection, conversation_id: int | None, kind: str, agent: str | None = None, detail: str = ""
) -> int:
    """Record one event inside the caller's write transaction; return its id (the feed's cursor)."""
    backend_for(conn).serialise_events(conn)
    values = {
        "conversation_id": conversation_id,
        "agent": (agent or "").strip() or None,
        "kind": kind,
        "detail": detail,
        "at": utcnow(),
    }
    return int(conn.execute(EVENTS.insert().values(values).returning(EVENTS.c.id)).scalar_one())


def log_imported(conn: Connection, after_id: int, *among: sa.ColumnElement[bool]) -> None:
    """One ``imported`` event for each conversation (of those ``among`` picks, clauses over ``MESSAGES``)
    that got messages with ids above ``after_id`` in the caller's write transaction: an import into a
    conversation is a change the send-time guard refuses a draft for, and other consoles read it again."""
    m = MESSAGES.c
    counts = conn.execute(
        sa.select(m.conversation_id, sa.func.count())
        .where(m.id > after_id, *among)
        .group_by(m.conversation_id)
        .order_by(m.conversation_id)
    ).all()
    for conversation_id, count in counts:
        noun = "message" if count == 1 else "messages"
        log_event(conn, int(conversation_id), EVENT_IMPORTED, None, f"{count} {noun}")


def latest_event_id(conn: Connection) -> int:
    """The newest event's id (0 when there is none): a draft's basis, a feed's starting point."""
    return int(conn.execute(sa.select(sa.func.coalesce(sa.func.max(EVENTS.c.id), 0))).scalar_one())


def _next_unassigned() -> sa.Select[Any]:
    """The next conversation to take: open, the customer waiting, nobody on it, longest waiting first (the
    ``unassigned`` view's order, ``queue_rows.py``, so that view's first row is what take next takes)."""
    c = CONVERSATIONS.c
    return (
        sa.select(c.id)
        .where(c.status == STATUS_OPEN, c.waiting_since.is_not(None), c.assignee.is_(None))
        .order_by(c.waiting_since, c.id)
        .limit(1)
        .with_for_update(skip_locked=True)
    )


class TeamMixin(StoreBase):
    """Assignment, take next and the events log of the Store."""

    def take_next(self, agent: str) -> QueueRow | None:
        """Assign the longest-waiting unassigned open conversation to ``agent`` and return it (None when
        nothing is waiting). Atomic: two agents pressing it at once never get the same conversation."""
        name = _agent(agent)
        c = CONVERSATIONS.c
        for _ in range(_TAKE_ATTEMPTS):
            with self._write() as session:
                conn = session.connection()
                candidate = conn.execute(_next_unassigned()).scalar_one_or_none()
                if candidate is None:
                    return None
                found = int(candidate)
                taken = conn.execute(
                    CONVERSATIONS.update()
                    .where(c.id == found, c.assignee.is_(None))
                    .values(assignee=name, updated_at=utcnow())
                )
                if taken.rowcount == 1:
                    log_event(conn, found, EVENT_ASSIGNED, name, name)
                    return self._queue_row(conn, found)
        return None  # every candidate went to someone else meanwhile (only without row locks)

    def assign(self, conversation_id: int, assignee: str, *, by: str) -> str:
        """Give the conversation to ``assignee`` (reassigning it if someone has it); ``by`` is who did it.

        Returns the name stored: an agent already known here under another spelling (``Lee`` for ``lee``,
        by ``core.matching.fold``) is given it under theirs, so that it is in their "mine" view.
        """
        typed = _agent(assignee)
        with self._read() as session:
            name = spelled_among(typed, _agent_names(session.connection())) or typed
        self._set_assignee(conversation_id, name, by, EVENT_ASSIGNED, name)
        return name

    def agent_names(self) -> list[str]:
        """The names agents work under here (:func:`_agent_names`), sorted: who a conversation may go to."""
        with self._read() as session:
            return _agent_names(session.connection())

    def release(self, conversation_id: int, *, by: str) -> None:
        """Hand the conversation back: unassigned, anyone may take it next."""
        self._set_assignee(conversation_id, None, by, EVENT_RELEASED, "")

    def _set_assignee(
        self, conversation_id: int, assignee: str | None, by: str, kind: str, detail: str
    ) -> None:
        c = CONVERSATIONS.c
        with self._write() as session:
            conn = session.connection()
            before = conn.execute(sa.select(c.assignee).where(c.id == conversation_id)).first()
            if before is None:
                raise NotFoundError(
                    f"Conversation {conversation_id} does not exist: it may have been deleted; "
                    "reload the queue."
                )
            if before[0] == assignee:
                return  # nothing changes: no event
            conn.execute(
                CONVERSATIONS.update()
                .where(c.id == conversation_id)
                .values(assignee=assignee, updated_at=utcnow())
            )
            log_event(conn, conversation_id, kind, by, detail)

    def events(self, conversation_id: int) -> list[EventRecord]:
        """The conversation's events, oldest first (the audit screen's "who did it")."""
        with self._reading() as conn:
            return read_events(conn, conversation_id)

    def events_since(self, after_id: int, limit: int = 1000) -> list[EventRecord]:
        """Events newer than ``after_id``, oldest first (the change feed's read)."""
        e = EVENTS.c
        stmt = sa.select(EVENTS).where(e.id > after_id).order_by(e.id).limit(limit)
        with self._reading() as conn:
            return [_record(row) for row in conn.execute(stmt)]

    def latest_event_id(self) -> int:
        """The newest event's id (0 when none): where a change feed starts."""
        with self._reading() as conn:
            return latest_event_id(conn)

    def queue_row(self, conversation_id: int) -> QueueRow:
        """One conversation as the queue shows it (NotFoundError when it does not exist)."""
        with self._reading() as conn:
            return self._queue_row(conn, conversation_id)

    @staticmethod
    def _queue_row(conn: Connection, conversation_id: int) -> QueueRow:
        row = conn.execute(sa.text(row_sql()), {"cid": conversation_id}).first()
        if row is None:
            raise NotFoundError(f"Conversation {conversation_id} does not exist: reload the queue.")
        return queue_row(row)


#: How often take next looks again when the candidate it read was taken first (only without row locks).
_TAKE_ATTEMPTS: Final = 5


#: The newest events whose agents count as known (:func:`_agent_names`): a bound on the read, not a rule.
_RECENT_EVENTS: Final = 10_000


def _agent_names(conn: Connection) -> list[str]:
    """Who has worked here lately: the agents of the newest events (the newest spelling first), the consoles
    open now, then the assignees (an assignment may be mistyped: the agents' own spelling comes first); one
    name per folded spelling (``core.matching.fold``), sorted."""
    e, c, p = EVENTS.c, CONVERSATIONS.c, PRESENCE.c
    recent = (
        sa.select(e.id, e.agent).where(e.agent.is_not(None)).order_by(e.id.desc()).limit(_RECENT_EVENTS)
    ).subquery()
    newest_first = (
        sa.select(recent.c.agent).group_by(recent.c.agent).order_by(sa.func.max(recent.c.id).desc())
    )
    statements = (
        newest_first,
        sa.select(p.agent).distinct().order_by(p.agent),
        sa.select(c.assignee).where(c.assignee.is_not(None)).distinct().order_by(c.assignee),
    )
    names: dict[str, str] = {}
    for statement in statements:
        for (name,) in conn.execute(statement):
            if name and name.strip():
                names.setdefault(fold(name), name.strip())
    return sorted(names.values(), key=fold)


def _agent(name: str) -> str:
    """The agent's name as stored; StoreError for a blank one (every assignment names someone)."""
    cleaned = (name or "").strip()
    if not cleaned:
        raise StoreError("Assignments need the agent's name: set [agent] name in the config file.")
    return cleaned


def read_events(conn: Connection, conversation_id: int) -> list[EventRecord]:
    """One conversation's events, oldest first: who did what (the audit view, the exports)."""
    e = EVENTS.c
    stmt = sa.select(EVENTS).where(e.conversation_id == conversation_id).order_by(e.id)
    return [_record(row) for row in conn.execute(stmt)]


def _record(row: Sequence[object] | sa.Row[object]) -> EventRecord:
    m = row._mapping if isinstance(row, sa.Row) else None
    assert m is not None
    return EventRecord(
        int(m["id"]), m["conversation_id"], m["agent"], str(m["kind"]), str(m["detail"] or ""), m["at"]
    )


def migrate_team_mode(conn: Connection) -> None:
    """Schema version 14: ``conversations.assignee`` (and the index the mine view walks),
    ``messages.basis_event_id`` and ``messages.author`` (whose draft), and the ``events`` and ``presence``
    tables; the backend adds what it needs to announce new events (PostgreSQL: a NOTIFY trigger)."""
    conn.exec_driver_sql("ALTER TABLE conversations ADD COLUMN assignee VARCHAR")
    conn.exec_driver_sql("ALTER TABLE messages ADD COLUMN basis_event_id INTEGER")
    conn.exec_driver_sql("ALTER TABLE messages ADD COLUMN author VARCHAR")
    conn.exec_driver_sql(
        "CREATE INDEX IF NOT EXISTS ix_conversations_assignee "
        "ON conversations (assignee, (coalesce(last_activity, created_at)), id)"
    )
    SQLModel.metadata.create_all(conn, tables=[EVENTS, PRESENCE])
    backend_for(conn).create_change_notification(conn)
