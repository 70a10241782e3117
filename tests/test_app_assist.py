"""The agent-assist keys in the console, pressed as an agent would (Pilot), against the loopback server.

The summary panel (ctrl+f1): summarise (g), stored, added as an internal note (n); a new customer message
makes it stale. The translation view (ctrl+f2) of a German draft, stored as a translation of that draft while
the draft itself is what is sent. Thumbs down (ctrl+f6) with a reason on the draft's generation.
"""

from __future__ import annotations

from pathlib import Path

from textual.widgets import Static

from support_console.core.vocabulary import GENERATION_TRANSLATION, ROLE_CUSTOMER, ROLE_NOTE
from support_console.ui.app import create_app
from support_console.ui.screens.assist_panels import SummaryPanel, TranslationView
from tests.ui_helpers import (
    console,
    notifications,
    open_first_customer,
    seed_customer,
    services_for,
    settle,
    ui_settings,
    wait_for,
)
from tests.wire_replies import stream_text
from tests.wire_server import WireServer


def status_of(panel: SummaryPanel) -> str:
    return str(panel.query_one("#panel-status", Static).render())


SUMMARY = "Intent: a refund.\nWhat happened: charged twice.\nPromised: nothing.\nOpen questions: which card?"


async def test_summary_panel_summarises_adds_a_note_and_goes_stale(
    tmp_path: Path, wire_server: WireServer
) -> None:
    services = services_for(ui_settings(tmp_path, wire_server))
    _, cid = seed_customer(services, messages=("I was charged twice for my order.",))
    wire_server.enqueue(stream_text(SUMMARY, chunks=[SUMMARY[:15], SUMMARY[15:]], delay=0.02))
    app = create_app(services.settings, services)
    try:
        async with console(app, (120, 40)) as pilot:
            await open_first_customer(pilot, app)
            await pilot.press("ctrl+f1")
            await wait_for(pilot, lambda: isinstance(app.screen, SummaryPanel), what="the summary panel")
            panel = app.screen
            assert isinstance(panel, SummaryPanel)
            hint = panel.query_one("#panel-hint", Static)
            await wait_for(pilot, lambda: "No summary yet" in status_of(panel), what="no summary")
            assert str(hint.render()) == "g summarise · esc close"  # nothing to do again, nor to add
            await pilot.press("g")
            await wait_for(pilot, lambda: panel.state is not None, what="the stored summary")
            assert panel.text == SUMMARY
            assert str(hint.render()).startswith("g summarise again · n add as internal note")
            request = wire_server.requests[-1].json
            assert request["messages"][1] == {"role": "user", "content": "I was charged twice for my order."}
            assert "Open questions" in request["messages"][-1]["content"]
            await pilot.press("n")
            await wait_for(pilot, lambda: not isinstance(app.screen, SummaryPanel), what="the panel closing")
            await settle(pilot)
        notes = [m for m in services.store.page_messages(cid) if m.role == ROLE_NOTE]
        assert len(notes) == 1
        assert SUMMARY in notes[0].text
        state = services.store.latest_summary(cid)
        assert state is not None
        assert not state.stale
        services.store.add_message(cid, ROLE_CUSTOMER, "Hello? Any news?")
        state = services.store.latest_summary(cid)
        assert state is not None
        assert state.stale
    finally:
        services.close()


async def test_a_german_customer_gets_a_german_draft_a_translation_to_read_and_thumbs(
    tmp_path: Path, wire_server: WireServer
) -> None:
    services = services_for(ui_settings(tmp_path, wire_server))
    _, cid = seed_customer(
        services, messages=("Hallo, meine Bestellung ist noch nicht angekommen. Wo ist sie?",)
    )
    german = "Hallo! Ihre Bestellung ist unterwegs und kommt morgen an."
    english = "Hello! Your order is on its way and arrives tomorrow."
    wire_server.enqueue(stream_text(german), stream_text(english))
    app = create_app(services.settings, services)
    try:
        async with console(app, (120, 40)) as pilot:
            main = await open_first_customer(pilot, app)
            await pilot.press("ctrl+g")
            await settle(pilot)
            draft_request = wire_server.requests[-1].json
            assert "Write the whole reply in German (de)" in draft_request["messages"][0]["content"]
            assert main.draft.text == german
            await pilot.press("ctrl+f2")
            await wait_for(pilot, lambda: isinstance(app.screen, TranslationView), what="the translation")
            view = app.screen
            assert isinstance(view, TranslationView)
            await wait_for(pilot, lambda: view.text == english and not view.streaming, what="the text")
            translate = wire_server.requests[-1].json
            assert translate["messages"][1] == {"role": "user", "content": german}
            await pilot.press("ctrl+s")  # the send key over the panel: said, not done
            await settle(pilot)
            assert app.screen_stack[-1] is view  # still open
            assert any(m.startswith("Nothing is sent from this panel") for _, m in notifications(app))
            assert [m.state for m in services.store.page_messages(cid) if m.role == "agent"] == ["draft"]
            assert "English" in translate["messages"][0]["content"]
            await pilot.press("ctrl+f2")  # the same key closes it
            await wait_for(pilot, lambda: app.screen is main, what="back to the draft")
            assert main.draft.text == german  # the draft is untouched: it is what would be sent
            await pilot.press("ctrl+f6")
            await pilot.pause(0.2)
            await pilot.press(*"too formal")
            await pilot.press("enter")
            await settle(pilot)
        generations = services.store.generations(cid)
        (translation,) = [g for g in generations if g.kind == GENERATION_TRANSLATION]
        assert translation.output_text == english
        assert translation.message_id == main.session.draft_id
        (draft,) = [g for g in generations if g.kind == "draft"]
        assert (draft.rating, draft.rating_reason, draft.agent) == (-1, "too formal", None)
        assert services.store.quality_stats().by_persona[0].thumbs_down == 1
    finally:
        services.close()


