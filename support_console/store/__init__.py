"""The store: customers, conversations and messages in SQLite (sqlmodel), behind the :class:`Store` facade.

The only home of persistence: every SQL statement of support-console is in this package, and callers use
``Store`` methods and the plain values they return (``CustomerSummary``, ``ConversationRow``, ``SearchHit``,
``LogStats``, ``AuditConversation``…). What only one database understands sits behind a backend
(``backend.py``; SQLite's in ``sqlite/``); schema changes are appended to ``migrations.py``.

Importing this package is cheap: the words (roles, states, statuses) come from ``core.vocabulary``, and
everything else loads when first named (PEP 562), so the console can draw its first frame, and the import
parser's child process can start, before paying for SQLAlchemy.
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

if TYPE_CHECKING:
    from support_console.store.audit import AuditConversation, AuditMessage
    from support_console.store.base import WriteLockBusy
    from support_console.store.conversation_list import ConversationRow, LogFilters
    from support_console.store.facade import Store
    from support_console.store.first_page import CustomerRecord, CustomerSummary
    from support_console.store.generations import GenerationRecord
    from support_console.store.history import History
    from support_console.store.insight import Rating, SummaryState
    from support_console.store.live import HEARTBEAT_SECONDS, ChangeFeed, Changes, PresenceRecord
    from support_console.store.messages import NewMessage
    from support_console.store.quality import QualityRow, QualityStats
    from support_console.store.queue import CustomerProfile
    from support_console.store.queue_rows import QueueRow
    from support_console.store.search import SearchHit
    from support_console.store.stats import LogStats, StatsRow
    from support_console.store.tables import Conversation, Customer, Message
    from support_console.store.team import EventRecord

_LAZY = {
    "AuditConversation": "audit",
    "ChangeFeed": "live",
    "Changes": "live",
    "EventRecord": "team",
    "HEARTBEAT_SECONDS": "live",
    "PresenceRecord": "live",
    "WriteLockBusy": "base",
    "AuditMessage": "audit",
    "Conversation": "tables",
    "ConversationRow": "conversation_list",
    "Customer": "tables",
    "CustomerRecord": "first_page",
    "CustomerProfile": "queue",
    "CustomerSummary": "first_page",
    "GenerationRecord": "generations",
    "History": "history",
    "LogFilters": "conversation_list",
    "LogStats": "stats",
    "Message": "tables",
    "NewMessage": "messages",
    "QualityRow": "quality",
    "QualityStats": "quality",
    "QueueRow": "queue_rows",
    "Rating": "insight",
    "SearchHit": "search",
    "StatsRow": "stats",
    "Store": "facade",
    "SummaryState": "insight",
}


def __getattr__(name: str) -> Any:
    """Load a class on first use."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)


__all__ = [
    "HEARTBEAT_SECONDS",
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
    "AuditConversation",
    "AuditMessage",
    "ChangeFeed",
    "Changes",
    "Conversation",
    "ConversationRow",
    "Customer",
    "CustomerProfile",
    "CustomerRecord",
    "CustomerSummary",
    "EventRecord",
    "GenerationRecord",
    "History",
    "LogFilters",
    "LogStats",
    "Message",
    "NewMessage",
    "PresenceRecord",
    "QualityRow",
    "QualityStats",
    "QueueRow",
    "Rating",
    "SearchHit",
    "StatsRow",
    "Store",
    "SummaryState",
    "WriteLockBusy",
]
