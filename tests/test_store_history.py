"""What reaches the model: history order and exclusions, token counts stored once, bulk import."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from support_console.core.errors import StoreError, SupportConsoleError
from support_console.core.model_facts import resolve_model
from support_console.core.tokens import count_text
from support_console.core.trimming import HistoryItem, TrimReport, build_messages
from support_console.store import NewMessage, Store
from tests.db_helpers import sql, sqlite_only


def _new_conversation(store: Store, email: str = "ann@example.com") -> int:
    customer = store.add_customer("Ann", email)
    assert customer.id is not None
    conversation = store.current_conversation(customer.id)
    assert conversation.id is not None
    return conversation.id


def _stored_counts(store: Store, conversation_id: int) -> list[tuple[int, int | None, int | None]]:
    with store.engine.connect() as conn:
        rows = sql(
            conn,
            "SELECT id, tokens_o200k, tokens_cl100k FROM messages WHERE conversation_id = :c ORDER BY id",
            c=conversation_id,
        ).all()
    return [(r[0], r[1], r[2]) for r in rows]


def test_history_is_newest_first_with_only_customer_messages_and_sent_replies(store: Store) -> None:
    cid = _new_conversation(store)
    store.add_message(cid, "customer", "My console is broken")
    store.add_message(cid, "note", "internal: VIP customer")
    sent = store.approve_draft(
        store.save_draft(cid, text="Try a restart"), "Have you tried a restart?", "bob"
    )
    store.discard_draft(store.save_draft(cid, text="discarded idea"))
    store.add_message(cid, "customer", "Still broken")
    store.save_draft(cid, text="pending draft")

    items = list(store.history_newest_first(cid, "o200k_base"))
    assert [(i.role, i.text) for i in items] == [
        ("user", "Still broken"),
        ("assistant", "Have you tried a restart?"),
        ("user", "My console is broken"),
    ]
    assert items[1].message_id == sent.id
    assert all(i.tokens == count_text(i.text, "o200k_base") for i in items)


def test_token_counts_are_computed_once_and_stored_per_encoding(store: Store) -> None:
    cid = _new_conversation(store)
    for text in ("hello there", "a longer message about a refund for order 12345"):
        store.add_message(cid, "customer", text)
    assert [row[1:] for row in _stored_counts(store, cid)] == [(None, None), (None, None)]  # lazy

    first = list(store.history_newest_first(cid, "cl100k_base"))
    stored = _stored_counts(store, cid)
    assert [row[2] for row in stored] == [count_text(i.text, "cl100k_base") for i in reversed(first)]
    assert [row[1] for row in stored] == [None, None]  # only the encoding asked for

    # Proof the stored value is used, not recomputed: plant a sentinel and read it back from another Store
    # (this one remembers what it read; the database is what another console or a restart sees).
    with store.engine.begin() as conn:
        sql(conn, "UPDATE messages SET tokens_cl100k = 999 WHERE id = :id", id=stored[0][0])
    other = Store.open(store.engine.url.render_as_string(hide_password=False))
    try:
        again = list(other.history_newest_first(cid, "cl100k_base"))
    finally:
        other.close()
    assert again[-1].tokens == 999


def test_approving_resets_counts_because_the_text_changed(store: Store) -> None:
    cid = _new_conversation(store)
    store.add_message(cid, "customer", "hi")
    draft_id = store.save_draft(cid, text="x")
    with store.engine.begin() as conn:
        sql(conn, "UPDATE messages SET tokens_o200k = 555 WHERE id = :id", id=draft_id)
    store.approve_draft(draft_id, "A real answer with several tokens in it", "bob")
    newest = next(iter(store.history_newest_first(cid, "o200k_base")))
    assert newest.tokens == count_text("A real answer with several tokens in it", "o200k_base")


def test_history_stops_reading_when_the_consumer_stops(store: Store) -> None:
    cid = _new_conversation(store)
    n = 3000
    added = store.add_messages_bulk(NewMessage(cid, "customer", f"message {i}") for i in range(n))
    assert added == n
    taken = list(itertools.islice(store.history_newest_first(cid, "o200k_base"), 5))
    assert [i.text for i in taken] == [f"message {i}" for i in range(n - 1, n - 6, -1)]
    counted = [row for row in _stored_counts(store, cid) if row[1] is not None]
    assert 5 <= len(counted) <= 64  # one small batch, not the whole history
    assert all(isinstance(i, HistoryItem) for i in taken)


def test_full_history_walk_crosses_batches_in_order(store: Store) -> None:
    cid = _new_conversation(store)
    store.add_messages_bulk(NewMessage(cid, "customer", f"m{i}") for i in range(2500))
    ids = [i.message_id for i in store.history_newest_first(cid, "o200k_base")]
    assert len(ids) == 2500
    assert ids == sorted(ids, key=lambda x: -(x or 0))
    assert len(set(ids)) == 2500


def test_unknown_encoding_gives_the_tokenizer_error_and_stores_nothing(store: Store) -> None:
    cid = _new_conversation(store)
    store.add_message(cid, "customer", "hello")
    with pytest.raises(SupportConsoleError, match="Unknown token encoding 'p50k_base'"):
        list(store.history_newest_first(cid, "p50k_base"))
    assert [row[1:] for row in _stored_counts(store, cid)] == [(None, None)]


def test_bulk_import_is_idempotent_and_updates_the_counters(store: Store) -> None:
    cid = _new_conversation(store)
    t0 = datetime(2024, 5, 1, 9, 0, tzinfo=UTC)
    rows = [
        NewMessage(cid, "customer", "first", created_at=t0, external_id="e1"),
        NewMessage(cid, "agent", "answer", created_at=t0 + timedelta(minutes=5), external_id="e2",
                   approved_by="carol"),
        NewMessage(cid, "customer", "follow-up", created_at=t0 + timedelta(minutes=9), external_id="e3"),
        NewMessage(cid, "note", "internal", created_at=t0 + timedelta(minutes=10), external_id="e4"),
    ]  # fmt: skip
    assert store.add_messages_bulk(rows) == 4
    assert store.add_messages_bulk(rows) == 0  # re-import adds nothing
    more = [*rows, NewMessage(cid, "customer", "third", created_at=t0 + timedelta(hours=1), external_id="e5")]
    assert store.add_messages_bulk(more) == 1

    conversation = store.get_conversation(cid)
    assert conversation.unread_count == 2  # follow-up and third came after the last sent reply
    assert conversation.last_activity == t0 + timedelta(hours=1)
    page = store.page_messages(cid)
    assert [(m.role, m.state, m.external_id) for m in page] == [
        ("customer", "received", "e1"), ("agent", "sent", "e2"), ("customer", "received", "e3"),
        ("note", "note", "e4"), ("customer", "received", "e5"),
    ]  # fmt: skip
    assert (page[1].approved_by, page[1].approved_at) == ("carol", t0 + timedelta(minutes=5))
    assert [i.text for i in store.history_newest_first(cid, "o200k_base")] == [
        "third", "follow-up", "answer", "first",
    ]  # fmt: skip


def test_bulk_import_sent_reply_resets_unread(store: Store) -> None:
    cid = _new_conversation(store)
    store.add_message(cid, "customer", "hello?")
    store.add_messages_bulk([NewMessage(cid, "agent", "imported reply")])
    assert store.get_conversation(cid).unread_count == 0


def test_bulk_import_rejects_bad_rows_and_writes_nothing(store: Store) -> None:
    cid = _new_conversation(store)
    with pytest.raises(StoreError, match="Unknown message role 'bot'"):
        store.add_messages_bulk([NewMessage(cid, "customer", "ok"), NewMessage(cid, "bot", "no")])
    with pytest.raises(StoreError, match="conversation that does not exist"):
        store.add_messages_bulk([NewMessage(cid, "customer", "ok"), NewMessage(cid + 100, "customer", "x")])
    assert store.count_messages(cid) == 0
    assert store.add_messages_bulk([]) == 0


def test_trim_report_counts_every_older_message_left_out(tmp_path: Path) -> None:
    """The store's history is sized, so the trimmer's `dropped` is exact even though it reads lazily."""
    from support_console.core.model_facts import resolve_model
    from support_console.core.trimming import build_messages

    store = Store.open(f"sqlite:///{tmp_path / 'h.db'}")
    try:
        cid = _new_conversation(store)
        for i in range(300):
            store.add_message(cid, "customer", f"message {i} " + "lorem ipsum " * 40)
        model = resolve_model("gpt-4")  # an 8k window: only a few of the 300 messages fit
        history = store.history_newest_first(cid, model.encoding)
        assert len(history) == 300
        _messages, report = build_messages("You help.", history, model, max_reply_tokens=750)
        assert 0 < report.kept < 300
        assert report.kept + report.dropped == 300
    finally:
        store.close()


def _trace_selects(store: Store) -> list[str]:
    """Every SELECT on messages that SQLite runs from now on, seen through sqlite3's trace hook (the
    history reads on raw cursors, past SQLAlchemy's events; psycopg has no such hook: SQLite runs only)."""
    import sqlite3

    sqlite_only(store, "the statements SQLite runs (its trace hook)")

    from sqlalchemy import event

    seen: list[str] = []

    def on_connect(dbapi_connection: sqlite3.Connection, _record: object) -> None:
        dbapi_connection.set_trace_callback(
            lambda sql: seen.append(sql) if sql.lstrip().upper().startswith("SELECT") else None
        )

    store.engine.dispose()  # new connections from here on get the hook
    event.listen(store.engine, "connect", on_connect)
    return seen


