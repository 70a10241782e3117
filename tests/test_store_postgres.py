"""The store against a real PostgreSQL server (tests/pg_server.py): what an agent sees today.

PostgreSQL is not yet a backend (team mode brings it): these tests pin what opening one does now, on a real
server with real password authentication, so that the refusal is clear, comes before anything is written,
and never shows the password, in the store's error, in the CLI's one ``error:`` line and in ``config``.
"""

from __future__ import annotations

import subprocess
import sys

import psycopg
import pytest

from support_console.core.errors import StoreError
from support_console.store import Store
from tests.pg_server import PostgresServer


def _tables(server: PostgresServer, database: str) -> list[str]:
    with psycopg.connect(server.dsn(database)) as conn:
        rows = conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'").fetchall()
    return [row[0] for row in rows]


def test_a_postgresql_database_is_refused_by_name_and_left_untouched(
    postgres_server: PostgresServer, postgres_url: str
) -> None:
    with pytest.raises(StoreError) as caught:
        Store.open(postgres_url)
    message = str(caught.value)
    assert "SQLite for now, not postgresql" in message
    assert "sqlite:///" in message  # says what to use instead
    assert postgres_server.password not in message
    database = postgres_url.rsplit("/", 1)[1]
    assert _tables(postgres_server, database) == []  # nothing was written: no version table either


@pytest.mark.parametrize("password_is_right", [True, False])
def test_the_cli_prints_one_error_line_without_the_password(
    postgres_server: PostgresServer, postgres_url: str, tmp_path: object, password_is_right: bool
) -> None:
    wrong = "wrong-" + postgres_server.password[::-1]
    url = postgres_url if password_is_right else postgres_url.replace(postgres_server.password, wrong)
    done = subprocess.run(
        [sys.executable, "-m", "support_console", "--db", url, "customers", "list"],
        capture_output=True,
        text=True,
        timeout=60,
        env={"HOME": str(tmp_path), "PATH": "/usr/bin:/bin"},
        check=False,
    )
    assert done.returncode == 1
    assert done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("error: ")
    assert "postgresql" in lines[0]
    assert postgres_server.password not in done.stderr
    assert wrong not in done.stderr


def test_config_masks_the_database_password(postgres_server: PostgresServer, tmp_path: object) -> None:
    url = postgres_server.url()
    done = subprocess.run(
        [sys.executable, "-m", "support_console", "--db", url, "config"],
        capture_output=True,
        text=True,
        timeout=60,
        env={"HOME": str(tmp_path), "PATH": "/usr/bin:/bin"},
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert f":{postgres_server.port}/postgres" in done.stdout  # the database is named
    assert postgres_server.password not in done.stdout + done.stderr
