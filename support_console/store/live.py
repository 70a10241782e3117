"""Live updates and presence: what other consoles changed (a change feed over the events log) and who is
looking at which conversation (heartbeats).

Why a feed over ``events``: every change another agent makes is an event committed in id order
(``team.log_event``), so "events after N" names exactly the conversations to read again, and a console
that was away for a while loses nothing. What wakes the feed is the backend's change signal (SQLite:
``PRAGMA data_version``; PostgreSQL: LISTEN/NOTIFY): it only says *when* to look, the events say *what*.

Why heartbeats expire instead of being deleted on exit: a console that crashes or loses its network says
nothing on the way out, so a row is believed only while it is fresh (:data:`PRESENCE_EXPIRES`, about three
missed beats) and swept by the next heartbeat of anyone. "Fresh" is by the database's clock
(``Backend.clock``: on PostgreSQL the server's), never by each console's: a team's machines disagree by
seconds, and a console whose clock ran ahead would sweep everyone else's fresh beats. Presence only warns;
the send-time guard (``drafts.approve_draft``) is what makes double replies impossible.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final

import sqlalchemy as sa

from support_console.core.vocabulary import ACTIVITY_DRAFTING, ACTIVITY_VIEWING
from support_console.store.backend import ChangeSignal
from support_console.store.base import StoreBase, translated_errors
from support_console.store.engine import independent
from support_console.store.tables import PRESENCE
from support_console.store.team import EventRecord, TeamMixin

#: Seconds between two heartbeats of a console.
HEARTBEAT_SECONDS: Final = 3.0
#: A heartbeat older than this is a console gone away (about three missed beats).
PRESENCE_EXPIRES: Final = 10.0


@dataclass(frozen=True)
class PresenceRecord:
    """Another console on a conversation: who, and whether they are viewing it or drafting a reply."""

    console_id: str
    agent: str
    conversation_id: int | None
    activity: str
    at: datetime

    def describe(self) -> str:
        """What the header says: "Kim is viewing" or "Kim is drafting a reply"."""
        doing = "drafting a reply" if self.activity == ACTIVITY_DRAFTING else "viewing"
        return f"{self.agent} is {doing}"


@dataclass(frozen=True)
class Changes:
    """What other connections committed since the feed last looked: the conversations to read again (a
    ``seen`` event too: its unread mark went), and ``everything`` when an event named none (an import) or
    the feed fell behind."""

    conversation_ids: frozenset[int]
    everything: bool
    events: tuple[EventRecord, ...]

    @property
    def any(self) -> bool:
        return self.everything or bool(self.conversation_ids)


class PresenceMixin(StoreBase):
    """Heartbeats of the Store."""

    def heartbeat(self, console_id: str, agent: str, conversation_id: int | None, activity: str) -> None:
        """Say that this console is on ``conversation_id`` (None: on none) doing ``activity``; sweep the
        expired rows. Never waits for the write lock: raises ``WriteLockBusy`` at once instead (the next
        beat comes soon; a heartbeat is not worth delaying a reply for). On PostgreSQL it takes no write
        lock at all (``engine.independent``): it touches only its own row and the expired ones."""
        if activity not in (ACTIVITY_VIEWING, ACTIVITY_DRAFTING):
            raise ValueError(f"unknown activity {activity!r}")
        clock = self.backend.clock
        values = {
            "agent": agent.strip(),
            "conversation_id": conversation_id,
            "activity": activity,
            "at": clock(),
        }
        p = PRESENCE.c
        expired = sa.select(p.console_id).where(p.at < clock(PRESENCE_EXPIRES))
        with translated_errors(), independent(self.engine).begin() as conn:
            # Rows another console's sweep holds are left to it (PostgreSQL: no wait, no deadlock).
            gone = expired.with_for_update(skip_locked=True).scalar_subquery()
            conn.execute(PRESENCE.delete().where(p.console_id.in_(gone)))
            if conn.execute(PRESENCE.update().where(p.console_id == console_id).values(values)).rowcount == 0:
                conn.execute(PRESENCE.insert().values(console_id=console_id, **values))

    def leave(self, console_id: str) -> None:
        """The console is closing: its presence goes at once (a crash leaves it to expire instead)."""
        with self._write() as session:
            session.connection().execute(PRESENCE.delete().where(PRESENCE.c.console_id == console_id))

    def present(self, conversation_id: int, *, besides: str | None = None) -> list[PresenceRecord]:
        """The consoles with a fresh heartbeat on the conversation, other than ``besides`` (this one)."""
        p = PRESENCE.c
        stmt = (
            sa.select(p.console_id, p.agent, p.conversation_id, p.activity, p.at)
            .where(p.conversation_id == conversation_id, p.at >= self.backend.clock(PRESENCE_EXPIRES))
            .order_by(p.agent, p.console_id)
        )
        if besides is not None:
            stmt = stmt.where(p.console_id != besides)
        with self._reading() as conn:
            return [PresenceRecord(*row) for row in conn.execute(stmt)]


#: Events read in one look; a feed further behind than this reloads everything instead.
_FEED_BATCH: Final = 1000


class ChangeFeed:
    """Follows one store's events from now on; blocking, so it runs in a thread (the console's live
    worker, a benchmark). Not thread-safe: one thread waits on it."""

    def __init__(self, store: TeamMixin) -> None:
        self._store = store
        self._signal: ChangeSignal | None = None
        self.after = store.latest_event_id()

    def wait(self, timeout: float) -> Changes | None:
        """Block up to ``timeout`` seconds for the next commit by another connection; what changed (None:
        nothing was committed). StoreError when the connection is lost: the feed reconnects on the next
        call, reading everything it missed."""
        if self._signal is None:  # the first wait, or the first after a lost connection
            self._signal = self._store.backend.open_change_signal(self._store.engine)
            missed = self.read()  # what was committed while no signal was listening
            if missed.any:
                return missed
        try:
            if not self._signal.wait(timeout):
                return None
        except BaseException:
            self.close()
            raise
        return self.read()

    def read(self) -> Changes:
        """The events committed since the last read (the feed's cursor moves past them)."""
        events = self._store.events_since(self.after, _FEED_BATCH)
        if events:
            self.after = events[-1].id
        ids = frozenset(e.conversation_id for e in events if e.conversation_id is not None)
        behind = len(events) >= _FEED_BATCH
        everything = behind or any(e.conversation_id is None for e in events)
        return Changes(ids, everything, tuple(events))

    def close(self) -> None:
        signal, self._signal = self._signal, None
        if signal is not None:
            signal.close()
