"""Team mode in the store, on real SQLite files: who did what (events), assignment and take next (several
processes at once: each conversation claimed exactly once), the mine and unassigned views, the send-time
guard with two Stores on one file, the change feed, presence and its expiry, and the version 14 upgrade."""

from __future__ import annotations

import json
import multiprocessing
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from support_console.core.clock import utcnow
from support_console.core.errors import ConversationChanged, NotFoundError, StoreError
from support_console.store import Store, WriteLockBusy
from support_console.store.engine import create_engine
from support_console.store.live import PRESENCE_EXPIRES, ChangeFeed
from support_console.store.migrations import MIGRATIONS, current_version, migrate
from support_console.store.tables import PRESENCE
from support_console.workflows.importer import import_file


@pytest.fixture
def url(db_url: str) -> str:
    """Each test runs on an SQLite file and on a real PostgreSQL database (conftest's ``db_url``)."""
    return db_url


def waiting(store: Store, name: str) -> int:
    """A customer with an open conversation whose customer message waits for a reply."""
    customer = store.add_customer(name, f"{name.lower()}@example.com")
    assert customer.id is not None
    conversation = store.current_conversation(customer.id)
    assert conversation.id is not None
    store.add_message(conversation.id, "customer", f"Hello from {name}")
    return conversation.id


def test_notes_statuses_and_assignments_record_who_did_them(store: Store) -> None:
    cid = waiting(store, "Ann")
    store.add_message(cid, "note", "Called her back", agent="kim")
    store.set_status(cid, "pending", agent="kim")
    store.assign(cid, "lee", by="kim")
    store.release(cid, by="lee")
    store.approve_draft(store.save_draft(cid, text="Done."), "Done.", "lee")
    got = [(e.kind, e.agent, e.detail) for e in store.events(cid)]
    assert got[0][:2] == ("customer", None)
    assert got[1][:2] == ("note", "kim")
    assert got[2:5] == [("status", "kim", "pending"), ("assigned", "kim", "lee"), ("released", "lee", "")]
    assert got[5][:2] == ("sent", "lee")
    store.set_status(cid, "pending", agent="kim")  # already pending: nothing changed, nothing recorded
    assert len(store.events(cid)) == 6


def test_an_assignment_uses_the_spelling_the_agent_works_under(store: Store) -> None:
    first, second = waiting(store, "Ann"), waiting(store, "Bob")
    assert store.take_next("Élise") is not None  # her own spelling, from her console
    store.heartbeat("console-2", "lee", None, "viewing")
    assert store.agent_names() == ["lee", "Élise"]  # by folded name
    assert store.assign(second, " ÉLISE ", by="lee") == "Élise"
    assert store.assign(first, "LEE", by="Élise") == "lee"
    assert [r.conversation_id for r in store.list_queue("mine", agent="lee")] == [first]
    assert store.assign(first, "Newcomer", by="lee") == "Newcomer"  # not known yet: as typed
    assert store.agent_names() == ["lee", "Newcomer", "Élise"]
    store.add_message(first, "note", "signed as LEE", agent="LEE")  # a newer spelling of her name
    assert store.agent_names() == ["LEE", "Newcomer", "Élise"]


def test_take_next_claims_the_longest_waiting_unassigned_conversation(store: Store) -> None:
    first, second, third = waiting(store, "Ann"), waiting(store, "Bob"), waiting(store, "Cid")
    store.assign(first, "lee", by="lee")
    assert [r.conversation_id for r in store.list_queue("unassigned")] == [second, third]
    taken = store.take_next("kim")
    assert taken is not None
    assert (taken.conversation_id, taken.assignee) == (second, "kim")
    assert [r.conversation_id for r in store.list_queue("mine", agent="kim")] == [second]
    assert [r.conversation_id for r in store.list_queue("mine", agent="lee")] == [first]
    assert [r.conversation_id for r in store.list_queue("unassigned")] == [third]
    took = store.take_next("kim")
    assert took is not None
    assert took.conversation_id == third
    assert store.take_next("kim") is None
    store.release(second, by="kim")
    again = store.take_next("lee")
    assert again is not None
    assert again.conversation_id == second
    with pytest.raises(StoreError, match="agent's name"):
        store.take_next("  ")


