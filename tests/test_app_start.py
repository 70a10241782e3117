"""The console's start: its first frame needs no SQLAlchemy (the customer list is read from the SQLite file
with the standard library) and the store opens in a thread right after. Real files, real subprocesses."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from textual.widgets import OptionList

from support_console.config.settings import Settings
from support_console.core.urls import sqlite_url
from support_console.store import STATUS_RESOLVED, Store
from support_console.store.customers import record_of
from support_console.store.first_page import read_first_conversation, read_first_queue
from support_console.store.queue_rows import VIEW_ALL
from support_console.ui.app import SupportConsoleApp, create_app
from support_console.workflows.services import Services, build_services
from tests.ui_helpers import (
    console,
    listed,
    open_first_customer,
    screen_text,
    seed_customer,
    ui_settings,
    wait_for,
)
from tests.wire_server import WireServer

ROOT = Path(__file__).resolve().parents[1]


def _varied_store(path: Path) -> Store:
    """Customers in every state the list orders by: open with unread, resolved, none, with attributes."""
    store = Store.open(sqlite_url(path))
    t0 = datetime(2026, 2, 1, 9, 0, tzinfo=UTC)
    store.add_customer("Quiet [bold]", "quiet@example.com", attributes={"tier": "gold", "since": "2019"})
    for i, email in enumerate(("a@example.com", "b@example.com", "c@example.com")):
        customer = store.add_customer(f"Customer {i}", email, external_id=f"crm-{i}")
        assert customer.id is not None
        conversation = store.current_conversation(customer.id)
        assert conversation.id is not None
        for j in range(i + 1):
            store.add_message(
                conversation.id, "customer", f"m{j}", created_at=t0 + timedelta(hours=i, minutes=j)
            )
        if i == 1:
            store.set_status(conversation.id, STATUS_RESOLVED)
    return store


def _seed_jane(settings: Settings, *messages: str) -> None:
    """The console's database with one customer, Jane, her messages in an open conversation."""
    seeded = build_services(settings)
    try:
        seed_customer(seeded, "Jane Doe", "jane@example.com", messages)
    finally:
        seeded.close()


def test_the_customer_list_puts_customers_with_open_conversations_first(tmp_path: Path) -> None:
    store = _varied_store(tmp_path / "list.db")
    try:
        listed = store.list_customers("", limit=10)
        assert [s.customer.email for s in listed][:2] == ["c@example.com", "a@example.com"]  # open first
        assert store.list_customers("", limit=2) == listed[:2]
    finally:
        store.close()


def test_first_page_declines_what_it_cannot_read_so_the_store_opens_instead(tmp_path: Path) -> None:
    assert read_first_queue(sqlite_url(tmp_path / "missing.db"), VIEW_ALL, 10) is None
    assert read_first_queue("sqlite://", VIEW_ALL, 10) is None
    assert read_first_queue("postgresql://u:p@localhost/db", VIEW_ALL, 10) is None
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE notes (x)")
    conn.close()
    assert read_first_queue(sqlite_url(other), VIEW_ALL, 10) is None
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"not a database at all" * 100)
    assert read_first_queue(sqlite_url(garbage), VIEW_ALL, 10) is None


