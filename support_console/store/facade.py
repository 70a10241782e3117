"""The Store: the one object through which the rest of support-console reads and writes conversations."""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy.exc import DBAPIError

from support_console.core.errors import StoreError, SupportConsoleError
from support_console.core.urls import safe_db_url, sqlite_file
from support_console.store.audit import AuditMixin
from support_console.store.backend import BUSY_TIMEOUT_MS
from support_console.store.bulk import BulkImportMixin
from support_console.store.conversation_list import ConversationListMixin
from support_console.store.customers import CustomersMixin
from support_console.store.drafts import DraftsMixin
from support_console.store.engine import create_engine, create_read_only_engine
from support_console.store.generations import GenerationsMixin
from support_console.store.insight import InsightMixin
from support_console.store.live import PresenceMixin
from support_console.store.messages import MessagesMixin
from support_console.store.migrations import check_readable_version, migrate, refuse_foreign
from support_console.store.postgres.errors import explain
from support_console.store.quality import QualityMixin
from support_console.store.queue import QueueMixin
from support_console.store.search import SearchMixin
from support_console.store.server_models import ServerModelsMixin
from support_console.store.stats import StatsMixin
from support_console.store.team import TeamMixin


class Store(
    CustomersMixin,
    MessagesMixin,
    DraftsMixin,
    GenerationsMixin,
    ConversationListMixin,
    QueueMixin,
    SearchMixin,
    StatsMixin,
    AuditMixin,
    BulkImportMixin,
    ServerModelsMixin,
    InsightMixin,
    QualityMixin,
    TeamMixin,
    PresenceMixin,
):
    """Customers, conversations, messages and drafts on one SQLAlchemy engine, and everything read from
    them: the logs list, search, stats, the audit trail; and the importer's bulk writer.

    Every SQL statement of support-console is one of these methods' (or the backend's under them): callers
    get plain values back (rows, records, detached ORM objects) and never see the engine or the tables.

    Create it with :meth:`open` (``services.build_services`` does, once); it is safe to use from several
    threads, and several processes may open the same SQLite file.
    """

    @classmethod
    def open(cls, url: str, *, busy_timeout: float = BUSY_TIMEOUT_MS / 1000) -> Store:
        """Open (creating if needed) the database at ``url`` and bring its schema up to date; a write waits
        up to ``busy_timeout`` seconds for another program's write lock before it fails.

        Every failure is a StoreError whose sentence names the database without its password: a missing
        driver, a refused connection or a bad URL argument (ImportError, OperationalError, ArgumentError
        from SQLAlchemy) never reaches the caller raw, so the CLI and the console show one ``error:`` line.
        """
        try:
            return cls._open(url, busy_timeout)
        except SupportConsoleError:
            raise
        except Exception as exc:
            raise StoreError(
                f"Cannot open the database {safe_db_url(url)} ({_reason(exc, url)}): check the database URL "
                "(--db, SUPPORT_CONSOLE_DB or DATABASE_URL), or choose another database with --db."
            ) from exc

    @classmethod
    def open_for_reading(cls, url: str) -> Store:
        """Open the database for commands that only read (list, search, export, stats).

        A file that cannot be written (a read-only mount, a read-only file or directory) is opened
        read-only: no migration, no WAL switch, nothing written; its schema must then be current (an older
        one is upgraded by opening it once where it is writable). Anything else (a writable or new file,
        another database URL) is opened as :meth:`open` does, so it is created or upgraded as before.
        """
        path = sqlite_file(url)
        if path is None or not path.is_file() or _writable(path):
            return cls.open(url)
        try:
            from support_console.store.sqlite.files import table_names

            refuse_foreign(str(path), table_names(path) or ())
            engine = create_read_only_engine(path)
            try:
                check_readable_version(engine, str(path))
            except BaseException:
                engine.dispose()
                raise
            return cls(engine)
        except SupportConsoleError:
            raise
        except Exception as exc:
            raise StoreError(
                f"Cannot read the database {path} ({_reason(exc, url)}): check that it is a support-console "
                "database you can read, or choose another with --db."
            ) from exc

    @classmethod
    def _open(cls, url: str, busy_timeout: float) -> Store:
        path = sqlite_file(url)
        if path is not None:  # another application's file is refused before the engine writes to it
            from support_console.store.sqlite.files import table_names

            refuse_foreign(str(path), table_names(path) or ())
        engine = create_engine(url, busy_timeout_ms=round(busy_timeout * 1000))
        try:
            migrate(engine)
        except DBAPIError as exc:
            engine.dispose()
            refusal = explain(exc.orig, safe_db_url(url))
            if refusal is not None:
                raise StoreError(refusal) from exc
            reason = _reason(exc, url)
            raise StoreError(
                f"Cannot open the database {engine.url.render_as_string(hide_password=True)} ({reason}): "
                "check that it is a support-console database you can write to, or choose another with --db."
            ) from exc
        except BaseException:
            engine.dispose()
            raise
        return cls(engine)

    def close(self) -> None:
        """Close every pooled connection (SQLite then checkpoints the WAL into the main file)."""
        self.engine.dispose()


def _writable(path: Path) -> bool:
    """Whether SQLite can write the file and create its ``-wal`` and ``-shm`` files beside it."""
    return os.access(path, os.W_OK) and os.access(path.resolve().parent, os.W_OK)


def _reason(exc: BaseException, url: str) -> str:
    """The first line of a driver's or SQLAlchemy's message, with the URL's password blanked out."""
    orig = getattr(exc, "orig", None)
    text = str(orig if orig is not None else exc).splitlines()
    reason = text[0] if text else type(exc).__name__
    if orig is None and not isinstance(exc, OSError):
        reason = f"{type(exc).__name__}: {reason}"
    try:
        from sqlalchemy.engine import make_url

        password = make_url(url).password
    except Exception:  # an unparseable URL: show no message text at all
        return type(exc).__name__
    if password and str(password) in reason:  # a short one would mangle the text: drop the text then
        return reason.replace(str(password), "***") if len(str(password)) >= 4 else type(exc).__name__
    return reason
