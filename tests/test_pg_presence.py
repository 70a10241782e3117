"""Presence on a real PostgreSQL server (tests/pg_server.py) follows the server's clock, one clock for a
team whose consoles run on machines whose clocks differ: a heartbeat is stamped with the server's time,
and "fresh" and the sweep are judged by it. Consoles whose clocks are off are real child processes whose
wall clock is shifted (tests/skewed_clock.py), not a patched function. The database's ``TimeZone`` is not
UTC, so a time stored in the session's zone instead of UTC would show."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from support_console.core.clock import as_utc
from support_console.store import Store
from support_console.store.live import PRESENCE_EXPIRES
from tests.pg_server import PostgresServer
from tests.skewed_clock import SKEW_VARIABLE, compile_library

#: Far from UTC (+05:45), so a local-time stamp would be hours off.
ZONE = "Asia/Kathmandu"


@pytest.fixture
def team_url(postgres_server: PostgresServer, postgres_template: str) -> Iterator[str]:
    """A migrated support-console database whose sessions' time zone is :data:`ZONE`."""
    import psycopg

    name = postgres_server.new_database_name()
    url = postgres_server.create_database(name, template=postgres_template)
    with psycopg.connect(postgres_server.dsn(), autocommit=True) as conn:
        conn.execute(f"ALTER DATABASE \"{name}\" SET timezone TO '{ZONE}'")
    try:
        yield url
    finally:
        postgres_server.drop_database(name)


@pytest.fixture
def team_store(team_url: str) -> Iterator[Store]:
    store = Store.open(team_url)
    try:
        yield store
    finally:
        store.close()


@pytest.fixture(scope="session")
def skew_library(tmp_path_factory: pytest.TempPathFactory) -> Path:
    library = compile_library(tmp_path_factory.mktemp("skewed-clock"))
    if library is None:
        pytest.skip("no C compiler (cc, gcc or clang): the consoles with a skewed clock cannot be built")
    return library


def conversation(store: Store) -> int:
    customer = store.add_customer("Ann", "ann@example.com")
    assert customer.id is not None
    opened = store.current_conversation(customer.id)
    assert opened.id is not None
    return opened.id


def console_ids(store: Store, cid: int) -> list[str]:
    return [p.console_id for p in store.present(cid)]


def test_a_heartbeat_is_stamped_with_the_servers_time_as_naive_utc(team_store: Store) -> None:
    cid = conversation(team_store)
    team_store.heartbeat("console-a", "Kim", cid, "viewing")
    with team_store.engine.connect() as conn:
        column = conn.execute(
            sa.text(
                "SELECT data_type FROM information_schema.columns "
                "WHERE table_name = 'presence' AND column_name = 'at'"
            )
        ).scalar_one()
        stamped, server_now, zone = conn.execute(
            sa.text("SELECT at, now(), current_setting('TimeZone') FROM presence")
        ).one()
    assert column == "timestamp without time zone"  # what tables.UTCDateTime is on PostgreSQL
    assert zone == ZONE
    assert stamped.tzinfo is None
    assert abs((as_utc(stamped) - server_now).total_seconds()) < 1.0
    (record,) = team_store.present(cid)
    assert abs((record.at - server_now).total_seconds()) < 1.0


def test_fresh_and_expired_are_judged_by_the_servers_clock(team_store: Store) -> None:
    """Rows stamped relative to the server's now(): the one it considers fresh is shown, the one it
    considers expired is hidden and swept by the next heartbeat of anyone."""
    cid = conversation(team_store)
    insert = sa.text(
        "INSERT INTO presence (console_id, agent, conversation_id, activity, at) VALUES "
        "(:id, :agent, :cid, 'viewing', now() AT TIME ZONE 'UTC' - make_interval(secs => :ago))"
    )
    with team_store.engine.begin() as conn:
        conn.execute(insert, {"id": "fresh", "agent": "Kim", "cid": cid, "ago": PRESENCE_EXPIRES - 3})
        conn.execute(insert, {"id": "expired", "agent": "Lee", "cid": cid, "ago": PRESENCE_EXPIRES + 3})
    assert console_ids(team_store, cid) == ["fresh"]
    team_store.heartbeat("console-c", "Max", None, "viewing")
    with team_store.engine.connect() as conn:
        left = conn.execute(sa.text("SELECT console_id FROM presence ORDER BY console_id")).scalars().all()
    assert left == ["console-c", "fresh"]


def _skewed_heartbeat(library: Path, url: str, seconds: int, console: str, agent: str, cid: int) -> datetime:
    """One heartbeat from a console whose machine's clock is ``seconds`` off; what that clock said."""
    script = (
        "import sys\n"
        "from datetime import UTC, datetime\n"
        "from support_console.store import Store\n"
        "store = Store.open(sys.argv[1])\n"
        "try:\n"
        "    store.heartbeat(sys.argv[2], sys.argv[3], int(sys.argv[4]), 'viewing')\n"
        "finally:\n"
        "    store.close()\n"
        "print(datetime.now(UTC).isoformat())\n"
    )
    env = {**os.environ, "LD_PRELOAD": str(library), SKEW_VARIABLE: str(seconds)}
    done = subprocess.run(
        [sys.executable, "-c", script, url, console, agent, str(cid)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return datetime.fromisoformat(done.stdout.strip())


def test_consoles_whose_clocks_are_off_neither_sweep_nor_hide_each_other(
    team_store: Store, team_url: str, skew_library: Path
) -> None:
    """A console 15 s ahead must not sweep the others' fresh heartbeats; one 15 s behind must not write
    heartbeats that look expired to everyone."""
    cid = conversation(team_store)
    team_store.heartbeat("console-here", "Lee", cid, "viewing")
    ahead = _skewed_heartbeat(skew_library, team_url, 15, "console-ahead", "Kim", cid)
    assert (ahead - datetime.now(UTC)).total_seconds() > 10  # that console's clock really was ahead
    assert console_ids(team_store, cid) == ["console-ahead", "console-here"]  # nobody swept away
    behind = _skewed_heartbeat(skew_library, team_url, -15, "console-behind", "Max", cid)
    assert (datetime.now(UTC) - behind).total_seconds() > 10
    assert [p.describe() for p in team_store.present(cid, besides="console-here")] == [
        "Kim is viewing",
        "Max is viewing",
    ]
