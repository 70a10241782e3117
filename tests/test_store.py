"""The Store on a real SQLite file: customers, conversations, messages, drafts and the approval rules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa

from support_console.core.errors import NotFoundError, StoreError
from support_console.store import (
    STATE_DISCARDED,
    STATE_DRAFT,
    STATE_SENT,
    STATUS_PENDING,
    STATUS_RESOLVED,
    Conversation,
    NewMessage,
    Store,
)
from support_console.store.engine import create_engine
from support_console.store.migrations import MIGRATIONS, migrate
from tests.db_helpers import plan_walks_index, sql, stored_text


def _conversation(store: Store, email: str = "ann@example.com") -> Conversation:
    customer = store.add_customer("Ann", email)
    assert customer.id is not None
    return store.current_conversation(customer.id)


def _id(conversation: Conversation) -> int:
    assert conversation.id is not None
    return conversation.id


# ---- customers ---------------------------------------------------------------------------------------------


def test_open_creates_parent_directory_and_file(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "console.db"
    Store.open(f"sqlite:///{path}").close()
    assert path.is_file()


def test_customer_round_trip_keeps_attributes_and_utc_time(store: Store) -> None:
    created = store.add_customer("Ann Lee", "Ann@Example.com", "crm-7", {"plan": "pro", "tier": "2"})
    assert created.id is not None
    loaded = store.get_customer(created.id)
    assert (loaded.name, loaded.email, loaded.external_id) == ("Ann Lee", "Ann@Example.com", "crm-7")
    assert loaded.attributes == {"plan": "pro", "tier": "2"}
    assert loaded.created_at.tzinfo is UTC
    assert abs(datetime.now(UTC) - loaded.created_at) < timedelta(minutes=1)


def test_find_customer_by_email_case_insensitively_or_external_id(store: Store) -> None:
    ann = store.add_customer("Ann", "Ann@Example.com", "crm-7")
    assert store.find_customer("  ann@EXAMPLE.com ") == ann
    assert store.find_customer("crm-7") == ann
    assert store.find_customer("nobody@example.com") is None
    assert store.find_customer("") is None


def test_duplicate_email_or_external_id_is_refused_clearly(store: Store) -> None:
    store.add_customer("Ann", "ann@example.com", "crm-7")
    with pytest.raises(StoreError, match=r"email ANN@example.com already exists: open that customer"):
        store.add_customer("Other", "ANN@example.com")
    with pytest.raises(StoreError, match="external id crm-7 already exists"):
        store.add_customer("Other", "other@example.com", "crm-7")
    with pytest.raises(StoreError, match="needs a name and an email"):
        store.add_customer("  ", "x@example.com")


def test_unknown_ids_raise_not_found(store: Store) -> None:
    with pytest.raises(NotFoundError, match="Customer 99 does not exist"):
        store.get_customer(99)
    with pytest.raises(NotFoundError, match="Conversation 99 does not exist"):
        store.get_conversation(99)
    with pytest.raises(NotFoundError):
        store.current_conversation(99)


def test_foreign_keys_are_enforced(store: Store) -> None:
    with store.engine.begin() as conn, pytest.raises(sa.exc.IntegrityError, match=r"(?i)foreign key"):
        conn.exec_driver_sql(
            "INSERT INTO conversations (customer_id, status, created_at, updated_at, unread_count) "
            "VALUES (12345, 'open', '2024-01-01', '2024-01-01', 0)"
        )


def test_list_customers_open_first_then_newest_activity_with_unread(store: Store) -> None:
    quiet = store.add_customer("Quiet", "quiet@example.com")
    old = _conversation(store, "old@example.com")
    new = _conversation(store, "new@example.com")
    resolved = _conversation(store, "done@example.com")
    t0 = datetime(2024, 1, 1, tzinfo=UTC)
    store.add_message(_id(old), "customer", "first", created_at=t0)
    store.add_message(_id(old), "customer", "second", created_at=t0 + timedelta(minutes=1))
    store.add_message(_id(new), "customer", "hello", created_at=t0 + timedelta(hours=1))
    store.add_message(_id(resolved), "customer", "thanks", created_at=t0 + timedelta(days=1))
    store.set_status(_id(resolved), STATUS_RESOLVED)

    rows = store.list_customers()
    assert [r.customer.email for r in rows] == [
        "new@example.com", "old@example.com", "done@example.com", "quiet@example.com",
    ]  # fmt: skip
    by_email = {r.customer.email: r for r in rows}
    assert (by_email["old@example.com"].open_conversations, by_email["old@example.com"].unread) == (1, 2)
    assert by_email["old@example.com"].last_activity == t0 + timedelta(minutes=1)
    assert (by_email["done@example.com"].open_conversations, by_email["done@example.com"].unread) == (0, 0)
    assert by_email["quiet@example.com"].customer.id == quiet.id
    assert by_email["quiet@example.com"].last_activity is None


def test_list_customers_filters_literally_and_limits(store: Store) -> None:
    store.add_customer("Ann Lee", "ann@example.com", "crm_1")
    store.add_customer("Bob 100%", "bob@example.com", "crm-2")
    assert [r.customer.name for r in store.list_customers("LEE")] == ["Ann Lee"]
    assert [r.customer.name for r in store.list_customers("crm_")] == ["Ann Lee"]  # "_" is not a wildcard
    assert [r.customer.name for r in store.list_customers("100%")] == ["Bob 100%"]
    assert len(store.list_customers("example", limit=1)) == 1


# ---- conversations -----------------------------------------------------------------------------------------


def test_current_conversation_reuses_unresolved_and_starts_new_after_resolve(store: Store) -> None:
    first = _conversation(store)
    assert first.status == "open"
    assert store.current_conversation(first.customer_id, "billing").id == first.id
    assert store.get_conversation(_id(first)).persona_id == "billing"  # recorded where none was set
    store.set_status(_id(first), STATUS_PENDING)
    assert store.current_conversation(first.customer_id).id == first.id
    store.set_status(_id(first), STATUS_RESOLVED)
    second = store.current_conversation(first.customer_id, "tech")
    assert second.id != first.id
    assert (second.status, second.persona_id) == ("open", "tech")


def test_status_and_persona_changes(store: Store) -> None:
    conversation = _conversation(store)
    with pytest.raises(StoreError, match="Unknown conversation status 'closed': use one of open, pending"):
        store.set_status(_id(conversation), "closed")
    store.set_persona(_id(conversation), "xbox")
    assert store.get_conversation(_id(conversation)).persona_id == "xbox"


def test_customer_message_reopens_pending_conversation(store: Store) -> None:
    conversation = _conversation(store)
    store.set_status(_id(conversation), STATUS_PENDING)
    store.add_message(_id(conversation), "customer", "any news?")
    assert store.get_conversation(_id(conversation)).status == "open"


# ---- messages ----------------------------------------------------------------------------------------------


def test_add_message_rules(store: Store) -> None:
    conversation = _conversation(store)
    with pytest.raises(StoreError, match="save it with save_draft and send it with approve_draft"):
        store.add_message(_id(conversation), "agent", "sneaky reply")
    with pytest.raises(StoreError, match="Unknown message role 'bot'"):
        store.add_message(_id(conversation), "bot", "x")
    with pytest.raises(StoreError, match="The message is empty"):
        store.add_message(_id(conversation), "customer", "  \n")
    with pytest.raises(NotFoundError):
        store.add_message(4242, "customer", "hello")
    assert store.count_messages(_id(conversation)) == 0


def test_add_message_with_same_external_id_is_idempotent(store: Store) -> None:
    conversation = _conversation(store)
    first = store.add_message(_id(conversation), "customer", "hello", external_id="m1")
    again = store.add_message(_id(conversation), "customer", "hello", external_id="m1")
    assert again.id == first.id
    assert store.count_messages(_id(conversation)) == 1
    assert store.get_conversation(_id(conversation)).unread_count == 1


def test_text_is_kept_literally(store: Store) -> None:
    conversation = _conversation(store)
    text = "[bold]not markup[/bold] {{ name }} $59.99 \x1b[31m 😀 ' \" ; DROP TABLE messages; --"
    store.add_message(_id(conversation), "note", text)
    assert [m.text for m in store.page_messages(_id(conversation))] == [text]


def test_page_messages_walks_back_oldest_first_and_hides_discarded(store: Store) -> None:
    conversation = _conversation(store)
    cid = _id(conversation)
    ids = [store.add_message(cid, "customer", f"m{i}").id for i in range(250)]
    discarded = store.save_draft(cid, text="never mind")
    store.discard_draft(discarded)
    assert store.count_messages(cid) == 250
    newest = store.page_messages(cid, limit=100)
    assert [m.id for m in newest] == ids[150:]
    middle = store.page_messages(cid, before_id=newest[0].id, limit=100)
    assert [m.id for m in middle] == ids[50:150]
    oldest = store.page_messages(cid, before_id=middle[0].id, limit=100)
    assert [m.id for m in oldest] == ids[:50]
    assert store.page_messages(cid, before_id=oldest[0].id) == []


# ---- drafts and approval -----------------------------------------------------------------------------------


def test_draft_grows_then_is_approved_with_original_and_sent_text_kept(store: Store) -> None:
    conversation = _conversation(store)
    cid = _id(conversation)
    store.add_message(cid, "customer", "Where is my order?")
    draft_id = store.save_draft(cid, text="", persona_id="orders", model="gpt-4o")
    for partial in ("Hello", "Hello Ann, your order", "Hello Ann, your order ships today."):
        assert store.save_draft(cid, draft_id=draft_id, text=partial, original_text=partial) == draft_id
    store.save_draft(cid, draft_id=draft_id, text=partial, finish_reason="stop", usage=(120, 9))
    pending = store.pending_draft(cid)
    assert pending is not None
    assert (pending.id, pending.state, pending.text) == (draft_id, STATE_DRAFT, partial)
    assert (pending.persona_id, pending.model, pending.prompt_tokens, pending.completion_tokens) == (
        "orders", "gpt-4o", 120, 9,
    )  # fmt: skip
    assert store.get_conversation(cid).unread_count == 1  # a draft is not a reply

    sent = store.approve_draft(draft_id, "Hello Ann, your order ships today. Sorry for the wait!", "bob")
    assert (sent.state, sent.approved_by) == (STATE_SENT, "bob")
    assert sent.text == "Hello Ann, your order ships today. Sorry for the wait!"
    assert sent.original_text == "Hello Ann, your order ships today."
    assert sent.approved_at is not None
    assert sent.approved_at.tzinfo is UTC
    assert store.pending_draft(cid) is None
    assert store.get_conversation(cid).unread_count == 0
    assert [m.state for m in store.page_messages(cid)] == ["received", "sent"]


def test_hand_written_reply_has_no_original_text(store: Store) -> None:
    cid = _id(_conversation(store))
    draft_id = store.save_draft(cid, text="Typed by hand")
    sent = store.approve_draft(draft_id, "Typed by hand.", "bob")
    assert (sent.text, sent.original_text) == ("Typed by hand.", None)


def test_model_draft_saved_without_original_keeps_its_text_as_original(store: Store) -> None:
    cid = _id(_conversation(store))
    draft_id = store.save_draft(cid, text="model words", model="gpt-4o")
    assert store.approve_draft(draft_id, "agent words", "bob").original_text == "model words"


def test_approval_refuses_empty_text_anonymous_agent_and_non_drafts(store: Store) -> None:
    cid = _id(_conversation(store))
    customer_message = store.add_message(cid, "customer", "hi")
    draft_id = store.save_draft(cid, text="draft")
    with pytest.raises(StoreError, match="The reply is empty"):
        store.approve_draft(draft_id, " \n\t", "bob")
    with pytest.raises(StoreError, match=r"set \[agent\] name"):
        store.approve_draft(draft_id, "fine", "  ")
    assert store.pending_draft(cid) is not None  # refused approvals changed nothing
    assert customer_message.id is not None
    with pytest.raises(StoreError, match="is a customer message, not a draft"):
        store.approve_draft(customer_message.id, "hijack", "bob")
    store.approve_draft(draft_id, "fine", "bob")
    with pytest.raises(StoreError, match="already sent and cannot be sent"):
        store.approve_draft(draft_id, "again", "bob")
    with pytest.raises(StoreError, match="already sent and cannot be updated"):
        store.save_draft(cid, draft_id=draft_id, text="rewrite history")
    with pytest.raises(StoreError, match="already sent and cannot be discarded"):
        store.discard_draft(draft_id)
    with pytest.raises(NotFoundError, match="There is no draft 999: it may have been sent"):
        store.approve_draft(999, "x", "bob")
    assert [m.text for m in store.page_messages(cid)] == ["hi", "fine"]


def test_discarded_draft_cannot_be_sent_or_updated(store: Store) -> None:
    cid = _id(_conversation(store))
    draft_id = store.save_draft(cid, text="oops")
    store.discard_draft(draft_id)
    store.discard_draft(draft_id)  # idempotent
    assert store.pending_draft(cid) is None
    with pytest.raises(StoreError, match="was discarded and cannot be sent"):
        store.approve_draft(draft_id, "oops", "bob")
    with pytest.raises(StoreError, match="was discarded and cannot be updated"):
        store.save_draft(cid, draft_id=draft_id, text="oops 2")
    with store.engine.connect() as conn:
        state = sql(conn, "SELECT state FROM messages WHERE id = :id", id=draft_id).scalar()
    assert state == STATE_DISCARDED  # kept for the record, hidden from the conversation


def test_save_draft_checks_the_conversation(store: Store) -> None:
    cid = _id(_conversation(store))
    other = _id(_conversation(store, "other@example.com"))
    draft_id = store.save_draft(cid, text="mine")
    with pytest.raises(NotFoundError, match=f"There is no draft {draft_id} in conversation {other}"):
        store.save_draft(other, draft_id=draft_id, text="not yours")
    with pytest.raises(NotFoundError, match="Conversation 777 does not exist"):
        store.save_draft(777, text="nowhere")


def test_partial_draft_with_error_is_kept(store: Store) -> None:
    cid = _id(_conversation(store))
    draft_id = store.save_draft(cid, text="Half a sen", original_text="Half a sen", error="stream cut")
    pending = store.pending_draft(cid)
    assert pending is not None
    assert (pending.id, pending.text, pending.error) == (draft_id, "Half a sen", "stream cut")


def test_data_survives_reopen(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'console.db'}"
    first = Store.open(url)
    cid = _id(_conversation(first))
    draft_id = first.save_draft(cid, text="unsent but saved")
    first.close()
    second = Store.open(url)
    try:
        pending = second.pending_draft(cid)
        assert pending is not None
        assert (pending.id, pending.text) == (draft_id, "unsent but saved")
    finally:
        second.close()


# ---- the customer roll-up ----------------------------------------------------------------------------------


def _rollup_from_scratch(store: Store) -> dict[int, tuple[int, int, str | None]]:
    """What the roll-up must say, recomputed from the conversations by plain SQL."""
    with store.engine.connect() as conn:
        rows = conn.exec_driver_sql(
            "SELECT k.id, "
            " (SELECT count(*) FROM conversations c WHERE c.customer_id = k.id AND c.status != 'resolved'),"
            " (SELECT coalesce(sum(unread_count), 0) FROM conversations c"
            "   WHERE c.customer_id = k.id AND c.status != 'resolved'),"
            " (SELECT max(coalesce(last_activity, created_at)) FROM conversations c"
            "   WHERE c.customer_id = k.id)"
            " FROM customers k"
        ).all()
    return {r[0]: (r[1], r[2], r[3]) for r in rows}


def _rollup_stored(store: Store) -> dict[int, tuple[int, int, str | None]]:
    with store.engine.connect() as conn:
        rows = conn.exec_driver_sql(
            "SELECT id, open_conversations, unread, last_activity FROM customers"
        ).all()
    return {r[0]: (r[1], r[2], r[3]) for r in rows}


def test_customer_rollup_follows_every_kind_of_write(store: Store) -> None:
    a = _conversation(store, "a@example.com")
    b = _conversation(store, "b@example.com")
    store.add_message(_id(a), "customer", "one")
    store.add_message(_id(a), "customer", "two")
    store.add_messages_bulk([NewMessage(_id(b), "customer", "bulk")])
    store.approve_draft(store.save_draft(_id(b), text="hi"), "hi", "bob")
    store.add_message(_id(b), "customer", "thanks")
    store.set_status(_id(a), STATUS_PENDING)
    second_a = store.current_conversation(a.customer_id)
    assert second_a.id == a.id
    store.set_status(_id(a), STATUS_RESOLVED)
    store.current_conversation(a.customer_id)  # a new, empty conversation
    assert _rollup_stored(store) == _rollup_from_scratch(store)
    summary = {r.customer.email: (r.open_conversations, r.unread) for r in store.list_customers()}
    assert summary == {"a@example.com": (1, 0), "b@example.com": (1, 1)}

    # Writes that bypass the Store (the importer's direct inserts, another tool) keep it right too.
    with store.engine.begin() as conn:
        sql(conn, "UPDATE conversations SET status = 'resolved' WHERE id = :id", id=_id(b))
        sql(
            conn,
            "INSERT INTO conversations (customer_id, status, created_at, updated_at, unread_count) "
            "VALUES (:k, 'open', '2030-01-01 00:00:00.000000', '2030-01-01 00:00:00.000000', 3)",
            k=b.customer_id,
        )
        sql(conn, "UPDATE conversations SET customer_id = :k WHERE id = :id", k=b.customer_id, id=_id(a))
    assert _rollup_stored(store) == _rollup_from_scratch(store)
    top = store.list_customers()[0]
    assert (top.customer.email, top.open_conversations, top.unread) == ("b@example.com", 1, 3)
    assert top.last_activity == datetime(2030, 1, 1, tzinfo=UTC)


def test_an_upgraded_postgres_database_rolls_up_once_per_statement(postgres_url: str) -> None:
    """Version 15 replaces PostgreSQL's row trigger with statement triggers; statements that change many
    conversations at once (the importer's) keep every customer's roll-up right, the moved one's old owner
    included."""
    engine = create_engine(postgres_url)
    try:
        assert migrate(engine, MIGRATIONS[:14]) == 14
        with engine.begin() as conn:
            sql(conn, "INSERT INTO customers (id, name, email, email_key, match_key, attributes, created_at, "
                "open_conversations, unread) VALUES (1, 'Ann', 'a@x', 'a@x', 'ann', '{}', now(), 0, 0), "
                "(2, 'Bob', 'b@x', 'b@x', 'bob', '{}', now(), 0, 0)")  # fmt: skip
            sql(conn, "INSERT INTO conversations (customer_id, status, created_at, updated_at, unread_count) "
                "VALUES (1, 'open', now(), now(), 2)")  # the row trigger still runs  # fmt: skip
            sql(conn, "ALTER FUNCTION support_console_fold(text) STRICT")  # as version 2 made it
        assert migrate(engine, MIGRATIONS) == len(MIGRATIONS)
        with engine.connect() as conn:
            strict = "SELECT proisstrict FROM pg_proc WHERE proname = 'support_console_fold'"
            assert conn.exec_driver_sql(strict).scalar_one() is False  # inlinable into the vector column
            triggers = conn.exec_driver_sql(
                "SELECT tgname FROM pg_trigger WHERE tgrelid = 'conversations'::regclass AND NOT tgisinternal"
            ).scalars()
            assert sorted(triggers) == [
                f"conversations_rollup_{e}" for e in ("deleted", "inserted", "updated")
            ]
    finally:
        engine.dispose()
    store = Store.open(postgres_url)
    try:
        assert _rollup_stored(store)[1][:2] == (1, 2)
        statements = (
            "INSERT INTO conversations (customer_id, status, created_at, updated_at, unread_count) VALUES "
            "(1, 'open', '2030-01-01', now(), 1), (2, 'pending', now(), now(), 4), "
            "(2, 'open', now(), now(), 5)",
            "UPDATE conversations SET customer_id = 2, status = CASE WHEN unread_count = 1 THEN 'resolved' "
            "ELSE status END WHERE unread_count IN (1, 2)",  # two rows: one moves, one moves and resolves
            "UPDATE conversations SET updated_at = now()",  # no roll-up column changes
            "DELETE FROM conversations WHERE unread_count IN (4, 5)",
        )
        for statement in statements:
            with store.engine.begin() as conn:
                sql(conn, statement)
            assert _rollup_stored(store) == _rollup_from_scratch(store), statement
        assert {k: v[:2] for k, v in _rollup_stored(store).items()} == {1: (0, 0), 2: (1, 2)}
    finally:
        store.close()


def test_customer_list_walks_its_index_instead_of_sorting(store: Store) -> None:
    statements: list[tuple[str, object]] = []
    sa.event.listen(store.engine, "before_cursor_execute", lambda *args: statements.append(args[2:4]))
    store.list_customers()
    assert plan_walks_index(store, *statements[-1], "ix_customers_list")


def test_timestamps_are_stored_as_utc_whatever_zone_they_come_in(store: Store) -> None:
    cid = _id(_conversation(store))
    berlin = timezone(timedelta(hours=2))
    store.add_message(
        cid, "customer", "from a +02:00 clock", created_at=datetime(2024, 6, 1, 12, 0, tzinfo=berlin)
    )
    store.add_message(cid, "customer", "naive means UTC", created_at=datetime(2024, 6, 1, 11, 30))
    first, second = store.page_messages(cid)
    assert first.created_at == datetime(2024, 6, 1, 10, 0, tzinfo=UTC)
    assert first.created_at.tzinfo is UTC
    assert second.created_at == datetime(2024, 6, 1, 11, 30, tzinfo=UTC)
    assert store.get_conversation(cid).last_activity == datetime(2024, 6, 1, 11, 30, tzinfo=UTC)
    with store.engine.connect() as conn:
        stored = conn.exec_driver_sql("SELECT created_at FROM messages ORDER BY id").scalars().all()
    assert [stored_text(value) for value in stored] == [
        "2024-06-01 10:00:00.000000",
        "2024-06-01 11:30:00.000000",
    ]  # text order = time order


def test_served_models_are_remembered_per_name_and_survive_reopen(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'served.db'}"
    store = Store.open(url)
    try:
        assert store.served_model_for("prod-chat") is None
        store.remember_served_model("prod-chat", "gpt-4o-2024-08-06")
        store.remember_served_model("prod-chat", "gpt-4o-2024-08-06")  # no change: no second row, no error
        store.remember_served_model("gpt-4o", "gpt-4o")  # the name itself says it all: nothing to keep
        store.remember_served_model("prod-chat", "gpt-4.1-2025-04-14")  # the deployment was upgraded
    finally:
        store.close()
    reopened = Store.open(url)
    try:
        assert reopened.served_model_for("prod-chat") == "gpt-4.1-2025-04-14"
        assert reopened.served_model_for("gpt-4o") is None
    finally:
        reopened.close()
