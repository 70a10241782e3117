"""The store: customers, conversations and messages in SQLite (sqlmodel), behind the :class:`Store` facade.

SQLite-specific behaviour lives in ``engine.py`` (pragmas, BEGIN IMMEDIATE) and ``search.py`` (FTS5); schema
changes are appended to ``migrations.py``.

Importing this package is cheap: the words (roles, states, statuses) and the customer list's rows come from
modules without SQLAlchemy, and the classes built on sqlmodel load when first named (PEP 562), so the
console can draw its first frame before paying for SQLAlchemy.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from support_console.core.vocabulary import (
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
)
from support_console.store.first_page import CustomerRecord, CustomerSummary

if TYPE_CHECKING:
    from support_console.store.facade import Store
    from support_console.store.history import History
    from support_console.store.messages import NewMessage
    from support_console.store.tables import Conversation, Customer, Message

_LAZY = {
    "Store": "facade",
    "History": "history",
    "NewMessage": "messages",
    "Conversation": "tables",
    "Customer": "tables",
    "Message": "tables",
}


def __getattr__(name: str) -> Any:
    """Load a sqlmodel-backed class on first use."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)


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
    "CustomerRecord",
    "CustomerSummary",
    "History",
    "Message",
    "NewMessage",
    "Store",
]
