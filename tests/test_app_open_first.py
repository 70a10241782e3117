"""What the console does before the agent's first conversation is on screen, and nothing more.

Opening a customer mounts the newest messages for the first frame and the rest of the page right after it:
the agent sees the newest messages at once and ends with the whole page, in order, scrolled to the bottom.
The start imports neither the token tables nor an HTTP client (they load when a draft needs them).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from support_console.ui.app import create_app
from support_console.ui.widgets.transcript import FIRST_SHOWN, PAGE
from tests.ui_helpers import (
    console,
    open_first_customer,
    screen_text,
    seed_customer,
    seed_history,
    services_for,
    settle,
    ui_settings,
)
from tests.wire_server import WireServer

ROOT = Path(__file__).resolve().parents[1]


def test_starting_the_console_imports_no_token_tables_or_http_client() -> None:
    code = (
        "import sys; import support_console.cli.main, support_console.ui.app, "
        "support_console.ui.screens.main; "
        "print(sorted(m for m in ('tiktoken', 'urllib.request', 'http.client') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


async def test_a_long_conversation_opens_with_its_newest_messages_then_the_whole_page(
    tmp_path: Path, wire_server: WireServer
) -> None:
    services = services_for(ui_settings(tmp_path, wire_server))
    try:
        _, conversation_id = seed_customer(services, messages=())
        seed_history(services, conversation_id, PAGE + 30, text="Entry {i} of the history")
        newest = f"Entry {PAGE + 29} of the history"
        app = create_app(services.settings, services)
        async with console(app, (120, 40)) as pilot:
            main = await open_first_customer(pilot, app)
            await settle(pilot)
            views = main.transcript.views
            assert len(views) == PAGE  # the whole newest page
            assert all(view.is_attached for view in views)
            ids = [view.message_id or 0 for view in views]
            assert ids == sorted(ids)  # oldest first: the older part was mounted above the newest
            assert views[-1].message_text == newest
            children = list(main.transcript.children)
            assert [children.index(view) for view in views] == sorted(children.index(v) for v in views)
            assert newest in screen_text(app)  # still at the bottom
            assert main.transcript.scroll_y == main.transcript.max_scroll_y
            assert main.transcript.older == 30
            page = services.store.page_messages(conversation_id, None, PAGE)
            main.transcript.show_conversation(conversation_id, page, PAGE + 30)  # as an open does
            assert sum(view.is_attached for view in main.transcript.views) == FIRST_SHOWN  # the newest
            await settle(pilot)
            await pilot.pause()
            assert sum(view.is_attached for view in main.transcript.views) == PAGE  # then all of the page
            assert newest in screen_text(app)
    finally:
        services.close()
