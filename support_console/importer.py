"""Import conversation logs from JSONL or CSV: fast, idempotent, and honest about bad rows.

The format is documented for users in README.md, section "Conversation logs: search, export, import" (the
one home of the field list): one message per JSONL line or CSV row; ``email``, ``text`` and ``timestamp`` are
required; ``ticket`` groups messages into conversations; ``id`` is the message's external id; ``role`` is
customer, agent (a sent reply, optionally with ``original``, ``model``, tokens, ``approved_by``) or note.
Field names are read by :data:`_FIELDS` and :data:`_ALIASES` below.

Why it is shaped like this:

* **Idempotent**: every message is stored with the external id ``TICKET/ID`` (``/ID`` without a ticket), and
  the store skips a message whose (conversation, external id) exists. A ticket's conversation is found again
  from those ids, so re-importing a file, or a later file that continues a ticket, adds only what is new.
* **Fast**: rows are read in batches of a few thousand and written set-based (one short transaction per
  batch, no tokenising: the store counts tokens lazily).
* **Bad rows** are reported by line number and skipped; the good rows around them are imported.
* **Other writers unaffected**: transactions are per batch and short, and the store's busy timeout makes
  writers queue rather than fail.

Writes go through the set-based helpers in ``store/search.py`` (conversations, messages, counters) rather
than ``Store.add_messages_bulk``: that one runs an executemany, and with the FTS5 triggers every row would
flush the index (see ``store/search.py``); it also cannot carry a reply's original draft, model or tokens.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import json
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import sqlalchemy as sa

from support_console.errors import SupportConsoleError
from support_console.store import (
    ROLE_AGENT,
    ROLE_CUSTOMER,
    ROLE_NOTE,
    ROLES,
    STATE_NOTE,
    STATE_RECEIVED,
    STATE_SENT,
    STATUSES,
    Conversation,
    Customer,
    Message,
    Store,
)
from support_console.store.engine import insert_ignoring_duplicates, reader
from support_console.store.search import (
    insert_conversations_bulk,
    insert_messages_bulk,
    stored_datetime,
    update_counters_bulk,
)

#: Rows per batch: big enough to amortise a transaction, small enough to keep other writers' waits short.
BATCH_ROWS: Final = 2000
ProgressCallback = Callable[[int, int], None]  # (bytes read, total bytes)

_ALIASES: Final = {
    "customer_email": "email", "customer_name": "name", "created_at": "timestamp", "ticket_id": "ticket",
    "external_id": "id", "message_id": "id",
}  # fmt: skip
_AGENT_ONLY: Final = (
    "original", "model", "approved_by", "finish_reason", "prompt_tokens", "completion_tokens",
)  # fmt: skip
_TOKEN_FIELDS: Final = ("prompt_tokens", "completion_tokens")
_EXTRA_FIELDS: Final = ("persona", "status", *_AGENT_ONLY)
_EXTRA_SET: Final = frozenset(_EXTRA_FIELDS)
_FIELDS: Final = frozenset({"email", "name", "text", "timestamp", "ticket", "id", "role", *_EXTRA_FIELDS})

_STATES: Final = {ROLE_CUSTOMER: STATE_RECEIVED, ROLE_AGENT: STATE_SENT, ROLE_NOTE: STATE_NOTE}

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


@dataclass(frozen=True)
class _Row:
    """A validated row."""

    line: int
    email: str
    name: str
    text: str
    timestamp: datetime
    ticket: str
    external_id: str
    role: str
    extra: dict[str, str]  # persona, original, model, approved_by, finish_reason, status (those given)


# ------------------------------------------------------------------------------------------------ reading


def _counting(fh: Any, counter: list[int]) -> Iterator[bytes]:
    """Yield the file's lines (bytes) while counting the bytes read (progress without a second pass)."""
    for raw in fh:
        counter[0] += len(raw)
        yield raw


