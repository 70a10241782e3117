"""Live updates and presence for one console: a thread that follows the store's change feed, beats this
console's heartbeat and reads who else is on the open conversation, and tells the screen by messages.

Why a thread worker: waiting for the next change blocks (SQLite polls ``PRAGMA data_version``, PostgreSQL
waits on LISTEN), and so do the heartbeat and presence reads; none of it may run on the event loop. The
thread only reads attributes the screen sets (what is open, whether the agent is drafting) and posts
messages (``post_message`` is thread-safe); it never touches a widget.

Why it reconnects by itself: a database restarted or a network that dropped ends the feed's connection
with a StoreError; the thread says so (:class:`LiveUpdates.ConnectionChanged`: the header shows it), waits
a little longer each time, and opens a new feed, which reads every event it missed, so nothing is lost.
"""

from __future__ import annotations

import threading
import time
import uuid
from contextlib import suppress
from typing import TYPE_CHECKING, Final

from textual import work
from textual.message import Message
from textual.widget import Widget
from textual.worker import get_current_worker

from support_console.core.errors import StoreError
from support_console.core.vocabulary import ACTIVITY_VIEWING

if TYPE_CHECKING:
    from support_console.store import Changes, PresenceRecord
    from support_console.workflows.services import Services

#: How long one wait for a change lasts before the thread looks at its other duties.
WAIT_SECONDS: Final = 0.25
#: How often the presence of others on the open conversation is read (they expire without any write).
PRESENCE_SECONDS: Final = 1.0
#: The longest pause between two attempts to reconnect.
MAX_BACKOFF: Final = 5.0


class LiveUpdates(Widget):
    """Invisible; started by the screen once the store is open (:meth:`start`)."""

    DEFAULT_CSS = "LiveUpdates { display: none; }"

    class Changed(Message):
        """Other consoles (or this one) committed changes: the conversations to read again."""

        def __init__(self, changes: Changes) -> None:
            super().__init__()
            self.changes = changes

    class PresenceSeen(Message):
        """Who else is on the open conversation now (empty: nobody)."""

        def __init__(self, conversation_id: int | None, others: list[PresenceRecord]) -> None:
            super().__init__()
            self.conversation_id = conversation_id
            self.others = others

    class ConnectionChanged(Message):
        """The feed lost its connection (``problem`` says why) or has it back (``problem`` None)."""

        def __init__(self, problem: str | None) -> None:
            super().__init__()
            self.problem = problem

    def __init__(self, services: Services, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.services = services
        self.console_id = uuid.uuid4().hex  # this console's presence row
        #: Set by the screen: what is open and what the agent does with it (read by the thread).
        self.conversation_id: int | None = None
        self.activity = ACTIVITY_VIEWING
        self.agent = ""
        self.started = False
        #: Set once the feed has its starting point (the newest event then): every change committed after
        #: it is delivered. A change committed between :meth:`start` and this is already in that point.
        self.following = threading.Event()

    def start(self) -> None:
        """Begin following the store (once)."""
        if not self.started:
            self.started = True
            self._follow()

    @work(thread=True, exclusive=True, group="live", exit_on_error=False)
    def _follow(self) -> None:
        from support_console.store import HEARTBEAT_SECONDS, ChangeFeed

        worker = get_current_worker()
        store = self.services.store
        feed = ChangeFeed(store)
        self.following.set()
        failures = 0
        beat_at = presence_at = 0.0
        beaten: tuple[int | None, str, str] | None = None
        shown: tuple[int | None, list[PresenceRecord]] | None = None
        try:
            while not worker.is_cancelled:
                try:
                    changes = feed.wait(
                        WAIT_SECONDS
                    )  # after a lost connection: reconnects, reads what it missed
                    if failures:
                        failures = 0
                        self.post_message(self.ConnectionChanged(None))
                    if changes is not None and changes.any:
                        self.post_message(self.Changed(changes))
                    now = time.monotonic()
                    state = (self.conversation_id, self.activity, self.agent)
                    if self.agent and (state != beaten or now - beat_at >= HEARTBEAT_SECONDS):
                        beat_at, beaten = now, state
                        self._beat(*state)
                    if now - presence_at >= PRESENCE_SECONDS or state[0] != (shown or (None,))[0]:
                        presence_at = now
                        seen = self._others(state[0])
                        if shown is None or seen != shown:
                            shown = seen
                            self.post_message(self.PresenceSeen(*seen))
                except StoreError as error:
                    feed.close()
                    failures += 1
                    if failures == 1:
                        self.post_message(self.ConnectionChanged(str(error)))
                    time.sleep(min(MAX_BACKOFF, 0.25 * 2**failures))
        finally:  # the console is closing: its presence goes now (a crash leaves it to expire)
            feed.close()
            with suppress(StoreError):
                store.leave(self.console_id)

    def _beat(self, conversation_id: int | None, activity: str, agent: str) -> None:
        from support_console.store import WriteLockBusy

        with suppress(WriteLockBusy):  # another program is writing: the next beat comes in a few seconds
            self.services.store.heartbeat(self.console_id, agent, conversation_id, activity)

    def _others(self, conversation_id: int | None) -> tuple[int | None, list[PresenceRecord]]:
        if conversation_id is None:
            return None, []
        return conversation_id, self.services.store.present(conversation_id, besides=self.console_id)
