"""The conversation side of the console: notes, status keys, and a long transcript that loads page by page
with a marker where the model's context starts. Real store, loopback model server."""

from __future__ import annotations

from pathlib import Path

from support_console.ui.app import create_app
from support_console.workflows.services import Services
from tests.ui_helpers import (
    console,
    notifications,
    open_first_customer,
    paste,
    seed_customer,
    seed_history,
    services_for,
    settle,
    ui_settings,
    wait_for,
)
from tests.wire_server import WireServer


async def test_note_and_status_keys(services: Services, wire_server: WireServer) -> None:
    _, conversation_id = seed_customer(services, messages=("Hi",))
    app = create_app(services.settings, services)
    async with console(app, (100, 30)) as pilot:
        main = await open_first_customer(pilot, app)
        await paste(pilot, "incoming-text", "VIP customer")
        await pilot.press("f4")
        await settle(pilot)
        roles = [(m.role, m.state, m.text) for m in services.store.page_messages(conversation_id)]
        assert roles[-1] == ("note", "note", "VIP customer")
        await pilot.press("f6")
        await settle(pilot)
        assert services.store.get_conversation(conversation_id).status == "pending"
        await pilot.press("f7")
        await settle(pilot)
        assert services.store.get_conversation(conversation_id).status == "resolved"
        await pilot.press("f3")
        await settle(pilot)
        assert services.store.get_conversation(conversation_id).status == "open"
        assert "open" in str(main.query_one("#conversation-title").render())
        # An empty box is refused with a clear message, nothing is stored.
        await pilot.press("f5")
        assert any("empty" in message for _, message in notifications(app))
        assert len(services.store.page_messages(conversation_id)) == 2
    assert wire_server.requests == []
    assert main.customer is not None


async def test_transcript_pages_and_context_marker(tmp_path: Path, wire_server: WireServer) -> None:
    settings = ui_settings(
        tmp_path,
        wire_server,
        config_text='[agent]\nname = "alice"\n[models."tiny"]\n'
        'family = "gpt-4o"\ncontext_window = 1400\nmax_output_tokens = 100\n',
        model="tiny",
    )
    services = services_for(settings)
    try:
        _, conversation_id = seed_customer(services)
        seed_history(services, conversation_id, 249, text="Message number {i} " + "lorem ipsum " * 10)
        services.store.add_message(conversation_id, "customer", "The newest question")
        app = create_app(settings, services)
        async with console(app, (100, 30)) as pilot:
            main = await open_first_customer(pilot, app)
            transcript = main.transcript
            covered: list[bool] = []  # Textual's loading state: the transcript under a loading indicator
            main.watch(transcript, "loading", covered.append, init=False)
            assert len(transcript.query(".message")) == 100
            assert transcript.earlier == 150
            await pilot.press("ctrl+up")
            await settle(pilot)
            assert len(transcript.query(".message")) == 200
            assert transcript.earlier == 50
            assert covered == []  # the earlier page was read with the transcript still shown
            await pilot.press("ctrl+g")
            await wait_for(pilot, lambda: not main.streaming and main.draft.text != "")
            await settle(pilot)
            markers = transcript.query(".context-marker")
            assert len(markers) == 1
            marker_text = str(markers.first().render())
            # Exact, counted over the whole history (its 50 unloaded messages too), not just what is shown.
            kept = len(wire_server.last.json["messages"]) - 1
            total = len(services.store.history_newest_first(conversation_id, "o200k_base"))
            dropped = total - kept
            assert total == 250
            assert 50 < dropped < 250
            assert f"{dropped:,} earlier messages not sent to the model" in marker_text
            assert f"{dropped:,} older messages trimmed" in str(main.query_one("#draft-header").render())
            kept_text = wire_server.last.json["messages"][1]["content"]
            first_kept = transcript.children[transcript.children.index(markers.first()) + 1]
            assert kept_text in str(first_kept.render())
    finally:
        services.close()