def _build(store: Store, cid: int, model_name: str) -> tuple[list[dict[str, str]], TrimReport]:
    """A real build_messages over the stored history."""
    model = resolve_model(model_name)
    return build_messages(
        "You help.", store.history_newest_first(cid, model.encoding), model, max_reply_tokens=500
    )


def _reopened(store: Store) -> Store:
    return Store.open(store.engine.url.render_as_string(hide_password=False))


def test_reads_are_sized_to_the_budget_and_len_costs_no_extra_count(store: Store) -> None:
    cid = _new_conversation(store)
    store.add_messages_bulk(NewMessage(cid, "customer", f"message number {i} " * 6) for i in range(6000))
    _build(store, cid, "gpt-4.1")  # store every count
    fresh = _reopened(store)  # nothing cached
    try:
        selects = _trace_selects(fresh)
        _messages, report = _build(fresh, cid, "gpt-4o")  # 128k window: some thousands of messages fit
    finally:
        fresh.close()
    walks = [sql for sql in selects if "messages.text" in sql]
    counts = [sql for sql in selects if "count(" in sql.lower()]
    assert 1000 < report.kept < 6000
    assert report.kept + report.dropped == 6000
    assert len(walks) <= 3  # a small first read, then one sized to the rest of the budget
    assert len(counts) == 1  # the exact length (trim report), made once when iterating starts