def test_next_waiting_leaves_another_agents_conversations_to_them(store: Store) -> None:
    first, second, third = waiting(store, "Ann"), waiting(store, "Bob"), waiting(store, "Cid")
    store.assign(first, "kim", by="kim")

    def next_for(agent: str | None, skip: int | None = None) -> int | None:
        row = store.next_waiting(skip, agent)
        return None if row is None else row.conversation_id

    assert next_for("kim") == first  # hers, and the longest waiting
    assert next_for("lee") == second  # kim's is left to her
    assert next_for("lee", skip=second) == third
    assert next_for(None) == first  # no agent name: every conversation, as before
    store.assign(second, "kim", by="kim")
    store.assign(third, "kim", by="kim")
    assert next_for("lee") is None


def _take_all(url: str, agent: str, start: multiprocessing.synchronize.Event) -> list[int]:
    """One agent's process: wait for the start, then take next until nothing is left."""
    store = Store.open(url)
    try:
        start.wait()
        taken: list[int] = []
        while (row := store.take_next(agent)) is not None:
            taken.append(row.conversation_id)
        return taken
    finally:
        store.close()


def claim_concurrently(url: str, agents: int) -> list[list[int]]:
    """``agents`` processes pressing take next at the same moment on one database."""
    context = multiprocessing.get_context("spawn")
    with context.Manager() as manager:
        start = manager.Event()
        with context.Pool(agents) as pool:
            jobs = [pool.apply_async(_take_all, (url, f"agent{i}", start)) for i in range(agents)]
            start.set()
            return [job.get(timeout=120) for job in jobs]


def test_agents_in_separate_processes_never_claim_one_conversation_twice(store: Store, url: str) -> None:
    conversations = [waiting(store, f"C{i}") for i in range(40)]
    claimed = claim_concurrently(url, 4)
    every = [cid for batch in claimed for cid in batch]
    assert sorted(every) == sorted(conversations)  # every one claimed, none twice
    assignees = {r.conversation_id: r.assignee for r in store.list_queue("all", limit=100)}
    for i, batch in enumerate(claimed):
        assert all(assignees[cid] == f"agent{i}" for cid in batch)


def test_a_draft_written_before_a_new_customer_message_is_refused_until_reviewed(url: str) -> None:
    a, b = Store.open(url), Store.open(url)  # two consoles on one file
    try:
        cid = waiting(a, "Ann")
        draft = a.save_draft(cid, text="Your refund is on its way.")
        b.add_message(cid, "customer", "Actually I want an exchange, not a refund")
        with pytest.raises(ConversationChanged) as refused:
            a.approve_draft(draft, "Your refund is on its way.", "kim")
        assert "a new customer message" in str(refused.value)
        assert "exchange" in refused.value.changes[0]
        assert a.pending_draft(cid) is not None  # not sent, still a draft
        sent = a.approve_draft(draft, "Exchange it is.", "kim", reviewed_through=refused.value.through)
        assert sent.state == "sent"
    finally:
        a.close()
        b.close()


