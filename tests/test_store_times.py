"""The time codec has one home each: "a time without a zone is UTC" (core/clock.as_utc) and the stored layout
(store/times.py). Every writer (the Store, the importer's parser, the bulk paths) stores the same instant as
the same text, and every reader of a time typed by a person (logs filter, CLI --since) reads it the same."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects.sqlite.base import SQLiteDialect

from support_console.cli.log_commands import parse_since
from support_console.core.clock import as_utc
from support_console.store import NewMessage, Store
from support_console.store.tables import UTCDateTime
from support_console.store.times import from_stored, stored_from_iso, to_stored
from support_console.ui.widgets.logs_filters import parse_day
from support_console.workflows.importer import import_file

BERLIN = timezone(timedelta(hours=2))
FORMS = [
    "2026-10-01T10:00:00Z",
    "2026-10-01T12:00:00+02:00",
    "2026-10-01T10:00:00",
    "2026-10-01 10:00:00.000000",
    "2026-10-01T05:00:00-05:00",
    "2026-W40-4T10:00:00Z",
]


@pytest.mark.parametrize("text", FORMS)
def test_every_iso_form_of_one_instant_is_stored_as_one_text(text: str) -> None:
    assert stored_from_iso(text) == to_stored(as_utc(datetime.fromisoformat(text)))
    assert stored_from_iso(text) == "2026-10-01 10:00:00.000000"
    assert from_stored(to_stored(datetime.fromisoformat(text))) == datetime(2026, 10, 1, 10, tzinfo=UTC)


def test_not_a_time_is_none() -> None:
    assert stored_from_iso("yesterday") is None
    assert stored_from_iso("") is None


def test_a_naive_time_is_utc_wherever_a_person_types_it() -> None:
    utc = datetime(2026, 10, 1, tzinfo=UTC)
    assert as_utc(datetime(2026, 10, 1)) == utc
    assert parse_day("2026-10-01") == utc
    assert parse_since("2026-10-01") == utc
    assert parse_since("2026-10-01T02:00+02:00") == utc
    assert parse_day("2026-10-01T02:00:00+02:00") == utc


def test_the_store_the_bulk_path_and_the_importer_store_an_instant_alike(tmp_path: Path) -> None:
    store = Store.open(f"sqlite:///{tmp_path / 'times.db'}")
    try:
        customer = store.add_customer("Ann", "ann@example.com")
        assert customer.id is not None
        conversation = store.current_conversation(customer.id).id
        assert conversation is not None
        store.add_message(
            conversation, "customer", "per row", created_at=datetime(2026, 10, 1, 12, tzinfo=BERLIN)
        )
        store.add_message(conversation, "customer", "naive", created_at=datetime(2026, 10, 1, 10))
        store.add_messages_bulk(
            [NewMessage(conversation, "customer", "bulk", datetime(2026, 10, 1, 12, tzinfo=BERLIN))]
        )
        row = {"email": "ann@example.com", "text": "imported", "timestamp": "2026-10-01T12:00:00+02:00"}
        source = tmp_path / "one.jsonl"
        source.write_text(json.dumps(row) + "\n", encoding="utf-8")
        assert import_file(store, source).ok
        with store.engine.connect() as conn:
            stored: dict[str, str] = dict(conn.exec_driver_sql("SELECT text, created_at FROM messages").all())
        assert set(stored.values()) == {"2026-10-01 10:00:00.000000"}
        assert len(stored) == 4
        assert {m.created_at for m in store.page_messages(conversation)} == {
            datetime(2026, 10, 1, 10, tzinfo=UTC)
        }
    finally:
        store.close()


def test_the_column_type_speaks_the_same_codec_on_postgresql_too() -> None:
    """PostgreSQL (next) keeps native timestamps: naive UTC in, aware UTC out, as SQLite's text does."""
    column = UTCDateTime()
    postgresql = sa.create_mock_engine("postgresql://", executor=print).dialect  # a dialect, no driver
    berlin_noon = datetime(2026, 10, 1, 12, tzinfo=BERLIN)
    assert column.process_bind_param(berlin_noon, SQLiteDialect()) == "2026-10-01 10:00:00.000000"
    assert column.process_bind_param(berlin_noon, postgresql) == datetime(2026, 10, 1, 10)
    back = column.process_result_value(datetime(2026, 10, 1, 10), postgresql)
    assert back == datetime(2026, 10, 1, 10, tzinfo=UTC)
    assert back is not None
    assert back.tzinfo is UTC
    assert column.process_result_value("2026-10-01 10:00:00.000000", SQLiteDialect()) == back
