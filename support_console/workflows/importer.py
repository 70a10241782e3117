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
* **Fast**: rows come in batches (:data:`BATCH_ROWS`), each written in one short transaction, set-based
  (``Store.bulk_importer``, ``store/bulk.py``: multi-row INSERTs, search index built per batch, counters in
  one UPDATE; no tokenising: the store counts tokens lazily). For a large file the parsing runs in a child
  process (``import_rows.batches_from_child``), one batch ahead of the writing here.
* **Bad rows** are reported by line number and skipped; the good rows around them are imported.
* **Other writers unaffected**: transactions are per batch and short, and the store's busy timeout makes
  writers queue rather than fail.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Final

from support_console.core.errors import DiskFullError, SupportConsoleError
from support_console.workflows.import_rows import (
    ChildFailed,
    DecodeProblem,
    batches_from_child,
    parse_batches,
)

if TYPE_CHECKING:
    from support_console.store import Store

#: Rows per batch: big enough to amortise a transaction, small enough to keep other writers' waits short.
#: A batch costs some 20-40 ms whatever its size (``benchmarks/bench_import_batches.py``): 3,000 rows a batch
#: made a PostgreSQL import about a fifth slower. 10,000 rows hold the write lock for about half a second
#: on a 2-core machine: an agent's reply sent meanwhile waits that long at most (the console never waits).
BATCH_ROWS: Final = 10_000
#: Files at least this large are parsed in a child process (starting it costs about a tenth of a second).
CHILD_PARSE_BYTES: Final = 1_000_000
ProgressCallback = Callable[[int, int], None]  # (bytes read, total bytes)


class ImportFileError(SupportConsoleError):
    """The file as a whole cannot be imported (missing, unreadable, not JSONL or CSV)."""


class ImportDiskFull(DiskFullError):
    """The disk filled during an import: the batches before it are kept, the one that failed is not."""


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
        with store.bulk_importer() as writer:
            for rows, firsts, statuses, errors, count, done in batches:
                report.rows += count
                report.errors.extend(RowError(line, message) for line, message in errors)
                if rows:
                    written = writer.write(rows, firsts, statuses)
                    report.added += written.added
                    report.skipped += written.skipped
                    report.customers_created += written.customers_created
                    report.conversations_created += written.conversations_created
                if progress is not None:
                    progress(done, total)
    except DiskFullError as full:
        raise ImportDiskFull(
            f"The disk holding the database filled up while importing {path}: {report.added} rows imported "
            "before the disk filled; free space and import again, nothing is imported twice."
        ) from full
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
