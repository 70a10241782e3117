"""Reading and validating an import file (JSONL or CSV) into batches of rows ready to write.

The half of an import that is pure Python: parsing, checking every field, formatting times. It lives apart
from ``importer.py`` (which writes the batches) and imports only the standard library, so that it can run in
a child process that starts in a few tens of milliseconds
(``python -m support_console.workflows.import_rows FILE N``):
the importer parses the next batch there while it writes the current one to SQLite (threads would not help:
parsing holds the GIL). See :func:`batches_from_child`.

The format is documented for users in README.md, section "Conversation logs: search, export, import" (the
one home of the field list). Field names are read by :data:`_FIELDS` and :data:`_ALIASES` below. Roles,
states and statuses come from ``core/vocabulary.py``, the stored time layout from ``store/times.py`` and the
email folding from ``core/matching.py``: all standard library, so this module stays free of SQLAlchemy.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import json
import os
import pickle
import queue
import subprocess
import sys
import tempfile
import threading
from collections.abc import Generator, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO, Final

from support_console.core.clock import as_utc
from support_console.core.matching import fold
from support_console.core.vocabulary import (
    ROLE_AGENT,
    ROLE_CUSTOMER,
    ROLE_NOTE,
    STATE_NOTE,
    STATE_RECEIVED,
    STATE_SENT,
    STATUSES,
)
from support_console.store.times import stored_from_iso

#: role -> the state an imported message of that role gets (customer message, sent reply, internal note).
STATES: Final = {ROLE_CUSTOMER: STATE_RECEIVED, ROLE_AGENT: STATE_SENT, ROLE_NOTE: STATE_NOTE}
AGENT: Final = ROLE_AGENT

_ALIASES: Final = {
    "customer_email": "email", "customer_name": "name", "created_at": "timestamp", "ticket_id": "ticket",
    "external_id": "id", "message_id": "id",
}  # fmt: skip
_AGENT_ONLY: Final = (
    "original", "model", "approved_by", "finish_reason", "prompt_tokens", "completion_tokens",
)  # fmt: skip
_TOKEN_FIELDS: Final = ("prompt_tokens", "completion_tokens")
_EXTRA_SET: Final = frozenset(("persona", "status", *_AGENT_ONLY))
_FIELDS: Final = frozenset({"email", "name", "text", "timestamp", "ticket", "id", "role", *_EXTRA_SET})
_ONLY_TEXT: Final = frozenset({str})

Key = tuple[str, str]  # (folded email: core.matching.fold, ticket): a row's conversation
First = tuple[str, str, str, str]  # email, name ("" if absent), stored time, persona ("" if absent)


class DecodeProblem(Exception):
    """A CSV file's header line is not UTF-8 at byte ``start``: no row can be read without it. (Any other
    line that is not UTF-8 is that row's error: it is skipped, the rest imported.)"""

    def __init__(self, reason: str, start: int) -> None:
        super().__init__(reason, start)
        self.reason = reason
        self.start = start


class ChildFailed(Exception):
    """The parsing child process ended without finishing; ``str(e)`` is its error output."""


# ------------------------------------------------------------------------------------------------ batches


def parse_batches(path: Path, batch_rows: int) -> Iterator[tuple[Any, ...]]:
    """The file in batches of ``batch_rows`` valid rows; raises DecodeProblem. A batch is a plain tuple
    (cheap to pickle) of:

    ``rows``: list of (key, values), values in ``store.bulk.BULK_COLUMNS[1:]`` order with None for NULL
    (no writer then has to look at every value);
    ``firsts``: {key: First} for each conversation key met for the first time in the file;
    ``statuses``: {key: status} given by the batch's rows (the last one wins);
    ``errors``: list of (line number, what is wrong); ``count``: records read; ``done``: bytes read so far.
    """
    seen: dict[Key, Key] = {}  # each key once, as one shared object (smaller pickles)
    counter = [0]
    with path.open("rb") as fh:
        records = _records(path, fh, counter)
        rows: list[tuple[Key, tuple[Any, ...]]] = []
        firsts: dict[Key, First] = {}
        statuses: dict[Key, str] = {}
        errors: list[tuple[int, str]] = []
        count = 0
        try:
            for line, record in records:
                count += 1
                row = record if isinstance(record, str) else _validate(record)
                if isinstance(row, str):
                    errors.append((line, row))
                    continue
                key, first, status, values = row
                shared = seen.get(key)
                if shared is None:
                    seen[key] = shared = key
                    firsts[key] = first
                if status:
                    statuses[shared] = status
                rows.append((shared, values))
                if len(rows) >= batch_rows:
                    yield rows, firsts, statuses, errors, count, counter[0]
                    rows, firsts, statuses, errors, count = [], {}, {}, [], 0
        except UnicodeDecodeError as exc:
            yield rows, firsts, statuses, errors, count, counter[0]
            raise DecodeProblem(exc.reason, exc.start) from exc
    if rows or errors or count:
        yield rows, firsts, statuses, errors, count, counter[0]


