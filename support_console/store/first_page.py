"""The customer list's rows and order, the name a customer first seen by email gets, and the reads that need
no SQLAlchemy: the console's first page (a work-queue view) and the first conversation it opens.

The console shows its first frame before it imports SQLAlchemy and sqlmodel (about half a second on a cold
start): :func:`read_first_queue` reads the queue straight from the SQLite file with the standard library,
with the Store's own statement (``queue_rows.queue_sql``). The store opens in a thread right after that
frame; a customer opened before
it is ready is read by :func:`read_first_conversation`, which answers exactly what the Store's
``get_customer``, ``open_conversation``, ``page_messages``, ``count_messages`` and ``pending_draft`` would.
"""

from __future__ import annotations

import json
import re
import sqlite3
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final
from urllib.parse import quote

from support_console.core.urls import sqlite_file
from support_console.core.vocabulary import STATE_DISCARDED, STATE_DRAFT, UNRESOLVED
from support_console.store.queue_rows import QueueRow, queue_row, queue_sql
from support_console.store.times import from_stored

#: The customer list's order, spelled exactly as the ``ix_customers_list`` index so SQLite walks the index:
#: customers with unresolved conversations first, then the newest activity.
LIST_ORDER_SQL: Final = (
    "(customers.open_conversations > 0) DESC",
    "customers.last_activity DESC NULLS LAST",  # SQLite's own order for DESC, spelled out for PostgreSQL
    "customers.id DESC",
)


@dataclass(frozen=True)
class CustomerRecord:
    """A customer as the list and the CLI show it: a plain value, detached from any database session."""

    id: int
    name: str
    email: str
    external_id: str | None = None
    attributes: dict[str, Any] = field(default_factory=dict)
    created_at: datetime | None = None


@dataclass(frozen=True)
class CustomerSummary:
    """One row of the customer list.

    ``open_conversations`` counts unresolved (open or pending) conversations; ``unread`` is the number of
    customer messages in them that arrived after the last sent reply; ``last_activity`` is the newest message
    time over all the customer's conversations (None if there are none).
    """

    customer: CustomerRecord
    open_conversations: int
    unread: int
    last_activity: datetime | None


@dataclass(frozen=True)
class ConversationRecord:
    """A conversation as the console shows it: a plain value (the Store's rows have the same fields)."""

    id: int
    customer_id: int
    status: str
    persona_id: str | None
    unread_count: int


@dataclass(frozen=True)
class MessageRecord:
    """A message as the transcript and the draft pane show it: a plain value (the Store's rows have the
    same fields)."""

    id: int
    conversation_id: int
    role: str
    state: str
    text: str
    original_text: str | None
    persona_id: str | None
    model: str | None
    approved_by: str | None
    approved_at: datetime | None
    created_at: datetime | None
    error_kind: str | None = None
    finish_reason: str | None = None


@dataclass(frozen=True)
class FirstConversation:
    """What opening a customer reads: the customer, their newest unresolved conversation (if any), its newest
    messages (oldest first, discarded drafts left out), how many there are, and its newest unsent draft."""

    customer: CustomerRecord
    conversation: ConversationRecord | None
    page: list[MessageRecord]
    total: int
    draft: MessageRecord | None


def name_from_email(email: str) -> str:
    """The name of a customer known only by email (a draft for a new address, an import row without a
    name): ``jane.doe@x`` -> ``Jane Doe``."""
    local = email.partition("@")[0]
    words = [w for w in re.split(r"[._+\-]+", local) if w]
    return " ".join(w.capitalize() for w in words) or email


def read_first_queue(db_url: str, view: str, limit: int, agent: str = "") -> list[QueueRow] | None:
    """The first ``limit`` rows of a work-queue view (``queue_rows.queue_sql``, the Store's own statement),
    read-only; None when the file cannot answer (no file yet, not a support-console database, locked), so
    the caller opens the Store, which says why."""
    conn = _read_only(db_url)
    if conn is None:
        return None
    try:
        return [queue_row(row) for row in conn.execute(queue_sql(view), {"limit": limit, "agent": agent})]
    except (sqlite3.Error, ValueError):
        return None
    finally:
        conn.close()


