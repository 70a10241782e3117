"""Another program holding the SQLite write lock: a real child process in ``BEGIN IMMEDIATE``.

Why a process, not a thread or a patch: the console must cope with an import or a second console writing to
the same file. The child takes the lock, says so, and keeps it until told to let go (or until ``hold``
seconds pass), so a test decides exactly when the lock ends.
"""

from __future__ import annotations

import contextlib
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType

_CHILD = """
import sqlite3, sys, select
conn = sqlite3.connect(sys.argv[1], timeout=30, isolation_level=None)
if sys.argv[3] == "exclusive":
    conn.execute("PRAGMA locking_mode=EXCLUSIVE")  # the file kept from readers too, until the end
conn.execute("BEGIN " + sys.argv[3].upper())
print("locked", flush=True)
select.select([sys.stdin], [], [], float(sys.argv[2]))
conn.execute("COMMIT")
conn.close()  # (an exclusive holder lets readers in only here)
print("released", flush=True)
"""


class WriteLock:
    """``with WriteLock(db):`` another process holds ``db``'s write lock until :meth:`release` (or the end
    of the block, or ``hold`` seconds). ``readers_too``: the whole file (SQLite's exclusive locking mode),
    so that even a read waits, as for a server whose table another session has locked."""

    def __init__(self, db: Path, hold: float = 60.0, *, readers_too: bool = False) -> None:
        self._db = db
        self._hold = hold
        self._mode = "exclusive" if readers_too else "immediate"  # readers_too: even a read waits
        self._child: subprocess.Popen[str] | None = None
        self.released_at: float | None = None

    def __enter__(self) -> WriteLock:
        self._child = subprocess.Popen(
            [sys.executable, "-c", _CHILD, str(self._db), str(self._hold), self._mode],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self._child.stdout is not None
        line = self._child.stdout.readline().strip()
        if line != "locked":
            self._child.kill()
            raise AssertionError(f"the lock holder did not take the lock: {line!r}")
        return self

    @property
    def held(self) -> bool:
        """True while the child still holds the lock (checked with a zero-timeout write attempt)."""
        if self.released_at is not None:
            return False
        probe = sqlite3.connect(self._db, timeout=0, isolation_level=None)
        try:
            probe.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError:
            return True
        finally:
            probe.close()
        return False

    def release(self) -> None:
        """Let go of the lock now and wait until the child has committed."""
        child = self._child
        if child is None or self.released_at is not None:
            return
        assert child.stdin is not None
        assert child.stdout is not None
        with contextlib.suppress(BrokenPipeError):  # it may have let go on its own (``hold`` passed)
            child.stdin.write("go\n")
            child.stdin.flush()
        line = child.stdout.readline().strip()
        child.wait(timeout=10)
        self.released_at = time.monotonic()
        if line != "released":
            raise AssertionError(f"the lock holder did not commit cleanly: {line!r}")

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            self.release()
        finally:
            if self._child is not None and self._child.stdin is not None:
                with contextlib.suppress(BrokenPipeError):
                    self._child.stdin.close()
            if self._child is not None and self._child.poll() is None:
                self._child.kill()
                self._child.wait(timeout=10)