def _records(path: Path, fh: Any, counter: list[int]) -> Iterator[tuple[int, dict[str, Any] | str]]:
    """(line number, record) for each row; a string record is that row's error."""
    lines = _counting(fh, counter)
    if _is_jsonl(path):
        for number, raw in enumerate(lines, start=1):
            stripped = raw.strip()
            if not stripped:
                continue
            try:
                record = json.loads(stripped.decode())
            except (ValueError, UnicodeDecodeError) as exc:
                yield number, f"not valid JSON ({exc}); each line must be one JSON object"
                continue
            yield number, record if isinstance(record, dict) else 'not a JSON object; write {"email": …}'
        return
    reader_ = csv.DictReader(codecs.iterdecode(lines, "utf-8-sig"))
    if reader_.fieldnames is None:
        return
    for record in reader_:
        if None in record:
            yield reader_.line_num, "more values than header columns; quote fields that contain commas"
            continue
        yield reader_.line_num, {k: v for k, v in record.items() if v not in (None, "")}


def _is_jsonl(path: Path) -> bool:
    """JSONL for .jsonl/.ndjson/.json, CSV for .csv, otherwise by the first non-blank character."""
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson", ".json"):
        return True
    if suffix == ".csv":
        return False
    with path.open("rb") as fh:
        head = fh.read(4096).lstrip(b"\xef\xbb\xbf \t\r\n")
    return head.startswith(b"{")


# --------------------------------------------------------------------------------------------- validation


def _canonical(record: dict[str, Any]) -> dict[str, Any]:
    """Field names lower-cased, trimmed and de-aliased (only when needed: the common case is already so)."""
    if _FIELDS.issuperset(record):
        return record
    return {_ALIASES.get(str(k).strip().lower(), str(k).strip().lower()): v for k, v in record.items()}


def _texts(record: dict[str, Any]) -> dict[str, str] | str:
    """The known fields as text (numbers accepted, empty values dropped), or what is wrong."""
    values: dict[str, str] = {}
    for key in _FIELDS.intersection(record):
        value = record[key]
        if type(value) is str:
            if value:
                values[key] = value
        elif isinstance(value, int | float) and not isinstance(value, bool):
            values[key] = str(value)
        elif value is not None:
            return f"field '{key}' must be text, not {type(value).__name__}"
    return values


def _validate(line: int, record: dict[str, Any]) -> _Row | str:
    """A _Row, or a sentence saying what is wrong with the record and how to fix it."""
    values = _texts(_canonical(record))
    if isinstance(values, str):
        return values
    get = values.get
    email = get("email", "").strip()
    if "@" not in email:
        return (
            "field 'email' is missing or not an email address" if not email else f"'{email}' is not an email"
        )
    text = get("text", "")
    if not text.strip():
        return "field 'text' is missing or empty"
    stamp = _timestamp(get("timestamp", ""))
    if isinstance(stamp, str):
        return stamp
    role = get("role", "customer").strip().lower()
    if role not in ROLES:
        return f"field 'role' is {role!r}: use customer, agent or note"
    extra = {k: v for k in _EXTRA_SET.intersection(values) if (v := values[k].strip())}
    if extra:
        problem = _check_extra(role, extra)
        if problem:
            return problem
    ticket = get("ticket", "").strip()
    message_id = get("id", "").strip() or _row_hash(email, role, stamp, text)
    name = get("name", "").strip() or email.split("@", 1)[0]
    return _Row(line, email, name, text, stamp, ticket, f"{ticket}/{message_id}", role, extra)


def _check_extra(role: str, extra: dict[str, str]) -> str | None:
    """What is wrong with the optional fields, if anything."""
    status = extra.get("status")
    if status is not None:
        extra["status"] = status = status.lower()
        if status not in STATUSES:
            return f"field 'status' is {status!r}: use open, pending or resolved"
    if role != ROLE_AGENT and any(k in extra for k in _AGENT_ONLY):
        return f"fields {', '.join(_AGENT_ONLY)} belong to agent replies (role agent)"
    for key in _TOKEN_FIELDS:
        if key in extra and not extra[key].isdigit():
            return f"field '{key}' is {extra[key]!r}: give a whole number of tokens"
    return None


def _timestamp(value: str) -> datetime | str:
    if not value.strip():
        return "field 'timestamp' is missing: give an ISO 8601 time such as 2026-10-02T18:04:00Z"
    try:
        stamp = datetime.fromisoformat(value.strip())
    except ValueError:
        return f"field 'timestamp' is {value!r}, not an ISO 8601 time such as 2026-10-02T18:04:00Z"
    return stamp.replace(tzinfo=UTC) if stamp.tzinfo is None else stamp.astimezone(UTC)


