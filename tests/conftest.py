"""Shared fixtures. Kept minimal on purpose: each area's helpers live in its own tests/*_helpers.py."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from support_console.store import Store
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
def postgres_url(postgres_server: PostgresServer) -> Iterator[str]:
    """The URL of a new, empty database on the throwaway server, one per test (dropped after it)."""
    name = postgres_server.new_database_name()
    url = postgres_server.create_database(name)
    try:
        yield url
    finally:
        postgres_server.drop_database(name)


@pytest.fixture(scope="session")
def postgres_template(postgres_server: PostgresServer) -> str:
    """A migrated support-console database that per-test databases are copied from (``TEMPLATE``): a
    copy takes a few tens of milliseconds where running every migration takes far longer."""
    from support_console.store import Store

    name = postgres_server.new_database_name("template")
    Store.open(postgres_server.create_database(name)).close()  # closed: a template must have no session
    return name


#: The databases the store tests run on (``db_url``): every test that takes ``store`` runs on each.
BACKENDS = ("sqlite", "postgresql")


@pytest.fixture(params=BACKENDS)
def new_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[str], str]]:
    """Makes new, migrated support-console databases of one backend (each in turn): ``new_db_url(name)``
    gives an SQLite file's URL, or a PostgreSQL database on the throwaway server (tests/pg_server.py;
    skipped, or failed in CI, when there is none), copied from a migrated template and dropped after."""
    if request.param == "sqlite":
        yield lambda name: f"sqlite:///{tmp_path / 'data' / f'{name}.db'}"
        return
    server: PostgresServer = request.getfixturevalue("postgres_server")
    template: str = request.getfixturevalue("postgres_template")
    made: list[str] = []

    def make(_name: str) -> str:
        made.append(server.new_database_name())
        return server.create_database(made[-1], template=template)

    try:
        yield make
    finally:
        for name in made:
            server.drop_database(name)


@pytest.fixture
def db_url(new_db_url: Callable[[str], str]) -> str:
    """The URL of a new, migrated support-console database: an SQLite file, then a PostgreSQL database."""
    return new_db_url("console")


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    """The Store on ``db_url`` (each backend in turn), closed after the test."""
    opened = Store.open(db_url)
    try:
        yield opened
    finally:
        opened.close()
