"""Migrations: upgrades keep every conversation, a failed step changes nothing, newer databases refused."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from support_console.core.errors import StoreError
from support_console.store import Store
from support_console.store.engine import create_engine
from support_console.store.migrations import MIGRATIONS, current_version, latest_version, migrate


def _v2_add_tags(conn: Connection) -> None:
    """A realistic additive migration: a new column and a backfill."""
    conn.exec_driver_sql("ALTER TABLE conversations ADD COLUMN tags VARCHAR NOT NULL DEFAULT ''")
    conn.exec_driver_sql("UPDATE conversations SET tags = 'legacy'")


def _v2_broken(conn: Connection) -> None:
    conn.exec_driver_sql("CREATE TABLE half_done (x INTEGER)")
    conn.exec_driver_sql("UPDATE messages SET text = 'CLOBBERED'")
    raise RuntimeError("migration bug")


def _version_1_database(url: str) -> tuple[int, int]:
    """A database at version 1 with a conversation holding a customer message and a sent reply."""
    store = Store.open(url)
    try:
        customer = store.add_customer("Ann", "ann@example.com")
        assert customer.id is not None
        conversation = store.current_conversation(customer.id, "billing")
        assert conversation.id is not None
        store.add_message(conversation.id, "customer", "Refund please")
        draft_id = store.save_draft(conversation.id, text="Refund issued", original_text="Refund issued")
        store.approve_draft(draft_id, "Refund issued today.", "bob")
        return customer.id, conversation.id
    finally:
        store.close()


def test_new_database_is_at_latest_version(tmp_path: Path) -> None:
    store = Store.open(f"sqlite:///{tmp_path / 'db.sqlite'}")
    try:
        with store.engine.connect() as conn:
            assert current_version(conn) == latest_version() == len(MIGRATIONS)
    finally:
        store.close()


def test_upgrade_keeps_every_conversation(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    customer_id, conversation_id = _version_1_database(url)
    engine = create_engine(url)
    try:
        assert migrate(engine, [*MIGRATIONS, _v2_add_tags]) == len(MIGRATIONS) + 1
        assert migrate(engine, [*MIGRATIONS, _v2_add_tags]) == len(MIGRATIONS) + 1  # second run: no-op
        with engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT tags FROM conversations").scalar() == "legacy"
        store = Store(engine)
        assert store.get_customer(customer_id).email == "ann@example.com"
        assert store.get_conversation(conversation_id).persona_id == "billing"
        messages = store.page_messages(conversation_id)
        assert [(m.state, m.text, m.original_text) for m in messages] == [
            ("received", "Refund please", None),
            ("sent", "Refund issued today.", "Refund issued"),
        ]
    finally:
        engine.dispose()


def test_failed_migration_is_rolled_back_completely(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    _, conversation_id = _version_1_database(url)
    engine = create_engine(url)
    try:
        with pytest.raises(RuntimeError, match="migration bug"):
            migrate(engine, [*MIGRATIONS, _v2_broken])
        with engine.connect() as conn:
            assert current_version(conn) == len(MIGRATIONS)
            assert not sa.inspect(conn).has_table("half_done")
        texts = [m.text for m in Store(engine).page_messages(conversation_id)]
        assert texts == ["Refund please", "Refund issued today."]
    finally:
        engine.dispose()


def test_database_from_a_newer_version_is_refused(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    _version_1_database(url)
    engine = create_engine(url)
    migrate(engine, [*MIGRATIONS, _v2_add_tags])
    engine.dispose()
    with pytest.raises(
        StoreError, match=r"newer than this support-console understands.*upgrade support-console"
    ):
        Store.open(url)


def test_appending_to_the_list_is_all_it_takes(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    _, conversation_id = _version_1_database(url)
    MIGRATIONS.append(_v2_add_tags)
    try:
        store = Store.open(url)
        try:
            with store.engine.connect() as conn:
                assert current_version(conn) == len(MIGRATIONS)
                assert conn.exec_driver_sql("SELECT tags FROM conversations").scalar() == "legacy"
            assert store.count_messages(conversation_id) == 2
        finally:
            store.close()
    finally:
        MIGRATIONS.remove(_v2_add_tags)


def test_not_a_database_file_gives_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("this is not sqlite " * 100)
    with pytest.raises(StoreError, match=r"Cannot open the database .*notes\.txt.*choose another with --db"):
        Store.open(f"sqlite:///{path}")


def test_server_models_migration_upgrades_a_version_8_file_in_place(tmp_path: Path) -> None:
    """The server_models migration (numbered 11 this round) on a version 8 file: it is upgraded where it
    lies, and the table that keeps what compatible servers said about their models is there and usable
    (rows per server and model, updated in place)."""
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    engine = create_engine(url)
    try:
        assert migrate(engine, MIGRATIONS[:8]) == 8
        with engine.begin() as conn:
            assert not sa.inspect(conn).has_table("server_models")
    finally:
        engine.dispose()
    store = Store.open(url)  # version 8 → latest, in place
    try:
        customer = store.add_customer("Ann", "ann@example.com")
        assert customer.id is not None
        with store.engine.connect() as conn:
            assert current_version(conn) == latest_version()
        store.remember_server_model("http://127.0.0.1:8080/v1", "gemma", context_window=2048, source="x")
        store.remember_server_model("http://127.0.0.1:8080/v1", "gemma", context_window=4096, source="y")
        learned = store.server_model("http://127.0.0.1:8080/v1", "gemma")
        assert learned is not None
        assert (learned.context_window, learned.source) == (4096, "y")
        assert store.server_model("http://other:8080/v1", "gemma") is None
    finally:
        store.close()
