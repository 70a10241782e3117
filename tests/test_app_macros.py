"""Canned replies in the console, by keys: `/name` + Tab or Enter inserts one, filled from the customer and
the agent; an unfilled placeholder blocks the send until it is filled; the macro's status is set on send;
the picker (shift+F1, or `/` + Tab) inserts or adapts one with the model (a generation naming the macro).

Real parts only: the loopback model server records the exact requests, the store is a SQLite file."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest

from support_console.core.vocabulary import STATE_SENT
from support_console.ui.app import create_app
from support_console.ui.screens.macro_picker import MacroPicker
from support_console.workflows.services import Services
from tests.ui_helpers import (
    console,
    notifications,
    open_first_customer,
    screen_of,
    services_for,
    settle,
    ui_settings,
    wait_for,
)
from tests.wire_server import WireServer, stream_text

ORDER = (
    'id = "order"\nname = "Order update"\nbody = "Hi {{ name }}, order {{ order_id }} ships today. $9.99 '
    'covers it. {{ agent }}"\nstatus = "resolved"\n[variables]\norder_id = ""\n'
)


@pytest.fixture
def services(tmp_path: Path, wire_server: WireServer) -> Iterator[Services]:
    """The console's services with a user macros folder holding ORDER."""
    folder = tmp_path / "macros"
    folder.mkdir()
    (folder / "order.toml").write_text(ORDER, encoding="utf-8")
    settings = dataclasses.replace(ui_settings(tmp_path, wire_server), macro_dirs=(folder,))
    built = services_for(settings)
    try:
        yield built
    finally:
        built.close()


def seed(services: Services) -> int:
    store = services.store
    customer = store.add_customer("Jane Doe", "jane@example.com")
    assert customer.id is not None
    conversation = store.current_conversation(customer.id)
    assert conversation.id is not None
    store.add_message(conversation.id, "customer", "Where is my order?")
    return conversation.id


async def test_slash_name_tab_inserts_and_a_placeholder_blocks_the_send_until_filled(
    services: Services, wire_server: WireServer
) -> None:
    conversation_id = seed(services)
    app = create_app(services.settings, services)
    async with console(app, (120, 36)) as pilot:
        main = await open_first_customer(pilot, app)
        main.draft.editor.focus()
        await pilot.press(*"/order", "tab")
        expected = "Hi Jane Doe, order {{ order_id }} ships today. $9.99 covers it. alice"
        await wait_for(pilot, lambda: main.draft.text == expected, what="the macro inserted")
        assert main.draft.editor.has_focus  # Tab inserted; it did not move the focus
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert ("error", "Fill in {{ order_id }} before sending: the reply still has this placeholder.") in (
            notifications(app)
        )
        assert all(m.state != STATE_SENT for m in services.store.page_messages(conversation_id, None, 10))
        await pilot.press("ctrl+z")  # the insertion is one undo step: back to "/order"
        assert main.draft.text == "/order"
        await pilot.press("ctrl+y")
        text = main.draft.text.replace("{{ order_id }}", "A-1001")
        main.draft.editor.load_text("")
        main.draft.editor.focus()
        await pilot.press(*text)
        await pilot.press("ctrl+s")
        await wait_for(
            pilot,
            lambda: services.store.get_conversation(conversation_id).status == "resolved",
            what="status",
        )
        await settle(pilot)
        sent = [m for m in services.store.page_messages(conversation_id, None, 10) if m.state == STATE_SENT]
        assert [m.text for m in sent] == [expected.replace("{{ order_id }}", "A-1001")]


async def test_a_macro_that_replaces_the_whole_draft_drops_an_earlier_macros_status(
    services: Services, wire_server: WireServer
) -> None:
    """/order (marks resolved) inserted, the draft emptied, /password-reset (no status) inserted: sending
    leaves the conversation open, since the reply no longer holds the canned reply that set the status."""
    conversation_id = seed(services)
    app = create_app(services.settings, services)
    async with console(app, (120, 36)) as pilot:
        main = await open_first_customer(pilot, app)
        main.draft.editor.focus()
        await pilot.press(*"/order", "tab")
        await wait_for(pilot, lambda: main.draft.text.startswith("Hi Jane Doe, order"), what="/order")
        await pilot.press("ctrl+a", "backspace", *"/password-reset", "tab")
        await wait_for(pilot, lambda: "reset your password" in main.draft.text, what="/password-reset")
        assert main.draft.text.startswith("Hi Jane Doe,")
        await pilot.press("ctrl+s")
        await wait_for(
            pilot,
            lambda: any(
                m.state == STATE_SENT for m in services.store.page_messages(conversation_id, None, 10)
            ),
            what="the reply sent",
        )
        await settle(pilot)
        assert services.store.get_conversation(conversation_id).status == "open"