def test_a_reply_sent_after_messages_written_meanwhile_comes_after_them_and_answers_them(url: str) -> None:
    a, b = Store.open(url), Store.open(url)
    try:
        cid = waiting(a, "Ann")
        generation = a.start_generation(cid, draft_id=None, persona_id=None, model="m", parameters={})
        draft = a.save_draft(
            cid, text="Your refund is on its way.", model="m", generation_id=generation, final=True
        )
        b.add_message(cid, "note", "Called her: she wants an exchange")
        b.add_message(cid, "customer", "Actually I want an exchange, not a refund")
        with pytest.raises(ConversationChanged) as refused:
            a.approve_draft(draft, "Exchange it is.", "kim")
        sent = a.approve_draft(draft, "Exchange it is.", "kim", reviewed_through=refused.value.through)
        order = [(m.role, m.text) for m in a.page_messages(cid)]
        assert order[-3:] == [
            ("note", "Called her: she wants an exchange"),
            ("customer", "Actually I want an exchange, not a refund"),
            ("agent", "Exchange it is."),
        ]
        assert sent.id is not None
        assert sent.id > draft
        assert (sent.state, sent.approved_by) == ("sent", "kim")
        assert sent.original_text == "Your refund is on its way."
        conversation = b.get_conversation(cid)
        assert (conversation.waiting_since, conversation.unread_count) == (None, 0)
        (record,) = a.generations(cid)
        assert (record.message_id, record.draft_state) == (sent.id, "sent")
        with pytest.raises(NotFoundError, match=f"There is no draft {draft}: it may have been sent"):
            b.approve_draft(draft, "Exchange it is.", "kim")  # another console still holding the old number
    finally:
        a.close()
        b.close()


def test_a_reply_sent_with_nothing_written_meanwhile_keeps_its_id(store: Store) -> None:
    cid = waiting(store, "Ann")
    draft = store.save_draft(cid, text="On its way.", author="kim")
    store.save_draft(cid, text="Lee's own draft", author="lee")  # a newer draft is not a newer message
    assert store.approve_draft(draft, "On its way.", "kim").id == draft


def test_two_agents_answering_at_once_send_one_reply(url: str) -> None:
    a, b = Store.open(url), Store.open(url)
    try:
        cid = waiting(a, "Ann")
        mine = a.save_draft(cid, text="From Kim")
        theirs = b.save_draft(cid, text="From Lee")  # supersedes Kim's draft: one pending per conversation
        b.approve_draft(theirs, "From Lee", "lee")
        with pytest.raises(StoreError):
            a.approve_draft(mine, "From Kim", "kim")
        again = a.save_draft(cid, text="From Kim, later", basis_event_id=0)  # written before Lee's reply
        with pytest.raises(ConversationChanged, match="a reply sent by lee"):
            a.approve_draft(again, "From Kim, later", "kim")
    finally:
        a.close()
        b.close()


def test_the_change_feed_names_what_another_connection_changed(url: str) -> None:
    a, b = Store.open(url), Store.open(url)
    try:
        cid = waiting(a, "Ann")
        feed = ChangeFeed(b)
        try:
            assert feed.wait(0.3) is None  # nothing committed since the feed started
            a.add_message(cid, "note", "Looking into it", agent="kim")
            changes = feed.wait(3.0)
            assert changes is not None
            assert changes.conversation_ids == {cid}
            assert [e.kind for e in changes.events] == ["note"]
            a.take_next("kim")
            later = feed.wait(3.0)
            assert later is not None
            assert [e.kind for e in later.events] == ["assigned"]
        finally:
            feed.close()
    finally:
        a.close()
        b.close()


def test_an_import_into_a_conversation_is_a_change_the_guard_and_the_feed_see(
    url: str, tmp_path: Path
) -> None:
    """A file import that adds a customer message under an agent's draft refuses the draft as a customer
    message would, and other consoles' feeds name the conversation; new conversations refresh the lists."""
    base = {"email": "ann@example.com", "ticket": "T-7", "timestamp": "2026-10-01T10:00:00Z"}
    first, second = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    first.write_text(json.dumps({**base, "id": "1", "text": "Where is my order?"}) + "\n", encoding="utf-8")
    second.write_text(
        json.dumps({**base, "id": "2", "text": "Cancel it please"})
        + "\n"
        + json.dumps({**base, "ticket": "T-8", "id": "1", "text": "Another thing"})
        + "\n",
        encoding="utf-8",
    )
    a, b = Store.open(url), Store.open(url)
    try:
        import_file(a, first)
        (cid,) = [c.conversation_id for c in a.list_conversations()]
        draft = a.save_draft(cid, text="It ships today.")
        feed = ChangeFeed(b)
        try:
            assert import_file(b, second).added == 2
            changes = feed.wait(3.0)
            assert changes is not None
            assert cid in changes.conversation_ids
            assert changes.everything  # a new conversation: the lists are read again
        finally:
            feed.close()
        with pytest.raises(ConversationChanged, match=r"messages imported \(1 message\)"):
            a.approve_draft(draft, "It ships today.", "kim")
    finally:
        a.close()
        b.close()


