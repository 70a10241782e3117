"""The work queue on real SQLite: its views and order, seeing clears unread, the first-frame read agrees with
the Store, each view walks an index, the customer panel's read and write, and the version 10 upgrade."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from support_console.core.errors import StoreError
from support_console.store import Store
from support_console.store.engine import create_engine
from support_console.store.first_page import read_first_queue
from support_console.store.migrations import MIGRATIONS, current_version, migrate
from support_console.store.queue_rows import QUEUE_VIEWS, queue_sql
from tests.db_helpers import sqlite_only

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def url(db_url: str) -> str:
    """The database of ``store`` (conftest: each backend in turn)."""
    return db_url


def _conversation(store: Store, name: str, *customer_minutes: int) -> int:
    """A customer with an open conversation: customer messages ``customer_minutes`` after T0."""
    customer = store.add_customer(name, f"{name.lower()}@example.com")
    assert customer.id is not None
    conversation = store.current_conversation(customer.id)
    assert conversation.id is not None
    for minutes in customer_minutes:
        store.add_message(
            conversation.id, "customer", f"{name} {minutes}", created_at=T0 + timedelta(minutes=minutes)
        )
    return conversation.id


def _reply(store: Store, conversation_id: int, text: str = "On it.") -> None:
    store.approve_draft(store.save_draft(conversation_id, text=text), text, "alice")


def _names(store: Store, view: str) -> list[str]:
    return [row.customer_name for row in store.list_queue(view)]


def test_needs_reply_lists_open_conversations_whose_customer_wrote_last_longest_waiting_first(
    store: Store,
) -> None:
    ann = _conversation(store, "Ann", 30, 40)  # waiting since minute 30
    bob = _conversation(store, "Bob", 10)  # waiting longest
    cleo = _conversation(store, "Cleo", 5)
    _conversation(store, "Dan")  # no message yet: nothing to answer
    _reply(store, cleo)  # answered: leaves the view
    pending = _conversation(store, "Eve", 1)
    store.set_status(pending, "pending")  # set aside by the agent

    assert _names(store, "needs_reply") == ["Bob", "Ann"]
    rows = {row.customer_name: row for row in store.list_queue("needs_reply")}
    assert rows["Ann"].waiting_since == T0 + timedelta(minutes=30)  # from the first unanswered message
    assert rows["Ann"].unread == 2
    assert rows["Ann"].status == "open"

    store.add_message(cleo, "customer", "It broke again", created_at=T0 + timedelta(minutes=50))
    assert _names(store, "needs_reply") == ["Bob", "Ann", "Cleo"]  # waiting again, since the new message
    _reply(store, bob)
    assert _names(store, "needs_reply") == ["Ann", "Cleo"]
    assert store.next_waiting().conversation_id == ann  # type: ignore[union-attr]
    assert store.next_waiting(skip=ann).conversation_id == cleo  # type: ignore[union-attr]


def test_the_other_views_show_their_status_most_recent_activity_first(store: Store) -> None:
    ann = _conversation(store, "Ann", 1)
    bob = _conversation(store, "Bob", 2)
    cleo = _conversation(store, "Cleo", 3)
    store.set_status(bob, "pending")
    store.set_status(cleo, "resolved")
    assert _names(store, "open") == ["Ann"]
    assert _names(store, "pending") == ["Bob"]
    assert _names(store, "resolved") == ["Cleo"]
    assert _names(store, "all") == ["Cleo", "Bob", "Ann"]
    assert store.list_queue("needs_reply")[0].conversation_id == ann
    with pytest.raises(ValueError, match="unknown queue view"):
        store.list_queue("urgent")


def test_seeing_a_conversation_clears_its_unread_but_not_its_wait(store: Store) -> None:
    ann = _conversation(store, "Ann", 1, 2)
    assert store.get_conversation(ann).unread_count == 2
    store.mark_seen(ann)
    seen = store.get_conversation(ann)
    assert seen.unread_count == 0
    assert seen.waiting_since == T0 + timedelta(minutes=1)  # seen is not answered: still in the queue
    assert store.list_customers()[0].unread == 0  # the customer's roll-up follows
    store.add_message(ann, "customer", "Hello?", created_at=T0 + timedelta(minutes=9))
    assert store.get_conversation(ann).unread_count == 1  # only what came after the agent looked
    with pytest.raises(StoreError, match="does not exist"):
        store.mark_seen(9999)


def test_the_first_frame_reads_every_view_exactly_as_the_store(store: Store, url: str) -> None:
    sqlite_only(url, "the SQLite file (the first frame's read, its plans, an old file)")
    ann = _conversation(store, "Ann", 3)
    _conversation(store, "Bob", 1)
    store.set_status(_conversation(store, "Cleo", 2), "resolved")
    store.mark_seen(ann)
    for view in QUEUE_VIEWS:
        assert read_first_queue(url, view, 10) == store.list_queue(view, 10), view
    assert read_first_queue(f"sqlite:///{Path(url[10:]).parent / 'none.db'}", "all", 10) is None


@pytest.mark.parametrize("view", QUEUE_VIEWS)
def test_each_view_walks_an_index_instead_of_sorting(store: Store, url: str, view: str) -> None:
    sqlite_only(url, "the SQLite file (the first frame's read, its plans, an old file)")
    for i in range(30):
        _conversation(store, f"C{i}", i)
    with sqlite3.connect(url[len("sqlite:///") :]) as conn:
        conn.execute("ANALYZE")
        params = {"limit": 5, "agent": "kim"}
        plan = " | ".join(str(r[3]) for r in conn.execute("EXPLAIN QUERY PLAN " + queue_sql(view), params))
    assert "TEMP B-TREE" not in plan, plan
    assert "USING INDEX" in plan, plan


def test_customer_panel_reads_the_profile_and_edits_attributes(store: Store) -> None:
    ann_conversation = _conversation(store, "Ann", 1)
    customer_id = store.get_conversation(ann_conversation).customer_id
    store.set_status(ann_conversation, "resolved")
    store.current_conversation(customer_id)  # a second, open one
    saved = store.set_attributes(customer_id, {"plan": "pro", "region": "EU = west"})
    assert saved.attributes == {"plan": "pro", "region": "EU = west"}
    profile = store.customer_profile(customer_id)
    assert (profile.customer.name, profile.conversations, profile.resolved) == ("Ann", 2, 1)
    assert profile.customer.attributes == {"plan": "pro", "region": "EU = west"}
    assert profile.first_seen is not None
    assert profile.customer.created_at is not None
    assert profile.first_seen <= profile.customer.created_at
    for bad in ("two words", "9lives", "email"):
        with pytest.raises(StoreError, match="cannot be an attribute name"):
            store.set_attributes(customer_id, {bad: "x"})
    assert store.get_customer(customer_id).attributes == {"plan": "pro", "region": "EU = west"}  # unchanged


def test_version_10_upgrades_an_existing_file_in_place(url: str) -> None:
    sqlite_only(url, "the SQLite file (the first frame's read, its plans, an old file)")
    """A database at the version before the queue's, with conversations waiting, answered and resolved."""
    engine = create_engine(url)
    before = 9  # the version before the queue's
    migrate(engine, MIGRATIONS[:before])
    with engine.begin() as conn:
        for i, (name, status) in enumerate((("Ann", "open"), ("Bob", "open"), ("Cleo", "resolved"))):
            conn.exec_driver_sql(
                "INSERT INTO customers (id, name, email, attributes, created_at, open_conversations, unread, "
                "email_key, match_key) VALUES (?, ?, ?, '{}', '2026-03-01 00:00:00.000000', 0, 0, ?, ?)",
                (i + 1, name, f"{name.lower()}@x", f"{name.lower()}@x", name.lower()),
            )
            conn.exec_driver_sql(
                "INSERT INTO conversations (id, customer_id, status, created_at, updated_at, unread_count) "
                "VALUES (?, ?, ?, '2026-03-01 00:00:00.000000', '2026-03-01 00:00:00.000000', 0)",
                (i + 1, i + 1, status),
            )
        rows = [
            (1, "customer", "received", "2026-03-02 09:05:00.000000"),
            (2, "customer", "received", "2026-03-02 09:01:00.000000"),
            (2, "agent", "sent", "2026-03-02 09:02:00.000000"),  # Bob was answered
            (3, "customer", "received", "2026-03-02 09:00:00.000000"),
        ]
        for conversation_id, role, state, when in rows:
            conn.exec_driver_sql(
                "INSERT INTO messages (conversation_id, role, state, text, created_at, updated_at) "
                "VALUES (?, ?, ?, 'x', ?, ?)",
                (conversation_id, role, state, when, when),
            )
        assert current_version(conn) == before
    engine.dispose()

    store = Store.open(url)  # upgrades in place
    try:
        with store.engine.connect() as conn:
            assert current_version(conn) == len(MIGRATIONS)
            waiting = conn.exec_driver_sql("SELECT id, waiting_since FROM conversations ORDER BY id").all()
        assert [tuple(r) for r in waiting] == [
            (1, "2026-03-02 09:05:00.000000"),
            (2, None),
            (3, "2026-03-02 09:00:00.000000"),  # resolved: kept, but not in the needs-reply view
        ]
        assert _names(store, "needs_reply") == ["Ann"]
        assert _names(store, "resolved") == ["Cleo"]
        assert read_first_queue(url, "needs_reply", 5) == store.list_queue("needs_reply", 5)
    finally:
        store.close()
