"""Shared fixtures. Kept minimal on purpose: each area's helpers live in its own tests/*_helpers.py."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from support_console.workflows.services import Services
from tests.pg_server import REQUIRE_VARIABLE, PostgresServer, PostgresUnavailable, running_server
from tests.ui_helpers import services_for, ui_settings
from tests.wire_server import WireServer


@pytest.fixture
def services(tmp_path: Path, wire_server: WireServer) -> Iterator[Services]:
    """The console's services on a new SQLite file, its provider the loopback server (tests/ui_helpers.py's
    ui_settings), closed after the test. Files that need other data define their own ``services``."""
    built = services_for(ui_settings(tmp_path, wire_server))
    try:
        yield built
    finally:
        built.close()


@pytest.fixture
def wire_server() -> Iterator[WireServer]:
    """A started loopback OpenAI / Azure OpenAI server (tests/wire_server.py), closed after the test."""
    server = WireServer()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A real throwaway PostgreSQL server (tests/pg_server.py), one per test process, started on first use.

    Skipped with the reason when this machine has no PostgreSQL, unless CI requires it
    (``SUPPORT_CONSOLE_REQUIRE_POSTGRES=1``): then the missing server fails the test instead.
    """
    try:
        with running_server() as server:
            yield server
    except PostgresUnavailable as exc:
        if os.environ.get(REQUIRE_VARIABLE) == "1":
            pytest.fail(f"PostgreSQL is required here ({REQUIRE_VARIABLE}=1) but {exc}")
        pytest.skip(f"PostgreSQL tests skipped: {exc}")


@pytest.fixture
def postgres_url(postgres_server: PostgresServer, request: pytest.FixtureRequest) -> str:
    """The URL of a new, empty database on the throwaway server, one per test."""
    return postgres_server.create_database(f"t_{abs(hash(request.node.nodeid)):x}"[:40])
