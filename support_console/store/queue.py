"""The work queue of the Store: conversations by view (``queue_rows.py`` holds their SQL, shared with the
console's first frame), the next conversation to answer, and recording that the agent has seen one."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from support_console.core.errors import NotFoundError
from support_console.core.vocabulary import EVENT_SEEN, STATUS_RESOLVED
from support_console.store.base import StoreBase
from support_console.store.counters import mark_seen
from support_console.store.first_page import CustomerRecord
from support_console.store.queue_rows import (
    NEXT_WAITING_FOR_AGENT_SQL,
    NEXT_WAITING_SQL,
    QueueRow,
    queue_row,
    queue_sql,
)
from support_console.store.tables import CONVERSATIONS
from support_console.store.team import log_event


@dataclass(frozen=True)
class CustomerProfile:
    """The customer panel: who the customer is, the values persona placeholders use (``attributes``), how
    many conversations they have had, and when they were first seen (their first conversation, or when
    they were added if that is earlier)."""

    customer: CustomerRecord
    conversations: int
    resolved: int
    first_seen: datetime | None


class QueueMixin(StoreBase):
    """The work queue and the customer panel's read."""

    def list_queue(self, view: str, limit: int = 100, agent: str = "") -> list[QueueRow]:
        """The conversations of ``view`` (``queue_rows.QUEUE_VIEWS``) in its order, at most ``limit``;
        ``agent`` is whose ``mine`` view it is."""
        params = {"limit": max(0, limit), "agent": agent.strip()}
        with self._reading() as conn:
            return [queue_row(r) for r in conn.execute(sa.text(queue_sql(view)), params)]

    def next_waiting(self, skip: int | None = None, agent: str | None = None) -> QueueRow | None:
        """The conversation whose customer has waited longest for a reply, other than ``skip``; for an
        ``agent``, only those unassigned or assigned to them (another agent's are theirs to answer)."""
        params: dict[str, object] = {"skip": -1 if skip is None else skip}
        sql = NEXT_WAITING_SQL
        if agent:
            sql, params["agent"] = NEXT_WAITING_FOR_AGENT_SQL, agent
        with self._reading() as conn:
            row = conn.execute(sa.text(sql), params).first()
        return queue_row(row) if row is not None else None

    def mark_seen(self, conversation_id: int, agent: str | None = None) -> bool:
        """``agent`` has seen the conversation: its customer messages so far are no longer unread, in every
        console (a ``seen`` event in the same transaction: other consoles' feeds read the row again).
        False, and nothing written, when there was nothing new to see."""
        with self._write() as session:
            conn = session.connection()
            moved = mark_seen(conn, conversation_id)
            if moved is None:
                raise NotFoundError(
                    f"Conversation {conversation_id} does not exist: it may have been deleted; "
                    "reload the queue."
                )
            if moved:
                log_event(conn, conversation_id, EVENT_SEEN, agent)
            return moved

    def customer_profile(self, customer_id: int) -> CustomerProfile:
        """What the customer panel shows (NotFoundError for an unknown customer)."""
        from support_console.store.customers import record_of
        from support_console.store.tables import Customer

        c = CONVERSATIONS.c
        counts = sa.select(
            sa.func.count(),
            sa.func.count().filter(c.status == STATUS_RESOLVED),
            sa.func.min(c.created_at),
        ).where(c.customer_id == customer_id)
        with self._read() as session:
            customer = session.get(Customer, customer_id)
            if customer is None:
                raise NotFoundError(f"Customer {customer_id} does not exist: reload the queue.")
            total, resolved, first = session.execute(counts).one()
        seen = [t for t in (customer.created_at, first) if t is not None]
        return CustomerProfile(record_of(customer), int(total), int(resolved), min(seen) if seen else None)
