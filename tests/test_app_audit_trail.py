"""The audit trail and the send guards in the console, pressing keys as an agent would, against the loopback
server: a generation record for every stop, regeneration and failure; one pending draft after CLI and console
drafts; and nothing risky (a refusal, a filtered or stopped partial, a failed draft) sent with one key."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from rich.text import Text
from textual.pilot import Pilot
from textual.widgets import Static

from support_console.cli.main import main as cli_main
from support_console.config.settings import Settings
from support_console.core.vocabulary import SUPERSEDED, ErrorKind
from support_console.ui.app import SupportConsoleApp, create_app
from support_console.ui.screens.audit import AuditScreen
from support_console.ui.screens.confirm import ConfirmScreen
from support_console.ui.screens.main import MainScreen
from support_console.workflows.services import Services
from tests.ui_helpers import (
    console,
    draft_status,
    open_first_customer,
    seed_customer,
    services_for,
    settle,
    ui_settings,
    wait_for,
)
from tests.wire_replies import drop_after, error, stall_after, stream_text
from tests.wire_server import WireServer

NO_RETRIES = '[agent]\nname = "alice"\n[provider]\nmax_retries = 0\n'
SLOW = " ".join(f"word{i}" for i in range(200))
AUTH = error(401, {"error": {"message": "Incorrect API key provided.", "code": "invalid_api_key"}})


@pytest.fixture
def settings(tmp_path: Path, wire_server: WireServer) -> Settings:
    return ui_settings(tmp_path, wire_server, config_text=NO_RETRIES)


@pytest.fixture
def services(settings: Settings) -> Iterator[Services]:
    built = services_for(settings)
    try:
        yield built
    finally:
        built.close()


def main_of(app: SupportConsoleApp) -> MainScreen:
    assert app.main_screen is not None
    return app.main_screen


def question(app: SupportConsoleApp) -> str:
    return str(app.screen.query_one("#confirm-question").render())


async def audit_generations(
    pilot: Pilot[Any], app: SupportConsoleApp, services: Services, conversation_id: int
) -> Text:
    """Open the conversation's audit view and read its list of generations, as shown."""
    await app.push_screen(AuditScreen(services, conversation_id))
    await wait_for(pilot, lambda: bool(app.screen.query("#audit-generations")), what="the audit view")
    shown = app.screen.query_one("#audit-generations", Static).content
    assert isinstance(shown, Text)
    return shown


async def test_stop_regenerate_and_failure_each_leave_their_own_generation(
    services: Services, wire_server: WireServer
) -> None:
    _, conversation_id = seed_customer(services, messages=("My order never came",))
    app = create_app(services.settings, services)
    async with console(app) as pilot:
        main = await open_first_customer(pilot, app)
        wire_server.enqueue(stream_text("Your order is on its way.", usage=(40, 300)))
        await pilot.press("ctrl+g")
        await wait_for(pilot, lambda: "Finished" in draft_status(main), what="the first draft")
        await settle(pilot)
        wire_server.enqueue(stream_text(SLOW, delay=0.02))
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: main.draft.text.count("word") >= 3, what="some streamed text")
        await pilot.press("escape")
        await settle(pilot)
        for _ in range(2):  # two failures in a row: two records, not one reused
            wire_server.enqueue(AUTH)
            await pilot.press("ctrl+r")
            await wait_for(pilot, lambda: "Failed" in draft_status(main), what="the failure")
            await settle(pilot)
        wire_server.enqueue(stream_text("Fixed: it ships today.", usage=(40, 6)))
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: "Finished" in draft_status(main), what="the last draft")
        await settle(pilot)
        shown = await audit_generations(pilot, app, services, conversation_id)
        lines = [line for line in shown.plain.splitlines() if not line.startswith(" ")]  # not their texts
        assert lines[0] == "Generations (5, oldest first)"
        assert ["stopped by the agent" in line for line in lines[1:]] == [False, True, False, False, False]
        assert ["ended: auth" in line for line in lines[1:]] == [False, False, True, True, False]
        assert "300 completion" in lines[1]
        assert "? completion" in lines[2]

    records = services.store.generations(conversation_id)
    assert [g.error_kind for g in records] == [None, ErrorKind.STOPPED, ErrorKind.AUTH, ErrorKind.AUTH, None]
    first, stopped = records[0], records[1]
    assert (first.completion_tokens, first.finish_reason) == (300, "stop")
    assert (stopped.completion_tokens, stopped.finish_reason, stopped.stopped_by_agent) == (None, None, True)
    # Each replaces the record whose text the draft held: the failures that produced nothing left the
    # stopped partial in place, so they and the last one all replace it.
    assert [g.replaces for g in records[1:]] == [records[0].id, *[records[1].id] * 3]
    assert len({g.message_id for g in records}) == 1  # regenerated in place: one draft
    draft = services.store.pending_draft(conversation_id)
    assert draft is not None
    assert (draft.text, draft.error_kind, draft.error, draft.completion_tokens) == (
        "Fixed: it ships today.", None, None, 6,
    )  # fmt: skip
    row = services.store.stats().by_persona[0]
    assert (row.generations, row.errors) == (5, 2)


