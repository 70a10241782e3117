"""Import conversation logs from JSONL or CSV: fast, idempotent, and honest about bad rows.

The format is documented for users in README.md, section "Conversation logs: search, export, import";
``import_rows.py`` reads and checks it. One message per JSONL line or CSV row; ``email``, ``text`` and
``timestamp`` are required; ``ticket`` groups messages into conversations; ``id`` is the message's external
id; ``role`` is customer, agent (a sent reply, optionally with ``original``, ``model``, tokens,
``approved_by``) or note.

Why it is shaped like this:

* **Idempotent**: every message is stored with the external id ``TICKET/ID`` (``/ID`` without a ticket), and
  the store skips a message whose (conversation, external id) exists. A ticket's conversation is found again
  from those ids, so re-importing a file, or a later file that continues a ticket, adds only what is new.
* **Fast**: rows come in batches of a few thousand, each written in one short transaction, set-based
  (``store/search.py``: multi-row INSERTs, search index built per batch, counters in one UPDATE; no
  tokenising: the store counts tokens lazily). For a large file the parsing runs in a child process
  (``import_rows.batches_from_child``), one batch ahead of the writing here.
* **Bad rows** are reported by line number and skipped; the good rows around them are imported.
* **Other writers unaffected**: transactions are per batch and short, and the store's busy timeout makes
  writers queue rather than fail.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Final

import sqlalchemy as sa

from support_console.core.errors import SupportConsoleError
from support_console.store import Conversation, Customer, Message, Store
from support_console.store.bulk import (
    bulk_writing,
    insert_conversations_counted,
    insert_messages_bulk,
    reserve_conversation_ids,
    update_counters_bulk,
)
from support_console.store.engine import insert_ignoring_duplicates, reader
from support_console.store.first_page import name_from_email
from support_console.workflows.import_rows import (
    ChildFailed,
    DecodeProblem,
    First,
    Key,
    batches_from_child,
    parse_batches,
)

#: Rows per batch: big enough to amortise a transaction, small enough to keep other writers' waits short.
BATCH_ROWS: Final = 3000
#: Files at least this large are parsed in a child process (starting it costs about a tenth of a second).
CHILD_PARSE_BYTES: Final = 1_000_000
ProgressCallback = Callable[[int, int], None]  # (bytes read, total bytes)

_M = Message.__table__.c  # type: ignore[attr-defined]
_C = Conversation.__table__  # type: ignore[attr-defined]
_K = Customer.__table__  # type: ignore[attr-defined]


class ImportFileError(SupportConsoleError):
    """The file as a whole cannot be imported (missing, unreadable, not JSONL or CSV)."""


@dataclass(frozen=True)
class RowError:
    """A row that was skipped, by its line number in the file (CSV: the line the row ends on)."""

    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


@dataclass
class ImportReport:
    """What an import did. ``skipped`` are rows already in the database (or repeated in the file)."""

    path: Path
    rows: int = 0
    added: int = 0
    skipped: int = 0
    customers_created: int = 0
    conversations_created: int = 0
    errors: list[RowError] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.errors

    def summary(self) -> str:
        """One line for people: counts, speed, and the bad rows if any."""
        rate = f", {self.added / self.seconds:,.0f} messages/s" if self.seconds > 0 and self.added else ""
        line = (
            f"{self.path.name}: {self.rows} rows read, {self.added} messages added, {self.skipped} already "
            f"present, {self.customers_created} new customers, {self.conversations_created} new conversations"
            f"{rate}"
        )
        if self.errors:
            line += f"; {len(self.errors)} bad rows skipped (fix them and import the file again)"
        return line


# ------------------------------------------------------------------------------------------------ writing


class _Writer:
    """Writes batches of valid rows; remembers customers and conversations across batches."""

    def __init__(self, store: Store, conn: sa.Connection, report: ImportReport) -> None:
        self.store = store
        self.conn = conn  # the import's own connection: one transaction per batch
        self.report = report
        self.customers: dict[str, int] = {}  # lower(email) -> id
        self.conversations: dict[Key, int] = {}  # (lower(email), ticket) -> conversation id
        self.new_customers: set[str] = set()  # created by this run: they have no earlier conversations

    def write(
        self, rows: list[tuple[Key, tuple[Any, ...]]], firsts: dict[Key, First], statuses: dict[Key, str]
    ) -> None:
        """One batch in one short write transaction: new customers, the messages, then new conversations.

        New conversations are inserted after their messages, with their counters (one customer roll-up each
        instead of two); the foreign keys are checked at commit. One transaction also means a ticket's new
        conversation is never committed without its messages.
        """
        new = {key: first for key, first in firsts.items() if key not in self.conversations}
        if new:
            self._find_existing(new)
        known = self.conversations
        with self.conn.begin():
            created = self._create(new, statuses) if new else []
            before = int(self.conn.execute(_MAX_MESSAGE_ID).scalar_one())
            added = insert_messages_bulk(self.conn, [(known[key], *values) for key, values in rows])
            insert_conversations_counted(self.conn, created)
            if added:
                update_counters_bulk(self.conn, before, up_to=created[0]["id"] - 1 if created else None)
                older = {known[k]: st for k, st in statuses.items() if k not in new}
                if older:
                    self._set_statuses(self.conn, before, older)
        self.report.added += added
        self.report.skipped += len(rows) - added

    @staticmethod
    def _set_statuses(conn: sa.Connection, before: int, statuses: dict[int, str]) -> None:
        """A row's status applies only where this import added messages: re-imports change nothing."""
        touched = {
            int(c) for c in conn.scalars(sa.select(_M.conversation_id).where(_M.id > before).distinct())
        }
        wanted = [{"cid": cid, "st": st} for cid, st in statuses.items() if cid in touched]
        if wanted:
            update = _C.update().where(_C.c.id == sa.bindparam("cid")).values(status=sa.bindparam("st"))
            conn.execute(update, wanted)

    def _find_existing(self, new: dict[Key, First]) -> None:
        """Customers and ticket conversations that earlier imports made (read without the write lock)."""
        emails = list({email for email, _ticket in new if email not in self.customers})
        with reader(self.store.engine).connect() as conn:
            if emails:
                self.customers.update(self._lookup_customers(conn, emails))
            for key in list(new):
                email, ticket = key
                if email in self.customers and email not in self.new_customers:
                    where = _ticket_range(self.customers[email], ticket)
                    found = conn.execute(_TICKET_LOOKUP, where).scalar()
                    if found is not None:
                        self.conversations[key] = int(found)
                        del new[key]

    @staticmethod
    def _lookup_customers(conn: sa.Connection, emails: list[str]) -> dict[str, int]:
        stmt = sa.select(sa.func.lower(_K.c.email), _K.c.id).where(sa.func.lower(_K.c.email).in_(emails))
        return {str(email): int(cid) for email, cid in conn.execute(stmt)}

    def _create(self, new: dict[Key, First], statuses: dict[Key, str]) -> list[dict[str, Any]]:
        """The missing customers (named and dated by their first row), and ids for the new conversations.

        The conversations themselves are inserted after their messages, with their counters (returned for
        insert_conversations_counted). On an error the whole import stops, so ids handed out in a
        transaction that rolls back are never used.
        """
        conn = self.conn
        missing: dict[str, First] = {}
        for (email, _ticket), first in new.items():
            if email not in self.customers:
                missing.setdefault(email, first)
        if missing:
            before = conn.execute(sa.select(sa.func.coalesce(sa.func.max(_K.c.id), 0))).scalar_one()
            conn.execute(insert_ignoring_duplicates(_K, conn), [
                {"name": name.strip() or name_from_email(email), "email": email, "attributes": {},
                 "created_at": datetime.fromisoformat(stamp)}
                for email, name, stamp, _persona in missing.values()
            ])  # fmt: skip
            found = self._lookup_customers(conn, list(missing))
            self.customers.update(found)
            created = {email for email, cid in found.items() if cid > before}
            self.new_customers |= created
            self.report.customers_created += len(created)
        keys = [key for key in new if key not in self.conversations]
        if not keys:
            return []
        first_id = reserve_conversation_ids(conn)
        self.conversations.update((key, first_id + i) for i, key in enumerate(keys))
        self.report.conversations_created += len(keys)
        # A new conversation's status is its rows' (it gets messages: its first row is new).
        return [
            {"id": first_id + i, "customer_id": self.customers[key[0]], "status": statuses.get(key, "open"),
             "persona_id": new[key][3] or None, "created_at": datetime.fromisoformat(new[key][2])}
            for i, key in enumerate(keys)
        ]  # fmt: skip


