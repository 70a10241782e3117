"""The conversation counters have one definition (store/counters.py): the same messages written one by one
(add_message, save_draft + approve_draft), in bulk (add_messages_bulk) or by the importer give identical
counters and customer roll-ups, and they agree with the definition recomputed from scratch."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from support_console.store import NewMessage, Store
from support_console.workflows.importer import import_file
from tests.db_helpers import stored_text

T0 = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)

#: (customer email, [(role, text, minutes after T0)]) written in this order; agent rows are replies that are
#: drafted at that point and approved at once, except "late" ones approved after the next message arrived.
SCRIPT: list[tuple[str, list[tuple[str, str, int]]]] = [
    ("ann@example.com", [
        ("customer", "my router blinks", 0), ("note", "checked the line", 2), ("agent", "restart it", 5),
        ("customer", "still blinking", 9), ("customer", "and now it is off", 11),
    ]),
    ("bob@example.com", [  # a message stamped earlier than the one before it: the activity never goes back
        ("customer", "invoice please", 30), ("customer", "sent from an old phone", 1),
    ]),
    ("cleo@example.com", [  # the customer writes while the reply is drafted; it is sent after, so comes after
        ("customer", "refund?", 40), ("late-agent", "refund issued", 41), ("customer", "thanks!", 42),
    ]),
    ("dan@example.com", [("note", "called, no answer", 50)]),
]  # fmt: skip


@pytest.fixture
def stores(new_db_url: Callable[[str], str]) -> Iterator[dict[str, Store]]:
    """Three new databases of one backend (each in turn: conftest's ``new_db_url``)."""
    stores = {name: Store.open(new_db_url(name)) for name in ("rows", "bulk", "import")}
    try:
        yield stores
    finally:
        for store in stores.values():
            store.close()


def _write_per_row(store: Store) -> list[list[tuple[str, str, datetime, str | None]]]:
    """Write SCRIPT message by message; return each conversation's messages as (role, text, activity time,
    approver), the activity time being when a reply was sent (known only once approve_draft ran)."""
    written = []
    for email, messages in SCRIPT:
        customer = store.add_customer(email.split("@")[0].title(), email)
        assert customer.id is not None
        conversation = store.current_conversation(customer.id)
        assert conversation.id is not None
        late: int | None = None
        for role, text, minutes in messages:
            when = T0 + timedelta(minutes=minutes)
            if role == "customer" or role == "note":
                store.add_message(conversation.id, role, text, created_at=when)
            else:
                draft = store.save_draft(conversation.id, text=text, original_text=text, model="gpt-4o")
                if role == "agent":
                    store.approve_draft(draft, text, "alice")
                else:
                    late = draft
        if late is not None:  # written before the messages after it: sent anyway, on purpose
            store.approve_draft(late, "refund issued", "alice", reviewed_through=store.latest_event_id())
        page = store.page_messages(conversation.id)
        written.append([(m.role, m.text, m.approved_at or m.created_at, m.approved_by) for m in page])
    return written


def _counters(store: Store) -> list[tuple[Any, ...]]:
    """Every conversation's and customer's counters, by customer email (ids and write times left out)."""
    with store.engine.connect() as conn:
        conversations = conn.exec_driver_sql(
            "SELECT k.email, c.last_activity, c.unread_count, c.waiting_since FROM conversations c "
            "JOIN customers k ON k.id = c.customer_id ORDER BY k.email"
        ).all()
        customers = conn.exec_driver_sql(
            "SELECT email, open_conversations, unread, last_activity FROM customers ORDER BY email"
        ).all()
    return [tuple(map(_as_text, row)) for row in (*conversations, *customers)]


def _as_text(value: Any) -> Any:
    """Times as SQLite's stored text, whichever backend read them (tests/db_helpers.stored_text)."""
    return stored_text(value) if isinstance(value, datetime) else value


def _from_scratch(store: Store) -> list[tuple[Any, ...]]:
    """The counters by their definition, recomputed from the messages with plain SQL."""
    with store.engine.connect() as conn:
        rows = conn.exec_driver_sql(
            "SELECT k.email, "
            " (SELECT max(coalesce(m.approved_at, m.created_at)) FROM messages m"
            "   WHERE m.conversation_id = c.id AND m.state IN ('received', 'note', 'sent')),"
            " (SELECT count(*) FROM messages m WHERE m.conversation_id = c.id AND m.role = 'customer'"
            "   AND m.id > coalesce((SELECT max(s.id) FROM messages s"
            "   WHERE s.conversation_id = c.id AND s.state = 'sent'), 0)),"
            " (SELECT min(m.created_at) FROM messages m"
            "   WHERE m.conversation_id = c.id AND m.role = 'customer'"
            "   AND m.id > coalesce((SELECT max(s.id) FROM messages s"
            "   WHERE s.conversation_id = c.id AND s.state = 'sent'), 0))"
            " FROM conversations c JOIN customers k ON k.id = c.customer_id ORDER BY k.email"
        ).all()
    return [tuple(map(_as_text, row)) for row in rows]


def test_per_row_bulk_and_import_writes_give_identical_counters(
    stores: dict[str, Store], tmp_path: Path
) -> None:
    written = _write_per_row(stores["rows"])

    bulk = stores["bulk"]
    for (email, _messages), messages in zip(SCRIPT, written, strict=True):
        customer = bulk.add_customer(email.split("@")[0].title(), email)
        assert customer.id is not None
        conversation_id = bulk.current_conversation(customer.id).id
        assert conversation_id is not None
        bulk.add_messages_bulk(
            NewMessage(conversation_id, role, text, created_at=when, external_id=str(i), approved_by=approver)
            for i, (role, text, when, approver) in enumerate(messages)
        )

    lines = [
        {"email": email, "name": email.split("@")[0].title(), "ticket": "T", "id": str(i), "role": role,
         "text": text, "timestamp": when.isoformat(), **({"approved_by": approver} if approver else {})}
        for (email, _messages), messages in zip(SCRIPT, written, strict=True)
        for i, (role, text, when, approver) in enumerate(messages)
    ]  # fmt: skip
    source = tmp_path / "script.jsonl"
    source.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    assert import_file(stores["import"], source).ok

    expected = _counters(stores["rows"])
    assert _counters(stores["bulk"]) == expected
    assert _counters(stores["import"]) == expected
    for store in stores.values():
        assert [row[:4] for row in _counters(store)[: len(SCRIPT)]] == _from_scratch(store)

    by_email = {row[0]: row for row in expected[: len(SCRIPT)]}
    assert by_email["ann@example.com"][2] == 2  # two customer messages after the reply
    assert by_email["bob@example.com"][1] == "2026-03-02 10:00:00.000000"  # the later stamp stays
    assert by_email["cleo@example.com"][2:] == (0, None)  # sent after "thanks!": answered, not waiting
    assert by_email["dan@example.com"][1:] == ("2026-03-02 10:20:00.000000", 0, None)  # answered: not waiting
