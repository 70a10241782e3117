"""Generations of every kind (schema version 12): drafts, and the rewrites, summaries and translations whose
text stays on their own record, with what the agent did with it. Real SQLite files, upgraded in place."""

from __future__ import annotations

from pathlib import Path

import pytest

from support_console.core.errors import NotFoundError
from support_console.core.vocabulary import (
    GENERATION_DRAFT,
    GENERATION_REWRITE,
    GENERATION_SUMMARY,
    OUTCOME_ACCEPTED,
    OUTCOME_REJECTED,
)
from support_console.store import Store
from support_console.store.engine import create_engine
from support_console.store.migrations import MIGRATIONS, current_version, migrate
from support_console.workflows.drafting import record_customer_message

V12 = MIGRATIONS.index(next(m for m in MIGRATIONS if m.__name__ == "_v12_generation_kinds")) + 1


def _conversation(store: Store) -> tuple[int, int]:
    customer = store.add_customer("Jane", "jane@example.com")
    assert customer.id is not None
    conversation = record_customer_message(store, customer.id, "My invoice is wrong.", "plain")
    generation = store.start_generation(
        conversation, draft_id=None, persona_id="plain", model="gpt-4o", parameters={}
    )
    draft = store.save_draft(conversation, text="Sorry about that.", generation_id=generation, final=True)
    return conversation, draft


def test_a_version_11_file_keeps_its_generations_as_drafts(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'v11.db'}"
    engine = create_engine(url)
    assert migrate(engine, MIGRATIONS[: V12 - 1]) == V12 - 1
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO customers (id, name, email, attributes, created_at, open_conversations, unread, "
            "email_key, match_key) VALUES (1, 'Ann', 'ann@x', '{}', '2026-03-01 00:00:00.000000', 0, 0, "
            "'ann@x', 'ann')"
        )
        conn.exec_driver_sql(
            "INSERT INTO conversations (id, customer_id, status, created_at, updated_at, unread_count) "
            "VALUES (1, 1, 'open', '2026-03-01 00:00:00.000000', '2026-03-01 00:00:00.000000', 0)"
        )
        conn.exec_driver_sql(
            "INSERT INTO generations (conversation_id, persona_id, model, parameters, started_at, "
            "stopped_by_agent) VALUES (1, 'plain', 'gpt-4o', '{}', '2026-03-01 00:00:00.000000', 0)"
        )
    engine.dispose()

    store = Store.open(url)  # upgrades in place
    try:
        with store.engine.connect() as conn:
            assert current_version(conn) == len(MIGRATIONS) >= V12
        [record] = store.generations(1)
        assert (record.kind, record.tool_id, record.agent, record.output_text, record.outcome) == (
            GENERATION_DRAFT, None, None, None, None,
        )  # fmt: skip
        assert record.model == "gpt-4o"
    finally:
        store.close()


def test_a_rewrite_keeps_its_text_and_outcome_and_replaces_no_draft_generation(store: Store) -> None:
    conversation, draft = _conversation(store)
    rewrite = store.start_generation(
        conversation, draft_id=draft, persona_id="plain", model="gpt-4o", parameters={"temperature": 0.2},
        kind=GENERATION_REWRITE, tool_id="shorter", agent="kim",
    )  # fmt: skip
    store.record_output(rewrite, "Sorry", final=False)
    store.record_output(rewrite, "Sorry, fixed.", finish_reason="stop", usage=(40, 4))
    store.set_outcome(rewrite, OUTCOME_ACCEPTED)
    summary = store.start_generation(
        conversation, draft_id=None, persona_id=None, model="gpt-4o", parameters={}, kind=GENERATION_SUMMARY
    )
    store.record_output(summary, "Invoice dispute.", finish_reason="stop")
    store.set_outcome(summary, OUTCOME_REJECTED)

    first, second, third = store.generations(conversation)
    assert first.kind == GENERATION_DRAFT
    assert (second.kind, second.tool_id, second.agent, second.replaces, second.message_id) == (
        GENERATION_REWRITE, "shorter", "kim", None, draft,
    )  # fmt: skip
    assert (second.output_text, second.completion_tokens, second.outcome) == ("Sorry, fixed.", 4, "accepted")
    assert second.ended_at is not None
    assert (third.kind, third.output_text, third.outcome) == (
        GENERATION_SUMMARY,
        "Invoice dispute.",
        "rejected",
    )


def test_unknown_kinds_and_outcomes_and_missing_generations_are_refused(store: Store) -> None:
    conversation, _ = _conversation(store)
    with pytest.raises(ValueError, match="kind"):
        store.start_generation(conversation, draft_id=None, persona_id=None, model=None, parameters={},
                               kind="poem")  # fmt: skip
    with pytest.raises(ValueError, match="outcome"):
        store.set_outcome(1, "maybe")
    with pytest.raises(NotFoundError):
        store.record_output(999, "text")