async def test_a_macro_inserted_after_words_on_the_line_starts_a_paragraph_of_its_own(
    services: Services, wire_server: WireServer
) -> None:
    """The picker at the end of "Thanks for waiting." inserts below it, not glued on ("waiting.Hi Jane")."""
    seed(services)
    app = create_app(services.settings, services)
    async with console(app, (120, 36)) as pilot:
        main = await open_first_customer(pilot, app)
        main.draft.editor.focus()
        await pilot.press(*"Thanks for waiting.", "shift+f1")
        await wait_for(pilot, lambda: isinstance(screen_of(app), MacroPicker), what="the picker")
        await pilot.press("enter")  # the first macro: /order
        await wait_for(pilot, lambda: "ships today" in main.draft.text, what="the macro")
        assert main.draft.text.startswith("Thanks for waiting.\n\nHi Jane Doe, order")


async def test_enter_after_a_known_name_inserts_and_otherwise_types_a_line_break(
    services: Services, wire_server: WireServer
) -> None:
    seed(services)
    app = create_app(services.settings, services)
    async with console(app, (120, 36)) as pilot:
        main = await open_first_customer(pilot, app)
        main.draft.editor.focus()
        await pilot.press(*"a/b /nope", "enter")
        assert main.draft.text == "a/b /nope\n"
        await pilot.press(*"/password-reset", "enter")
        await wait_for(pilot, lambda: "reset your password" in main.draft.text, what="the macro")
        assert main.draft.text.startswith("a/b /nope\nHi Jane Doe,")
        assert "enter jane@example.com and follow" in main.draft.text


async def test_the_picker_inserts_and_adapt_drafts_with_the_macro_as_guidance(
    services: Services, wire_server: WireServer
) -> None:
    conversation_id = seed(services)
    app = create_app(services.settings, services)
    async with console(app, (120, 36)) as pilot:
        main = await open_first_customer(pilot, app)
        main.draft.editor.focus()
        await pilot.press("/", "tab")  # `/` alone + Tab: the picker
        await wait_for(pilot, lambda: isinstance(screen_of(app), MacroPicker), what="the picker")
        await pilot.press("escape", "backspace")  # cancelled: the "/" stays, typed away again
        assert main.draft.text == ""
        await pilot.press("shift+f1")  # the picker key (terminals send F13)
        await wait_for(pilot, lambda: isinstance(screen_of(app), MacroPicker), what="the picker")
        wire_server.enqueue(stream_text("Hi Jane, your order ships today."))
        await pilot.press("ctrl+g")  # the first macro (/order): adapt it with the model
        await wait_for(pilot, lambda: main.draft.text == "Hi Jane, your order ships today.", what="the draft")
        await settle(pilot)
        system = wire_server.requests[-1].json["messages"][0]["content"]
        assert "Base your reply on the team's canned reply below" in system
        assert "Canned reply (Order update):\nHi Jane Doe, order {{ order_id }} ships today. $9.99" in system
        [generation] = services.store.generations(conversation_id)
        assert (generation.kind, generation.tool_id) == ("draft", "order")


async def test_a_broken_macro_file_is_named_and_the_others_still_work(
    tmp_path: Path, wire_server: WireServer
) -> None:
    folder = tmp_path / "macros"
    folder.mkdir()
    (folder / "broken.toml").write_text('name = "B"\nbody = "Order {{ order_id }}"\n', encoding="utf-8")
    services = services_for(dataclasses.replace(ui_settings(tmp_path, wire_server), macro_dirs=(folder,)))
    try:
        seed(services)
        app = create_app(services.settings, services)
        async with console(app, (120, 36)) as pilot:
            main = await open_first_customer(pilot, app)
            problem = f"Canned reply not loaded: {folder / 'broken.toml'}: field 'body': placeholder"
            await wait_for(
                pilot,
                lambda: any(m.startswith(problem) for _, m in notifications(app)),
                what="the broken file named",
            )
            main.draft.editor.focus()
            await pilot.press(*"/resolved", "tab")
            await wait_for(pilot, lambda: main.draft.text.startswith("Hi Jane Doe,"), what="a bundled macro")
    finally:
        services.close()
