"""Two consoles on one database (an SQLite file, then a PostgreSQL database: conftest's ``db_url``), in
one test (two ``App.run_test()``), driven by keys as two agents would: what one sends shows in the other's
queue and transcript without a keypress, the other's stale draft is refused at approval (and sent after an
explicit second approval), presence shows in the header, what one agent has read loses its unread mark in
the other's queue, and take next hands the two agents different conversations."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from rich.text import Text
from textual.widgets import OptionList, Static

from support_console.ui.app import create_app
from support_console.ui.screens.audit import AuditScreen
from support_console.workflows.services import Services
from tests.ui_helpers import (
    console,
    open_first_customer,
    screen_text,
    seed_customer,
    services_for,
    settle,
    show_all_conversations,
    ui_settings,
    wait_for,
)
from tests.wire_server import WireServer


def agent_services(tmp_path: Path, server: WireServer, agent: str, db: str) -> Services:
    """One agent's console services: their own config (their name), the shared database."""
    home = tmp_path / agent
    home.mkdir()
    return services_for(ui_settings(home, server, db_name=db, config_text=f'[agent]\nname = "{agent}"\n'))


async def type_reply(pilot: object, text: str) -> None:
    """Write a reply by hand (ctrl+n, then the keys), as an agent does."""
    from textual.pilot import Pilot

    assert isinstance(pilot, Pilot)
    await pilot.press("ctrl+n")
    for key in text:
        await pilot.press("space" if key == " " else key)


@pytest.fixture
def team(tmp_path: Path, wire_server: WireServer, db_url: str) -> Iterator[tuple[Services, Services]]:
    """Kim's and Lee's console services on one database (each backend in turn), closed after the test."""
    kim = agent_services(tmp_path, wire_server, "kim", db_url)
    lee = agent_services(tmp_path, wire_server, "lee", db_url)
    try:
        yield kim, lee
    finally:
        kim.close()
        lee.close()


async def test_what_one_agent_sends_reaches_the_other_console_and_refuses_its_stale_draft(
    team: tuple[Services, Services],
) -> None:
    kim, lee = team
    _, cid = seed_customer(kim, "Ann Lake", "ann@example.com", messages=("Where is my parcel?",))
    app_a, app_b = create_app(kim.settings, kim), create_app(lee.settings, lee)
    async with console(app_a, (160, 45)) as pa, console(app_b, (160, 45)) as pb:
        a = await open_first_customer(pa, app_a)
        b = await open_first_customer(pb, app_b)
        assert a.session.conversation_id == b.session.conversation_id == cid

        # Presence: Kim viewing, then drafting, shows in Lee's header (from heartbeats, no key in B).
        await wait_for(pb, lambda: "kim is viewing" in str(b.sub_title), within=8, what="Kim's presence")
        await type_reply(pb, "Lee here")  # B's draft, written before Kim's reply
        await wait_for(pb, lambda: b.session.draft_id is not None, what="Lee's draft saved")
        await type_reply(pa, "Shipped today")
        await wait_for(pb, lambda: "kim is drafting a reply" in str(b.sub_title), within=8, what="drafting")

        await pa.press("ctrl+s")  # Kim sends
        await settle(pa)
        sent = [m for m in kim.store.page_messages(cid) if m.state == "sent"]
        assert [m.text for m in sent] == ["Shipped today"]

        # Lee's console shows it without a keypress: the transcript and the queue, the draft untouched.
        await wait_for(pb, lambda: "Shipped today" in screen_text(app_b), within=3, what="Kim's reply")
        await wait_for(pb, lambda: cid not in [e.conversation_id for e in b.customers.entries], within=3)
        assert b.draft.text == "Lee here"

        await pb.press("ctrl+s")  # Lee's draft was written before Kim's reply: refused, shown why
        await settle(pb)

        assert "a reply sent by kim" in screen_text(app_b)
        assert [m.text for m in lee.store.page_messages(cid) if m.state == "sent"] == ["Shipped today"]
        assert b.draft.text == "Lee here"
        await pb.press("ctrl+s")  # reviewed: the second approval sends it anyway, explicitly
        await settle(pb)
        texts = [m.text for m in lee.store.page_messages(cid) if m.state == "sent"]
        assert sorted(texts) == ["Lee here", "Shipped today"]  # in id order: Lee's draft began first
        await wait_for(pa, lambda: "Lee here" in screen_text(app_a), within=3, what="Lee's reply in A")


async def test_take_next_gives_two_agents_different_conversations(team: tuple[Services, Services]) -> None:
    kim, lee = team
    _, first = seed_customer(kim, "Ann Lake", "ann@example.com", messages=("Hello?",))
    _, second = seed_customer(kim, "Bob Stone", "bob@example.com", messages=("Hi",))
    app_a, app_b = create_app(kim.settings, kim), create_app(lee.settings, lee)
    async with console(app_a, (160, 45)) as pa, console(app_b, (160, 45)) as pb:
        a, b = app_a.main_screen, app_b.main_screen
        assert a is not None
        assert b is not None
        await settle(pa)
        await settle(pb)
        await pa.press("shift+f12")
        await pb.press("shift+f12")
        await wait_for(pa, lambda: a.session.conversation_id is not None, what="Kim's conversation")
        await wait_for(pb, lambda: b.session.conversation_id is not None, what="Lee's conversation")
        assert {a.session.conversation_id, b.session.conversation_id} == {first, second}
        await settle(pa)
        assert "@kim · Ann Lake" in screen_text(app_a) or "@kim · Bob Stone" in screen_text(
            app_a
        )  # the title
        await pa.press("6")  # mine: only Kim's
        await pa.press("shift+f9")  # release it
        await settle(pa)
        rows = {r.conversation_id: r.assignee for r in kim.store.list_queue("all")}
        assert [rows[first], rows[second]].count(None) == 1  # Kim released hers
        assert "lee" in (rows[first], rows[second])


