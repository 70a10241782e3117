"""The conversation counters, ``last_activity``, ``unread_count`` and ``waiting_since``: their one
definition, for every writer.

* ``unread_count`` is the number of the conversation's customer messages after (by id: insertion order) its
  last sent reply and after the last message the agent has seen (``seen_id``, set by ``Store.mark_seen``
  when the console opens the conversation); all of them when nothing was sent or seen yet.
* ``waiting_since`` is when the customer started waiting for a reply: the time of the first customer message
  after the last sent reply, NULL when every customer message has been answered (or there is none). Seeing
  a conversation does not answer it: the work queue's "needs a reply" view is ``waiting_since IS NOT NULL``,
  longest waiting first (schema version 10, ``store/queue.py``).
* ``last_activity`` is the newest activity among its messages: when a customer message or a note was
  written (``created_at``), when a reply was sent (``approved_at``; drafts and discarded drafts are not
  activity). It is kept as a running maximum: a write moves it forward, never back.

Every write that changes them (``add_message``, ``approve_draft``, ``add_messages_bulk``, the importer)
runs :func:`update_counters` in its own transaction, naming the conversations and the messages it wrote;
the importer's new conversations get the same expressions as they are inserted
(``Backend.insert_conversations_counted``). So per-row and bulk writes of the same messages give the same
counters (``tests/test_store_counters.py``), and the customer roll-up built on them (``tables.
customer_rollup``, run by triggers) follows. Each read is an index range on ``(conversation_id, id)``: the
changed messages for the activity, the messages since the last sent reply for the unread count.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from support_console.core.clock import utcnow
from support_console.core.vocabulary import ROLE_CUSTOMER, STATE_NOTE, STATE_RECEIVED, STATE_SENT
from support_console.store.tables import CONVERSATIONS, MESSAGES, happened_at

#: Message states whose rows are activity (not drafts, not discarded).
ACTIVE_STATES: Final = (STATE_RECEIVED, STATE_NOTE, STATE_SENT)

#: Which messages a write changed, as a condition over a messages alias's columns.
Changed = Callable[[sa.ColumnCollection[str, Any]], sa.ColumnElement[bool]]


def _literal(value: str) -> sa.ColumnElement[str]:
    """A role or state as an SQL literal, not a parameter: the statement can then be compiled into a
    trigger-free raw INSERT (sqlite bulk path), and planners see the value."""
    return sa.literal_column(f"'{value}'")


#: The messages tables as the counters' subqueries read them (aliases, made once: each costs a column copy).
_ACTIVITY = MESSAGES.alias("m_activity")
_UNREAD = MESSAGES.alias("m_unread")
_SENT = MESSAGES.alias("m_sent")


def newest_activity(conversation: sa.ColumnElement[int], changed: Changed) -> sa.ScalarSelect[Any]:
    """The newest activity time among the ``changed`` messages of ``conversation`` (NULL if none)."""
    m = _ACTIVITY.c
    return (
        sa.select(sa.func.max(happened_at(m)))
        .where(
            m.conversation_id == conversation,
            changed(m),
            m.state.in_([_literal(s) for s in ACTIVE_STATES]),
        )
        .scalar_subquery()
    )


def _last_sent(conversation: sa.ColumnElement[int]) -> sa.ScalarSelect[Any]:
    s = _SENT.c
    return (
        sa.select(sa.func.max(s.id))
        .where(s.conversation_id == conversation, s.state == _literal(STATE_SENT))
        .correlate_except(_SENT)  # two levels down: name the conversation of the statement around it
        .scalar_subquery()
    )


def unread(
    conversation: sa.ColumnElement[int], seen: sa.ColumnElement[int | None] | None = None
) -> sa.ScalarSelect[Any]:
    """How many customer messages of ``conversation`` come after its last sent reply and after ``seen``
    (the conversation's ``seen_id``; None for a conversation being inserted, which nobody has seen)."""
    m = _UNREAD.c
    after_seen = [m.id > sa.func.coalesce(seen, 0)] if seen is not None else []
    return (
        sa.select(sa.func.count())
        .where(
            m.conversation_id == conversation,
            m.role == _literal(ROLE_CUSTOMER),
            m.id > sa.func.coalesce(_last_sent(conversation), 0),
            *after_seen,
        )
        .scalar_subquery()
    )


def waiting_since(conversation: sa.ColumnElement[int]) -> sa.ScalarSelect[Any]:
    """When the customer's first message after the last sent reply was written (NULL: nothing to answer)."""
    m = _UNREAD.c
    return (
        sa.select(sa.func.min(m.created_at))
        .where(
            m.conversation_id == conversation,
            m.role == _literal(ROLE_CUSTOMER),
            m.id > sa.func.coalesce(_last_sent(conversation), 0),
        )
        .scalar_subquery()
    )


def _counters_update(conversations: sa.ColumnElement[bool], changed: Changed) -> sa.Update:
    c = CONVERSATIONS.c
    newest = newest_activity(c.id, changed)
    return (
        CONVERSATIONS.update()
        .where(conversations)
        .values(
            last_activity=sa.case(
                (sa.or_(c.last_activity.is_(None), newest > c.last_activity), newest),
                else_=c.last_activity,
            ),
            unread_count=unread(c.id, c.seen_id),
            waiting_since=waiting_since(c.id),
            updated_at=sa.bindparam("now", type_=CONVERSATIONS.c.updated_at.type),
        )
    )


def update_counters(conn: Connection, conversations: sa.ColumnElement[bool], changed: Changed) -> None:
    """Bring the counters of the ``conversations`` (a condition over ``CONVERSATIONS``) up to date after
    a write to their ``changed`` messages (inserted, or sent), in the caller's transaction."""
    conn.execute(_counters_update(conversations, changed), {"now": utcnow()})


#: The per-row writers' statement (one conversation, one message), built once: they run it on every write.
_ONE_MESSAGE: Final = _counters_update(
    CONVERSATIONS.c.id == sa.bindparam("conversation"), lambda m: m.id == sa.bindparam("message")
)


def update_counters_for(conn: Connection, conversation_id: int, message_id: int) -> None:
    """:func:`update_counters` after one message of one conversation was added or sent."""
    conn.execute(_ONE_MESSAGE, {"conversation": conversation_id, "message": message_id, "now": utcnow()})


def mark_seen(conn: Connection, conversation_id: int) -> bool | None:
    """Record that the agent has seen every message of the conversation so far (``seen_id`` moves to its
    newest message) and recompute ``unread_count`` by its one definition, in the caller's transaction.
    True when ``seen_id`` moved; False when there was nothing new to see (nothing is written, so a console
    that marks seen what another already has writes nothing); None if there is no such conversation."""
    c = CONVERSATIONS.c
    m = MESSAGES.c
    newest = sa.select(sa.func.max(m.id)).where(m.conversation_id == c.id).scalar_subquery()
    row = conn.execute(sa.select(c.seen_id, newest).where(c.id == conversation_id)).first()
    if row is None:
        return None
    seen, latest = row
    if latest is None or (seen is not None and seen >= latest):
        return False
    conn.execute(
        CONVERSATIONS.update()
        .where(c.id == conversation_id)
        .values(seen_id=latest, unread_count=unread(c.id, sa.literal(latest)))
    )
    return True


def after(before: int) -> Changed:
    """The messages a bulk write inserted: those with an id above the largest one before it."""
    return lambda m: m.id > before