def batches_from_child(path: Path, batch_rows: int) -> Iterator[tuple[Any, ...]]:
    """:func:`parse_batches` run in a child process, which parses ahead while the caller writes.

    The child pickles each batch to its stdout; a thread here unpickles them into a short queue while the
    caller's thread is inside SQLite (which releases the GIL), so the caller rarely waits for a batch.
    Closing the iterator early (an error while writing) ends the child.
    """
    package_root = str(Path(__file__).resolve().parents[2])
    path_list = os.pathsep.join(filter(None, (package_root, os.environ.get("PYTHONPATH"))))
    env = {**os.environ, "PYTHONPATH": path_list}
    with tempfile.TemporaryFile() as stderr:
        try:
            child = subprocess.Popen(
                [sys.executable, "-m", "support_console.workflows.import_rows", str(path), str(batch_rows)],
                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=stderr, env=env,
            )  # fmt: skip
        except OSError:
            child = None
        started = child is not None and (yield from _relay(child, stderr))
    if not started:  # no child could run here (a frozen app, say): parse in this process instead
        yield from parse_batches(path, batch_rows)


def _relay(child: subprocess.Popen[bytes], stderr: BinaryIO) -> Generator[tuple[Any, ...], None, bool]:
    """Yield the child's batches; returns False if it ended before sending anything (it could not run)."""
    assert child.stdout is not None
    messages: queue.Queue[tuple[Any, ...] | None] = queue.Queue(maxsize=_QUEUED_BATCHES)
    pump = threading.Thread(target=_pump, args=(child.stdout, messages), daemon=True)
    pump.start()
    try:
        message = messages.get()
        if message is None:
            return False
        while message is not None and message[0] == "batch":
            yield message[1]
            message = messages.get()
        if message is not None and message[0] == "decode":
            raise DecodeProblem(message[1], message[2])
        if message is None or child.wait() != 0:
            stderr.seek(0)
            raise ChildFailed(stderr.read().decode(errors="replace").strip()[-2000:] or "no output")
        return True
    finally:
        if child.poll() is None:
            child.kill()
        while pump.is_alive():  # let the pump see the end (it may be waiting to queue a batch)
            with contextlib.suppress(queue.Empty):
                messages.get(timeout=0.05)
        child.stdout.close()
        child.wait()


#: Batches unpickled ahead of the writer (memory: ``importer.BATCH_ROWS`` rows each).
_QUEUED_BATCHES: Final = 2


def _pump(stream: BinaryIO, messages: queue.Queue[tuple[Any, ...] | None]) -> None:
    """Unpickle the child's messages into ``messages``; None when the stream ends or breaks."""
    while True:
        try:
            message: tuple[Any, ...] | None = pickle.load(stream)
        except (EOFError, OSError, ValueError, pickle.UnpicklingError):
            message = None
        messages.put(message)
        if message is None or message[0] != "batch":
            return


def _child_main(path: str, batch_rows: str) -> int:
    """The child's side of :func:`batches_from_child`: batches, then ("end",) or ("decode", reason, start)."""
    out: BinaryIO = sys.stdout.buffer
    try:
        for batch in parse_batches(Path(path), int(batch_rows)):
            pickle.dump(("batch", batch), out, protocol=pickle.HIGHEST_PROTOCOL)
            out.flush()
    except DecodeProblem as problem:
        pickle.dump(("decode", problem.reason, problem.start), out)
    else:
        pickle.dump(("end",), out)
    out.flush()
    return 0


# ------------------------------------------------------------------------------------------------ reading


