"""The send-time guard: the one hard guarantee of team mode, checked inside the approval's transaction.

A draft answers the conversation as it was when the draft was written: its ``basis_event_id`` is the newest
event then (``team.latest_event_id``). If a customer message, another reply or an import came after it, the
text may answer a question already answered, or miss the newest one. Checking in the same write
transaction that marks the draft sent (the write lock on SQLite, the events' commit order on PostgreSQL)
means no second reply can slip in between the check and the send: two agents approving at once get one
reply out and one refusal. Presence only warns; this is what makes double replies impossible.

The agent may send anyway after reading what changed: approving again with ``reviewed_through`` set to the
refusal's ``through`` (the newest change's id) says so, and only what came after that is checked.
"""

from __future__ import annotations

from typing import Final

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from support_console.core.errors import ConversationChanged
from support_console.core.safe_text import visible
from support_console.core.vocabulary import (
    ANSWER_CHANGING,
    EVENT_CUSTOMER,
    EVENT_SENT,
    ROLE_AGENT,
    ROLE_CUSTOMER,
    STATE_SENT,
)
from support_console.store.tables import EVENTS, MESSAGES, Message

#: Characters of a changed message quoted in the refusal: enough to recognise it.
_QUOTE: Final = 60


def refuse_if_changed(conn: Connection, draft: Message, reviewed_through: int | None) -> None:
    """Raise :class:`ConversationChanged` when the draft's conversation changed after its basis (or after
    ``reviewed_through``, what the agent has since reviewed)."""
    e = EVENTS.c
    if draft.basis_event_id is None:  # a draft saved before events existed: newer messages than itself
        changes = _newer_messages(conn, draft)
        through = 0
    else:
        since = max(draft.basis_event_id, reviewed_through or 0)
        rows = conn.execute(
            sa.select(e.id, e.kind, e.agent, e.detail)
            .where(e.conversation_id == draft.conversation_id, e.id > since, e.kind.in_(ANSWER_CHANGING))
            .order_by(e.id)
        ).all()
        if not rows:
            return
        through = int(rows[-1][0])
        changes = [_describe(conn, kind, agent, detail) for _, kind, agent, detail in rows]
    if changes:
        listed = "; ".join(changes)
        raise ConversationChanged(
            f"Not sent: the conversation changed after this draft was written ({listed}). Read what changed, "
            "then approve again to send it anyway, or edit or regenerate the draft.",
            changes=tuple(changes),
            through=through,
        )


def _describe(conn: Connection, kind: str, agent: str | None, detail: str) -> str:
    """One change, as the refusal lists it: what it was, who, and the start of its text."""
    text = _text(conn, detail)
    if kind == EVENT_CUSTOMER:
        return f"a new customer message{text}"
    if kind == EVENT_SENT:
        return f"a reply sent by {visible(agent or 'another agent')}{text}"
    return f"messages imported ({visible(detail)})"


def _text(conn: Connection, detail: str) -> str:
    """' "start of the message…"' for an event whose detail is a message id; '' otherwise."""
    if not detail.isdigit():
        return ""
    found = conn.execute(sa.select(MESSAGES.c.text).where(MESSAGES.c.id == int(detail))).scalar_one_or_none()
    if found is None:
        return ""
    flat = " ".join(visible(str(found)).split())
    return f': "{flat[:_QUOTE]}{"…" if len(flat) > _QUOTE else ""}"'


def _newer_messages(conn: Connection, draft: Message) -> list[str]:
    """For a draft without a basis: the customer messages and sent replies stored after it."""
    m = MESSAGES.c
    rows = conn.execute(
        sa.select(m.id, m.role, m.approved_by)
        .where(
            m.conversation_id == draft.conversation_id,
            m.id > (draft.id or 0),
            sa.or_(m.role == ROLE_CUSTOMER, sa.and_(m.role == ROLE_AGENT, m.state == STATE_SENT)),
        )
        .order_by(m.id)
    ).all()
    return [
        _describe(conn, EVENT_CUSTOMER if role == ROLE_CUSTOMER else EVENT_SENT, agent, str(mid))
        for mid, role, agent in rows
    ]