def _row_hash(email: str, role: str, stamp: datetime, text: str) -> str:
    """A stable id for a row without one, so that re-importing it is still recognised."""
    digest = hashlib.sha256("\x1f".join((email.lower(), role, stamp.isoformat(), text)).encode()).hexdigest()
    return "h" + digest[:20]


# ------------------------------------------------------------------------------------------------ writing


class _Writer:
    """Writes batches of valid rows; remembers customers and conversations across batches."""

    def __init__(self, store: Store, report: ImportReport) -> None:
        self.store = store
        self.report = report
        self.customers: dict[str, int] = {}  # lower(email) -> id
        self.conversations: dict[tuple[int, str], int] = {}  # (customer id, ticket) -> conversation id
        self.seen: set[tuple[int, str]] = set()  # (conversation id, external id) imported in this run
        self.new_customers: set[int] = set()  # created by this run: they have no earlier conversations

    def write(self, rows: list[_Row]) -> None:
        """One batch: customers and conversations first, then the messages in one short transaction."""
        self._resolve_customers(rows)
        self._resolve_conversations(rows)
        fresh = self._unseen(rows)
        self.report.skipped += len(rows) - len(fresh)
        if not fresh:
            return
        with self.store.engine.begin() as conn:
            before = conn.execute(sa.select(sa.func.coalesce(sa.func.max(_M.id), 0))).scalar_one()
            insert_messages_bulk(conn, [_message_values(conv, row) for conv, row in fresh])
            touched = {
                int(c) for c in conn.scalars(sa.select(_M.conversation_id).where(_M.id > before).distinct())
            }
            added = conn.execute(sa.select(sa.func.count()).where(_M.id > before)).scalar_one()
            update_counters_bulk(conn, before)
            statuses = {conv: row.extra["status"] for conv, row in fresh if "status" in row.extra}
            self._set_statuses(conn, {c: st for c, st in statuses.items() if c in touched})
        self.report.added += int(added)
        self.report.skipped += len(fresh) - int(added)

    def _unseen(self, rows: list[_Row]) -> list[tuple[int, _Row]]:
        """Rows with their conversation ids, minus repeats earlier in this file (the DB skips the rest)."""
        fresh = []
        for row in rows:
            conv = self.conversations[(self.customers[row.email.lower()], row.ticket)]
            if (conv, row.external_id) not in self.seen:
                self.seen.add((conv, row.external_id))
                fresh.append((conv, row))
        return fresh

    @staticmethod
    def _set_statuses(conn: sa.Connection, statuses: dict[int, str]) -> None:
        """A row's status applies only where this import added messages: re-imports change nothing."""
        if statuses:
            conn.execute(
                _C.update().where(_C.c.id == sa.bindparam("cid")).values(status=sa.bindparam("st")),
                [{"cid": cid, "st": st} for cid, st in statuses.items()],
            )

    def _resolve_customers(self, rows: list[_Row]) -> None:
        """Customer ids for the batch's emails, creating the missing customers in one insert."""
        wanted = {row.email.lower(): row for row in rows if row.email.lower() not in self.customers}
        if not wanted:
            return
        self.customers.update(self._lookup_customers(list(wanted)))
        missing = [row for key, row in wanted.items() if key not in self.customers]
        if missing:
            with self.store.engine.begin() as conn:
                before = conn.execute(sa.select(sa.func.coalesce(sa.func.max(_K.c.id), 0))).scalar_one()
                conn.execute(
                    insert_ignoring_duplicates(_K, conn),
                    [
                        {"name": r.name, "email": r.email, "attributes": {}, "created_at": r.timestamp}
                        for r in missing
                    ],
                )
                created = conn.execute(sa.select(sa.func.count()).where(_K.c.id > before)).scalar_one()
            self.report.customers_created += int(created)
            found = self._lookup_customers([r.email.lower() for r in missing])
            self.customers.update(found)
            self.new_customers.update(cid for cid in found.values() if cid > before)

    def _lookup_customers(self, emails: list[str]) -> dict[str, int]:
        stmt = sa.select(sa.func.lower(_K.c.email), _K.c.id).where(sa.func.lower(_K.c.email).in_(emails))
        with reader(self.store.engine).connect() as conn:
            return {str(email): int(cid) for email, cid in conn.execute(stmt)}

    def _resolve_conversations(self, rows: list[_Row]) -> None:
        """Conversation ids for the batch's (customer, ticket) pairs: from earlier imports, or new ones."""
        firsts: dict[tuple[int, str], _Row] = {}
        for row in rows:
            key = (self.customers[row.email.lower()], row.ticket)
            if key not in self.conversations and key not in firsts:
                firsts[key] = row
        if not firsts:
            return
        with reader(self.store.engine).connect() as conn:
            for key in [k for k in firsts if k[0] not in self.new_customers]:
                found = conn.execute(_TICKET_LOOKUP, _ticket_range(*key)).scalar()
                if found is not None:
                    self.conversations[key] = int(found)
                    del firsts[key]
        if not firsts:
            return
        personas: dict[tuple[int, str], str] = {}
        for row in rows:
            key = (self.customers[row.email.lower()], row.ticket)
            if key in firsts and "persona" in row.extra:
                personas.setdefault(key, row.extra["persona"])
        keys = list(firsts)
        values = [
            {
                "customer_id": k[0],
                "status": "open",
                "persona_id": personas.get(k),
                "created_at": firsts[k].timestamp,
            }
            for k in keys
        ]
        with self.store.engine.begin() as conn:
            ids = insert_conversations_bulk(conn, values)
        self.conversations.update(zip(keys, ids, strict=True))
        self.report.conversations_created += len(firsts)