def test_drafting_again_reads_only_what_changed(store: Store) -> None:
    cid = _new_conversation(store)
    store.add_messages_bulk(NewMessage(cid, "customer", f"message number {i} " * 6) for i in range(3000))
    older_draft = store.save_draft(cid, text="an older draft, approved later")
    store.add_messages_bulk(NewMessage(cid, "customer", f"later message {i}") for i in range(100))
    first = _build(store, cid, "gpt-4o")
    selects = _trace_selects(store)

    assert _build(store, cid, "gpt-4o") == first  # unchanged: nothing but the length is read
    assert [sql for sql in selects if "messages.text" in sql] == []

    store.add_message(cid, "customer", "One more question")  # the usual change: a newer message
    selects.clear()
    messages, report = _build(store, cid, "gpt-4o")
    assert messages[-1] == {"role": "user", "content": "One more question"}
    assert len([sql for sql in selects if "messages.text" in sql]) == 1  # just the new message
    fresh = _reopened(store)
    try:
        assert _build(fresh, cid, "gpt-4o") == (messages, report)

        reviewed = store.latest_event_id()  # the send-time guard: sent after the newer messages, on purpose
        store.approve_draft(older_draft, "an older reply, sent now", "bob", reviewed_through=reviewed)
        messages, report = _build(store, cid, "gpt-4o")
        assert {"role": "assistant", "content": "an older reply, sent now"} in messages
        assert _build(fresh, cid, "gpt-4o") == (messages, report)
        assert report.kept + report.dropped == 3102
    finally:
        fresh.close()


def test_a_history_read_on_a_broken_database_is_a_store_error(store: Store) -> None:
    cid = _new_conversation(store)
    store.add_message(cid, "customer", "hello")
    with store.engine.begin() as conn:
        conn.exec_driver_sql("ALTER TABLE messages RENAME TO messages_gone")
    with pytest.raises(StoreError, match="could not be used"):
        list(store.history_newest_first(cid, "o200k_base"))


def test_every_history_statement_walks_the_partial_index(store: Store) -> None:
    cid = _new_conversation(store)
    store.add_messages_bulk(NewMessage(cid, "customer", f"message {i}") for i in range(300))
    store.add_message(cid, "note", "internal")
    selects = _trace_selects(store)
    _build(store, cid, "gpt-4")
    store.add_message(cid, "customer", "and another")
    _build(store, cid, "gpt-4")
    history_selects = [sql for sql in selects if "FROM messages" in sql and "conversation_id =" in sql]
    assert len(history_selects) >= 3  # length and sums, the walk, the newer messages
    with store.engine.connect() as conn:
        for sql in history_selects:
            plan = " ".join(row[3] for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}"))
            assert "USING INDEX ix_messages_to_model" in plan, (sql, plan)