def _seed_closed(settings: Settings, message: str) -> int:
    """Jane's conversation holding ``message``, with the store closed again (the CLI opens it next)."""
    services = services_for(settings)
    try:
        return seed_customer(services, messages=(message,))[1]
    finally:
        services.close()


def _cli_draft(
    settings: Settings, wire_server: WireServer, text: str, monkeypatch: pytest.MonkeyPatch
) -> int:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-a-real-key")
    argv = ["--db", settings.db_url.removeprefix("sqlite:///"), "--base-url", wire_server.base_url,
            "--model", "gpt-4o", "--config", str(settings.config_path), "draft", "jane@example.com",
            "-m", text]  # fmt: skip
    return cli_main(argv)


def test_two_cli_drafts_then_the_console_restores_the_latest_and_regenerates_it(
    settings: Settings, wire_server: WireServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    conversation_id = _seed_closed(settings, "Where is my parcel?")
    wire_server.enqueue(stream_text("First CLI draft."))
    assert _cli_draft(settings, wire_server, "Where is my parcel?", monkeypatch) == 0
    wire_server.enqueue(stream_text("Second CLI draft."))
    assert _cli_draft(settings, wire_server, "Where is my parcel?", monkeypatch) == 0

    async def in_console() -> None:
        services = services_for(settings)
        try:
            app = create_app(settings, services)
            async with console(app) as pilot:
                main = await open_first_customer(pilot, app)
                assert main.draft.text == "Second CLI draft."
                assert "Restored" in draft_status(main)
                wire_server.enqueue(stream_text("Console draft."))
                await pilot.press("ctrl+g")
                await wait_for(pilot, lambda: "Finished" in draft_status(main), what="the console's draft")
                await settle(pilot)
                assert main.draft.text == "Console draft."
            drafts = [m for m in services.store.page_messages(conversation_id) if m.state == "draft"]
            assert [m.text for m in drafts] == ["Console draft."]
            records = services.store.generations(conversation_id)
            assert [g.draft_state for g in records] == [SUPERSEDED, "draft", "draft"]
            assert records[2].replaces == records[1].id
        finally:
            services.close()

    asyncio.run(in_console())


@pytest.mark.parametrize(
    ("reply", "warning"),
    [
        pytest.param(stream_text("", refusal="I can't help with that."), "model's refusal, not a reply",
                     id="refusal"),
        pytest.param(stream_text("Here is how to", finish_reason="content_filter"), "content filter",
                     id="content-filter"),
        pytest.param(stream_text("This reply got cut at the", finish_reason="length"),
                     "cut off at its length limit", id="length-cut"),
        pytest.param(drop_after(stream_text("Thanks for writing in. Let me check", chunks=None), 4),
                     "Drafting failed", id="failed"),
    ],
)  # fmt: skip
async def test_a_risky_draft_asks_before_it_is_sent_and_never_counts_as_unchanged(
    services: Services, wire_server: WireServer, reply: object, warning: str
) -> None:
    _, conversation_id = seed_customer(services, messages=("How do I do this?",))
    app = create_app(services.settings, services)
    async with console(app) as pilot:
        main = await open_first_customer(pilot, app)
        wire_server.enqueue(reply)  # type: ignore[arg-type]
        await pilot.press("ctrl+g")
        await wait_for(pilot, lambda: not main.drafting.generating and bool(main.draft.text), what="a draft")
        await settle(pilot)
        model_text = main.draft.text
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the send guard")
        assert warning in question(app)
        await pilot.press("n")  # no: nothing is sent
        await settle(pilot)
        assert "Not sent" in draft_status(main)
        assert services.store.pending_draft(conversation_id) is not None
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the send guard again")
        await pilot.press("y")
        await settle(pilot)
    sent = [m for m in services.store.page_messages(conversation_id) if m.state == "sent"]
    assert [m.text for m in sent] == [model_text]
    row = services.store.stats().by_persona[0]
    assert (row.sent, row.unchanged) == (1, 0)
    (reply,) = [m for m in services.store.audit_conversation(conversation_id).messages if m.state == "sent"]
    assert "sent as the model left it" in reply.verdict  # the audit does not call it "sent unchanged"


async def test_a_cut_off_draft_refused_by_the_guard_is_not_asked_about_twice(
    services: Services, wire_server: WireServer
) -> None:
    """The agent said "send anyway" to a cut-off draft, the send-time guard then refused it (the customer
    wrote again): the second approval, after reading, sends it without asking the same question."""
    _, conversation_id = seed_customer(services, messages=("How do I do this?",))
    app = create_app(services.settings, services)
    async with console(app) as pilot:
        main = await open_first_customer(pilot, app)
        wire_server.enqueue(stream_text("This reply got cut at the", finish_reason="length"))
        await pilot.press("ctrl+g")
        await wait_for(pilot, lambda: not main.drafting.generating and bool(main.draft.text), what="a draft")
        await settle(pilot)
        services.store.add_message(conversation_id, "customer", "Hello? Any news?")
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the send guard")
        await pilot.press("y")
        await wait_for(pilot, lambda: "conversation changed" in draft_status(main), what="the refusal")
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert not isinstance(app.screen, ConfirmScreen)
        await wait_for(pilot, lambda: not main.drafting.sending, what="the send")
    sent = [m for m in services.store.page_messages(conversation_id) if m.state == "sent"]
    assert [m.text for m in sent] == ["This reply got cut at the"]


async def test_a_complete_reply_is_sent_with_one_key(services: Services, wire_server: WireServer) -> None:
    _, conversation_id = seed_customer(services, messages=("Thanks!",))
    app = create_app(services.settings, services)
    async with console(app) as pilot:
        main = await open_first_customer(pilot, app)
        wire_server.enqueue(stream_text("You're welcome."))
        await pilot.press("ctrl+g")
        await wait_for(pilot, lambda: "Finished" in draft_status(main), what="the draft")
        await settle(pilot)
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert not isinstance(app.screen, ConfirmScreen)
    (sent,) = [m for m in services.store.page_messages(conversation_id) if m.state == "sent"]
    assert sent.generation_id == services.store.generations(conversation_id)[-1].id
    row = services.store.stats().by_persona[0]
    assert (row.sent, row.unchanged) == (1, 1)


def test_a_refusal_drafted_by_the_cli_asks_in_the_console_too(
    settings: Settings, wire_server: WireServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    conversation_id = _seed_closed(settings, "Do the thing")
    wire_server.enqueue(stream_text("", refusal="I can't help with that."))
    assert _cli_draft(settings, wire_server, "Do the thing", monkeypatch) == 4

    async def in_console() -> None:
        services = services_for(settings)
        try:
            app = create_app(settings, services)
            async with console(app) as pilot:
                main = await open_first_customer(pilot, app)
                assert main.draft.text == "I can't help with that."
                assert "Restored" in draft_status(main)
                assert "model's refusal, not a reply" in draft_status(main)
                await pilot.press("ctrl+s")
                await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the send guard")
                assert "model's refusal, not a reply" in question(app)
                await pilot.press("escape")
                await settle(pilot)
            assert services.store.pending_draft(conversation_id) is not None
        finally:
            services.close()

    asyncio.run(in_console())


async def test_a_reply_written_by_hand_over_a_failed_empty_draft_is_sent_with_one_key(
    services: Services, wire_server: WireServer
) -> None:
    _, conversation_id = seed_customer(services, messages=("Hello?",))
    app = create_app(services.settings, services)
    async with console(app) as pilot:
        main = await open_first_customer(pilot, app)
        wire_server.enqueue(AUTH)
        await pilot.press("ctrl+g")
        await wait_for(pilot, lambda: "Failed" in draft_status(main), what="the failure")
        await settle(pilot)
        await pilot.press("ctrl+n", "H", "i", "!")
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert not isinstance(app.screen, ConfirmScreen)  # nothing of the model's is in it
    sent = [m.text for m in services.store.page_messages(conversation_id) if m.state == "sent"]
    assert sent == ["Hi!"]


async def _first_draft(
    pilot: Pilot[Any], app: SupportConsoleApp, server: WireServer, text: str
) -> MainScreen:
    """Open the first customer and let the model draft ``text`` (6 completion tokens) with ctrl+g."""
    main = await open_first_customer(pilot, app)
    server.enqueue(stream_text(text, usage=(40, 6)))
    await pilot.press("ctrl+g")
    await wait_for(pilot, lambda: "Finished" in draft_status(main), what="the first draft")
    await settle(pilot)
    return main


async def _regenerate_and_send_the_kept_draft(
    services: Services,
    wire_server: WireServer,
    conversation_id: int,
    fail: Callable[[Pilot[Any]], Awaitable[None]],
) -> tuple[str, str]:
    """Generate a draft, regenerate it with ``fail`` making it produce nothing, check the pane shows the
    previous draft again, then send it with the approve key; (the status said, the regenerate key)."""
    app = create_app(services.settings, services)
    async with console(app) as pilot:
        main = await _first_draft(pilot, app, wire_server, "Your order is on its way.")
        draft_id = main.draft.draft_id
        assert draft_id is not None
        await fail(pilot)
        await wait_for(pilot, lambda: "kept" in draft_status(main), what="the kept draft")
        await settle(pilot)
        status, regenerate = draft_status(main), main.key("regenerate")
        assert (main.draft.text, main.draft.draft_id, main.draft.model_text) == (
            "Your order is on its way.", draft_id, "Your order is on its way.",
        )  # fmt: skip
        assert not main.draft.edited
        assert not main.draft.editor.read_only
        draft = services.store.pending_draft(conversation_id)
        assert draft is not None
        assert (draft.id, draft.text, draft.original_text, draft.completion_tokens, draft.error) == (
            draft_id, "Your order is on its way.", "Your order is on its way.", 6, None,
        )  # fmt: skip
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert not isinstance(app.screen, ConfirmScreen)  # the complete reply it was: one key
        await wait_for(pilot, lambda: not main.drafting.sending, what="the send")
    (sent,) = [m for m in services.store.page_messages(conversation_id) if m.state == "sent"]
    assert (sent.id, sent.text, sent.original_text) == (draft_id, "Your order is on its way.",
                                                        "Your order is on its way.")  # fmt: skip
    assert sent.generation_id == services.store.generations(conversation_id)[0].id  # the text's own
    return status, regenerate


async def test_a_regeneration_the_server_refuses_keeps_the_previous_draft(
    services: Services, wire_server: WireServer
) -> None:
    _, conversation_id = seed_customer(services, messages=("My order never came",))

    async def refused(pilot: Pilot[Any]) -> None:
        wire_server.enqueue(AUTH)
        await pilot.press("ctrl+r")

    status, regenerate = await _regenerate_and_send_the_kept_draft(
        services, wire_server, conversation_id, refused
    )
    assert status.startswith("Failed (auth): your previous draft is kept")
    assert f"generate again ({regenerate})" in status
    first, failed = services.store.generations(conversation_id)
    assert (failed.error_kind, failed.output_text, first.output_text) == (
        ErrorKind.AUTH, None, "Your order is on its way.",
    )  # fmt: skip


async def test_a_regeneration_that_comes_back_empty_keeps_the_previous_draft(
    services: Services, wire_server: WireServer
) -> None:
    """The model finishes without a word (a reasoning model that spent max_tokens thinking): no failure
    the server reports, and still nothing to replace the draft with."""
    _, conversation_id = seed_customer(services, messages=("My order never came",))

    async def empty(pilot: Pilot[Any]) -> None:
        wire_server.enqueue(stream_text("", finish_reason="length", usage=(40, 300)))
        await pilot.press("ctrl+r")

    status, regenerate = await _regenerate_and_send_the_kept_draft(
        services, wire_server, conversation_id, empty
    )
    assert status == f"The model returned no text: your previous draft is kept; {regenerate} tries again."
    _, empty_one = services.store.generations(conversation_id)
    assert (empty_one.finish_reason, empty_one.completion_tokens, empty_one.output_text) == (
        "length",
        300,
        None,
    )
    assert empty_one.ended_at is not None


async def test_a_regeneration_stopped_before_any_text_keeps_the_previous_draft(
    services: Services, wire_server: WireServer
) -> None:
    _, conversation_id = seed_customer(services, messages=("My order never came",))

    async def stopped(pilot: Pilot[Any]) -> None:
        wire_server.enqueue(stall_after(stream_text(SLOW), 1, 10.0))  # the role chunk, then silence
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: len(wire_server.requests) == 2, what="the second request")
        await pilot.pause(0.3)
        await pilot.press("escape")

    status, regenerate = await _regenerate_and_send_the_kept_draft(
        services, wire_server, conversation_id, stopped
    )
    assert status == f"Stopped before any text came: your previous draft is kept; {regenerate} tries again."
    _, stopped_one = services.store.generations(conversation_id)
    assert (stopped_one.stopped_by_agent, stopped_one.output_text) == (True, None)


async def test_the_audit_view_shows_the_text_of_every_generation(
    services: Services, wire_server: WireServer
) -> None:
    _, conversation_id = seed_customer(services, messages=("My order never came",))
    first_text = "Use [bold]this[/bold] link \u202eevil"  # markup and a bidi override: shown literally
    second_text = "A second answer. " + "x" * 2000
    app = create_app(services.settings, services)
    async with console(app) as pilot:
        main = await _first_draft(pilot, app, wire_server, first_text)
        wire_server.enqueue(stream_text(second_text))
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: main.draft.text.startswith("A second"), what="the second draft")
        await wait_for(pilot, lambda: "Finished" in draft_status(main), what="the second draft's end")
        await settle(pilot)
        shown = await audit_generations(pilot, app, services, conversation_id)
        plain = shown.plain
        assert "Use [bold]this[/bold] link" in plain
        assert "\u202e" not in plain  # pictured, never raw
        assert "A second answer. xxx" in plain
        assert "x" * 1500 not in plain  # a long text is cut
    one, two = services.store.generations(conversation_id)
    assert (one.output_text, two.output_text) == (first_text, second_text)


async def test_an_edited_draft_survives_a_regeneration_that_fails_at_once(
    services: Services, wire_server: WireServer
) -> None:
    _, conversation_id = seed_customer(services, messages=("My order never came",))
    app = create_app(services.settings, services)
    async with console(app) as pilot:
        main = await _first_draft(pilot, app, wire_server, "Your order is on its way.")
        await pilot.press("ctrl+n", "end", "!")  # the agent edits the model's draft
        wire_server.enqueue(AUTH)
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="replace your edits?")
        await pilot.press("y")
        await wait_for(pilot, lambda: "kept" in draft_status(main), what="the kept draft")
        await settle(pilot)
        assert main.draft.text == "Your order is on its way.!"
        assert main.draft.model_text == "Your order is on its way."
        assert main.draft.edited
        assert draft_status(main).startswith("Edited by you · Failed (auth): your previous draft is kept")
        draft = services.store.pending_draft(conversation_id)
        assert draft is not None
        assert draft.text == "Your order is on its way.!"
        assert draft.original_text == "Your order is on its way."
