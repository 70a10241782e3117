"""The store: customers, conversations and messages in SQLite (sqlmodel), behind the :class:`Store` facade.

SQLite-specific behaviour lives in ``engine.py`` (pragmas, BEGIN IMMEDIATE) and ``search.py`` (FTS5); schema
changes are appended to ``migrations.py``.
"""

from support_console.store.customers import CustomerSummary
from support_console.store.facade import Store
from support_console.store.history import History
from support_console.store.messages import NewMessage
from support_console.store.models import (
    ROLE_AGENT,
    ROLE_CUSTOMER,
    ROLE_NOTE,
    ROLES,
    STATE_DISCARDED,
    STATE_DRAFT,
    STATE_NOTE,
    STATE_RECEIVED,
    STATE_SENT,
    STATES,
    STATUS_OPEN,
    STATUS_PENDING,
    STATUS_RESOLVED,
    STATUSES,
    Conversation,
    Customer,
    Message,
)

__all__ = [
    "ROLES",
    "ROLE_AGENT",
    "ROLE_CUSTOMER",
    "ROLE_NOTE",
    "STATES",
    "STATE_DISCARDED",
    "STATE_DRAFT",
    "STATE_NOTE",
    "STATE_RECEIVED",
    "STATE_SENT",
    "STATUSES",
    "STATUS_OPEN",
    "STATUS_PENDING",
    "STATUS_RESOLVED",
    "Conversation",
    "Customer",
    "CustomerSummary",
    "History",
    "Message",
    "NewMessage",
    "Store",
]
