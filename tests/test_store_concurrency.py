"""Many writers on one SQLite file at once: processes and threads lose nothing, no "database is locked".

The processes also race to create and migrate a brand-new file and to create one shared customer and its
conversation, then all write to that conversation, so the counters maintained on write (unread_count) would
come out wrong if a read-modify-write were not inside its BEGIN IMMEDIATE transaction.
"""

from __future__ import annotations

import multiprocessing
import threading
import traceback
from pathlib import Path

from support_console.core.errors import StoreError
from support_console.store import Store

PROCESSES = 4
THREADS = 6
ROUNDS = 20
SHARED_EMAIL = "shared@example.com"


def _work(store: Store, worker: str, shared_conversation: int | None) -> None:
    """One writer: its own customer and conversation, plus messages into the shared conversation."""
    customer = store.add_customer(f"Customer {worker}", f"{worker}@example.com")
    assert customer.id is not None
    conversation = store.current_conversation(customer.id)
    assert conversation.id is not None
    for i in range(ROUNDS):
        store.add_message(conversation.id, "customer", f"{worker} question {i}")
        text = f"{worker} answer"
        draft_id = store.save_draft(conversation.id, text=text, original_text=text)
        store.save_draft(conversation.id, draft_id=draft_id, text=f"{worker} answer {i}")
        store.approve_draft(draft_id, f"{worker} answer {i}.", worker)
        if shared_conversation is not None:
            store.add_message(shared_conversation, "customer", f"{worker} shared {i}")
        store.list_customers()
        if i % 5 == 4:  # read histories while the others write (counts are computed and stored meanwhile)
            if shared_conversation is not None:
                _check_history(store, shared_conversation)
            mine = [item.text for item in store.history_newest_first(conversation.id, "o200k_base")]
            assert mine[:2] == [f"{worker} answer {i}.", f"{worker} question {i}"]
            assert len(mine) == 2 * (i + 1)


def _check_history(store: Store, conversation_id: int) -> None:
    """A history read while others write is one consistent view: its length is what iterating it yields."""
    history = store.history_newest_first(conversation_id, "o200k_base")
    items = list(history)
    assert len(items) == len(history)
    ids = [item.message_id or 0 for item in items]
    assert ids == sorted(ids, reverse=True)
    assert all(item.tokens > 0 for item in items)


def _process_main(url: str, worker: str, start: object, errors: object) -> None:
    """Entry point of a writer process; reports any exception text on the errors queue."""
    try:
        start.wait()  # type: ignore[attr-defined]
        store = Store.open(url)  # all processes create and migrate the new file at once
        try:
            try:
                store.add_customer("Shared", SHARED_EMAIL)  # all race; exactly one wins
            except StoreError as exc:
                if "already exists" not in str(exc):
                    raise
            found = store.find_customer(SHARED_EMAIL)
            assert found is not None
            assert found.id is not None
            _work(store, worker, store.current_conversation(found.id).id)  # all must get the same one
        finally:
            store.close()
    except BaseException:
        errors.put(f"{worker}: {traceback.format_exc()}")  # type: ignore[attr-defined]
        raise


def _totals(store: Store) -> dict[str, int]:
    with store.engine.connect() as conn:
        rows = conn.exec_driver_sql("SELECT state, count(*) FROM messages GROUP BY state").all()
    return {state: n for state, n in rows}


def test_processes_racing_on_one_new_file_lose_nothing(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fresh' / 'shared.db'}"
    ctx = multiprocessing.get_context("spawn")
    start, errors = ctx.Event(), ctx.Queue()
    procs = [ctx.Process(target=_process_main, args=(url, f"p{n}", start, errors)) for n in range(PROCESSES)]
    for proc in procs:
        proc.start()
    start.set()
    for proc in procs:
        proc.join(timeout=60)
    reported = []
    while not errors.empty():
        reported.append(errors.get())
    assert reported == []
    assert [proc.exitcode for proc in procs] == [0] * PROCESSES

    store = Store.open(url)
    try:
        with store.engine.connect() as conn:
            versions = conn.exec_driver_sql("SELECT version FROM schema_version ORDER BY 1").scalars().all()
            shared_conversations = (
                conn.exec_driver_sql(
                    "SELECT c.id FROM conversations c JOIN customers k ON k.id = c.customer_id "
                    "WHERE k.email = ?",
                    (SHARED_EMAIL,),
                )
                .scalars()
                .all()
            )
        assert versions == list(range(1, len(versions) + 1))  # each migration ran exactly once
        assert len(shared_conversations) == 1  # current_conversation is atomic across processes
        shared_id = shared_conversations[0]
        assert _totals(store) == {"received": PROCESSES * ROUNDS * 2, "sent": PROCESSES * ROUNDS}
        assert store.get_conversation(shared_id).unread_count == PROCESSES * ROUNDS
        assert store.count_messages(shared_id) == PROCESSES * ROUNDS
        assert len(store.list_customers()) == PROCESSES + 1
    finally:
        store.close()


def test_threads_sharing_one_store_lose_nothing(tmp_path: Path) -> None:
    store = Store.open(f"sqlite:///{tmp_path / 'threads.db'}")
    try:
        shared_customer = store.add_customer("Shared", "shared@example.com")
        assert shared_customer.id is not None
        shared = store.current_conversation(shared_customer.id)
        assert shared.id is not None
        failures: list[str] = []
        barrier = threading.Barrier(THREADS)

        def run(worker: str) -> None:
            try:
                barrier.wait()
                _work(store, worker, shared.id)
            except BaseException:
                failures.append(traceback.format_exc())

        threads = [threading.Thread(target=run, args=(f"t{n}",)) for n in range(THREADS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert failures == []
        assert _totals(store) == {"received": THREADS * ROUNDS * 2, "sent": THREADS * ROUNDS}
        assert store.get_conversation(shared.id).unread_count == THREADS * ROUNDS
    finally:
        store.close()
