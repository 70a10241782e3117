"""The work queue in the console, pressing keys as an agent would, on a real SQLite file: its order, the
next-waiting key, previous/next without leaving the conversation, unread cleared by opening, where the
focus goes, the views, the filter box, the customer panel, and replying from the logs and the audit view."""

from __future__ import annotations

from datetime import timedelta

from textual.widgets import TextArea

from support_console.ui.app import SupportConsoleApp, create_app
from support_console.ui.screens.audit import AuditScreen
from support_console.ui.screens.customer_panel import CustomerPanel
from support_console.ui.screens.logs import LogsScreen
from support_console.ui.screens.main import MainScreen
from support_console.workflows.services import Services
from tests.ui_helpers import T0, console, listed, paste, screen_text, settle, wait_for


def seed_queue(services: Services) -> dict[str, int]:
    """Four conversations: Ann waits since T0+30 min, Bob since T0 (longest), Cleo since T0+60 min, and
    Dan's was answered. Returns conversation ids by name."""
    store = services.store
    ids: dict[str, int] = {}
    for name, minutes in (("Ann", 30), ("Bob", 0), ("Cleo", 60), ("Dan", 10)):
        customer = store.add_customer(name, f"{name.lower()}@example.com", external_id=f"EXT-{name.upper()}")
        assert customer.id is not None
        conversation = store.current_conversation(customer.id, "billing-refunds")
        assert conversation.id is not None
        store.add_message(
            conversation.id, "customer", f"Help, says {name}", created_at=T0 + timedelta(minutes=minutes)
        )
        ids[name] = conversation.id
    draft = store.save_draft(ids["Dan"], text="Done.")
    store.approve_draft(draft, "Done.", "alice")
    return ids


def focused_id(app: SupportConsoleApp) -> str | None:
    return app.focused.id if app.focused is not None else None


async def test_the_queue_lists_who_waits_longest_first_and_the_next_key_opens_them_in_turn(
    services: Services,
) -> None:
    ids = seed_queue(services)
    app = create_app(services.settings, services)
    async with console(app, (160, 45)) as pilot:
        main = await listed(pilot, app)
        assert [e.conversation_id for e in main.customers.entries] == [ids["Bob"], ids["Ann"], ids["Cleo"]]
        assert focused_id(app) == "customer-options"

        await pilot.press("f12")  # next waiting: Bob, with the cursor in the reply
        await wait_for(pilot, lambda: main.session.conversation_id == ids["Bob"], what="Bob's conversation")
        await settle(pilot)
        assert focused_id(app) == "draft-editor"
        await pilot.press("f12")  # Bob is open: the next one waiting is Ann
        await wait_for(pilot, lambda: main.session.conversation_id == ids["Ann"], what="Ann's conversation")

        await pilot.press("ctrl+pagedown")  # the row after Ann's: Cleo, without leaving the draft
        await wait_for(pilot, lambda: main.session.conversation_id == ids["Cleo"], what="Cleo's conversation")
        await settle(pilot)
        assert focused_id(app) == "draft-editor"
        await pilot.press("ctrl+pageup", "ctrl+pageup")  # back up past Ann to Bob
        await wait_for(pilot, lambda: main.session.conversation_id == ids["Bob"], what="Bob again")
        await settle(pilot)
        assert focused_id(app) == "draft-editor"
        assert main.customers.highlighted is not None
        assert main.customers.highlighted.conversation_id == ids["Bob"]  # the list follows


async def test_opening_a_conversation_clears_its_unread_and_focuses_the_draft(services: Services) -> None:
    ids = seed_queue(services)
    store = services.store
    store.add_message(ids["Bob"], "customer", "Anyone there?", created_at=T0 + timedelta(minutes=5))
    assert store.get_conversation(ids["Bob"]).unread_count == 2
    app = create_app(services.settings, services)
    async with console(app, (160, 45)) as pilot:
        main = await listed(pilot, app)
        await pilot.press("enter")  # the first row: Bob
        await wait_for(pilot, lambda: main.session.conversation_id == ids["Bob"], what="Bob's conversation")
        await settle(pilot)
        assert focused_id(app) == "draft-editor"  # where the agent acts next, not back on the list
        await wait_for(
            pilot, lambda: store.get_conversation(ids["Bob"]).unread_count == 0, what="unread cleared"
        )
        await wait_for(pilot, lambda: not main.customers.reading, what="the queue again")
        assert main.customers.entries[0].conversation_id == ids["Bob"]  # seen is not answered
        assert store.list_queue("needs_reply")[0].unread == 0
        assert store.get_conversation(ids["Ann"]).unread_count == 1  # only what was opened

        await paste(pilot, "incoming-text", "And another thing")
        await pilot.press("f5")  # added by the agent, in the open conversation: seen, still waiting
        await wait_for(pilot, lambda: store.count_messages(ids["Bob"]) == 3, what="the message")
        await settle(pilot)
        await wait_for(pilot, lambda: store.get_conversation(ids["Bob"]).unread_count == 0, what="seen")
        assert store.list_queue("needs_reply")[0].conversation_id == ids["Bob"]


