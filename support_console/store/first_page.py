"""The customer list's rows, the name a customer first seen by email gets, and the one read of the list
that needs no SQLAlchemy: the console's first page.

The console shows its first frame before it imports SQLAlchemy and sqlmodel (about half a second on a cold
start): :func:`read_first_page` reads the unfiltered list straight from the SQLite file with the standard
library, in the order of the ``ix_customers_list`` index (:data:`LIST_ORDER_SQL`, which the Store's own
``list_customers`` uses too). The store opens in a thread right after that frame.
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
from support_console.store.times import from_stored

#: The customer list's order, spelled exactly as the ``ix_customers_list`` index so SQLite walks the index:
#: customers with unresolved conversations first, then the newest activity.
LIST_ORDER_SQL: Final = (
    "(customers.open_conversations > 0) DESC",
    "customers.last_activity DESC",
    "customers.id DESC",
)

_COLUMNS: Final = (
    "id, name, email, external_id, attributes, created_at, open_conversations, unread, last_activity"
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


def name_from_email(email: str) -> str:
    """The name of a customer known only by email (a draft for a new address, an import row without a
    name): ``jane.doe@x`` -> ``Jane Doe``."""
    local = email.partition("@")[0]
    words = [w for w in re.split(r"[._+\-]+", local) if w]
    return " ".join(w.capitalize() for w in words) or email


def read_first_page(db_url: str, limit: int) -> list[CustomerSummary] | None:
    """The first ``limit`` rows of the unfiltered list, read-only; None when the file cannot answer (no
    file yet, not a support-console database, locked), so the caller opens the Store, which says why."""
    path = sqlite_file(db_url)
    if path is None or not path.is_file():
        return None
    try:
        conn = sqlite3.connect(f"file:{quote(str(path.resolve()))}?mode=ro", uri=True, timeout=1.0)
    except sqlite3.Error:
        return None
    try:
        sql = f"SELECT {_COLUMNS} FROM customers ORDER BY {', '.join(LIST_ORDER_SQL)} LIMIT ?"
        return [_summary(row) for row in conn.execute(sql, (limit,))]
    except (sqlite3.Error, ValueError):  # ValueError: a value the Store would not have written
        return None
    finally:
        conn.close()


def _summary(row: tuple[Any, ...]) -> CustomerSummary:
    id_, name, email, external_id, attributes, created_at, open_conversations, unread, last_activity = row
    record = CustomerRecord(
        id=id_,
        name=name,
        email=email,
        external_id=external_id,
        attributes=json.loads(attributes or "null") or {},  # as record_of: a JSON null is no attributes
        created_at=_utc(created_at),
    )
    return CustomerSummary(record, open_conversations, unread, _utc(last_activity))


def _utc(text: str | None) -> datetime | None:
    return None if text is None else from_stored(text)
