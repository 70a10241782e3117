"""Full-text search: FTS5 kept in sync on every write and on upgrade, safe with any user query, filters,
newest first, highlight spans; and the LIKE fallback giving the same answers where FTS5 is absent."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from support_console.core.clock import as_utc
from support_console.store import NewMessage, Store
from support_console.store.engine import create_engine, reader
from support_console.store.migrations import MIGRATIONS, migrate
from support_console.store.search import parse_marked
from support_console.store.sqlite.fts import FTS_TABLE, deferred_fts, fts_query, has_fts
from tests.db_helpers import assert_index_consistent, search_index_exists, sqlite_only

T0 = datetime(2026, 10, 1, 9, 0, tzinfo=UTC)


def _conversation(store: Store, name: str, email: str, persona: str | None = None) -> int:
    customer = store.add_customer(name, email)
    assert customer.id is not None
    conversation = store.current_conversation(customer.id, persona)
    assert conversation.id is not None
    return conversation.id


def _seed(store: Store) -> dict[str, int]:
    xbox = _conversation(store, "Jordan Hale", "jordan@example.com", "xbox-support")
    billing = _conversation(store, "Ellen Brooks", "ellen@example.com", "billing-refunds")
    store.add_message(xbox, "customer", "My controller keeps disconnecting", created_at=T0)
    store.add_message(
        billing, "customer", "I was charged twice for Game Pass", created_at=T0 + timedelta(days=1)
    )
    store.add_message(xbox, "customer", "The controller disconnects again after the update",
                      created_at=T0 + timedelta(days=2))  # fmt: skip
    return {"xbox": xbox, "billing": billing}


def test_migration_creates_the_index_and_search_finds_newest_first(store: Store) -> None:
    _seed(store)
    assert search_index_exists(store)
    hits = store.search("controller")
    assert [h.happened_at for h in hits] == [T0 + timedelta(days=2), T0]
    assert hits[0].customer_email == "jordan@example.com"
    assert hits[0].role == "customer"
    assert store.search("charged twice")[0].customer_name == "Ellen Brooks"
    assert store.search("charged thrice") == []  # every word must match


def test_prefix_search_and_highlight_spans(store: Store) -> None:
    _seed(store)
    hits = store.search("disconnect*")
    assert len(hits) == 2
    for hit in hits:
        words = [hit.snippet[s:e].lower() for s, e in hit.highlights]
        assert words
        assert all(w.startswith("disconnect") for w in words)


def test_filters_by_customer_persona_and_since(store: Store) -> None:
    _seed(store)
    assert {h.customer_name for h in store.search("the")} == {"Jordan Hale"}
    assert len(store.search("controller", customer="JORDAN@")) == 2
    assert store.search("controller", customer="ellen") == []
    assert len(store.search("charged", persona="billing-refunds")) == 1
    assert store.search("charged", persona="xbox-support") == []
    recent = store.search("controller", since=T0 + timedelta(days=1))
    assert [h.happened_at for h in recent] == [T0 + timedelta(days=2)]
    assert len(store.search("controller", limit=1)) == 1


@pytest.mark.parametrize(
    "query",
    [
        '"',
        '""',
        "*",
        "AND",
        "OR NOT",
        "[bold]",
        "NEAR(a b)",
        "-x",
        "^start",
        "text:foo",
        "a'b",
        "(",
        "\\",
        "🙂",
        "   ",
    ],
)
def test_no_user_query_breaks_fts5_syntax(store: Store, query: str) -> None:
    conversation = _conversation(store, "Mallory", "mallory@example.com")
    store.add_message(conversation, "customer", 'Text with [bold] AND "quotes" NEAR(a b) text:foo a\'b 🙂')
    hits = store.search(query)  # must not raise
    assert all(h.customer_name == "Mallory" for h in hits)


def test_operators_and_markup_are_searched_as_words(store: Store) -> None:
    conversation = _conversation(store, "Mallory", "mallory@example.com")
    store.add_message(conversation, "customer", "please [bold]escalate[/] this AND that")
    store.add_message(conversation, "customer", "unrelated words only")
    assert [h.snippet for h in store.search("[bold]")] == ["please [bold]escalate[/] this AND that"]
    assert len(store.search("AND")) == 1  # the word "and", not the operator
    assert fts_query('say "hi" AND *') == '"say" """hi""" "AND"'


def test_index_follows_draft_updates_approval_and_deletion(store: Store) -> None:
    conversation = _conversation(store, "Sam", "sam@example.com")
    store.add_message(conversation, "customer", "account locked")
    draft = store.save_draft(
        conversation, text="Try the recovery form", original_text="Try the recovery form"
    )
    assert store.search("recovery") == []  # unsent drafts are not part of the logs
    store.save_draft(conversation, draft_id=draft, text="Use the recovery wizard")
    sent = store.approve_draft(draft, "Please use the account recovery wizard", "priya")
    hits = store.search("wizard")
    assert [h.message_id for h in hits] == [draft]
    assert hits[0].state == "sent"
    assert sent.approved_at is not None
    assert hits[0].happened_at == as_utc(sent.approved_at) != as_utc(sent.created_at)  # dated when sent
    assert store.search("form") == []  # the superseded draft text left the index
    with store.engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM messages WHERE id = :i"), {"i": draft})
    assert store.search("wizard") == []
    assert_index_consistent(store)


def test_discarded_drafts_are_not_found(store: Store) -> None:
    conversation = _conversation(store, "Sam", "sam@example.com")
    draft = store.save_draft(conversation, text="a hasty reply about refunds")
    store.discard_draft(draft)
    assert store.search("hasty") == []


def _old_database(url: str, version: int, text: str) -> int:
    """A database at schema ``version`` holding Olga's conversation with one message, ``text``; written with
    plain SQL as the code of that version did (today's Store writes today's columns). Returns the
    conversation's id."""
    engine = create_engine(url)
    migrate(engine, MIGRATIONS[:version])
    at = "2026-10-01 09:00:00.000000"
    with engine.begin() as conn:
        customer = conn.exec_driver_sql(
            "INSERT INTO customers (name, email, attributes, created_at, open_conversations, unread) "
            "VALUES ('Olga', 'olga@example.com', '{}', ?, 0, 0) RETURNING id",
            (at,),
        ).scalar_one()
        conversation = int(
            conn.exec_driver_sql(
                "INSERT INTO conversations (customer_id, status, created_at, updated_at, unread_count) "
                "VALUES (?, 'open', ?, ?, 0) RETURNING id",
                (customer, at, at),
            ).scalar_one()
        )
        _insert_raw(conn, conversation, text)
        assert has_fts(conn) == (version >= 2)
    engine.dispose()
    return conversation


