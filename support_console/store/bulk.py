"""The importer's writer: batches of parsed rows into customers, conversations and messages, set-based.

``workflows/importer.py`` reads the file and reports; ``workflows/import_rows.py`` parses it into batches
(their shape is documented at ``import_rows.parse_batches``); this writes them, through
:meth:`BulkImportMixin.bulk_importer`. Each batch is one short write transaction:

1. customers first seen in the batch are looked up by their folded email (``customers.email_is``), the
   missing ones created with their folded keys (``customers.customer_keys``);
2. a ticket's conversation is found again from the external ids of its messages (``TICKET/ID``, a range on
   the ``(conversation_id, external_id)`` index), or its id reserved;
3. the messages are inserted (``Backend.insert_messages``: repeats of a (conversation, external id) skipped,
   indexed for search per batch), the counters of the conversations that existed brought up to date
   (``counters.update_counters``), and the new conversations inserted after their messages, counters
   included (``Backend.insert_conversations_counted``: one customer roll-up each instead of two). Foreign
   keys are checked at commit, so a ticket's new conversation is never committed without its messages.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from support_console.core.vocabulary import EVENT_IMPORTED, STATUS_OPEN
from support_console.store.backend import Backend
from support_console.store.base import StoreBase, translated_errors
from support_console.store.counters import after, update_counters
from support_console.store.customers import customer_keys
from support_console.store.first_page import name_from_email
from support_console.store.tables import CONVERSATIONS, CUSTOMERS, MESSAGES
from support_console.store.team import log_event, log_imported
from support_console.store.times import from_stored

Key = tuple[str, str]  # (folded email, ticket): a row's conversation (import_rows.Key)
First = tuple[str, str, str, str]  # email, name ("" if absent), stored time, persona ("" if absent)

_M = MESSAGES.c
_C = CONVERSATIONS.c
_K = CUSTOMERS.c

#: The largest message id (new messages get larger ones: see tables.py).
_MAX_MESSAGE_ID: Final = sa.select(sa.func.coalesce(sa.func.max(_M.id), 0))
_MAX_CUSTOMER_ID: Final = sa.select(sa.func.coalesce(sa.func.max(_K.id), 0))


def _ticket_lookup(backend: Backend) -> sa.Select[Any]:
    """The conversation of a customer holding a message imported from a ticket: external ids ``TICKET/…``
    form a range on the (conversation_id, external_id) index, searched within the customer's conversations,
    compared byte by byte (``Backend.bytewise``: '0' follows '/')."""
    external_id = backend.bytewise(_M.external_id)
    return (
        sa.select(_M.conversation_id)
        .where(
            _M.conversation_id.in_(sa.select(_C.id).where(_C.customer_id == sa.bindparam("cid"))),
            external_id >= sa.bindparam("low"),
            external_id < sa.bindparam("high"),
        )
        .limit(1)
    )


@dataclass
class BatchResult:
    """What one batch did: messages added, rows skipped as already present, customers and conversations
    created."""

    added: int = 0
    skipped: int = 0
    customers_created: int = 0
    conversations_created: int = 0


class BulkImporter:
    """Writes batches of parsed rows on its own connection; remembers customers and conversations across
    batches. Use it as :meth:`BulkImportMixin.bulk_importer` gives it (a context manager)."""

    def __init__(self, store: StoreBase, conn: Connection) -> None:
        self._store = store
        self._backend: Backend = store.backend
        self._ticket_lookup = _ticket_lookup(self._backend)
        self._conn = conn  # one transaction per batch
        self._customers: dict[str, int] = {}  # folded email -> id
        self._conversations: dict[Key, int] = {}  # (folded email, ticket) -> conversation id
        self._new_customers: set[str] = set()  # created by this run: they have no earlier conversations

    def write(
        self, rows: list[tuple[Key, tuple[Any, ...]]], firsts: dict[Key, First], statuses: dict[Key, str]
    ) -> BatchResult:
        """One batch (``import_rows.parse_batches``' rows, firsts and statuses) in one write transaction."""
        result = BatchResult()
        new = {key: first for key, first in firsts.items() if key not in self._conversations}
        with translated_errors():
            if new:
                self._find_existing(new)
            known = self._conversations
            conn = self._conn
            with conn.begin():
                created = self._create(new, statuses, result) if new else []
                before = int(conn.execute(_MAX_MESSAGE_ID).scalar_one())
                added = self._backend.insert_messages(conn, [(known[key], *values) for key, values in rows])
                self._backend.insert_conversations_counted(conn, created)
                if added:
                    # Only the conversations that existed before: the new ones were inserted counted.
                    old_only = [_M.conversation_id < created[0]["id"]] if created else []
                    touched = sa.select(_M.conversation_id).where(_M.id > before, *old_only)
                    update_counters(conn, _C.id.in_(touched), after(before))
                    older = {known[k]: st for k, st in statuses.items() if k not in new}
                    if older:
                        self._set_statuses(before, older)
                    # What changed under a draft (the send-time guard), and what other consoles read again.
                    log_imported(conn, before, *old_only)
                    if created:
                        noun = "conversation" if len(created) == 1 else "conversations"
                        log_event(conn, None, EVENT_IMPORTED, None, f"{len(created)} new {noun}")
        result.added = added
        result.skipped = len(rows) - added
        return result

    def _set_statuses(self, before: int, statuses: dict[int, str]) -> None:
        """A row's status applies only where this import added messages: re-imports change nothing."""
        conn = self._conn
        touched = {
            int(c) for c in conn.scalars(sa.select(_M.conversation_id).where(_M.id > before).distinct())
        }
        wanted = [{"cid": cid, "st": st} for cid, st in statuses.items() if cid in touched]
        if wanted:
            update = (
                CONVERSATIONS.update().where(_C.id == sa.bindparam("cid")).values(status=sa.bindparam("st"))
            )
            conn.execute(update, wanted)

    def _find_existing(self, new: dict[Key, First]) -> None:
        """Customers and ticket conversations that earlier imports made (read without the write lock)."""
        emails = list({email for email, _ticket in new if email not in self._customers})
        with self._store._reading() as conn:
            if emails:
                self._customers.update(_lookup_customers(conn, emails))
            for key in list(new):
                email, ticket = key
                if email in self._customers and email not in self._new_customers:
                    where = {"cid": self._customers[email], "low": f"{ticket}/", "high": f"{ticket}0"}
                    found = conn.execute(self._ticket_lookup, where).scalar()  # '0' follows '/'
                    if found is not None:
                        self._conversations[key] = int(found)
                        del new[key]

    def _create(
        self, new: dict[Key, First], statuses: dict[Key, str], result: BatchResult
    ) -> list[dict[str, Any]]:
        """The missing customers (named and dated by their first row), and ids for the new conversations.

        The conversations themselves are inserted after their messages, with their counters (returned for
        insert_conversations_counted). On an error the whole import stops, so ids handed out in a
        transaction that rolls back are never used.
        """
        conn = self._conn
        missing: dict[str, First] = {}
        for (email, _ticket), first in new.items():
            if email not in self._customers:
                missing.setdefault(email, first)
        if missing:
            before = conn.execute(_MAX_CUSTOMER_ID).scalar_one()
            rows = []
            for email, name, stamp, _persona in missing.values():
                name = name.strip() or name_from_email(email)
                folded = customer_keys(name, email, None)
                created_at = from_stored(stamp)
                rows.append(
                    {"name": name, "email": email, "attributes": {}, "created_at": created_at, **folded}
                )
            insert = self._backend.insert_ignoring_duplicates(CUSTOMERS)
            # One statement, compiled once, run by the driver's executemany (psycopg 3 pipelines the rows:
            # no round trip each). A multi-row ``.values(rows)`` is compiled anew for every batch: with
            # 800 parameters that was 10% of a PostgreSQL import.
            conn.execute(insert, rows)
            found = _lookup_customers(conn, list(missing))
            self._customers.update(found)
            created = {key for key, cid in found.items() if cid > before}
            self._new_customers |= created
            result.customers_created += len(created)
        keys = [key for key in new if key not in self._conversations]
        if not keys:
            return []
        first_id = self._backend.reserve_conversation_ids(conn)
        self._conversations.update((key, first_id + i) for i, key in enumerate(keys))
        result.conversations_created += len(keys)
        # A new conversation's status is its rows' (it gets messages: its first row is new).
        return [
            {"id": first_id + i, "customer_id": self._customers[key[0]],
             "status": statuses.get(key, STATUS_OPEN), "persona_id": new[key][3] or None,
             "created_at": from_stored(new[key][2])}
            for i, key in enumerate(keys)
        ]  # fmt: skip


def _lookup_customers(conn: Connection, email_keys: list[str]) -> dict[str, int]:
    """Folded email -> customer id, for those of ``email_keys`` that exist (the unique index)."""
    stmt = sa.select(_K.email_key, _K.id).where(_K.email_key.in_(email_keys))
    return {str(key): int(cid) for key, cid in conn.execute(stmt)}


class BulkImportMixin(StoreBase):
    """The Store's bulk-import writer."""

    @contextmanager
    def bulk_importer(self) -> Iterator[BulkImporter]:
        """A writer for many batches on one connection (the database tuned for it while it is open)."""
        with translated_errors(), self.engine.connect() as conn, self.backend.bulk_writing(conn):
            yield BulkImporter(self, conn)