async def test_a_long_transcript_keeps_a_window_of_pages(tmp_path: Path, wire_server: WireServer) -> None:
    """Paging back through 1,000 messages mounts at most three pages; the newer ones come back on demand
    (key), and a new message brings the newest page back with it."""
    services = services_for(ui_settings(tmp_path, wire_server))
    try:
        _, conversation_id = seed_customer(services)
        seed_history(services, conversation_id, 1000)
        app = create_app(services.settings, services)
        async with console(app, (100, 30)) as pilot:
            main = await open_first_customer(pilot, app)
            transcript = main.transcript
            for page in range(1, 6):
                await pilot.press("ctrl+up")
                await settle(pilot)
                assert transcript.older == 1000 - 100 * (page + 1)
            shown = [v.message_text for v in transcript.views]
            assert shown == [f"Message {i}" for i in range(400, 700)]  # the 4th to 6th newest pages
            assert len(transcript.query(".message")) == 300
            assert transcript.later == 300
            assert "▼ 300 newer messages" in str(transcript.query_one(".later").render())
            await pilot.press("ctrl+down")
            await settle(pilot)
            assert [v.message_text for v in transcript.views][-1] == "Message 799"
            assert transcript.later == 200
            await paste(pilot, "incoming-text", "Still there?")
            await pilot.press("f4")
            await settle(pilot)
            assert transcript.later == 0
            shown = [v.message_text for v in transcript.views]
            assert shown[-2:] == ["Message 999", "Still there?"]
            assert len(shown) == 301
            await pilot.press("ctrl+up", "ctrl+up", "ctrl+up")
            await settle(pilot)
            assert transcript.views[0].message_text == "Message 400"
    finally:
        services.close()


async def test_notices_never_cover_the_draft_or_its_status_line(
    services: Services, wire_server: WireServer
) -> None:
    from support_console.ui.widgets.notices import NoticeBar
    from tests.ui_helpers import screen_text, wait_for
    from tests.wire_replies import stream_text

    seed_customer(services, messages=("Hi",))
    wire_server.enqueue(stream_text("Line one.\nLine two.\nThe last line of the draft."))
    app = create_app(services.settings, services)
    async with console(app, (80, 24), toasts=True) as pilot:
        main = await open_first_customer(pilot, app)
        await pilot.press("ctrl+g")
        await wait_for(pilot, lambda: not main.streaming and "last line" in main.draft.text, what="the draft")
        await settle(pilot)
        await paste(pilot, "incoming-text", "One more thing")
        await pilot.press("f5")
        await settle(pilot)
        bar = main.query_one(NoticeBar)
        assert bar.display
        await pilot.pause(0.3)  # toasts are mounted a little later
        shown = screen_text(app)
        assert "Customer message added." in shown
        assert "The last line of the draft." in shown  # the draft's end is still readable
        status = main.query_one("#draft-status")
        assert not bar.region.overlaps(status.region)
        assert not bar.region.overlaps(main.draft.editor.region)
        assert str(status.render()) in shown.replace("\n", " ") or "Finished" in shown
        assert shown.count("Customer message added.") == 1  # on the bar, and no toast drawn over the draft


async def test_a_notice_on_the_bar_is_not_drawn_again_as_a_toast_over_a_dialog(
    services: Services, wire_server: WireServer
) -> None:
    """A dialog opened while a notice is on the bar (discard, a risky send's question) showed the same notice
    again as a toast, bottom right: over the draft's status line, the very place the bar keeps clear."""
    from textual.widgets._toast import Toast

    from support_console.ui.screens.confirm import ConfirmScreen
    from tests.ui_helpers import screen_text, wait_for
    from tests.wire_replies import stream_text

    seed_customer(services, messages=("Hi",))
    wire_server.enqueue(stream_text("The draft."))
    app = create_app(services.settings, services)
    async with console(app, (80, 24), toasts=True) as pilot:
        main = await open_first_customer(pilot, app)
        await pilot.press("ctrl+g")
        await wait_for(pilot, lambda: not main.streaming and "draft" in main.draft.text, what="the draft")
        await paste(pilot, "incoming-text", "One more thing")
        await pilot.press("f5")
        await settle(pilot)
        assert "Customer message added." in screen_text(app)
        await pilot.press("f8")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the discard question")
        await pilot.pause(0.3)  # toasts are mounted a little later
        assert not [t for t in app.screen.query(Toast) if t.display]
        assert screen_text(app).count("Customer message added.") <= 1


async def test_the_incoming_box_hint_fits_at_80_columns(services: Services) -> None:
    """The hint under the incoming box is one line: at 80x24 "… · f4 add as internal note" lost its end."""
    from textual.widgets import Static

    seed_customer(services, messages=("Hi",))
    app = create_app(services.settings, services)
    async with console(app, (80, 24)) as pilot:
        main = await open_first_customer(pilot, app)
        hint = main.query_one("#incoming-hint", Static)
        words = str(hint.render())
        assert words == "f5 add customer msg · f4 add note"
        assert len(words) <= hint.content_region.width
