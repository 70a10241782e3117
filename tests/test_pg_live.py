"""PostgreSQL's part of team mode on a real server (tests/pg_server.py), ahead of the PostgreSQL backend:
the NOTIFY trigger wakes a LISTENing signal with ids only, and the advisory lock holds a second event writer
until the first commits (event ids commit in id order)."""

from __future__ import annotations

import threading
import time

import sqlalchemy as sa

from support_console.store.postgres.live import ListenSignal, create_change_notification, serialise_events

EVENTS_DDL = (
    "CREATE TABLE events (id SERIAL PRIMARY KEY, conversation_id INTEGER, agent VARCHAR, "
    "kind VARCHAR NOT NULL, detail VARCHAR NOT NULL DEFAULT '', at TIMESTAMP NOT NULL DEFAULT now())"
)


def _insert(conn: sa.Connection, conversation_id: int) -> int:
    serialise_events(conn)
    found = conn.execute(
        sa.text("INSERT INTO events (conversation_id, kind) VALUES (:c, 'note') RETURNING id"),
        {"c": conversation_id},
    )
    return int(found.scalar_one())


def test_a_new_event_wakes_the_listening_signal(postgres_url: str) -> None:
    engine = sa.create_engine(postgres_url)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql(EVENTS_DDL)
            create_change_notification(conn)
        signal = ListenSignal(engine)
        try:
            assert signal.wait(0.2) is False  # nothing yet
            with engine.begin() as conn:
                _insert(conn, 7)
            started = time.monotonic()
            assert signal.wait(5.0) is True
            assert time.monotonic() - started < 1.0
        finally:
            signal.close()
    finally:
        engine.dispose()


def test_event_writers_commit_in_id_order(postgres_url: str) -> None:
    engine = sa.create_engine(postgres_url)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql(EVENTS_DDL)
        order: list[str] = []
        with engine.connect() as first:
            first.begin()
            _insert(first, 1)  # holds the lock until it commits

            def second() -> None:
                with engine.begin() as conn:
                    _insert(conn, 2)
                    order.append("second inserted")

            thread = threading.Thread(target=second)
            thread.start()
            time.sleep(0.5)
            order.append("first commits")
            first.commit()
            thread.join(10)
        assert order == ["first commits", "second inserted"]
    finally:
        engine.dispose()