def test_upgrading_an_existing_database_indexes_its_history(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    _old_database(url, 1, "printer offline after restart")  # a database from before full-text search
    upgraded = Store.open(url)
    try:
        hits = upgraded.search("printer offline")
        assert len(hits) == 1
        assert hits[0].customer_name == "Olga"
    finally:
        upgraded.close()


def test_like_fallback_gives_the_same_hits_without_fts5(tmp_path: Path, store: Store) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'plain.db'}")
    migrate(engine)
    with engine.begin() as conn:  # as on a SQLite without FTS5: no index, so search falls back to LIKE
        for trigger in ("messages_fts_ai", "messages_fts_ad", "messages_fts_au"):
            conn.exec_driver_sql(f"DROP TRIGGER {trigger}")
        conn.exec_driver_sql(f"DROP TABLE {FTS_TABLE}")
        conn.exec_driver_sql("DROP TABLE fts_deferred")
    plain = Store(engine)
    try:
        for target in (store, plain):
            _seed(target)
        with engine.connect() as conn:
            assert not has_fts(conn)
        for query in ("controller", "charged twice", "[bold]", '"'):
            fts_hits = [(h.message_id, h.customer_name) for h in store.search(query)]
            like_hits = [(h.message_id, h.customer_name) for h in plain.search(query)]
            assert like_hits == fts_hits, query
        hit = plain.search("update")[0]
        assert [hit.snippet[s:e] for s, e in hit.highlights] == ["update"]
    finally:
        engine.dispose()


def test_parse_marked_turns_markers_into_spans() -> None:
    plain, spans = parse_marked("a \ue000b\ue001 c \ue000dd\ue001")
    assert plain == "a b c dd"
    assert spans == ((2, 3), (6, 8))


def test_the_search_walks_the_index_without_sorting(store: Store) -> None:
    """Newest first must come from the FTS index order: a sort would make snippet() run for every match."""
    sqlite_only(store, "FTS5's plan (PostgreSQL cuts its snippets in Python, for the rows returned only)")
    from sqlalchemy import event

    _seed(store)
    seen: list[tuple[str, Any]] = []

    def capture(conn: object, cursor: object, statement: str, params: Any, *_: object) -> None:
        if "snippet(" in statement and "ORDER BY" in statement:
            seen.append((statement, params))

    event.listen(store.engine, "before_cursor_execute", capture)
    try:
        assert store.search("controller")
    finally:
        event.remove(store.engine, "before_cursor_execute", capture)
    [(statement, params)] = seen
    with store.engine.connect() as conn:
        plan = " ".join(
            str(row[-1]) for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, params)
        )
    assert "VIRTUAL TABLE" in plan
    assert "TEMP B-TREE" not in plan