def _message_values(conversation_id: int, row: _Row) -> list[Any]:
    """The messages-table values (BULK_COLUMNS order) of one row: an agent reply was sent at its time."""
    sent = row.role == ROLE_AGENT
    get = row.extra.get
    when = stored_datetime(row.timestamp)
    return [
        conversation_id, row.role, _STATES[row.role], row.text, get("original"),
        get("persona") if sent else None,
        get("model"), get("finish_reason"), _int(get("prompt_tokens")), _int(get("completion_tokens")),
        get("approved_by"), when if sent else None, when, when, row.external_id,
    ]  # fmt: skip


def _int(value: str | None) -> int | None:
    return None if value is None else int(value.strip())


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
    store: Store, path: Path | str, progress: ProgressCallback | None = None, batch_rows: int = BATCH_ROWS
) -> ImportReport:
    """Import the JSONL or CSV file at ``path`` into ``store``; bad rows are reported, good rows kept.

    ``progress(bytes_read, total_bytes)`` is called after each batch. Raises ImportFileError only when the
    file itself cannot be read; row problems are in ``report.errors``.
    """
    path = Path(path)
    report = ImportReport(path=path)
    started = time.perf_counter()
    try:
        total = path.stat().st_size
        fh = path.open("rb")
    except OSError as exc:
        raise ImportFileError(f"Cannot read {path}: {exc.strerror}. Check the path and try again.") from exc
    writer = _Writer(store, report)
    with fh:
        try:
            counter = [0]
            rows = _batches(_records(path, fh, counter), report, batch_rows, counter)
            for batch, done in rows:
                writer.write(batch)
                if progress is not None:
                    progress(done, total)
        except UnicodeDecodeError as exc:
            raise ImportFileError(
                f"{path} is not UTF-8 text ({exc.reason} at byte {exc.start}): save it as UTF-8 and import "
                "again; the rows before the problem were imported."
            ) from exc
    if progress is not None:
        progress(total, total)
    report.seconds = time.perf_counter() - started
    return report


def _batches(
    records: Iterable[tuple[int, dict[str, Any] | str]], report: ImportReport, size: int, counter: list[int]
) -> Iterator[tuple[list[_Row], int]]:
    """Valid rows in batches of ``size`` with the bytes read so far; bad rows go to ``report.errors``."""
    batch: list[_Row] = []
    for line, record in records:
        report.rows += 1
        row = record if isinstance(record, str) else _validate(line, record)
        if isinstance(row, str):
            report.errors.append(RowError(line, row))
            continue
        batch.append(row)
        if len(batch) >= size:
            yield batch, counter[0]
            batch = []
    if batch:
        yield batch, counter[0]
