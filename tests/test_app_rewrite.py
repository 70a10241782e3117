"""Rewriting the draft in the console, by keys: the picker, the streamed preview, accept / retry / reject,
undo, a selection only, refine's instruction and its history, stop; each rewrite a generation record.

Real parts only: the loopback model server records the exact requests, the store is a SQLite file, the keys
are pressed as an agent would.
"""

from __future__ import annotations

from typing import Any

from textual.pilot import Pilot

from support_console.core.rewrite_tools import load_tools
from support_console.core.vocabulary import GENERATION_REWRITE, OUTCOME_ACCEPTED, OUTCOME_REJECTED
from support_console.store import GenerationRecord
from support_console.ui.app import SupportConsoleApp, create_app
from support_console.ui.screens.main import MainScreen
from support_console.ui.screens.rating import RatingScreen
from support_console.ui.screens.rewrite_picker import ToolInputs, ToolPicker
from support_console.ui.screens.rewrite_preview import RewritePreview
from support_console.workflows.services import Services
from tests.ui_helpers import (
    console,
    draft_status,
    generate,
    open_first_customer,
    screen_of,
    seed_customer,
    settle,
    wait_for,
)
from tests.wire_server import WireServer, stream_text

DRAFT = "Hello Jane.\nSorry for the wait: the refund of $59.99 for order ORD-1234 is sent."


def tool_index(tool_id: str) -> int:
    return [t.id for t in load_tools().ordered()].index(tool_id)


async def draft_ready(pilot: Pilot[Any], app: SupportConsoleApp, wire: WireServer) -> MainScreen:
    """Open the customer and generate the draft DRAFT, as an agent would."""
    wire.enqueue(stream_text(DRAFT))
    main = await open_first_customer(pilot, app)
    await generate(pilot, main)
    assert main.draft.text == DRAFT
    return main


async def pick(pilot: Pilot[Any], app: SupportConsoleApp, tool_id: str) -> None:
    """shift+F2, then the tool with the arrows and Enter."""
    await pilot.press("shift+f2")
    await wait_for(pilot, lambda: isinstance(screen_of(app), ToolPicker), what="the tool picker")
    await pilot.press(*["down"] * tool_index(tool_id), "enter")


async def preview_done(pilot: Pilot[Any], app: SupportConsoleApp) -> RewritePreview:
    await wait_for(pilot, lambda: isinstance(screen_of(app), RewritePreview), what="the preview")
    preview = screen_of(app)
    assert isinstance(preview, RewritePreview)
    await wait_for(pilot, lambda: not preview.streaming, what="the rewrite to end")
    await pilot.pause()
    return preview


def rewrites(services: Services, conversation_id: int) -> list[GenerationRecord]:
    return [g for g in services.store.generations(conversation_id) if g.kind == GENERATION_REWRITE]


def static_text(screen: RewritePreview, widget_id: str) -> str:
    from textual.widgets import Static

    return str(screen.query_one(widget_id, Static).render())


async def test_accept_replaces_the_draft_as_one_undo_step(
    services: Services, wire_server: WireServer
) -> None:
    _, conversation_id = seed_customer(services, messages=("Where is my refund?",))
    app = create_app(services.settings, services)
    async with console(app, (120, 36)) as pilot:
        main = await draft_ready(pilot, app, wire_server)
        shorter = "Hi Jane, sorry: your $59.99 refund for ORD-1234 is sent."
        wire_server.enqueue(stream_text(shorter))
        await pick(pilot, app, "shorter")
        preview = await preview_done(pilot, app)
        request = wire_server.requests[-1].json
        system, user = request["messages"]
        assert system["role"] == "system"
        assert "clearly shorter" in system["content"]
        assert "Keep every URL, email address, number, price" in system["content"]
        assert user == {"role": "user", "content": DRAFT}
        assert "all kept" in static_text(preview, "#rewrite-flags")
        assert main.draft.text == DRAFT  # nothing changes before the agent accepts
        await pilot.press("enter")
        await wait_for(pilot, lambda: main.draft.text == shorter, what="the accepted rewrite")
        await settle(pilot)
        [record] = rewrites(services, conversation_id)
        assert (record.tool_id, record.agent, record.outcome) == ("shorter", "alice", OUTCOME_ACCEPTED)
        assert record.output_text == shorter
        assert record.ended_at is not None
        assert record.persona_id is not None
        assert record.model == "gpt-4o"
        from support_console.ui.screens.audit import generations_text

        lineage = generations_text(services.store.audit_conversation(conversation_id)).plain
        assert f"#{record.id} · " in lineage
        assert "rewrite shorter by alice, accepted · " in lineage
        assert f"draft #{record.message_id}" in lineage
        assert record.message_id == main.draft.draft_id
        assert "ctrl+z in the draft undoes it" in draft_status(main)
        await pilot.press("ctrl+z")  # the focus is back in the draft: one undo gives the model's text
        assert main.draft.text == DRAFT
        assert "Rewrite accepted" not in draft_status(main)  # it was undone: the line no longer says so
        await pilot.press("ctrl+y")
        assert main.draft.text == shorter


