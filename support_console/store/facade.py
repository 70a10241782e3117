"""The Store: the one object through which the rest of support-console reads and writes conversations."""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError

from support_console.core.errors import StoreError
from support_console.store.customers import CustomersMixin
from support_console.store.drafts import DraftsMixin
from support_console.store.engine import BUSY_TIMEOUT_MS, create_engine
from support_console.store.messages import MessagesMixin
from support_console.store.migrations import migrate


class Store(CustomersMixin, MessagesMixin, DraftsMixin):
    """Customers, conversations, messages and drafts on one SQLAlchemy engine.

    Create it with :meth:`open` (``services.build_services`` does, once); it is safe to use from several
    threads, and several processes may open the same SQLite file.
    """

    @classmethod
    def open(cls, url: str, *, busy_timeout: float = BUSY_TIMEOUT_MS / 1000) -> Store:
        """Open (creating if needed) the database at ``url`` and bring its schema up to date; a write waits
        up to ``busy_timeout`` seconds for another program's write lock before it fails."""
        engine = create_engine(url, busy_timeout_ms=round(busy_timeout * 1000))
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
