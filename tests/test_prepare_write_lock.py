"""Preparing a draft never waits for another program's write lock: the token counts it computes are written
back only when that costs no wait, and written later once the lock is free. A real child process holds the
lock (tests/db_lock.py); the busy timeout is the default 30 s, so any wait would show."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from support_console.core.tokens import count_text
from support_console.workflows.draft_session import DraftSession
from tests.db_lock import WriteLock
from tests.ui_helpers import seed_customer, services_for, ui_settings
from tests.wire_server import WireServer

MESSAGES = ("My router keeps dropping the connection.", "Still broken after a restart, order 12345.")


def stored_counts(db: Path, conversation_id: int) -> list[int | None]:
    """The o200k counts the database holds for the conversation, read as another program would."""
    conn = sqlite3.connect(db, timeout=0)
    try:
        rows = conn.execute(
            "SELECT tokens_o200k FROM messages WHERE conversation_id = ? ORDER BY id", (conversation_id,)
        ).fetchall()
    finally:
        conn.close()
    return [row[0] for row in rows]


async def test_prepare_returns_at_once_while_the_lock_is_held_and_counts_are_written_later(
    tmp_path: Path, wire_server: WireServer
) -> None:
    db = tmp_path / "console.db"
    services = services_for(ui_settings(tmp_path, wire_server))
    session = DraftSession(services)
    try:
        assert services.settings.busy_timeout >= 30  # a wait for the lock could not hide in a short timeout
        customer_id, conversation_id = seed_customer(services, messages=MESSAGES)
        assert stored_counts(db, conversation_id) == [None, None]  # counted on first need, not on insert
        await session.open(customer_id)
        with WriteLock(db) as lock:
            started = time.monotonic()
            generation = await session.prepare()
            took = time.monotonic() - started
            assert lock.held
            assert took < 5, f"prepare waited {took:.1f} s for the write lock"
            assert generation.prepared.report.kept == 2  # the history was read and counted all the same
            assert stored_counts(db, conversation_id) == [None, None]  # the write-back was skipped
            again = await session.prepare()  # still held: skipped again, still no wait
            assert time.monotonic() - started < 10
            assert again.prepared.report.prompt_tokens == generation.prepared.report.prompt_tokens
        assert not lock.held
        await session.prepare()  # the next read of a history writes what was kept back
        assert stored_counts(db, conversation_id) == [count_text(text, "o200k_base") for text in MESSAGES]
    finally:
        await session.aclose()
        await services.aclose()