async def test_a_changed_price_is_flagged_and_reject_keeps_the_draft(
    services: Services, wire_server: WireServer
) -> None:
    _, conversation_id = seed_customer(services, messages=("Where is my refund?",))
    app = create_app(services.settings, services)
    async with console(app, (120, 36)) as pilot:
        main = await draft_ready(pilot, app, wire_server)
        wire_server.enqueue(
            stream_text("Hello Jane! Sorry for the wait: your $49.99 refund (ORD-1234) is sent.")
        )
        await pick(pilot, app, "friendlier")
        preview = await preview_done(pilot, app)
        flags = static_text(preview, "#rewrite-flags")
        assert "$59.99 became $49.99" in flags
        await pilot.press("minus")  # thumbs down on the rewrite itself, with a reason
        await wait_for(pilot, lambda: isinstance(screen_of(app), RatingScreen), what="the rating question")
        await pilot.press(*"changed the price", "enter")
        await wait_for(pilot, lambda: screen_of(app) is preview, what="the preview again")
        await wait_for(pilot, lambda: rewrites(services, conversation_id)[0].rating == -1, what="the rating")
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(screen_of(app), MainScreen), what="the preview to close")
        await settle(pilot)
        assert main.draft.text == DRAFT
        [record] = rewrites(services, conversation_id)
        assert (record.tool_id, record.outcome) == ("friendlier", OUTCOME_REJECTED)
        rating = services.store.rating(record.id)
        assert rating is not None
        assert (rating.rating, rating.reason, rating.rated_by) == (-1, "changed the price", "alice")


async def test_the_preview_keeps_the_space_before_a_cut_last_sentence(
    services: Services, wire_server: WireServer
) -> None:
    """A rewrite that drops the draft's last sentence shows it struck through after a space, not glued on
    ("Hello Jane.Sorry" would read as one word)."""
    seed_customer(services, messages=("Where is my refund?",))
    app = create_app(services.settings, services)
    async with console(app, (120, 36)) as pilot:
        await draft_ready(pilot, app, wire_server)
        wire_server.enqueue(stream_text("Hello Jane."))
        await pick(pilot, app, "shorter")
        preview = await preview_done(pilot, app)
        assert static_text(preview, "#rewrite-diff").startswith("Hello Jane.\nSorry for the wait")
        await pilot.press("escape")


async def test_a_selection_alone_is_rewritten(services: Services, wire_server: WireServer) -> None:
    seed_customer(services, messages=("Where is my refund?",))
    app = create_app(services.settings, services)
    async with console(app, (120, 36)) as pilot:
        main = await draft_ready(pilot, app, wire_server)
        main.draft.editor.focus()
        await pilot.press("up", "up", "up", "up", "home", "shift+end")  # the first line: "Hello Jane."
        assert main.draft.editor.selected_text == "Hello Jane."
        wire_server.enqueue(stream_text("Dear Ms Doe,"))
        await pick(pilot, app, "more-formal")
        await preview_done(pilot, app)
        assert wire_server.requests[-1].json["messages"][1]["content"] == "Hello Jane."
        await pilot.press("enter")
        expected = DRAFT.replace("Hello Jane.", "Dear Ms Doe,")
        await wait_for(pilot, lambda: main.draft.text == expected, what="the selection replaced")
        await pilot.press("ctrl+z")
        assert main.draft.text == DRAFT