def test_presence_shows_other_consoles_and_expires_a_crashed_one(store: Store) -> None:
    cid = waiting(store, "Ann")
    store.heartbeat("console-a", "Kim", cid, "drafting")
    store.heartbeat("console-b", "Lee", cid, "viewing")
    seen = store.present(cid, besides="console-b")
    assert [p.describe() for p in seen] == ["Kim is drafting a reply"]
    stale = utcnow() - timedelta(seconds=PRESENCE_EXPIRES + 1)
    with store.engine.begin() as conn:  # a console that crashed: its last beat, long ago
        conn.execute(PRESENCE.update().where(PRESENCE.c.console_id == "console-a").values(at=stale))
    assert store.present(cid, besides="console-b") == []
    store.heartbeat("console-b", "Lee", None, "viewing")  # anyone's next beat sweeps it
    with store.engine.connect() as conn:
        assert conn.execute(sa.select(PRESENCE.c.console_id)).scalars().all() == ["console-b"]
    store.leave("console-b")
    assert store.present(cid) == []


def test_a_heartbeat_never_waits_for_the_write_lock_and_on_postgresql_needs_none(
    store: Store, db_url: str
) -> None:
    """Another console is in the middle of a write (the write lock held). PostgreSQL: the beat goes through
    (it takes no write lock: a team's beats never queue its replies); SQLite, where no write can pass the
    lock: it is refused at once, never waited for."""
    cid = waiting(store, "Ann")
    other = Store.open(db_url)
    try:
        with other.engine.begin() as conn:  # the write lock, held until the block ends
            conn.execute(PRESENCE.delete().where(PRESENCE.c.console_id == "nobody"))
            if store.backend.name == "postgresql":
                store.heartbeat("console-a", "Kim", cid, "viewing")
                assert [p.agent for p in other.present(cid)] == ["Kim"]
            else:
                with pytest.raises(WriteLockBusy):
                    store.heartbeat("console-a", "Kim", cid, "viewing")
    finally:
        other.close()
    store.heartbeat("console-a", "Kim", cid, "drafting")  # the lock free again: both backends
    assert [p.describe() for p in store.present(cid)] == ["Kim is drafting a reply"]


