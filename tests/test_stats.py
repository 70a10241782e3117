"""Agent-assist stats and the logs list queries, on drafts made through the real store API."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from support_console.cli.main import main
from support_console.core.text_diff import diff_words, edit_distance
from support_console.core.vocabulary import REFUSAL_NOTE, STOPPED_NOTE, ErrorKind
from support_console.store import LogFilters, Store
from tests.db_helpers import plan_walks_index
from tests.wire_server import WireServer, error, stream_text


def _conversation(store: Store, email: str, persona: str) -> int:
    customer = store.add_customer(email.split("@")[0], email)
    assert customer.id is not None
    conversation = store.current_conversation(customer.id, persona)
    assert conversation.id is not None
    store.add_message(conversation.id, "customer", "help please")
    return conversation.id


def _ai(store: Store, conversation: int, text: str, persona: str, **kwargs: object) -> int:
    return store.save_draft(conversation, text=text, original_text=text, persona_id=persona, model="gpt-4o",
                            **kwargs)  # type: ignore[arg-type]  # fmt: skip


def _seed(store: Store) -> None:
    xbox = _conversation(store, "a@example.com", "xbox-support")
    billing = _conversation(store, "b@example.com", "billing-refunds")
    # xbox: one sent unchanged, one edited completely, one content-filtered, one stopped, one discarded
    store.approve_draft(
        _ai(store, xbox, "Update the firmware.", "xbox-support"), "Update the firmware.", "priya"
    )
    store.approve_draft(_ai(store, xbox, "abc", "xbox-support"), "xyz", "marcus")
    _ai(store, xbox, "", "xbox-support", finish_reason="content_filter", error_kind=ErrorKind.CONTENT_FILTER)
    _ai(store, xbox, "partial", "xbox-support", error=STOPPED_NOTE, error_kind=ErrorKind.STOPPED)
    store.discard_draft(_ai(store, xbox, "not this", "xbox-support"))
    # billing: one refused by the model, one failed with a provider error, one edited a little
    _ai(store, billing, "I can't help with that.", "billing-refunds", error=REFUSAL_NOTE,
        error_kind=ErrorKind.REFUSED)  # fmt: skip
    _ai(store, billing, "", "billing-refunds", error="The model server failed (HTTP 500): try again.",
        error_kind=ErrorKind.SERVER)  # fmt: skip
    store.approve_draft(_ai(store, billing, "Refund sent.", "billing-refunds"), "Refund sent today.", "priya")
    # a hand-written reply is not an AI draft
    hand = store.save_draft(billing, text="Hand-written")
    store.approve_draft(hand, "Hand-written reply", "marcus")


def test_stats_per_persona(store: Store) -> None:
    _seed(store)
    rows = {r.key: r for r in store.stats().by_persona}
    xbox, billing = rows["xbox-support"], rows["billing-refunds"]
    assert (xbox.drafts, xbox.sent, xbox.unchanged, xbox.content_filtered, xbox.errors) == (5, 2, 1, 1, 0)
    assert xbox.acceptance == 0.5
    assert xbox.edit_rate == pytest.approx((0.0 + 1.0) / 2)
    assert (billing.drafts, billing.sent, billing.unchanged, billing.content_filtered, billing.errors) == (
        3, 1, 0, 1, 1,
    )  # fmt: skip
    assert billing.acceptance == 0.0
    assert 0 < (billing.edit_rate or 0) < 0.5


def test_stats_per_agent_count_only_what_they_sent(store: Store) -> None:
    _seed(store)
    rows = {r.key: r for r in store.stats().by_agent}
    assert set(rows) == {"priya", "marcus"}  # marcus's hand-written reply is not AI-assisted
    assert (rows["priya"].sent, rows["priya"].unchanged, rows["priya"].drafts) == (2, 1, None)
    assert (rows["marcus"].sent, rows["marcus"].edit_rate) == (1, 1.0)


def test_stats_period(store: Store) -> None:
    _seed(store)
    future = datetime.now(UTC) + timedelta(days=1)
    empty = store.stats(since=future)
    assert empty.by_persona == []
    assert empty.by_agent == []
    assert sum(r.drafts or 0 for r in store.stats(until=future).by_persona) == 8


def test_edit_distance_and_word_diff() -> None:
    assert edit_distance("same", "same") == 0.0
    assert edit_distance("abc", "xyz") == 1.0
    assert edit_distance("", "new") == 1.0
    assert 0 < edit_distance("Refund sent.", "Refund sent today.") < 0.5
    original, sent = "Please restart the console now.", "Please power-cycle the console today."
    ops = diff_words(original, sent)
    assert "".join(t for op, t in ops if op != "delete") == sent
    assert "".join(t for op, t in ops if op != "insert").split() == original.split()
    assert ("delete", "restart ") in ops
    assert ("insert", "power-cycle ") in ops
    end = diff_words("Give them the ARN 123.", "Give them the ARN 123. Thanks!")
    assert end == [("equal", "Give them the ARN 123. "), ("insert", "Thanks!")]
    replaced = diff_words("The problem persists.", "The problem firmware 2.1 fixes it.")
    assert replaced[1:] == [
        ("delete", "persists. "),
        ("insert", "firmware 2.1 fixes it."),
    ]  # not "persists.firmware"
    assert "".join(t for op, t in replaced if op != "delete") == "The problem firmware 2.1 fixes it."
    cut = diff_words("Best regards. Owen, sorry.", "Best regards.")
    assert cut == [("equal", "Best regards."), ("delete", " Owen, sorry.")]  # not "regards.Owen"
    long = "word " * 5000
    assert edit_distance(long, long + "x") < 0.01  # capped inputs stay cheap and sensible


def test_list_conversations_orders_filters_and_pages(store: Store) -> None:
    base = datetime(2026, 1, 1, tzinfo=UTC)
    ids = []
    for i in range(7):
        customer = store.add_customer(f"C{i}", f"c{i}@example.com")
        assert customer.id is not None
        conversation = store.current_conversation(customer.id, "tech-support" if i % 2 else "xbox-support")
        assert conversation.id is not None
        store.add_message(conversation.id, "customer", f"message {i}", created_at=base + timedelta(days=i))
        ids.append(conversation.id)
    store.set_status(ids[3], "resolved")
    rows = store.list_conversations(limit=3)
    assert [r.conversation_id for r in rows] == [ids[6], ids[5], ids[4]]
    assert rows[0].preview == "message 6"
    assert rows[0].messages == 1
    assert rows[0].customer_email == "c6@example.com"
    assert [r.conversation_id for r in store.list_conversations(offset=3, limit=3)] == [
        ids[3],
        ids[2],
        ids[1],
    ]
    assert store.count_conversations(LogFilters(persona="tech-support")) == 3
    assert [r.conversation_id for r in store.list_conversations(LogFilters(status="resolved"))] == [ids[3]]
    window = LogFilters(since=base + timedelta(days=2), until=base + timedelta(days=4))
    assert [r.conversation_id for r in store.list_conversations(window)] == [ids[3], ids[2]]
    assert [r.conversation_id for r in store.list_conversations(LogFilters(customer="C5"))] == [ids[5]]
    assert store.list_conversations(LogFilters(customer="%")) == []  # wildcards are literal


def test_list_uses_the_activity_index(store: Store) -> None:
    from support_console.store.conversation_list import ACTIVITY_INDEX

    statement = (
        "SELECT id FROM conversations ORDER BY coalesce(last_activity, created_at) DESC, id DESC LIMIT 50"
    )
    assert plan_walks_index(store, statement, {}, ACTIVITY_INDEX)


def test_cli_stats(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "cli.db"
    config = tmp_path / "config.toml"
    config.write_text("", encoding="utf-8")
    seeded = Store.open(f"sqlite:///{db}")
    _seed(seeded)
    seeded.close()
    assert main(["--db", str(db), "--config", str(config), "stats"]) == 0
    out = capsys.readouterr().out
    xbox = next(line for line in out.splitlines() if line.startswith("xbox-support"))
    assert xbox.split()[:6] == ["xbox-support", "5", "5", "2", "1", "50%"]  # drafts, generations, sent, …
    assert main(["--db", str(db), "--config", str(config), "stats", "--json", "--since", "1d"]) == 0
    assert '"key": "xbox-support"' in capsys.readouterr().out


# ---- the stored error kind ---------------------------------------------------------------------------------


def _kinds(store: Store) -> dict[str, str | None]:
    with store.engine.connect() as conn:
        return dict(conn.exec_driver_sql("SELECT text, error_kind FROM messages WHERE role = 'agent'").all())


def test_stats_count_by_the_stored_kind_never_by_the_wording(store: Store) -> None:
    conversation = _conversation(store, "k@example.com", "tech-support")
    _ai(store, conversation, "a", "tech-support", error="Blocked by the content filter of the proxy",
        error_kind=ErrorKind.SERVER)  # fmt: skip
    _ai(store, conversation, "b", "tech-support", error="Der Inhaltsfilter hat blockiert",
        error_kind=ErrorKind.CONTENT_FILTER)  # fmt: skip
    _ai(store, conversation, "c", "tech-support", error="no kind given")  # recorded as unknown
    _ai(store, conversation, "d", "tech-support", error=REFUSAL_NOTE)  # the note alone is not the kind
    [row] = store.stats().by_persona
    assert (row.drafts, row.content_filtered, row.errors) == (4, 1, 3)
    assert _kinds(store) == {"a": "server", "b": "content_filter", "c": "unknown", "d": "unknown"}


def test_an_update_without_a_kind_keeps_the_stored_one(store: Store) -> None:
    conversation = _conversation(store, "u@example.com", "tech-support")
    draft = _ai(
        store, conversation, "partial", "tech-support", error=STOPPED_NOTE, error_kind=ErrorKind.STOPPED
    )
    store.save_draft(conversation, draft_id=draft, text="partial, edited by hand")
    assert _kinds(store) == {"partial, edited by hand": "stopped"}


def _legacy_reply(conn: object, conversation: int, text: str, finish: str | None, error: str | None) -> None:
    import sqlalchemy as sa

    assert isinstance(conn, sa.Connection)
    at = "2026-10-01 10:00:00.000000"
    conn.exec_driver_sql(
        "INSERT INTO messages (conversation_id, role, state, text, original_text, persona_id, model, "
        "finish_reason, error, created_at, updated_at) VALUES (?, 'agent', 'draft', ?, ?, 'xbox-support', "
        "'gpt-4o', ?, ?, ?, ?)",
        (conversation, text, text, finish, error, at, at),
    )


def test_upgrading_backfills_the_kind_so_the_stats_stay_the_same(tmp_path: Path) -> None:
    """Version 7 databases kept only the wording: the backfill applies the rules the stats used then."""
    from support_console.store.engine import create_engine
    from support_console.store.migrations import MIGRATIONS, migrate

    url = f"sqlite:///{tmp_path / 'v7.db'}"
    engine = create_engine(url)
    migrate(engine, MIGRATIONS[:7])
    at = "2026-10-01 10:00:00.000000"
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO customers (name, email, attributes, created_at, open_conversations, unread) "
            "VALUES ('Ann', 'ann@example.com', '{}', ?, 0, 0)",
            (at,),
        )
        conn.exec_driver_sql(
            "INSERT INTO conversations (customer_id, status, persona_id, created_at, updated_at, "
            "unread_count) VALUES (1, 'open', 'xbox-support', ?, ?, 0)",
            (at, at),
        )
        _legacy_reply(conn, 1, "filtered by finish", "content_filter", None)
        _legacy_reply(
            conn, 1, "filtered by wording", None, "The provider's content filter stopped the reply."
        )
        _legacy_reply(conn, 1, "filtered, code", None, "error code content_filter")
        _legacy_reply(conn, 1, "refused", "stop", REFUSAL_NOTE)
        _legacy_reply(conn, 1, "stopped", None, STOPPED_NOTE)
        _legacy_reply(conn, 1, "failed", None, "The model server failed (HTTP 500): try again.")
        _legacy_reply(conn, 1, "fine", "stop", None)
    engine.dispose()
    store = Store.open(url)
    try:
        [row] = store.stats().by_persona
        assert (row.key, row.drafts, row.content_filtered, row.errors) == ("xbox-support", 7, 4, 1)
        assert _kinds(store) == {
            "filtered by finish": "content_filter", "filtered by wording": "content_filter",
            "filtered, code": "content_filter", "refused": "refused", "stopped": "stopped",
            "failed": "unknown", "fine": None,
        }  # fmt: skip
    finally:
        store.close()


async def test_the_drafter_stores_the_kind_of_each_failure(tmp_path: Path, wire_server: WireServer) -> None:
    from contextlib import aclosing

    from support_console.llm import LLMError
    from support_console.workflows.drafting import Drafter
    from support_console.workflows.services import build_services
    from tests.ui_helpers import seed_customer, ui_settings

    services = build_services(ui_settings(tmp_path, wire_server))
    try:
        _customer, conversation = seed_customer(services, messages=("My router is broken.",))
        prepared = Drafter(services).prepare(conversation, "tech-support")
        wire_server.enqueue(
            stream_text("The filter cut this", finish_reason="content_filter"),
            stream_text("", refusal="I can't help with that."),
            error(400, {"error": {"message": "Unsupported parameter"}}),
            stream_text(
                "Restart the router, then wait.",
                chunks=["Restart ", "the router, ", "then wait."],
                delay=0.05,
            ),
        )
        with pytest.raises(LLMError):
            async for _event in Drafter(services).stream(prepared):
                pass
        async for _event in Drafter(services).stream(prepared):
            pass
        with pytest.raises(LLMError):
            async for _event in Drafter(services).stream(prepared):
                pass
        async with aclosing(Drafter(services).stream(prepared)) as events:
            async for _event in events:
                break  # the agent stops after the first words
        with services.store.engine.connect() as conn:
            kinds = (
                conn.exec_driver_sql("SELECT error_kind FROM messages WHERE role = 'agent' ORDER BY id")
                .scalars()
                .all()
            )
        assert kinds == ["content_filter", "refused", "bad_request", "stopped"]
        [row] = services.store.stats().by_persona
        assert (row.drafts, row.content_filtered, row.errors) == (4, 2, 1)
    finally:
        services.close()


def test_the_logs_preview_and_count_are_never_an_unsent_draft(store: Store) -> None:
    """The logs' "latest message" and message count are what the conversation holds: a draft waiting for
    approval (or one the agent discarded) was never sent, so it must not read as the conversation's last word,
    nor count as one of its messages (the audit trail's count)."""
    customer = store.add_customer("Jordan Hale", "jordan@example.com")
    assert customer.id is not None
    conversation = store.current_conversation(customer.id, "xbox-support")
    assert conversation.id is not None
    store.add_message(conversation.id, "customer", "DNS isn't resolving Xbox server names")
    draft = "Your refund is on its way."
    store.save_draft(conversation.id, text=draft, original_text=draft)
    [row] = store.list_conversations(LogFilters(customer="Jordan"))
    assert row.preview == "DNS isn't resolving Xbox server names"
    assert row.messages == len(store.audit_conversation(conversation.id).messages) == 1  # nor counted
