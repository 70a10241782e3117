"""Status keys that work from every box, send-and-set-status in one key, the status always in the header,
and ctrl+a selecting all in the draft and the one-line boxes. Real store, loopback model server, keys pressed
as an agent would."""

from __future__ import annotations

import pytest

from support_console.ui.app import create_app
from support_console.workflows.services import Services
from tests.ui_helpers import (
    console,
    generate,
    notifications,
    open_first_customer,
    paste,
    seed_customer,
    settle,
    wait_for,
)
from tests.wire_replies import stream_text
from tests.wire_server import WireServer


@pytest.mark.parametrize("box", ["incoming-text", "draft-editor"])
async def test_status_keys_work_while_a_text_area_has_focus(services: Services, box: str) -> None:
    _, conversation_id = seed_customer(services, messages=("Hi",))
    app = create_app(services.settings, services)
    async with console(app, (100, 30)) as pilot:
        main = await open_first_customer(pilot, app)
        await paste(pilot, box, "typed text")
        area = main.query_one(f"#{box}")
        assert area.has_focus
        for key, status in (("f6", "pending"), ("f7", "resolved"), ("f3", "open")):
            await pilot.press(key)
            await settle(pilot)
            assert services.store.get_conversation(conversation_id).status == status, key
            assert status in str(main.query_one("#conversation-title").render())
        assert area.text == "typed text"  # type: ignore[attr-defined]  # no letter typed, nothing selected
        assert area.has_focus


@pytest.mark.parametrize(("key", "status"), [("f9", "pending"), ("f10", "resolved")])
async def test_send_and_set_status_is_one_key(
    services: Services, wire_server: WireServer, key: str, status: str
) -> None:
    _, conversation_id = seed_customer(services, messages=("Where is my parcel?",))
    wire_server.enqueue(stream_text("It left the depot today."))
    app = create_app(services.settings, services)
    async with console(app, (100, 30)) as pilot:
        main = await open_first_customer(pilot, app)
        await generate(pilot, main)
        main.draft.editor.focus()
        await pilot.press(key)
        await settle(pilot)
        sent = [m for m in services.store.page_messages(conversation_id) if m.role == "agent"]
        assert [(m.state, m.text) for m in sent] == [("sent", "It left the depot today.")]
        assert services.store.get_conversation(conversation_id).status == status
        changes = [(e.agent, e.detail) for e in services.store.events(conversation_id) if e.kind == "status"]
        assert changes == [(sent[0].approved_by, status)]  # who sent it set the status too
        assert f"Conversation marked {status}." in str(main.query_one("#draft-status").render())
        assert any(f"marked {status}" in m for _, m in notifications(app))
        assert status in str(main.query_one("#conversation-title").render())


async def test_send_and_status_keys_are_in_help_and_the_palette(services: Services) -> None:
    app = create_app(services.settings, services)
    async with console(app, (100, 30)):
        rows = {binding_id: (keys, words) for keys, words, binding_id in app.help_rows()}
        assert rows["send_pending"] == ("f9", "Send & set pending")
        assert rows["send_resolved"] == ("f10", "Send & resolve")
        assert rows["status_pending"][0] == "f6"
        assert app.action_for("send_resolved") == "approve('resolved')"


async def test_the_status_is_in_the_header_even_with_a_long_name(services: Services) -> None:
    name = "Maximilian Alexander Bartholomew von Hohenzollern-Sigmaringen"
    seed_customer(services, name, "maximilian.alexander.bartholomew@example-enterprises.com", ("Hi",))
    app = create_app(services.settings, services)
    async with console(app, (160, 45)) as pilot:
        main = await open_first_customer(pilot, app)
        await pilot.press("f6")
        await settle(pilot)
        title = main.query_one("#conversation-title")
        shown = "".join(
            segment.text for line in title.render_lines(title.region.reset_offset) for segment in line
        )
        assert "pending" in shown
        await wait_for(pilot, lambda: "alice" in str(main.sub_title), what="the agent in the header")