def test_version_13_upgrades_an_existing_file_in_place(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = create_engine(url)
    before = len(MIGRATIONS) - 1
    assert migrate(engine, MIGRATIONS[:before]) == before
    with engine.begin() as conn:
        for statement in (
            "INSERT INTO customers (name, email, created_at, match_key, attributes, open_conversations, "
            "unread) VALUES ('A', 'a@x', '2026-01-01', 'a', '{}', 0, 0)",
            "INSERT INTO conversations (customer_id, status, created_at, updated_at, unread_count) "
            "VALUES (1, 'open', '2026-01-01', '2026-01-01', 0)",
            "INSERT INTO messages (conversation_id, role, state, text, created_at, updated_at) "
            "VALUES (1, 'agent', 'draft', 'Old draft', '2026-01-01', '2026-01-01')",
            "INSERT INTO messages (conversation_id, role, state, text, created_at, updated_at) "
            "VALUES (1, 'customer', 'received', 'Newer question', '2026-01-02', '2026-01-02')",
        ):
            conn.exec_driver_sql(statement)
    engine.dispose()
    store = Store.open(url)
    try:
        with store.engine.connect() as conn:
            assert current_version(conn) == len(MIGRATIONS)
        with pytest.raises(ConversationChanged, match="Newer question"):  # a draft without a basis
            store.approve_draft(1, "Old draft", "kim")
        store.assign(1, "kim", by="kim")
        assert [r.assignee for r in store.list_queue("mine", agent="kim")] == ["kim"]
    finally:
        store.close()


def test_two_agents_drafting_on_one_conversation_keep_their_own_drafts(store: Store) -> None:
    cid = waiting(store, "Ann")
    kims = store.save_draft(cid, text="Kim's", author="kim")
    lees = store.save_draft(cid, text="Lee's", author="lee")
    again = store.save_draft(cid, text="Kim's second", author="kim")  # supersedes Kim's first only
    assert store.get_message(kims).state == "discarded"
    assert store.get_message(lees).state == "draft"
    kim_draft, lee_draft = store.pending_draft(cid, "kim"), store.pending_draft(cid, "lee")
    assert kim_draft is not None
    assert lee_draft is not None
    assert (kim_draft.id, lee_draft.id) == (again, lees)


def test_a_feed_that_lost_its_connection_reads_what_it_missed(url: str) -> None:
    a, b = Store.open(url), Store.open(url)
    try:
        cid = waiting(a, "Ann")
        feed = ChangeFeed(b)
        try:
            assert feed.wait(0.1) is None
            feed.close()  # as after a lost connection: no signal is listening now
            a.set_status(cid, "pending", agent="kim")
            missed = feed.wait(0.1)  # reconnects, and reads first what was committed meanwhile
            assert missed is not None
            assert [(e.kind, e.detail) for e in missed.events] == [("status", "pending")]
        finally:
            feed.close()
    finally:
        a.close()
        b.close()


def test_marking_seen_is_an_event_other_consoles_follow_and_only_when_something_was_unseen(url: str) -> None:
    """Kim reading the conversation clears its unread mark for everyone: one ``seen`` event that another
    console's feed names. Lee's console, refreshed by it, marks it seen again: nothing new was unseen, so
    nothing is written (no event, no feed wake-up): no ping-pong between consoles."""
    a, b = Store.open(url), Store.open(url)
    try:
        cid = waiting(a, "Ann")
        assert b.queue_row(cid).unread == 1
        feed = ChangeFeed(b)
        try:
            a.mark_seen(cid, agent="kim")
            changes = feed.wait(3.0)
            assert changes is not None
            assert changes.conversation_ids == {cid}
            assert [(e.kind, e.agent) for e in changes.events] == [("seen", "kim")]
            assert b.queue_row(cid).unread == 0
            latest = b.latest_event_id()
            b.mark_seen(cid, agent="lee")  # what a refreshed console does: nothing new to see
            a.mark_seen(cid, agent="kim")
            assert b.latest_event_id() == latest
            assert feed.wait(0.3) is None
            a.add_message(cid, "note", "Called her", agent="kim")  # seen_id behind, but nothing unread
            a.add_message(cid, "customer", "Still there?")
            assert feed.wait(3.0) is not None
            b.mark_seen(cid, agent="lee")
            seen = [(e.kind, e.agent) for e in b.events(cid) if e.kind == "seen"]
            assert seen == [("seen", "kim"), ("seen", "lee")]
            assert a.queue_row(cid).unread == 0
        finally:
            feed.close()
    finally:
        a.close()
        b.close()


def test_a_draft_stays_approvable_after_another_agent_marks_the_conversation_seen(url: str) -> None:
    a, b = Store.open(url), Store.open(url)
    try:
        cid = waiting(a, "Ann")
        draft = b.save_draft(cid, text="It ships today.", author="lee")
        a.mark_seen(cid, agent="kim")  # reading changes nothing a reply answers
        assert [e.kind for e in a.events(cid)][-1] == "seen"
        sent = b.approve_draft(draft, "It ships today.", "lee")
        assert sent.state == "sent"
    finally:
        a.close()
        b.close()
