"""The logs screen and the audit view, driven with Pilot on a real SQLite file loaded from data/.

The shipped sample (data/sample_conversations.jsonl) is imported for real, so these tests also prove the
sample loads and that the screen shows what an agent would see. The screens read the store in thread
workers, so the tests wait for them (``logs_helpers.settle``) where they used to take one pause.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from rich.text import Text
from textual.widgets import DataTable, Input, Select, Static

from support_console.store import LogFilters
from support_console.ui.screens.audit import AuditScreen
from support_console.ui.screens.logs import LogsScreen
from support_console.ui.screens.stats import StatsScreen
from support_console.ui.widgets.logs_tables import PAGE_SIZE, ConversationTable, HitsTable
from support_console.workflows.importer import import_file
from support_console.workflows.services import Services, build_services
from tests.logs_helpers import Host, open_ellens_edited_reply, settle
from tests.ui_helpers import ui_settings
from tests.wire_server import WireServer

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample_conversations.jsonl"


@pytest.fixture
def services(tmp_path: Path) -> Iterator[Services]:
    services = build_services(ui_settings(tmp_path, None))
    report = import_file(services.store, SAMPLE)
    assert report.ok, report.errors
    try:
        yield services
    finally:
        services.close()


def _text(static: Static) -> str:
    content = static.content
    return content.plain if isinstance(content, Text) else str(content)


async def test_lists_every_conversation_newest_first_and_shows_stats(services: Services) -> None:
    async with Host(services).run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        table = pilot.app.screen.query_one(ConversationTable)
        assert table.row_count == 36 == table.total
        first = table.get_row_at(0)
        assert "Isabel Costa" in str(first[1])  # the ticket with the latest activity (2026-11-10)
        stamps = [str(table.get_row_at(i)[0]) for i in range(table.row_count)]
        assert stamps == sorted(stamps, reverse=True)
        assert "36 conversations" in _text(pilot.app.screen.query_one("#logs-status", Static))
        await pilot.press("s")  # agent-assist stats for the period
        await settle(pilot)
        modal = pilot.app.screen
        assert isinstance(modal, StatsScreen)
        personas = [str(modal.query_one("#stats-persona", DataTable).get_row_at(i)[0]) for i in range(3)]
        assert personas == ["billing-refunds", "tech-support", "xbox-support"]
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(pilot.app.screen, LogsScreen)


async def test_filters_by_status_customer_and_dates(services: Services) -> None:
    host = Host(services)
    async with host.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        screen = pilot.app.screen
        assert isinstance(screen, LogsScreen)
        table = screen.query_one(ConversationTable)
        screen.query_one("#filter-status", Select).value = "resolved"
        await settle(pilot)
        resolved = services.store.count_conversations(LogFilters(status="resolved"))
        assert 0 < table.row_count == resolved < 36
        assert all(str(table.get_row_at(i)[2]) == "resolved" for i in range(table.row_count))
        screen.query_one("#filter-customer", Input).focus()
        await pilot.press(*"jordan", "enter")
        await settle(pilot)
        assert table.row_count == 1  # Jordan's first ticket is resolved, the second is open
        assert "Jordan Hale" in str(table.get_row_at(0)[1])
        screen.query_one("#filter-customer", Input).value = ""
        screen.query_one("#filter-status", Select).clear()
        await settle(pilot)
        screen.query_one("#filter-since", Input).focus()
        await pilot.press(*"last week", "enter")
        await settle(pilot)
        assert any("YYYY-MM-DD" in message for _severity, message in host.notices)
        assert screen.query_one(ConversationTable).row_count == 36  # the list is unchanged
        screen.query_one("#filter-since", Input).value = "2026-11-01"
        await pilot.press("enter")
        await settle(pilot)
        assert screen.query_one(ConversationTable).row_count == services.store.count_conversations(
            LogFilters(since=screen.filters.since)
        )
        assert screen.query_one(ConversationTable).row_count < 36


async def test_the_customer_filter_finds_a_non_ascii_name_however_it_is_typed(
    services: Services, tmp_path: Path
) -> None:
    row = {"email": "elise.dupont@exemple.fr", "name": "Élise Dupont", "ticket": "E-1", "id": "1",
           "text": "Je voudrais un remboursement", "timestamp": "2026-11-20T10:00:00Z"}  # fmt: skip
    source = tmp_path / "elise.jsonl"
    source.write_text(json.dumps(row, ensure_ascii=False) + "\n", encoding="utf-8")
    assert import_file(services.store, source).ok
    async with Host(services).run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        screen = pilot.app.screen
        table = screen.query_one(ConversationTable)
        assert table.row_count == 37
        for typed in ("élise", "ÉLISE DUPONT", "Élise"):
            screen.query_one("#filter-customer", Input).value = ""
            screen.query_one("#filter-customer", Input).focus()
            await pilot.press(*typed, "enter")
            await settle(pilot)
            assert table.row_count == 1, typed
            assert "Élise Dupont" in str(table.get_row_at(0)[1])
        screen.query_one("#logs-search", Input).focus()
        await pilot.press(*"remboursement", "enter")  # the search keeps the customer filter
        await settle(pilot)
        hits = screen.query_one(HitsTable)
        assert hits.row_count == 1
        assert "Élise Dupont" in str(hits.get_row_at(0)[1])


async def test_search_shows_highlighted_hits_and_enter_opens_the_audit_at_the_hit(services: Services) -> None:
    async with Host(services).run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        await pilot.press("slash", *"charged twice", "enter")
        await settle(pilot)
        screen = pilot.app.screen
        hits = screen.query_one(HitsTable)
        assert hits.display
        assert not screen.query_one(ConversationTable).display
        assert hits.row_count == 1
        assert "1 hit for charged twice" in _text(screen.query_one("#logs-status", Static))
        snippet = hits.get_row_at(0)[3]
        assert isinstance(snippet, Text)
        styled = {snippet.plain[s.start : s.end].lower() for s in snippet.spans if "reverse" in str(s.style)}
        assert styled == {"charged", "twice"}
        hits.focus()
        await pilot.press("enter")
        await settle(pilot)
        audit = pilot.app.screen
        assert isinstance(audit, AuditScreen)
        hit = audit.query_one(".hit", Static)
        assert "charged twice" in _text(hit)
        assert hit.id == f"msg-{next(iter(hits.hits.values())).message_id}"
        await pilot.press("escape")
        await pilot.press("escape")  # leaves the search results: the list is back
        await settle(pilot)
        assert screen.query_one(ConversationTable).display


async def test_audit_shows_original_against_sent_with_its_details(services: Services) -> None:
    async with Host(services).run_test(size=(140, 50)) as pilot:
        await open_ellens_edited_reply(pilot)  # the older ticket: BL-31102, charged twice
        audit = pilot.app.screen
        assert isinstance(audit, AuditScreen)
        reply = next(s for s in audit.query(".audit-msg.agent").results(Static) if "Elena" in _text(s))
        text = reply.content
        assert isinstance(text, Text)
        plain = text.plain
        assert "Reply sent by Elena Rossi" in plain
        assert "AI-assisted, edited" in plain
        assert "gpt-4o-2024-08-06" in plain
        assert "463 prompt / 38 completion" in plain
        assert "finish reason stop" in plain
        deleted = "".join(plain[s.start : s.end] for s in text.spans if "strike" in str(s.style))
        inserted = "".join(plain[s.start : s.end] for s in text.spans if "green" in str(s.style))
        assert "5-7" in deleted
        assert "confirm you were charged twice" in deleted  # the model's words, removed
        assert "3-5" in inserted
        assert "5-7" not in inserted  # what the agent sent instead
        await pilot.press("d")
        await settle(pilot)
        sent_only = reply.content
        assert isinstance(sent_only, Text)
        assert "5-7 business days" not in sent_only.plain
        assert "3-5 business days" in sent_only.plain
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(pilot.app.screen, LogsScreen)


async def test_markup_and_control_characters_are_shown_literally(services: Services) -> None:
    store = services.store
    customer = store.add_customer("Mallory [bold]", "mallory@example.com")
    assert customer.id is not None
    conversation = store.current_conversation(customer.id)
    assert conversation.id is not None
    nasty = "[bold]boom[/] [link=http://x]y[/link] \x1b[31mred[/] zebra"
    store.add_message(conversation.id, "customer", nasty)
    async with Host(services).run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        await pilot.press("slash", *"zebra", "enter")
        await settle(pilot)
        hits = pilot.app.screen.query_one(HitsTable)
        assert hits.row_count == 1
        snippet = hits.get_row_at(0)[3]
        assert isinstance(snippet, Text)
        assert "[bold]boom[/]" in snippet.plain
        assert "\x1b" not in snippet.plain
        hits.focus()
        await pilot.press("enter")
        await settle(pilot)
        shown = pilot.app.screen.query_one(".hit", Static).content
        assert isinstance(shown, Text)
        assert "[link=http://x]y[/link]" in shown.plain


async def test_the_list_loads_further_pages_as_the_cursor_moves_down(tmp_path: Path) -> None:
    services = build_services(ui_settings(tmp_path, None))
    rows = [
        {"email": f"c{i}@example.com", "ticket": f"T{i}", "text": f"message {i}",
         "timestamp": f"2026-01-01T00:{i // 60:02d}:{i % 60:02d}Z"}
        for i in range(PAGE_SIZE * 2 + 30)
    ]  # fmt: skip
    source = tmp_path / "many.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    assert import_file(services.store, source).ok
    try:
        async with Host(services).run_test(size=(140, 40)) as pilot:
            await settle(pilot)
            table = pilot.app.screen.query_one(ConversationTable)
            assert table.total == len(rows)
            assert table.row_count == PAGE_SIZE
            table.move_cursor(row=PAGE_SIZE - 5)
            await settle(pilot)
            assert table.row_count == 2 * PAGE_SIZE
            await pilot.press("end")
            await settle(pilot)
            table.move_cursor(row=table.row_count - 1)
            await settle(pilot)
            assert table.row_count == len(rows)
            assert "c0@example.com" in str(table.get_row_at(table.row_count - 1)[1])  # the oldest is last
    finally:
        services.close()


async def test_the_console_opens_the_logs_screen(tmp_path: Path, wire_server: WireServer) -> None:
    from support_console.ui.app import create_app

    settings = ui_settings(tmp_path, wire_server)
    services = build_services(settings)
    assert import_file(services.store, SAMPLE).ok
    app = create_app(settings, services)
    try:
        async with app.run_test(size=(140, 40)) as pilot:
            await settle(pilot)
            binding = next(b for b in app.BINDINGS if getattr(b, "id", None) == "logs")
            await pilot.press(binding.key.split(",")[0])  # type: ignore[union-attr]
            await settle(pilot)
            assert isinstance(app.screen, LogsScreen)
            assert app.screen.query_one(ConversationTable).row_count == 36
    finally:
        services.close()
    assert wire_server.requests == []  # browsing logs never calls the model


async def test_the_logs_screen_is_usable_at_80x24(services: Services) -> None:
    from tests.ui_helpers import screen_text

    async with Host(services).run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        screen = pilot.app.screen
        for widget_id in (
            "filter-customer",
            "filter-persona",
            "filter-status",
            "filter-since",
            "filter-until",
        ):
            region = screen.query_one(f"#{widget_id}").region
            assert region.width >= 12, widget_id
            assert region.right <= 80, widget_id  # every filter whole on screen
        table = screen.query_one(ConversationTable)
        assert table.size.height >= 12  # a screenful of rows
        row = next(line for line in screen_text(pilot.app).splitlines() if "Isabel Costa" in line)
        assert " open " in row  # status and persona without scrolling sideways
        assert "billing-refunds" in row


async def test_the_logs_open_at_once_while_the_database_keeps_the_first_page_waiting(tmp_path: Path) -> None:
    """The screen waits a moment for its first page, to draw it in its first frame (screens/logs.py), but
    no longer: behind another program holding the whole file it opens empty, then shows the page when it
    can be read."""
    from tests.db_lock import WriteLock
    from tests.ui_helpers import screen_text

    settings = ui_settings(tmp_path, None)
    loaded = build_services(settings)
    assert import_file(loaded.store, SAMPLE).ok
    loaded.close()  # the lock holder below needs the file to itself
    with WriteLock(tmp_path / "console.db", readers_too=True) as lock:
        services = build_services(settings, open_store=False)  # opened by the first page's read
        try:
            async with Host(services).run_test(size=(120, 30)) as pilot:
                await pilot.pause(1.0)  # ten times the first page's wait
                screen = pilot.app.screen
                assert isinstance(screen, LogsScreen)
                assert "search all messages" in screen_text(pilot.app)  # drawn
                table = screen.query_one(ConversationTable)
                assert table.row_count == 0
                assert table.has_focus
                lock.release()
                await settle(pilot)
                assert table.row_count == 36
                assert "36 conversations" in _text(screen.query_one("#logs-status", Static))
        finally:
            services.close()