async def test_ctrl_a_selects_all_in_the_draft(services: Services) -> None:
    seed_customer(services, messages=("Hi",))
    app = create_app(services.settings, services)
    async with console(app, (100, 30)) as pilot:
        main = await open_first_customer(pilot, app)
        await paste(pilot, "draft-editor", "first line\nsecond line")
        await pilot.press("ctrl+a")
        assert main.draft.editor.selected_text == "first line\nsecond line"
        await pilot.press("f7")  # no longer select all in a text area: the screen's "mark resolved"
        await settle(pilot)
        assert main.conversation is not None
        assert main.conversation.status == "resolved"


async def test_ctrl_a_selects_all_in_a_one_line_box_too(services: Services) -> None:
    """The queue's filter (and every one-line box) took ctrl+a as "go to the start", Textual's default: the
    agent's ctrl+a, backspace left the filter as it was, while the same keys cleared the draft."""
    from textual.widgets import Input

    seed_customer(services, messages=("Hi",))
    app = create_app(services.settings, services)
    async with console(app, (100, 30)) as pilot:
        main = await open_first_customer(pilot, app)
        await pilot.press("ctrl+f", *"Hello")
        box = main.query_one("#customer-filter", Input)
        assert box.has_focus
        assert box.value == "Hello"
        await pilot.press("ctrl+a")
        assert box.selected_text == "Hello"
        await pilot.press("backspace")
        assert box.value == ""
        await pilot.press(*"ab", "home", "c")
        assert box.value == "cab"  # home still goes to the start


async def test_write_by_hand_updates_the_status_line(services: Services) -> None:
    seed_customer(services, messages=("Hi",))
    app = create_app(services.settings, services)
    async with console(app, (100, 30)) as pilot:
        main = await open_first_customer(pilot, app)
        assert "No draft yet" in str(main.query_one("#draft-status").render())
        await pilot.press("ctrl+n")
        status = str(main.query_one("#draft-status").render())
        assert "No draft yet" not in status
        assert "Writing by hand" in status
        assert main.draft.editor.has_focus


async def test_typing_straight_into_the_draft_pane_no_longer_says_there_is_no_draft(
    services: Services,
) -> None:
    _, conversation_id = seed_customer(services, messages=("Hi",))
    app = create_app(services.settings, services)
    async with console(app, (100, 30)) as pilot:
        main = await open_first_customer(pilot, app)
        await pilot.click("#draft-editor")  # the agent clicks into the pane instead of pressing ctrl+n
        await pilot.press(*"Dear")
        await wait_for(pilot, lambda: services.store.pending_draft(conversation_id) is not None, what="saved")
        await wait_for(pilot, lambda: "Writing by hand" in str(main.query_one("#draft-status").render()))


@pytest.mark.parametrize(
    ("status", "kind", "words"),
    [(401, "auth", "check the API key"), (429, "rate_limit", "wait a moment")],
)
async def test_a_failure_that_kept_nothing_never_says_the_partial_draft_is_kept(
    services: Services, wire_server: WireServer, status: int, kind: str, words: str
) -> None:
    from tests.wire_replies import error

    seed_customer(services, messages=("Hi",))
    body = {"error": {"message": "no", "type": "invalid_request_error", "code": None}}
    wire_server.enqueue(*[error(status, body, {"retry-after": "0"})] * 3)
    app = create_app(services.settings, services)
    async with console(app, (100, 30)) as pilot:
        main = await open_first_customer(pilot, app)
        await pilot.press("ctrl+g")
        await wait_for(pilot, lambda: "Failed" in str(main.query_one("#draft-status").render()), 15)
        shown = str(main.query_one("#draft-status").render())
        assert f"Failed ({kind}): nothing was drafted" in shown
        assert words in shown
        assert "kept" not in shown
        assert main.draft.text == ""