async def test_refine_asks_for_the_instruction_and_keeps_its_history(
    services: Services, wire_server: WireServer
) -> None:
    _, conversation_id = seed_customer(services, messages=("Where is my refund?",))
    app = create_app(services.settings, services)
    async with console(app, (120, 36)) as pilot:
        main = await draft_ready(pilot, app, wire_server)
        wire_server.enqueue(stream_text(DRAFT + " It has a 30-day warranty."))
        await pick(pilot, app, "refine")
        await wait_for(pilot, lambda: isinstance(screen_of(app), ToolInputs), what="the instruction")
        await pilot.press(*"mention the warranty", "enter")
        await preview_done(pilot, app)
        system = wire_server.requests[-1].json["messages"][0]["content"]
        assert "Agent's instruction: mention the warranty" in system
        await pilot.press("r")  # retry: the same tool and instruction, a new request and record
        wire_server.enqueue(stream_text(DRAFT + " Warranty: 30 days."))
        await preview_done(pilot, app)
        await wait_for(pilot, lambda: len(wire_server.requests) == 3, what="the retried request")
        assert (
            "Agent's instruction: mention the warranty"
            in wire_server.requests[-1].json["messages"][0]["content"]
        )
        await pilot.press("escape")
        await settle(pilot)
        assert main.draft.text == DRAFT
        await pick(pilot, app, "refine")  # the instruction given before is offered again
        await wait_for(pilot, lambda: isinstance(screen_of(app), ToolInputs), what="the instruction")
        from textual.widgets import OptionList

        history = screen_of(app).query_one("#rewrite-history", OptionList)
        assert str(history.get_option_at_index(0).prompt) == "mention the warranty"
        await pilot.press("escape", "escape")
        records = rewrites(services, conversation_id)
        assert [r.outcome for r in records] == [OUTCOME_REJECTED, OUTCOME_REJECTED]
        assert records[0].parameters["inputs"] == {"instruction": "mention the warranty"}


async def test_escape_stops_a_streaming_rewrite_and_keeps_what_came(
    services: Services, wire_server: WireServer
) -> None:
    _, conversation_id = seed_customer(services, messages=("Where is my refund?",))
    app = create_app(services.settings, services)
    async with console(app, (120, 36)) as pilot:
        main = await draft_ready(pilot, app, wire_server)
        words = " ".join(f"w{i}" for i in range(400))
        wire_server.enqueue(stream_text(words, delay=0.03))
        await pick(pilot, app, "expand")
        await wait_for(pilot, lambda: isinstance(screen_of(app), RewritePreview), what="the preview")
        preview = screen_of(app)
        assert isinstance(preview, RewritePreview)
        await wait_for(pilot, lambda: "w5" in "".join(preview.rewrite.pieces), what="some text")
        await pilot.press("escape")
        await wait_for(pilot, lambda: not preview.streaming, what="the stop")
        await pilot.press("enter")  # a stopped rewrite cannot be accepted
        assert screen_of(app) is preview
        await pilot.press("escape")
        await settle(pilot)
        assert main.draft.text == DRAFT
        [record] = rewrites(services, conversation_id)
        assert record.stopped_by_agent
        assert record.outcome == OUTCOME_REJECTED
        assert record.output_text
        assert record.output_text.startswith("w0 w1")
        assert record.output_text != words


async def test_the_palette_opens_the_rewrite_and_the_canned_reply_pickers(
    services: Services, wire_server: WireServer
) -> None:
    from support_console.ui.screens.macro_picker import MacroPicker

    seed_customer(services, messages=("Where is my refund?",))
    app = create_app(services.settings, services)
    async with console(app, (120, 36)) as pilot:
        await draft_ready(pilot, app, wire_server)
        await pilot.press("ctrl+p", *"rewrite draft")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(screen_of(app), ToolPicker), what="the tool picker")
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(screen_of(app), MainScreen), what="the main screen")
        await pilot.press("ctrl+p", *"insert canned reply")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(screen_of(app), MacroPicker), what="the macro picker")
