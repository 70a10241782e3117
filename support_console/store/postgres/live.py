"""PostgreSQL's part of team mode, behind the backend's team-mode methods (``store/backend.py``): the NOTIFY
trigger on ``events``, the advisory lock that makes event ids commit in id order, and the LISTEN change
signal.

* ``create_change_notification(conn)`` -> :func:`create_change_notification` (migration 14 calls it);
* ``serialise_events(conn)`` -> :func:`serialise_events` (``team.log_event`` calls it before each insert);
* ``open_change_signal(engine)`` -> ``ListenSignal(engine)``;
* ``clock(earlier_by)`` -> :func:`server_clock` (presence heartbeats, ``store/live.py``).

Why an advisory lock: a sequence hands out ids at INSERT, but transactions commit in any order, so a reader
could see event 101 before 100 commits and then skip 100 forever (the feed's cursor, a draft's basis). A
transaction-scoped advisory lock taken just before the insert holds every other event writer until this
transaction ends, so ids become visible in order; it is held for the rest of one short write transaction.

Why presence reads the server's clock: the consoles of a team run on different machines, whose clocks
differ by seconds; a heartbeat stamped by its console's clock looks expired to a console whose clock is
ahead (which then sweeps it away) and fresh for too long to one behind. The server's ``now()`` is one clock
for all of them. ``tables.UTCDateTime`` is ``TIMESTAMP`` (without time zone) on PostgreSQL, holding naive
UTC, so the expression is ``now()`` as UTC in that type whatever the session's ``TimeZone``.

Why the payload is ids only: NOTIFY payloads are visible to every listener and limited to 8000 bytes; the
feed reads the rows it is told about through the store (``live.ChangeFeed``), with the reader's rights.
Behind PgBouncer in transaction mode LISTEN does not work: the signal needs a direct (session) connection,
which it opens itself from the engine's URL.
"""

from __future__ import annotations

from contextlib import suppress
from datetime import datetime, timedelta
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from support_console.core.errors import StoreError

#: The channel new events are announced on (payload: "<event id>:<conversation id or empty>").
CHANNEL: Final = "support_console_events"
#: The advisory lock key event writers serialise on (any constant unique to support-console).
EVENTS_LOCK: Final = 0x5C_0E_7E_13

_FUNCTION: Final = f"""
CREATE OR REPLACE FUNCTION support_console_event_notify() RETURNS trigger AS $$
BEGIN
    PERFORM pg_notify('{CHANNEL}', NEW.id::text || ':' || coalesce(NEW.conversation_id::text, ''));
    RETURN NEW;
END
$$ LANGUAGE plpgsql
"""


def create_change_notification(conn: Connection) -> None:
    """The trigger that announces every new event after its transaction commits (NOTIFY is transactional)."""
    conn.exec_driver_sql(_FUNCTION)
    conn.exec_driver_sql("DROP TRIGGER IF EXISTS events_notify ON events")
    conn.exec_driver_sql(
        "CREATE TRIGGER events_notify AFTER INSERT ON events "
        "FOR EACH ROW EXECUTE FUNCTION support_console_event_notify()"
    )


def server_clock(earlier_by: float = 0.0) -> sa.ColumnElement[datetime]:
    """The server's time now (its transaction's start, as ``now()``), less ``earlier_by`` seconds, as naive
    UTC ``TIMESTAMP``: what ``tables.UTCDateTime`` stores."""
    now: sa.ColumnElement[datetime] = sa.func.timezone("UTC", sa.func.now(), type_=sa.DateTime())
    if not earlier_by:
        return now
    return now - sa.literal(timedelta(seconds=earlier_by), sa.Interval())


def serialise_events(conn: Connection) -> None:
    """Hold other event writers until this transaction ends, so event ids commit in id order."""
    conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({EVENTS_LOCK})")


class ListenSignal:
    """``ChangeSignal`` for PostgreSQL: a session connection of its own, LISTENing on :data:`CHANNEL`."""

    def __init__(self, engine: Engine) -> None:
        import psycopg

        conninfo = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        where = engine.url.render_as_string(hide_password=True)
        try:
            self._conn: Any = psycopg.connect(conninfo, autocommit=True, prepare_threshold=None)
            self._conn.execute(f"LISTEN {CHANNEL}")
        except psycopg.Error as exc:
            raise StoreError(
                f"Cannot listen for changes on {where} ({_first_line(exc)}): reconnecting."
            ) from exc
        self._where = where

    def wait(self, timeout: float) -> bool:
        """True as soon as a notification arrives (the feed then reads every event committed since)."""
        import psycopg

        try:
            got = self._conn.notifies(timeout=max(0.0, timeout), stop_after=1)
            return next(iter(got), None) is not None
        except (psycopg.Error, OSError) as exc:
            raise StoreError(
                f"Lost the connection to {self._where} ({_first_line(exc)}): reconnecting."
            ) from exc

    def close(self) -> None:
        import psycopg

        with suppress(psycopg.Error):  # already gone
            self._conn.close()


def _first_line(exc: BaseException) -> str:
    text = str(exc).splitlines()
    return text[0] if text else type(exc).__name__
