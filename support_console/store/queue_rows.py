"""The work queue's rows and their SQL: one statement per view, read by the Store and, for the console's first
frame, by the standard library (``first_page.read_first_queue``), so both answer exactly the same.

Standard library only (the first frame is drawn before SQLAlchemy is imported). The statements use named
parameters (``:limit``), which both ``sqlite3`` and ``sqlalchemy.text`` understand.

Views and their order, each an index walk of ``limit`` rows (schema version 10, ``migrations.py``):

* ``needs_reply`` (the default): open conversations whose customer wrote last (``waiting_since IS NOT
  NULL``: see ``counters.py``), longest waiting first (``ix_conversations_waiting``).
* ``open``, ``pending``, ``resolved``: that status, most recent activity first
  (``ix_conversations_status_activity``).
* ``all``: every conversation, most recent activity first (``ix_conversations_activity``, version 3).
* ``mine`` (team mode, version 14): the unresolved conversations assigned to the agent (``:agent``), most
  recent activity first (``ix_conversations_assignee``).
* ``unassigned``: what needs a reply and nobody has taken, in take next's order (``team.py``): its first
  row is the one take next would take.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from support_console.core.clock import as_utc
from support_console.core.vocabulary import STATUS_OPEN, STATUS_PENDING, STATUS_RESOLVED
from support_console.store.times import from_stored

VIEW_NEEDS_REPLY: Final = "needs_reply"
VIEW_ALL: Final = "all"
VIEW_MINE: Final = "mine"
VIEW_UNASSIGNED: Final = "unassigned"
#: The queue's views in the order the console offers them; the first is the default.
QUEUE_VIEWS: Final = (
    VIEW_NEEDS_REPLY, STATUS_OPEN, STATUS_PENDING, STATUS_RESOLVED, VIEW_ALL, VIEW_MINE, VIEW_UNASSIGNED,
)  # fmt: skip
VIEW_TITLES: Final = {
    VIEW_NEEDS_REPLY: "Needs a reply",
    VIEW_MINE: "Mine",
    VIEW_UNASSIGNED: "Unassigned",
    STATUS_OPEN: "Open",
    STATUS_PENDING: "Pending",
    STATUS_RESOLVED: "Resolved",
    VIEW_ALL: "All conversations",
}

_ACTIVITY: Final = "coalesce(c.last_activity, c.created_at)"  # the indexes' expression, spelled the same
_SELECT: Final = (
    "SELECT c.id, c.customer_id, k.name, k.email, c.status, c.persona_id, c.waiting_since, c.unread_count, "
    f"{_ACTIVITY}, c.assignee FROM conversations AS c JOIN customers AS k ON k.id = c.customer_id"
)
#: Open conversations whose customer wrote last. Pending ones are left out: the agent set them aside
#: (waiting on the customer), and a customer message moves a pending conversation back to open anyway.
_NEEDS_REPLY_WHERE: Final = f"c.status = '{STATUS_OPEN}' AND c.waiting_since IS NOT NULL"
_NEEDS_REPLY_ORDER: Final = "c.waiting_since, c.id"


@dataclass(frozen=True)
class QueueRow:
    """One conversation in the work queue: who, its status and persona, and how long the customer waits."""

    conversation_id: int
    customer_id: int
    customer_name: str
    customer_email: str
    status: str
    persona_id: str | None
    waiting_since: datetime | None  # None: the customer's last message has been answered
    unread: int
    last_activity: datetime | None
    assignee: str | None = None  # the agent working on it (None: anyone may take it)


def queue_sql(view: str) -> str:
    """The statement listing ``view`` (parameters ``:limit`` and ``:agent``, the agent's name, which only
    ``mine`` reads); ValueError for an unknown view."""
    if view == VIEW_NEEDS_REPLY:
        return f"{_SELECT} WHERE {_NEEDS_REPLY_WHERE} ORDER BY {_NEEDS_REPLY_ORDER} LIMIT :limit"
    if view == VIEW_UNASSIGNED:
        where = f"{_NEEDS_REPLY_WHERE} AND c.assignee IS NULL"
        return f"{_SELECT} WHERE {where} ORDER BY {_NEEDS_REPLY_ORDER} LIMIT :limit"
    if view == VIEW_MINE:
        where = f"c.assignee = :agent AND c.status IN ('{STATUS_OPEN}', '{STATUS_PENDING}')"
        return f"{_SELECT} WHERE {where} ORDER BY {_ACTIVITY} DESC, c.id DESC LIMIT :limit"
    if view in (STATUS_OPEN, STATUS_PENDING, STATUS_RESOLVED):
        return f"{_SELECT} WHERE c.status = '{view}' ORDER BY {_ACTIVITY} DESC, c.id DESC LIMIT :limit"
    if view == VIEW_ALL:
        return f"{_SELECT} ORDER BY {_ACTIVITY} DESC, c.id DESC LIMIT :limit"
    raise ValueError(f"unknown queue view {view!r}: use one of {', '.join(QUEUE_VIEWS)}")


#: The longest-waiting conversation other than ``:skip`` (the one the agent has open; -1 for none).
NEXT_WAITING_SQL: Final = (
    f"{_SELECT} WHERE {_NEEDS_REPLY_WHERE} AND c.id != :skip ORDER BY {_NEEDS_REPLY_ORDER} LIMIT 1"
)
#: The same for one agent (``:agent``): conversations assigned to another agent are theirs to answer.
NEXT_WAITING_FOR_AGENT_SQL: Final = (
    f"{_SELECT} WHERE {_NEEDS_REPLY_WHERE} AND c.id != :skip "
    f"AND (c.assignee IS NULL OR c.assignee = :agent) ORDER BY {_NEEDS_REPLY_ORDER} LIMIT 1"
)


def row_sql() -> str:
    """One conversation's queue row (parameter ``:cid``): what take next hands back."""
    return f"{_SELECT} WHERE c.id = :cid"


def queue_row(row: tuple[Any, ...] | Any) -> QueueRow:
    """A row of :func:`queue_sql` as a value (times may come back as stored text or as datetimes)."""
    cid, customer_id, name, email, status, persona_id, waiting, unread, activity, assignee = tuple(row)
    return QueueRow(
        cid, customer_id, name, email, status, persona_id, _time(waiting), int(unread or 0), _time(activity),
        assignee,
    )  # fmt: skip


def _time(value: str | datetime | None) -> datetime | None:
    """A stored time as aware UTC: SQLite gives text, PostgreSQL a naive UTC datetime."""
    if value is None:
        return None
    return as_utc(value) if isinstance(value, datetime) else from_stored(value)
