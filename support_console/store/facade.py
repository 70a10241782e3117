"""The Store: the one object through which the rest of support-console reads and writes conversations."""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError

from support_console.core.errors import StoreError
from support_console.store.audit import AuditMixin
from support_console.store.bulk import BulkImportMixin
from support_console.store.conversation_list import ConversationListMixin
from support_console.store.customers import CustomersMixin
from support_console.store.drafts import DraftsMixin
from support_console.store.engine import create_engine
from support_console.store.messages import MessagesMixin
from support_console.store.migrations import migrate
from support_console.store.search import SearchMixin
from support_console.store.stats import StatsMixin


class Store(
    CustomersMixin,
    MessagesMixin,
    DraftsMixin,
    ConversationListMixin,
    SearchMixin,
    StatsMixin,
    AuditMixin,
    BulkImportMixin,
):
    """Customers, conversations, messages and drafts on one SQLAlchemy engine, and everything read from
    them: the logs list, search, stats, the audit trail; and the importer's bulk writer.

    Every SQL statement of support-console is one of these methods' (or the backend's under them): callers
    get plain values back (rows, records, detached ORM objects) and never see the engine or the tables.

    Create it with :meth:`open` (``services.build_services`` does, once); it is safe to use from several
    threads, and several processes may open the same SQLite file.
    """

    @classmethod
    def open(cls, url: str) -> Store:
        """Open (creating if needed) the database at ``url`` and bring its schema up to date."""
        engine = create_engine(url)
        try:
            migrate(engine)
        except DBAPIError as exc:
            engine.dispose()
            reason = str(exc.orig).splitlines()[0] if exc.orig is not None else type(exc).__name__
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