def test_customer_filter_with_and_without_prefix_terms(store: Store) -> None:
    _seed(store)
    other = _conversation(store, "Jordan Other", "jo@example.org")
    store.add_message(other, "customer", "controller disconnected twice")
    everyone = [h.message_id for h in store.search("controller")]
    jordan = [h.message_id for h in store.search("controller", customer="jordan@example.com")]
    assert jordan == [i for i in everyone if i != everyone[0]]
    assert len(jordan) == 2
    prefixed = store.search("disconn*", customer="jordan@example.com")
    assert [h.message_id for h in prefixed] == jordan
    assert all(h.highlights for h in store.search("controller", customer="jordan@"))
    assert store.search("controller", customer="nobody") == []


# ------------------------------------------------------------------------------- bulk writes (deferred FTS)


def _insert_raw(conn: sa.Connection, conversation: int, text: str) -> None:
    """A message written as bulk writers do, with plain SQL (not through the Store)."""
    conn.execute(
        sa.text(
            "INSERT INTO messages (conversation_id, role, state, text, created_at, updated_at) "
            "VALUES (:c, 'customer', 'received', :t, :at, :at)"
        ),
        {"c": conversation, "t": text, "at": "2026-10-01 09:00:00.000000"},
    )


def _fail_inside_deferral(store: Store, conversation: int, text: str, *, commit: bool) -> None:
    """Insert ``text`` in a deferred_fts block that raises; the caller's transaction commits or not."""
    with store.engine.begin() as conn:
        try:
            with deferred_fts(conn):
                _insert_raw(conn, conversation, text)
                raise LookupError("the block fails")
        except LookupError:
            if not commit:
                raise


def test_interactive_writes_keep_the_index_consistent(store: Store) -> None:
    conversation = _conversation(store, "Sam", "sam@example.com")
    store.add_message(conversation, "customer", "my headset crackles")
    draft = store.save_draft(conversation, text="Try another cable")
    store.save_draft(conversation, draft_id=draft, text="Try another USB cable please")
    store.approve_draft(draft, "Please try another USB cable", "priya")
    discarded = store.save_draft(conversation, text="a discarded thought")
    store.discard_draft(discarded)
    store.add_message(conversation, "note", "escalate if it persists")
    assert_index_consistent(store)
    assert [h.message_id for h in store.search("USB cable")] == [draft]
    assert len(store.search("headset")) == 1


def test_store_bulk_path_indexes_its_rows_and_keeps_the_index_consistent(store: Store) -> None:
    conversation = _conversation(store, "Lee", "lee@example.com")
    added = store.add_messages_bulk(
        NewMessage(conversation, "customer", f"gamepad number {i} drifts", external_id=str(i))
        for i in range(50)
    )
    again = store.add_messages_bulk([NewMessage(conversation, "customer", "gamepad again", external_id="0")])
    assert (added, again) == (50, 0)
    assert_index_consistent(store)
    assert len(store.search("gamepad", limit=100)) == 50


def test_deferred_fts_indexes_the_block_at_its_end_and_no_one_sees_the_marker(store: Store) -> None:
    sqlite_only(store, "SQLite's deferred FTS5 indexing")
    conversation = _conversation(store, "Bulk", "bulk@example.com")
    store.add_message(conversation, "customer", "before the bulk write")
    with store.engine.begin() as conn:
        with deferred_fts(conn) as before:
            _insert_raw(conn, conversation, "zebra crossing")
            pending = conn.exec_driver_sql(
                f"SELECT count(*) FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH 'zebra'"
            ).scalar_one()
            assert pending == 0  # the trigger stood aside
            with reader(store.engine).connect() as other:  # another connection: no marker committed
                assert other.exec_driver_sql("SELECT count(*) FROM fts_deferred").scalar_one() == 0
        assert before >= 1
        found = conn.exec_driver_sql(f"SELECT count(*) FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH 'zebra'")
        assert found.scalar_one() == 1
    assert len(store.search("zebra")) == 1
    store.add_message(conversation, "customer", "after the bulk write: quokka")  # the trigger is back
    assert len(store.search("quokka")) == 1
    assert_index_consistent(store)


def test_deferred_fts_leaves_a_consistent_index_when_its_block_fails(store: Store) -> None:
    sqlite_only(store, "SQLite's deferred FTS5 indexing")
    conversation = _conversation(store, "Bulk", "bulk@example.com")
    _fail_inside_deferral(store, conversation, "walrus", commit=True)  # the caller goes on and commits
    assert len(store.search("walrus")) == 1
    assert_index_consistent(store)
    with pytest.raises(LookupError, match="the block fails"):
        _fail_inside_deferral(store, conversation, "narwhal", commit=False)  # rolled back
    assert store.search("narwhal") == []
    assert_index_consistent(store)


def test_upgrading_to_deferred_indexing_keeps_the_index(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'v5.db'}"
    conversation = _old_database(url, 5, "scanner jams on page two")  # before deferred indexing
    upgraded = Store.open(url)
    try:
        upgraded.add_message(conversation, "customer", "scanner fixed")
        assert len(upgraded.search("scanner")) == 2
        assert_index_consistent(upgraded)
    finally:
        upgraded.close()