def _records(path: Path, fh: Any, counter: list[int]) -> Iterator[tuple[int, dict[str, Any] | str]]:
    """(line number, record) for each row; a string record is that row's error."""
    if is_jsonl(path):
        yield from _jsonl_records(fh, counter)
        return
    undecodable: list[tuple[int, int]] = []  # (byte, column) of each line that is not UTF-8, as it is read
    reader = csv.DictReader(_decoded_lines(fh, counter, undecodable))
    try:
        fieldnames = reader.fieldnames
    except csv.Error as exc:
        raise DecodeProblem(f"the header line is not valid CSV ({exc})", 0) from None
    if undecodable:
        byte, column = undecodable[0]
        raise DecodeProblem(f"byte 0x{byte:02x} in the header line, column {column}", column - 1)
    if fieldnames is None:
        return
    while True:
        try:
            record = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:  # e.g. a field over the csv module's size limit: that row only
            undecodable.clear()
            yield reader.reader.line_num, f"not valid CSV ({exc})"  # (DictReader's line_num lags here)
            continue
        if undecodable:
            byte, column = undecodable[0]
            undecodable.clear()
            yield (
                reader.line_num,
                (f"not UTF-8 text (byte 0x{byte:02x} at column {column}); save the file as UTF-8"),
            )
        elif None in record:
            yield reader.line_num, "more values than header columns; quote fields that contain commas"
        else:
            yield reader.line_num, {k: v for k, v in record.items() if v not in (None, "")}


def _decoded_lines(fh: Any, counter: list[int], undecodable: list[tuple[int, int]]) -> Iterator[str]:
    """The file's lines as text, counting the bytes read (progress without a second pass).

    A line that is not UTF-8 is decoded with surrogate escapes, so the CSV reader still finds where its row
    ends, and noted in ``undecodable`` for the row to be refused: the csv module reads exactly the lines of
    one row before it returns it, so a note belongs to the row returned next. A byte-order mark is dropped.
    """
    first = True
    for raw in fh:
        counter[0] += len(raw)
        if first:
            first = False
            raw = raw.removeprefix(b"\xef\xbb\xbf")
        try:
            yield raw.decode()
        except UnicodeDecodeError as exc:
            undecodable.append((raw[exc.start], exc.start + 1))
            yield raw.decode(errors="surrogateescape")


#: json's C scanner: ``_scan(text, 0)`` is what ``json.loads`` does for a stripped line, without its
#: Python-level wrapping (a good share of the per-line cost). A refused line is re-parsed by json.loads,
#: for its error message.
_scan: Final = json.JSONDecoder().scan_once  # type: ignore[attr-defined]


def _jsonl_records(fh: Any, counter: list[int]) -> Iterator[tuple[int, dict[str, Any] | str]]:
    """JSONL: one JSON object per line; blank lines are skipped (but counted)."""
    number = 0
    for raw in fh:
        number += 1
        counter[0] += len(raw)
        line = raw.strip()
        if not line:
            continue
        try:
            text = line.decode()
            record, end = _scan(text, 0)
            if end != len(text):
                raise ValueError
        except (ValueError, StopIteration, RecursionError):
            yield number, _json_problem(line)
            continue
        if type(record) is not dict:
            yield number, 'not a JSON object; write {"email": …}'
        elif b"\\" in line and _has_surrogate_escape(line) and (problem := _lone_surrogate(record)):
            yield number, problem
        else:
            yield number, record


def _has_surrogate_escape(line: bytes) -> bool:
    """Only a ``\\udXXX`` escape can put a lone surrogate in a record; the caller looks for a backslash
    first (one memchr), so lines without escapes, the common case, cost nothing more."""
    return b"\\ud" in line or b"\\uD" in line


def _json_problem(line: bytes) -> str:
    """What is wrong with a line the fast path refused."""
    try:
        json.loads(line.decode())
    except UnicodeDecodeError as exc:
        return (
            f"not UTF-8 text (byte 0x{line[exc.start]:02x} at column {exc.start + 1}); save the file as UTF-8"
        )
    except RecursionError:
        return "nested too deeply to be a message; each line must be one flat JSON object"
    except ValueError as exc:
        return f"not valid JSON ({exc}); each line must be one JSON object"
    return "not valid JSON; each line must be one JSON object"  # pragma: no cover (the scanners agree)


def _lone_surrogate(record: dict[str, Any]) -> str | None:
    """The field holding a lone surrogate (``"\\ud800"``: valid JSON, but not text that can be stored)."""
    for key, value in record.items():
        for text in (key, value):
            if type(text) is str:
                try:
                    text.encode()
                except UnicodeEncodeError as exc:
                    escape = f"\\u{ord(text[exc.start]):04x}"
                    return (
                        f"field {key!r} holds a lone surrogate escape ({escape}), which is not text: fix the "
                        "character or remove the escape"
                    )
    return None