def test_starting_the_console_imports_no_sqlalchemy_before_its_first_frame() -> None:
    code = (
        "import sys; import support_console.cli.main, support_console.ui.app, "
        "support_console.ui.screens.main; "
        "print(sorted(m for m in ('sqlalchemy', 'sqlmodel', 'pydantic', 'openai') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_starting_the_console_leaves_the_rewrite_and_macro_screens_for_their_first_use() -> None:
    """The first frame and the first open need none of them (about 20 ms of imports at each start): they
    load when their key is first pressed (test_app_rewrite.py and test_app_macros.py press it)."""
    later = (
        "rapidfuzz",
        "support_console.core.text_diff",
        "support_console.ui.screens.audit",
        "support_console.ui.screens.macro_picker",
        "support_console.ui.screens.rewrite_picker",
        "support_console.ui.screens.rewrite_preview",
        "support_console.workflows.canned",
        "support_console.workflows.rewrite_session",
    )
    code = (
        "import sys; import support_console.cli.main, support_console.ui.app; "
        f"print(sorted(m for m in {later!r} if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_building_the_console_keeps_what_was_imported_out_of_the_collectors_passes(tmp_path: Path) -> None:
    """create_app freezes the objects the imports made (they live as long as the process), so building the
    first screen sets off no full pass over them; the store's and the SDK's are frozen later."""
    code = (
        "import gc, sys; import support_console.cli.main, support_console.ui.app as ui; "
        "from support_console.config.settings import CliOverrides, load_settings; "
        f"s = load_settings(CliOverrides(db={str(tmp_path / 'c.db')!r}), env={{}}); "
        "before = gc.get_freeze_count(); ui.create_app(s); print(before, gc.get_freeze_count())"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    before, after = (int(n) for n in out.stdout.split())
    assert before == 0
    assert after > 20_000  # Textual's and our modules' functions, classes, dicts (about 40,000)


async def test_first_frame_lists_customers_from_the_file_then_the_store_opens_behind_it(
    tmp_path: Path, wire_server: WireServer
) -> None:
    settings = ui_settings(tmp_path, wire_server)
    _seed_jane(settings, "My console will not start.")

    services = build_services(settings, open_store=False)
    assert not services.store_is_open
    app = create_app(settings, services)
    try:
        async with console(app, (120, 40)) as pilot:
            main = app.main_screen
            assert main is not None
            await wait_for(pilot, lambda: bool(main.customers.customer_ids), what="the customer list")
            await wait_for(pilot, lambda: services.store_is_open, what="the store to open")
            main = await open_first_customer(pilot, app)
            assert main.customer is not None
            assert main.customer.email == "jane@example.com"
            await pilot.pause()
            assert "My console will not start." in screen_text(app)
    finally:
        await services.aclose()


async def test_a_database_the_store_refuses_ends_the_console_with_its_error(tmp_path: Path) -> None:
    settings = ui_settings(tmp_path, None)
    _seed_jane(settings)
    db = tmp_path / "console.db"
    with sqlite3.connect(db) as conn:  # as if a newer support-console had migrated it
        conn.execute("INSERT INTO schema_version (version) VALUES (999)")
    conn.close()

    services = build_services(settings, open_store=False)
    app = create_app(settings, services)
    try:
        async with console(app, (120, 40)) as pilot:
            await wait_for(pilot, lambda: app.return_code is not None, what="the console to stop")
        assert app.return_code == 1
        assert not services.store_is_open
    finally:
        await services.aclose()


def test_first_conversation_reads_exactly_what_the_store_answers(tmp_path: Path) -> None:
    """Opening a customer before the store is open (the file read with the standard library) shows the same
    conversation, page, count and draft as the Store would."""
    db = tmp_path / "open.db"
    store = _varied_store(db)
    try:
        jane = store.add_customer("Jane Ünïcode", "jane@example.com", attributes={"tier": "gold"})
        assert jane.id is not None
        old = store.current_conversation(jane.id)
        assert old.id is not None
        store.set_status(old.id, STATUS_RESOLVED)
        conversation = store.current_conversation(jane.id, "billing-refunds")
        assert conversation.id is not None
        for i in range(7):
            store.add_message(conversation.id, "customer", f"question {i}")
        store.add_message(conversation.id, "note", "a note")
        discarded = store.save_draft(conversation.id, text="thrown away")
        store.discard_draft(discarded)
        sent = store.save_draft(
            conversation.id, text="model text", original_text="model text", model="gpt-4o"
        )
        store.approve_draft(sent, "sent text", "alice")
        draft = store.save_draft(
            conversation.id, text="edited", original_text="raw", persona_id="xbox-support"
        )

        first = read_first_conversation(sqlite_url(db), jane.id, 5)
        assert first is not None
        assert first.customer == record_of(store.get_customer(jane.id))
        found = store.open_conversation(jane.id)
        assert found is not None
        assert first.conversation is not None
        assert (first.conversation.id, first.conversation.status, first.conversation.persona_id) == (
            found.id,
            found.status,
            found.persona_id,
        )
        assert first.conversation.unread_count == found.unread_count
        fields = ["id", "role", "state", "text", "original_text", "persona_id", "model", "approved_by"]
        fields += ["approved_at", "created_at"]

        def values(messages: Sequence[object]) -> list[tuple[object, ...]]:
            return [tuple(getattr(m, f) for f in fields) for m in messages]

        assert values(first.page) == values(store.page_messages(conversation.id, None, 5))
        assert first.total == store.count_messages(conversation.id) == 10
        pending = store.pending_draft(conversation.id)
        assert pending is not None
        assert first.draft is not None
        assert values([first.draft]) == values([pending])
        assert first.draft.id == draft

        quiet = store.find_customer("quiet@example.com")
        assert quiet is not None
        assert quiet.id is not None
        nothing_open = read_first_conversation(sqlite_url(db), quiet.id, 5)
        assert nothing_open is not None
        assert (nothing_open.conversation, nothing_open.page, nothing_open.draft) == (None, [], None)
        assert read_first_conversation(sqlite_url(db), 999_999, 5) is None  # the Store says why, in words
        assert read_first_conversation(sqlite_url(tmp_path / "missing.db"), jane.id, 5) is None
    finally:
        store.close()


def _before_the_store(
    tmp_path: Path, wire_server: WireServer, *messages: str
) -> tuple[Services, SupportConsoleApp]:
    """Jane with ``messages``, and a console whose store opens behind its first frame, as at start."""
    settings = ui_settings(tmp_path, wire_server)
    _seed_jane(settings, *messages)
    services = build_services(settings, open_store=False)
    return services, create_app(settings, services)


async def test_a_customer_opened_while_the_store_opens_shows_at_once(
    tmp_path: Path, wire_server: WireServer
) -> None:
    services, app = _before_the_store(tmp_path, wire_server, "First words", "Second words")
    try:
        async with console(app, (120, 40)) as pilot:
            main = await listed(pilot, app)
            opened = await main.session.open(main.customers.customer_ids[0])
            assert [m.text for m in opened.page] == ["First words", "Second words"]
            assert main.session.customer is not None
            assert main.session.customer.email == "jane@example.com"
            await wait_for(pilot, lambda: services.store_is_open, what="the store to open")
            main = await open_first_customer(pilot, app)  # and again through the store, as the agent would
            assert "Second words" in screen_text(app)
    finally:
        await services.aclose()


async def test_a_waiting_customer_opened_before_the_store_is_marked_seen_once_it_is_open(
    tmp_path: Path, wire_server: WireServer
) -> None:
    """Opened from the file, the conversation is not marked seen at once (that would open the store, and
    import SQLAlchemy, while it is drawn) but as soon as the store is open; the queue is then read again."""
    services, app = _before_the_store(tmp_path, wire_server, "Are you there?", "Hello?")
    try:
        async with console(app, (120, 40)) as pilot:
            main = await listed(pilot, app)
            options = main.customers.query_one(OptionList)

            def jane_row() -> str:
                return str(options.get_option_at_index(0).prompt)

            assert "•Jane Doe" in jane_row()  # unread in the queue
            await pilot.press("enter")  # at once, as an agent who knows whom to answer
            await wait_for(pilot, lambda: main.conversation is not None, what="Jane's conversation")
            conversation = main.conversation
            assert conversation is not None
            assert conversation.id is not None
            assert conversation.unread_count == 2
            await wait_for(pilot, lambda: services.store_is_open, what="the store to open")
            store = services.store
            await wait_for(
                pilot, lambda: store.get_conversation(conversation.id).unread_count == 0, what="seen"
            )
            # The queue read again shows it seen (a count of the reads raced with the store opening
            # first on a loaded machine, whose open then marks it seen at once and reads the queue).
            await wait_for(pilot, lambda: "•Jane Doe" not in jane_row(), what="the queue read again")
            assert "Jane Doe" in jane_row()  # still listed, seen
            assert store.list_queue("needs_reply")[0].unread == 0
    finally:
        await services.aclose()
