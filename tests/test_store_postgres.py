"""The store on a real PostgreSQL server (tests/pg_server.py): opening it as a team does, and every way it can
be refused, each a one-line sentence that says what to do and never shows a password.

The server runs with real password authentication (scram-sha-256), so a wrong password, a missing database
and a role without rights are the server's own answers, not simulations.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from support_console.core.errors import StoreError
from support_console.store import Store
from support_console.store.migrations import latest_version
from tests.pg_server import PostgresServer

#: A role that is not a superuser, as a team's DBA would create it for the consoles.
CLERK, CLERK_PASSWORD = "clerk", "clerk-secret-7f3a"


def _tables(server: PostgresServer, database: str) -> list[str]:
    with psycopg.connect(server.dsn(database)) as conn:
        rows = conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'").fetchall()
    return sorted(row[0] for row in rows)


def _admin(server: PostgresServer, statement: str, database: str = "postgres") -> None:
    with psycopg.connect(server.dsn(database), autocommit=True) as conn:
        conn.execute(statement)


@pytest.fixture
def clerk(postgres_server: PostgresServer) -> Iterator[str]:
    """A login role with no rights of its own (dropped after the test, with what it owns)."""
    _admin(postgres_server, f"CREATE ROLE {CLERK} LOGIN PASSWORD '{CLERK_PASSWORD}'")
    try:
        yield CLERK
    finally:
        for name in _databases_of(postgres_server, CLERK):
            postgres_server.drop_database(name)
        for name in _databases_of(postgres_server, None):  # its grants live in each database
            _admin(postgres_server, f"DROP OWNED BY {CLERK} CASCADE", name)
        _admin(postgres_server, f"DROP ROLE {CLERK}")


def _databases_of(server: PostgresServer, role: str | None) -> list[str]:
    """The databases ``role`` owns (every database that accepts connections for None)."""
    with psycopg.connect(server.dsn(), autocommit=True) as conn:
        rows = conn.execute(
            "SELECT datname FROM pg_database WHERE datallowconn AND (%s::text IS NULL "
            "OR datdba = (SELECT oid FROM pg_roles WHERE rolname = %s))",
            (role, role),
        ).fetchall()
    return [row[0] for row in rows]


def _refusal(url: str) -> str:
    with pytest.raises(StoreError) as caught:
        Store.open(url, busy_timeout=2)
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_a_new_database_is_migrated_and_a_second_console_opens_it(
    postgres_server: PostgresServer, postgres_url: str
) -> None:
    first = Store.open(postgres_url)
    second = Store.open(postgres_url)  # another console: nothing to migrate, the same data
    try:
        customer = first.add_customer("Élise", "elise@example.com")
        assert customer.id is not None
        assert second.get_customer(customer.id).name == "Élise"
    finally:
        first.close()
        second.close()
    database = postgres_url.rsplit("/", 1)[1]
    assert {"customers", "conversations", "messages", "generations", "schema_version"} <= set(
        _tables(postgres_server, database)
    )
    with psycopg.connect(postgres_server.dsn(database)) as conn:
        assert conn.execute("SELECT max(version) FROM schema_version").fetchone() == (latest_version(),)


def test_the_database_owner_needs_no_superuser_rights(postgres_server: PostgresServer, clerk: str) -> None:
    """What the README tells a team to do: a plain role that owns the database migrates and uses it (no
    extension is needed for accent-insensitive search)."""
    name = postgres_server.new_database_name()
    _admin(postgres_server, f'CREATE DATABASE "{name}" OWNER {clerk}')
    store = Store.open(postgres_server.url(name, user=clerk, password=CLERK_PASSWORD))
    try:
        customer = store.add_customer("Zoë", "zoe@example.com")
        assert customer.id is not None
        conversation = store.current_conversation(customer.id)
        assert conversation.id is not None
        store.add_message(conversation.id, "customer", "Mon colis est arrivé abîmé")
        assert [h.snippet for h in store.search("ABIME")] == ["Mon colis est arrivé abîmé"]
    finally:
        store.close()


def test_an_unreachable_server_is_named_without_the_password(postgres_server: PostgresServer) -> None:
    url = postgres_server.url().replace(f":{postgres_server.port}/", ":1/")
    message = _refusal(url)
    assert "cannot be reached" in message
    assert "127.0.0.1" in message
    assert "port 1" in message
    assert postgres_server.password not in message


def test_a_missing_database_says_to_create_it(postgres_server: PostgresServer) -> None:
    message = _refusal(postgres_server.url("no_such_db"))
    assert 'database "no_such_db" does not exist' in message
    assert "create the database" in message
    assert postgres_server.password not in message


def test_a_wrong_password_is_refused_without_showing_either_password(postgres_server: PostgresServer) -> None:
    wrong = "wrong-" + postgres_server.password[::-1]
    message = _refusal(postgres_server.url(password=wrong))
    assert "password authentication failed" in message
    assert "the password is wrong" in message
    assert "PGPASSFILE" in message
    assert postgres_server.password not in message
    assert wrong not in message


def test_a_role_without_rights_is_told_what_it_lacks(
    postgres_server: PostgresServer, postgres_url: str, clerk: str
) -> None:
    database = postgres_url.rsplit("/", 1)[1]
    as_clerk = postgres_server.url(database, user=clerk, password=CLERK_PASSWORD)
    # A new database it does not own: PostgreSQL 15 lets no one but the owner create tables in it.
    message = _refusal(as_clerk)
    assert "permission denied for schema public" in message
    assert "lacks the rights" in message
    assert CLERK_PASSWORD not in message
    assert _tables(postgres_server, database) == []
    # A migrated database whose tables it may not read.
    Store.open(postgres_url).close()
    message = _refusal(as_clerk)
    assert "permission denied for table schema_version" in message
    assert "lacks the rights" in message
    # Granted the use of the tables (not the right to change the schema), it runs a console.
    grants = (
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {clerk}",
        f"GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO {clerk}",
    )
    for grant in grants:
        _admin(postgres_server, grant, database)
    store = Store.open(as_clerk)
    try:
        assert store.add_customer("Ann", "ann@example.com").id is not None
    finally:
        store.close()


def test_a_schema_newer_than_the_program_is_refused(
    postgres_server: PostgresServer, postgres_url: str
) -> None:
    Store.open(postgres_url).close()
    database = postgres_url.rsplit("/", 1)[1]
    _admin(postgres_server, f"INSERT INTO schema_version (version) VALUES ({latest_version() + 1})", database)
    message = _refusal(postgres_url)
    assert f"schema version {latest_version() + 1}, newer than" in message
    assert "upgrade support-console" in message


def _cli(url: str, home: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "support_console", "--db", url, *argv],
        capture_output=True,
        text=True,
        timeout=60,
        env={"HOME": str(home), "PATH": "/usr/bin:/bin"},
        check=False,
    )


def test_the_cli_works_on_postgresql(postgres_url: str, tmp_path: Path) -> None:
    done = _cli(postgres_url, tmp_path, "customers", "add", "--name", "Ann Lee", "ann@example.com")
    assert done.returncode == 0, done.stderr
    listed = _cli(postgres_url, tmp_path, "customers", "list")
    assert listed.returncode == 0, listed.stderr
    assert "ann@example.com" in listed.stdout


@pytest.mark.parametrize("problem", ["wrong password", "unreachable", "no database"])
def test_the_cli_prints_one_error_line_without_the_password(
    postgres_server: PostgresServer, tmp_path: Path, problem: str
) -> None:
    wrong = "wrong-" + postgres_server.password[::-1]
    url = {
        "wrong password": postgres_server.url(password=wrong),
        "unreachable": postgres_server.url().replace(f":{postgres_server.port}/", ":1/"),
        "no database": postgres_server.url("missing_db"),
    }[problem]
    done = _cli(url, tmp_path, "customers", "list")
    assert done.returncode == 1
    assert done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    verb = "Could not connect to" if problem == "unreachable" else "PostgreSQL refused"
    assert lines[0].startswith(f"error: {verb} postgresql+psycopg://postgres:***@")
    assert postgres_server.password not in done.stderr
    assert wrong not in done.stderr


@pytest.mark.parametrize("where", ["user info", "query"])
def test_config_masks_the_database_password(
    postgres_server: PostgresServer, tmp_path: Path, where: str
) -> None:
    url = postgres_server.url()
    if where == "query":  # libpq also takes the password as a query parameter
        url = f"{postgres_server.url(password='')}?password={postgres_server.password}&sslmode=prefer"
        url = url.replace("postgres:@", "postgres@")
    done = _cli(url, tmp_path, "config")
    assert done.returncode == 0, done.stderr
    assert f":{postgres_server.port}/postgres" in done.stdout  # the database is named
    assert postgres_server.password not in done.stdout + done.stderr


def test_a_reimport_finds_its_tickets_whatever_the_databases_collation(
    postgres_server: PostgresServer, tmp_path: Path
) -> None:
    """A team's database often sorts text linguistically (en_US and the like ignore punctuation: there,
    'T1/5' sorts after 'T10'); the importer's ticket lookup compares ids byte by byte, so importing the same
    file again finds every ticket and adds nothing. ICU's 'shifted' root collation is such a collation."""
    import json

    from support_console.workflows.importer import import_file

    name = postgres_server.new_database_name()
    _admin(
        postgres_server,
        f"CREATE DATABASE \"{name}\" TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'und-u-ka-shifted' "
        "LOCALE 'C.UTF-8'",
    )
    try:
        when = "2026-10-01T10:00:00Z"
        rows = [{"email": "a@example.com", "ticket": "T1", "id": str(i), "text": f"m{i}", "timestamp": when}
                for i in range(3, 7)]  # fmt: skip
        rows.append(
            {"email": "a@example.com", "ticket": "T10", "id": "1", "text": "other", "timestamp": when}
        )
        source = tmp_path / "tickets.jsonl"
        source.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
        store = Store.open(postgres_server.url(name))
        try:
            assert import_file(store, source).added == 5
            again = import_file(store, source)
            assert (again.added, again.conversations_created) == (0, 0)
            assert store.count_conversations() == 2
        finally:
            store.close()
    finally:
        postgres_server.drop_database(name)