def is_jsonl(path: Path) -> bool:
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
    """The known fields as text (numbers accepted, empty values dropped), or what is wrong.

    The common record (known names, all values text) is returned as it is: the checks below treat an
    empty value as absent.
    """
    if _FIELDS.issuperset(record) and _ONLY_TEXT.issuperset(map(type, record.values())):
        return record
    record = _canonical(record)
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


def _validate(record: dict[str, Any]) -> tuple[Key, First, str, tuple[Any, ...]] | str:
    """(key, first-row facts, status, message values), or a sentence saying what is wrong and what to do."""
    values = _texts(record)
    if isinstance(values, str):
        return values
    get = values.get
    email = get("email", "").strip()
    if "@" not in email:
        return (
            "field 'email' is missing or not an email address" if not email else f"'{email}' is not an email"
        )
    text = get("text", "")
    if not text or text.isspace():
        return "field 'text' is missing or empty"
    stamp = _stored_stamp(get("timestamp", ""))
    if not stamp[0].isdigit():  # an error sentence ("field 'timestamp' …"); a stored time starts with a digit
        return stamp
    role = (get("role") or "customer").strip().lower()
    state = STATES.get(role)
    if state is None:
        return f"field 'role' is {role!r}: use customer, agent or note"
    ticket = get("ticket", "").strip()
    external_id = f"{ticket}/{get('id', '').strip() or _row_hash(email, role, stamp, text)}"
    key = (fold(email), ticket)
    if _EXTRA_SET.isdisjoint(values):  # the common case, without optional fields
        sent = stamp if role == AGENT else None
        row = (role, state, text, None, None, None, None, None, None, None, sent, stamp, stamp, external_id)
        return key, (email, get("name", ""), stamp, ""), "", row
    extra = _extra(role, values)
    if isinstance(extra, str):
        return extra
    sent = stamp if role == AGENT else None
    persona = extra.get("persona", "")
    given = extra.get  # None for a field not given (``_extra`` keeps only non-empty values)
    row = (
        role, state, text, given("original"), given("persona") if sent else None, given("model"),
        given("finish_reason"), given("prompt_tokens"), given("completion_tokens"), given("approved_by"),
        sent, stamp, stamp, external_id,
    )  # fmt: skip
    return key, (email, get("name", ""), stamp, persona), extra.get("status", ""), row


def _extra(role: str, values: dict[str, str]) -> dict[str, Any] | str:
    """The optional fields given (trimmed; tokens as numbers), or what is wrong with them."""
    extra: dict[str, Any] = {k: v for k in _EXTRA_SET.intersection(values) if (v := values[k].strip())}
    status = extra.get("status")
    if status is not None:
        extra["status"] = status = status.lower()
        if status not in STATUSES:
            return f"field 'status' is {status!r}: use open, pending or resolved"
    if role != AGENT and any(k in extra for k in _AGENT_ONLY):
        return f"fields {', '.join(_AGENT_ONLY)} belong to agent replies (role agent)"
    for key in _TOKEN_FIELDS:
        if key in extra:
            if not (extra[key].isascii() and extra[key].isdigit()):
                return f"field '{key}' is {extra[key]!r}: give a whole number of tokens"
            extra[key] = int(extra[key])
    return extra


def _stored_stamp(value: str) -> str:
    """The stored text of an ISO time (``store.times.stored_from_iso``), or an error sentence."""
    stamp = stored_from_iso(value.strip())
    if stamp is not None:
        return stamp
    if not value.strip():
        return "field 'timestamp' is missing: give an ISO 8601 time such as 2026-10-02T18:04:00Z"
    return f"field 'timestamp' is {value!r}, not an ISO 8601 time such as 2026-10-02T18:04:00Z"


def _row_hash(email: str, role: str, stored: str, text: str) -> str:
    """A stable id for a row without one, so that re-importing it is still recognised.

    ``email.lower()``, not ``fold``: ids already stored were made this way, and must come out the same.
    """
    stamp = as_utc(datetime.fromisoformat(stored))
    digest = hashlib.sha256("\x1f".join((email.lower(), role, stamp.isoformat(), text)).encode()).hexdigest()
    return "h" + digest[:20]


if __name__ == "__main__":
    raise SystemExit(_child_main(*sys.argv[1:3]))