async def test_customer_panel_shows_the_detected_language_and_sets_another(
    tmp_path: Path, wire_server: WireServer
) -> None:

    from support_console.ui.screens.customer_panel import CustomerPanel
    from support_console.ui.widgets.safe_text_area import SafeTextArea

    services = services_for(ui_settings(tmp_path, wire_server))
    customer_id, _ = seed_customer(services, messages=("Hallo, meine Bestellung ist noch nicht angekommen.",))
    wire_server.enqueue(stream_text("Bonjour !"))
    app = create_app(services.settings, services)
    try:
        async with console(app, (120, 40)) as pilot:
            await open_first_customer(pilot, app)
            await pilot.press("f11")
            await wait_for(pilot, lambda: isinstance(app.screen, CustomerPanel), what="the panel")
            line = app.screen.query_one("#customer-language", Static)
            await wait_for(pilot, lambda: "German (de), detected" in str(line.render()), what="language")
            area = app.screen.query_one("#customer-attributes", SafeTextArea)
            area.load_text("language = Klingon!\n")
            await pilot.press("ctrl+s")
            error = app.screen.query_one("#customer-panel-error", Static)
            await wait_for(pilot, lambda: "not a language code" in str(error.render()), what="the error")
            area.load_text("language = fr\n")
            await pilot.press("ctrl+s")
            await wait_for(pilot, lambda: not isinstance(app.screen, CustomerPanel), what="saved")
            await pilot.press("ctrl+g")
            await settle(pilot)
        assert services.store.get_customer(customer_id).attributes == {"language": "fr"}
        system = wire_server.requests[-1].json["messages"][0]["content"]
        assert "Write the whole reply in French (fr)" in system
    finally:
        services.close()


async def test_thumbs_in_the_audit_view_and_a_summary_shown_in_the_lineage(
    tmp_path: Path, wire_server: WireServer
) -> None:
    from rich.text import Text

    from support_console.core.vocabulary import GENERATION_SUMMARY
    from support_console.ui.screens.audit import AuditScreen

    services = services_for(ui_settings(tmp_path, wire_server))
    _, cid = seed_customer(services, messages=("Where is my parcel?",))
    store = services.store
    gid = store.start_generation(cid, draft_id=None, persona_id="tech-support", model="gpt-4o", parameters={})
    draft = store.save_draft(cid, text="On its way.", original_text="On its way.", persona_id="tech-support",
                             model="gpt-4o", finish_reason="stop", generation_id=gid, final=True)  # fmt: skip
    store.approve_draft(draft, "On its way.", "alice")
    summary = store.start_generation(cid, draft_id=None, persona_id="tech-support", model="gpt-4o",
                                     parameters={}, kind=GENERATION_SUMMARY)  # fmt: skip
    store.record_output(summary, "Intent: where the parcel is.", finish_reason="stop")
    app = create_app(services.settings, services)
    try:
        async with console(app, (120, 40)) as pilot:
            await open_first_customer(pilot, app)
            await app.push_screen(AuditScreen(services, cid))
            await wait_for(pilot, lambda: bool(app.screen.query("#audit-generations")), what="the audit view")
            shown = app.screen.query_one("#audit-generations", Static).content
            assert isinstance(shown, Text)
            assert "summary ·" in shown.plain
            assert "Intent: where the parcel is." in shown.plain
            await pilot.press("minus")
            await pilot.pause(0.2)
            await pilot.press(*"vague", "enter")
            await wait_for(pilot, lambda: store.rating(gid) is not None, what="the rating")
        rating = store.rating(gid)
        assert rating is not None
        assert (rating.rating, rating.reason, rating.rated_by) == (-1, "vague", "alice")
    finally:
        services.close()