def _read_only(db_url: str) -> sqlite3.Connection | None:
    """A read-only standard-library connection to the file of a plain SQLite URL; None when there is none
    (no file yet, another kind of database, a file SQLite cannot open)."""
    path = sqlite_file(db_url)
    if path is None or not path.is_file():
        return None
    try:
        return sqlite3.connect(f"file:{quote(str(path.resolve()))}?mode=ro", uri=True, timeout=1.0)
    except sqlite3.Error:
        return None


_MESSAGE_COLUMNS: Final = (
    "id, conversation_id, role, state, text, original_text, persona_id, model, approved_by, approved_at, "
    "created_at, error_kind, finish_reason"
)


def read_first_conversation(
    db_url: str, customer_id: int, limit: int, conversation_id: int | None = None
) -> FirstConversation | None:
    """Open a customer without the Store (see the module docstring); None when the file cannot answer (no
    such customer included: the Store then says why in words)."""
    conn = _read_only(db_url)
    if conn is None:
        return None
    try:
        conn.execute("BEGIN")  # one snapshot for every read below
        return _first_conversation(conn, customer_id, limit, conversation_id)
    except (sqlite3.Error, ValueError):
        return None
    finally:
        conn.close()


def _first_conversation(
    conn: sqlite3.Connection, customer_id: int, limit: int, conversation_id: int | None
) -> FirstConversation | None:
    row = conn.execute(
        "SELECT id, name, email, external_id, attributes, created_at FROM customers WHERE id = ?",
        (customer_id,),
    ).fetchone()
    if row is None:
        return None
    customer = CustomerRecord(
        id=row[0], name=row[1], email=row[2], external_id=row[3],
        attributes=json.loads(row[4] or "null") or {}, created_at=_utc(row[5]),
    )  # fmt: skip
    unresolved = ", ".join(f"'{status}'" for status in UNRESOLVED)
    columns = "SELECT id, customer_id, status, persona_id, unread_count FROM conversations"
    found = (
        conn.execute(
            f"{columns} WHERE customer_id = ? AND status IN ({unresolved}) ORDER BY id DESC LIMIT 1",
            (customer_id,),
        ).fetchone()
        if conversation_id is None
        else conn.execute(
            f"{columns} WHERE customer_id = ? AND id = ?", (customer_id, conversation_id)
        ).fetchone()
    )
    if found is None:
        return FirstConversation(customer, None, [], 0, None)
    conversation = ConversationRecord(*found)
    shown = (
        f"SELECT {_MESSAGE_COLUMNS} FROM messages WHERE conversation_id = ? AND state != '{STATE_DISCARDED}'"
    )
    page = [_message(r) for r in conn.execute(f"{shown} ORDER BY id DESC LIMIT ?", (conversation.id, limit))]
    page.reverse()
    total = len(page)
    if total >= limit:
        count_sql = (
            f"SELECT count(*) FROM messages WHERE conversation_id = ? AND state != '{STATE_DISCARDED}'"
        )
        total = int(conn.execute(count_sql, (conversation.id,)).fetchone()[0])
    draft = conn.execute(
        f"SELECT {_MESSAGE_COLUMNS} FROM messages WHERE conversation_id = ? AND state = '{STATE_DRAFT}' "
        "ORDER BY id DESC LIMIT 1",
        (conversation.id,),
    ).fetchone()
    return FirstConversation(customer, conversation, page, total, _message(draft) if draft else None)


def _message(row: tuple[Any, ...]) -> MessageRecord:
    (
        id_,
        conversation_id,
        role,
        state,
        text,
        original_text,
        persona_id,
        model,
        approved_by,
        approved,
        created,
        error_kind,
        finish_reason,
    ) = row
    return MessageRecord(
        id_, conversation_id, role, state, text, original_text, persona_id, model, approved_by,
        _utc(approved), _utc(created), error_kind, finish_reason,
    )  # fmt: skip


def _utc(text: str | None) -> datetime | None:
    return None if text is None else from_stored(text)
