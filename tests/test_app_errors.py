"""Model errors in the console: each appears as an error notification that says what to do, the partial draft
stays in the pane (and in the store), and the key never shows. Real HTTP from the loopback server."""

from __future__ import annotations

from pathlib import Path

import pytest

from support_console.ui.app import create_app
from tests.ui_helpers import (
    console,
    notices,
    notifications,
    open_first_customer,
    seed_customer,
    services_for,
    settle,
    ui_settings,
    wait_for,
)
from tests.wire_replies import Reply, drop_after, error, replay, stream_text
from tests.wire_server import WireServer

NO_RETRIES = '[agent]\nname = "alice"\n[provider]\nmax_retries = 0\n'
PARTIAL = "Thanks for writing in. Let me check"


@pytest.mark.parametrize(
    ("reply", "expected", "partial"),
    [
        pytest.param(
            replay("oai_401_2025"), ["refused the credentials (HTTP 401)", "OPENAI_API_KEY"], "", id="bad-key"
        ),
        pytest.param(
            replay("az_400_content_filter_stream_2025"),
            ["content filter", "self_harm"],
            "",
            id="content-filter",
        ),
        pytest.param(
            error(
                429,
                {"error": {"message": "Rate limit reached", "code": "rate_limit_exceeded"}},
                {"retry-after": "7"},
            ),
            ["rate-limiting", "7 seconds"],
            "",
            id="rate-limit",
        ),
        pytest.param(
            error(
                400,
                {
                    "error": {
                        "message": "This model's maximum context length is 128000 tokens",
                        "code": "context_length_exceeded",
                    }
                },
            ),
            ["too long"],
            "",
            id="context-length",
        ),
        pytest.param(
            error(400, {"error": {"message": "Unsupported value: [bold]temperature[/] \x1b[31m"}}),
            ["rejected the request (HTTP 400)", "[bold]temperature[/]"],
            "",
            id="bad-request-with-markup",
        ),
        pytest.param(
            drop_after(stream_text(PARTIAL + " your order and get back to you."), 8),
            ["stopped before it was complete"],
            PARTIAL,
            id="dropped-connection",
        ),
    ],
)
async def test_model_errors_notify_and_keep_the_partial_draft(
    tmp_path: Path, wire_server: WireServer, reply: Reply, expected: list[str], partial: str
) -> None:
    services = services_for(ui_settings(tmp_path, wire_server, config_text=NO_RETRIES))
    try:
        seed_customer(services, messages=("Where is my order?",))
        wire_server.enqueue(reply)
        app = create_app(services.settings, services)
        async with console(app, (100, 30)) as pilot:
            main = await open_first_customer(pilot, app)
            await pilot.press("ctrl+g")
            await wait_for(pilot, lambda: not main.streaming and main.draft.draft_id is not None)
            await settle(pilot)
            await wait_for(pilot, lambda: any(s == "error" for s, _ in notifications(app)), what="the error")
            errors = [message for severity, message in notifications(app) if severity == "error"]
            assert len(errors) == 1
            for words in expected:
                assert words in errors[0]
            assert "sk-test-not-a-real-key" not in errors[0]
            assert all(not n.markup for n in notices(app))  # server text is never parsed as markup
            assert main.draft.text == partial
            assert main.query_one("#draft-status").has_class("-error")
            # The partial draft is saved with the error, and the app keeps working.
            assert main.conversation is not None
            assert main.conversation.id is not None
            saved = services.store.pending_draft(main.conversation.id)
            assert saved is not None
            assert saved.text == partial
            assert saved.error == errors[0]  # the error the agent was shown is the one stored with it
            assert app.is_running
    finally:
        services.close()


async def test_generate_without_a_conversation_says_what_to_do(
    tmp_path: Path, wire_server: WireServer
) -> None:
    services = services_for(ui_settings(tmp_path, wire_server))
    try:
        app = create_app(services.settings, services)
        async with console(app, (100, 30)) as pilot:
            await pilot.press("ctrl+g")
            assert any("select a customer" in m for _, m in notifications(app))
        assert wire_server.requests == []
    finally:
        services.close()


async def test_a_refusal_is_shown_as_the_draft_and_flagged(tmp_path: Path, wire_server: WireServer) -> None:
    services = services_for(ui_settings(tmp_path, wire_server))
    try:
        seed_customer(services, messages=("Write me something nasty",))
        wire_server.enqueue(stream_text("", chunks=[], refusal="I can't help with that."))
        app = create_app(services.settings, services)
        async with console(app, (100, 30)) as pilot:
            main = await open_first_customer(pilot, app)
            await pilot.press("ctrl+g")
            await wait_for(pilot, lambda: not main.streaming and main.draft.text != "")
            await settle(pilot)
            assert main.draft.text == "I can't help with that."
            assert "refused" in str(main.query_one("#draft-status").render())
            assert ("warning", "The model refused to write this reply.") in notifications(app)
            assert main.conversation is not None
            assert main.conversation.id is not None
            saved = services.store.pending_draft(main.conversation.id)
            assert saved is not None
            assert saved.text == "I can't help with that."
    finally:
        services.close()


async def test_an_unknown_window_and_a_window_cut_are_said_in_the_console(
    tmp_path: Path, wire_server: WireServer
) -> None:
    """A local model nobody states the window of: the meter says so (its count an estimate), a warning
    says how to set it, and a reply the window cut says that raising max_tokens will not help."""
    from tests.ui_helpers import screen_text
    from tests.wire_replies import llama_cpp_python_models

    wire_server.route("GET", "/v1/models", llama_cpp_python_models("gemma"))
    services = services_for(ui_settings(tmp_path, wire_server, model="gemma"))
    try:
        seed_customer(services, messages=("Where is my order?",))
        wire_server.enqueue(stream_text("It is on", finish_reason="length", usage=None, model="gemma"))
        app = create_app(services.settings, services)
        async with console(app, (160, 40)) as pilot:
            main = await open_first_customer(pilot, app)
            await pilot.press("ctrl+g")
            await wait_for(pilot, lambda: not main.streaming and main.draft.draft_id is not None)
            await settle(pilot)
            text = screen_text(app)
            assert "window unknown" in text
            assert "prompt ≈" in text
            warnings = [m for s, m in notifications(app) if s == "warning"]
            assert any('context_window under [models."gemma"]' in m for m in warnings)
            assert "context window" in str(main.query_one("#draft-status").render())
            assert "max_tokens will not help" in str(main.query_one("#draft-status").render())
    finally:
        services.close()