async def test_views_are_one_key_away_and_the_filter_finds_any_customer(services: Services) -> None:
    ids = seed_queue(services)
    services.store.set_status(ids["Cleo"], "pending")
    app = create_app(services.settings, services)
    async with console(app, (160, 45)) as pilot:
        main = await listed(pilot, app)
        covered: list[bool] = []  # Textual's loading state: the list hidden under a loading indicator
        main.watch(main.customers, "loading", covered.append, init=False)
        await pilot.press("3")  # pending
        await wait_for(pilot, lambda: main.customers.view == "pending" and not main.customers.reading)
        assert [e.conversation_id for e in main.customers.entries] == [ids["Cleo"]]
        await pilot.press("5")  # all
        await wait_for(pilot, lambda: main.customers.view == "all" and not main.customers.reading)
        assert len(main.customers.entries) == 4
        for view in ("mine", "unassigned", "needs_reply"):  # round the views: team mode's, then the first
            await pilot.press("ctrl+home")
            await wait_for(pilot, lambda v=view: main.customers.view == v and not main.customers.reading)
        assert [e.conversation_id for e in main.customers.entries] == [ids["Bob"], ids["Ann"]]

        await pilot.press("ctrl+f")
        for key in "ext-dan":  # Dan's reply was sent: not waiting, but found by his external id
            await pilot.press(key)
        await pilot.press("enter")  # one match: opened at once
        await wait_for(pilot, lambda: main.customer is not None and main.customer.name == "Dan", what="Dan")
        await settle(pilot)
        assert main.session.conversation_id == ids["Dan"]
        assert focused_id(app) == "draft-editor"

        await pilot.press("ctrl+f", "down", "5")  # a view key with a filter typed: the view, unfiltered
        await wait_for(pilot, lambda: main.customers.view == "all" and not main.customers.reading)
        assert main.customers.query_text == ""
        assert len(main.customers.entries) == 4
        assert covered == []  # each re-read left the list shown (and usable) until the new rows came


async def test_the_customer_panel_fits_a_terminal_of_24_rows_with_its_keys_shown(services: Services) -> None:
    seed_queue(services)
    app = create_app(services.settings, services)
    async with console(app, (80, 24)) as pilot:
        await listed(pilot, app)
        await pilot.press("enter")
        await settle(pilot)
        await pilot.press("f11")
        assert isinstance(app.screen, CustomerPanel)
        await wait_for(pilot, lambda: "ctrl+s save · esc close" in screen_text(app), what="the panel's keys")


async def test_the_customer_panel_shows_the_customer_and_edits_their_attributes(services: Services) -> None:
    ids = seed_queue(services)
    app = create_app(services.settings, services)
    async with console(app, (160, 45)) as pilot:
        main = await listed(pilot, app)
        await pilot.press("enter")  # Bob
        await wait_for(pilot, lambda: main.session.conversation_id == ids["Bob"], what="Bob's conversation")
        await settle(pilot)
        await pilot.press("f11")
        assert isinstance(app.screen, CustomerPanel)
        await wait_for(
            pilot, lambda: "1 conversation" in str(app.screen.query_one("#customer-profile").render())
        )
        profile = str(app.screen.query_one("#customer-profile").render())
        assert "Bob" in profile
        assert "bob@example.com" in profile
        assert "EXT-BOB" in profile
        assert "first seen" in profile
        await paste(pilot, "customer-attributes", "plan = pro\nnot a line\n")
        await pilot.press("ctrl+s")  # refused, nothing lost
        await wait_for(pilot, lambda: "Line 2" in str(app.screen.query_one("#customer-panel-error").render()))
        panel = app.screen
        assert isinstance(panel, CustomerPanel)
        panel.query_one("#customer-attributes", TextArea).load_text("plan = pro\nregion = EU\n")
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: not panel.is_attached, what="the panel to close")
        assert app.main_screen is main
        assert isinstance(app.screen, MainScreen)
        await settle(pilot)
        customer_id = services.store.get_conversation(ids["Bob"]).customer_id
        assert services.store.get_customer(customer_id).attributes == {"plan": "pro", "region": "EU"}
        assert main.customer is not None
        assert main.customer.attributes == {"plan": "pro", "region": "EU"}  # the next draft uses them


async def test_one_key_replies_to_a_conversation_from_the_logs_and_from_the_audit_view(
    services: Services,
) -> None:
    ids = seed_queue(services)
    app = create_app(services.settings, services)
    async with console(app, (160, 45)) as pilot:
        main = await listed(pilot, app)
        await pilot.press("ctrl+l")
        await wait_for(pilot, lambda: isinstance(app.screen, LogsScreen), what="the logs")
        await wait_for(pilot, lambda: app.screen.query_one("#logs-table").row_count == 4)  # type: ignore[attr-defined]
        await pilot.press("r")  # the newest activity first: Dan's answered conversation
        await wait_for(pilot, lambda: app.screen is main and main.session.conversation_id == ids["Dan"])
        await settle(pilot)
        assert focused_id(app) == "draft-editor"

        await pilot.press("ctrl+l")
        await wait_for(pilot, lambda: isinstance(app.screen, LogsScreen), what="the logs")
        await wait_for(pilot, lambda: app.screen.query_one("#logs-table").row_count == 4)  # type: ignore[attr-defined]
        await pilot.press("down", "enter")  # the second row's audit trail: Cleo
        await wait_for(pilot, lambda: isinstance(app.screen, AuditScreen), what="the audit view")
        await pilot.press("r")
        await wait_for(pilot, lambda: app.screen is main and main.session.conversation_id == ids["Cleo"])