def test_search_walks_the_newest_messages_first_and_finds_older_ones_through_the_index(
    postgres_url: str,
) -> None:
    """Search asks the newest messages in id order, then the older ones through the GIN index (so a rare
    word does not walk the whole table): whatever the window, the hits are the same newest ones, in
    order, with the search's conditions (a correlated persona condition too) applied on both sides."""
    import sqlalchemy as sa

    from support_console.store.postgres import search
    from support_console.store.search import SEARCHED_STATES
    from support_console.store.tables import CONVERSATIONS, MESSAGES

    store = Store.open(postgres_url)
    try:
        ann = store.add_customer("Ann Lake", "ann@example.com")
        bob = store.add_customer("Bob", "b@example.com")
        assert ann.id is not None
        assert bob.id is not None
        billing = store.current_conversation(ann.id, "billing").id
        other = store.current_conversation(bob.id).id
        assert billing is not None
        assert other is not None
        rare: list[int | None] = []
        # 4242 in billing's messages 0, 4, 8, 12; in the other (persona-less) conversation's 2, 6, 10, 14
        for i in range(16):
            text = f"ticket 4242 message {i}" if i % 2 == 0 else f"ticket {i} message"
            message = store.add_message(other if i % 4 == 2 else billing, "customer", text)
            if i % 4 == 0:
                rare.insert(0, message.id)  # newest first
        billed = sa.select(CONVERSATIONS.c.id).where(
            CONVERSATIONS.c.id == MESSAGES.c.conversation_id, CONVERSATIONS.c.persona_id == "billing"
        )
        where = [MESSAGES.c.state.in_(SEARCHED_STATES), billed.exists()]
        terms = [("ticket", False), ("4242", False)]
        with store.engine.connect() as conn:
            for window in (0, 1, 2, 3, 5, 8, 15, 16, 100):
                for limit in (1, 2, 3, 4, 5):
                    found = search.full_text_search(conn, terms, where, None, limit, window)
                    assert [mid for mid, _snippet in found] == rare[:limit], (window, limit)
            assert search.full_text_search(conn, [("zzzz", False)], where, None, 5, 3) == []
    finally:
        store.close()