#: The largest message id (new messages get larger ones: see store/models.py).
_MAX_MESSAGE_ID: Final = sa.select(sa.func.coalesce(sa.func.max(_M.id), 0))


#: The conversation of a customer holding a message imported from a ticket: external ids ``TICKET/…`` form a
#: range on the (conversation_id, external_id) index, searched within the customer's conversations.
_TICKET_LOOKUP: Final = (
    sa.select(_M.conversation_id)
    .where(
        _M.conversation_id.in_(sa.select(_C.c.id).where(_C.c.customer_id == sa.bindparam("cid"))),
        _M.external_id >= sa.bindparam("low"),
        _M.external_id < sa.bindparam("high"),
    )
    .limit(1)
)


def _ticket_range(customer_id: int, ticket: str) -> dict[str, object]:
    return {"cid": customer_id, "low": f"{ticket}/", "high": f"{ticket}0"}  # '0' follows '/'


# ---------------------------------------------------------------------------------------------------- API


def import_file(
    store: Store,
    path: Path | str,
    progress: ProgressCallback | None = None,
    batch_rows: int = BATCH_ROWS,
    *,
    parse_in_child: bool | None = None,
) -> ImportReport:
    """Import the JSONL or CSV file at ``path`` into ``store``; bad rows are reported, good rows kept.

    ``progress(bytes_read, total_bytes)`` is called after each batch. Raises ImportFileError only when the
    file itself cannot be read; row problems are in ``report.errors``. ``parse_in_child`` chooses where the
    file is parsed (None: in a child process for files of CHILD_PARSE_BYTES or more).
    """
    path = Path(path)
    report = ImportReport(path=path)
    started = time.perf_counter()
    try:
        total = path.stat().st_size
        path.open("rb").close()
    except OSError as exc:
        raise ImportFileError(f"Cannot read {path}: {exc.strerror}. Check the path and try again.") from exc
    in_child = total >= CHILD_PARSE_BYTES if parse_in_child is None else parse_in_child
    batches = batches_from_child(path, batch_rows) if in_child else parse_batches(path, batch_rows)
    try:
        with store.engine.connect() as conn, bulk_writing(conn):
            writer = _Writer(store, conn, report)
            for rows, firsts, statuses, errors, count, done in batches:
                report.rows += count
                report.errors.extend(RowError(line, message) for line, message in errors)
                if rows:
                    writer.write(rows, firsts, statuses)
                if progress is not None:
                    progress(done, total)
    except DecodeProblem as problem:  # only the header line: a row that is not UTF-8 is a row error
        raise ImportFileError(
            f"{path} cannot be imported: its header line is not UTF-8 text ({problem.reason}). Save the file "
            "as UTF-8 and import it again; nothing was imported."
        ) from problem
    except ChildFailed as failure:
        raise ImportFileError(
            f"Reading {path} failed ({failure}); the rows before the problem were imported: "
            "import the file again to add the rest."
        ) from failure
    finally:
        if isinstance(batches, Iterator):
            batches.close()  # type: ignore[attr-defined]
    if progress is not None:
        progress(total, total)
    report.seconds = time.perf_counter() - started
    return report
