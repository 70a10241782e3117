"""The engine seam: SQLite pragmas, BEGIN IMMEDIATE for writes, deferred reads, and URL handling."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from support_console.core.errors import StoreError
from support_console.store import Store
from support_console.store.engine import create_engine, reader
from support_console.store.sqlite.connection import pragmas


def _raw_writer(path: Path) -> sqlite3.Connection:
    """A second connection that does not wait at all, to observe who holds the write lock."""
    return sqlite3.connect(path, timeout=0, isolation_level=None)


def test_sqlite_pragmas_are_applied(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'x' / 'db.sqlite'}")
    try:
        assert pragmas(engine) == {
            "journal_mode": "wal",
            "foreign_keys": 1,
            "synchronous": 1,
            "busy_timeout": 30000,
        }
    finally:
        engine.dispose()


def test_write_transactions_take_the_write_lock_at_begin(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite"
    engine = create_engine(f"sqlite:///{path}")
    other = _raw_writer(path)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql("SELECT 1").scalar()  # no write yet: only BEGIN IMMEDIATE holds the lock
            with pytest.raises(sqlite3.OperationalError, match="database is locked"):
                other.execute("BEGIN IMMEDIATE")
        other.execute("BEGIN IMMEDIATE")  # released at commit
        other.execute("ROLLBACK")
    finally:
        other.close()
        engine.dispose()


def test_reader_transactions_do_not_block_writers(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite"
    engine = create_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (x INTEGER)")
    other = _raw_writer(path)
    try:
        with reader(engine).connect() as conn:
            conn.exec_driver_sql("SELECT count(*) FROM t").scalar()
            other.execute("BEGIN IMMEDIATE")
            other.execute("INSERT INTO t VALUES (1)")
            other.execute("COMMIT")
            # The reader keeps its snapshot (WAL): it does not see the write until its transaction ends.
            assert conn.exec_driver_sql("SELECT count(*) FROM t").scalar() == 0
        with reader(engine).connect() as conn:
            assert conn.exec_driver_sql("SELECT count(*) FROM t").scalar() == 1
    finally:
        other.close()
        engine.dispose()


def test_in_memory_url_works(tmp_path: Path) -> None:
    store = Store.open("sqlite://")
    try:
        customer = store.add_customer("Ann", "ann@example.com")
        assert store.list_customers()[0].customer.id == customer.id
    finally:
        store.close()


def test_non_sqlite_url_gets_no_sqlite_setup_and_a_clear_driver_error() -> None:
    # pg8000: a PostgreSQL driver the project never installs (psycopg is, for the PostgreSQL tests).
    with pytest.raises(StoreError, match=r"driver for postgresql\+pg8000 is not installed") as caught:
        create_engine("postgresql+pg8000://agent:s3cret-pw@db.example.com/support")
    assert "s3cret-pw" not in str(caught.value)


def test_invalid_url_is_refused_without_echoing_it() -> None:
    with pytest.raises(StoreError, match=r"is not valid: use sqlite:///path/to/file\.db") as caught:
        create_engine("::not a url:: key=sk-secret")
    assert "sk-secret" not in str(caught.value)


def test_unwritable_location_is_reported(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(StoreError, match="Cannot create the directory for the database"):
        create_engine(f"sqlite:///{blocker / 'sub' / 'db.sqlite'}")


def test_importing_the_store_creates_no_engine() -> None:
    probe = (
        "import gc, sqlalchemy, support_console.store, support_console.store.engine;"
        "print(sum(isinstance(o, sqlalchemy.Engine) for o in gc.get_objects()))"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "0"