async def test_what_one_agent_reads_loses_its_unread_mark_in_the_other_console(
    team: tuple[Services, Services],
) -> None:
    kim, lee = team
    _, cid = seed_customer(kim, "Ann Lake", "ann@example.com", messages=("Where is my parcel?", "Hello?"))
    app_a, app_b = create_app(kim.settings, kim), create_app(lee.settings, lee)
    async with console(app_a, (160, 45)) as pa, console(app_b, (160, 45)) as pb:
        b = app_b.main_screen
        assert b is not None
        await show_all_conversations(pb, b)
        await wait_for(pb, lambda: kim.store_is_open and lee.store_is_open, what="the stores to open")
        await wait_for(pb, b.live.following.is_set, what="Lee's live updates")
        rows = b.customers.query_one(OptionList)

        def ann_row() -> str:
            return str(rows.get_option_at_index(0).prompt)

        assert "•Ann Lake" in ann_row()  # unread in Lee's queue
        await open_first_customer(pa, app_a)  # Kim reads it
        await wait_for(pa, lambda: kim.store.queue_row(cid).unread == 0, what="Kim's console marks it seen")
        # Lee's queue row loses its mark without a key pressed in Lee's console.
        await wait_for(pb, lambda: "•Ann Lake" not in ann_row(), within=3, what="Lee's queue read again")
        assert "Ann Lake" in ann_row()

        await open_first_customer(pb, app_b)  # nothing unread is left for Lee: nothing is written
        await settle(pb)
        await settle(pa)
        assert [(e.kind, e.agent) for e in lee.store.events(cid) if e.kind == "seen"] == [("seen", "kim")]

        await app_b.push_screen(AuditScreen(lee, cid))  # who did what: Kim read it
        await wait_for(pb, lambda: bool(app_b.screen.query("#audit-events")), what="the audit view")
        shown = app_b.screen.query_one("#audit-events", Static).content
        assert isinstance(shown, Text)
        assert "kim · seen" in shown.plain


async def test_a_message_that_arrives_in_the_open_conversation_is_seen_there(
    team: tuple[Services, Services],
) -> None:
    """Kim has Ann's conversation open; Ann writes again (Lee's console records it). Kim's transcript shows
    it, and so it is not unread: the mark goes, in Kim's queue and for the team (one "seen" event)."""
    kim, lee = team
    _, cid = seed_customer(kim, "Ann Lake", "ann@example.com", messages=("Where is my parcel?",))
    app = create_app(kim.settings, kim)
    async with console(app, (160, 45)) as pilot:
        main = await open_first_customer(pilot, app)
        await wait_for(pilot, lambda: kim.store.queue_row(cid).unread == 0, what="opened: seen")
        await wait_for(pilot, main.live.following.is_set, what="Kim's live updates")
        lee.store.add_message(cid, "customer", "Hello? Anyone?")
        await wait_for(pilot, lambda: "Hello? Anyone?" in screen_text(app), within=3, what="it shown")
        await wait_for(pilot, lambda: kim.store.queue_row(cid).unread == 0, within=3, what="seen there")
        rows = main.customers.query_one(OptionList)
        await wait_for(pilot, lambda: "•" not in str(rows.get_option_at_index(0).prompt), what="no mark")
        await settle(pilot)
    assert [e.agent for e in kim.store.events(cid) if e.kind == "seen"] == ["kim", "kim"]


async def test_reassigning_gives_a_known_agent_it_under_their_own_name_and_asks_again_for_a_stranger(
    team: tuple[Services, Services],
) -> None:
    kim, lee = team
    _, first = seed_customer(kim, "Ann Lake", "ann@example.com", messages=("Hello?",))
    _, second = seed_customer(kim, "Bob Stone", "bob@example.com", messages=("Hi",))
    lee.store.assign(second, "lee", by="lee")  # Lee has worked here
    app = create_app(kim.settings, kim)
    async with console(app, (160, 45)) as pilot:
        main = await open_first_customer(pilot, app)
        assert main.session.conversation_id == first
        await pilot.press("shift+f11")
        await wait_for(pilot, lambda: "Agents here: kim, lee" in screen_text(app), what="the agents")
        await pilot.press(*"nobdy", "enter")
        await wait_for(pilot, lambda: "Nobody called 'nobdy' has worked here" in screen_text(app))
        assert kim.store.get_conversation(first).assignee is None  # not given yet: asked again
        await pilot.press(*["backspace"] * 5, *" LEE ", "enter")
        await wait_for(pilot, lambda: kim.store.get_conversation(first).assignee == "lee", what="assigned")
        assert first in {r.conversation_id for r in lee.store.list_queue("mine", agent="lee")}
        await wait_for(pilot, lambda: f"Conversation {first} given to lee." in screen_text(app))
        await pilot.press("shift+f11")
        await wait_for(pilot, lambda: "Assigned to lee now." in screen_text(app))
        await pilot.press(*"nobdy", "enter", "enter")  # entered twice: given as typed
        await wait_for(pilot, lambda: kim.store.get_conversation(first).assignee == "nobdy", what="given")


async def test_reassigning_or_releasing_with_no_conversation_open_says_to_open_one(
    team: tuple[Services, Services],
) -> None:
    kim, _ = team
    app = create_app(kim.settings, kim)
    async with console(app, (160, 45)) as pilot:
        assert app.screen.session.conversation_id is None  # type: ignore[attr-defined]
        for key in ("shift+f11", "shift+f9"):
            await pilot.press(key)
            await wait_for(pilot, lambda: "Open a conversation first." in screen_text(app), what=key)
            app.clear_notifications()
            await settle(pilot)
