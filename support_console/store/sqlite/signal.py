"""SQLite's change signal: ``PRAGMA data_version`` on a connection of its own, polled a few times a second.

Why this works across processes: ``data_version`` changes whenever *another* connection (any process)
commits to the file, and reading it is a look at the shared memory index: no table is read, no lock is
taken. So two consoles on one file see each other's writes within one poll, and a console's own writes (on
the Store's pooled connections, not this one) wake it too, which keeps one code path for all changes.
"""

from __future__ import annotations

import sqlite3
import time
from typing import Final

from sqlalchemy.engine import Engine

from support_console.core.errors import StoreError

#: Seconds between two looks at data_version: a change is seen within this (and a quarter second is
#: nothing next to the one-second target for live updates).
POLL_SECONDS: Final = 0.25


class DataVersionSignal:
    """``ChangeSignal`` for SQLite (``store/backend.py``)."""

    def __init__(self, engine: Engine) -> None:
        database = engine.url.database or ""
        try:
            uri = bool(engine.url.query.get("uri"))
            self._conn = sqlite3.connect(database, uri=uri, timeout=1.0, check_same_thread=False)
            self._version = self._read()
        except sqlite3.Error as exc:
            raise StoreError(f"Cannot watch the database for changes ({exc}): live updates are off.") from exc

    def _read(self) -> int:
        return int(self._conn.execute("PRAGMA data_version").fetchone()[0])

    def wait(self, timeout: float) -> bool:
        deadline = time.monotonic() + max(0.0, timeout)
        while True:
            try:
                version = self._read()
            except sqlite3.Error as exc:
                raise StoreError(f"Lost the database connection ({exc}): reconnecting.") from exc
            if version != self._version:
                self._version = version
                return True
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            time.sleep(min(POLL_SECONDS, left))

    def close(self) -> None:
        self._conn.close()
