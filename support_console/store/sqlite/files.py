"""Looking at an SQLite file before the store's engine touches it, with the standard library, read-only.

The engine's first connection already writes (``journal_mode=WAL`` rewrites the file header and creates the
``-wal`` and ``-shm`` files), so whether a file is another application's database is decided here, before
any of that: such a file is refused with nothing written to it (``migrations.foreign_tables`` is the rule).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from urllib.parse import quote


def table_names(path: Path) -> list[str] | None:
    """The tables in the SQLite file at ``path``; None when there is no such file, or it cannot be read
    this way (not a database, locked, a directory): the engine then opens it and says why."""
    try:
        if not path.is_file() or path.stat().st_size == 0:
            return None
        conn = sqlite3.connect(f"file:{quote(str(path.resolve()))}?mode=ro", uri=True, timeout=1.0)
    except (OSError, sqlite3.Error):
        return None
    try:
        return [str(row[0]) for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    except sqlite3.Error:
        return None
    finally:
        conn.close()
