"""Crash-safe drafts: a console killed with SIGKILL mid-stream loses at most the last fraction of a second,
and a new console on the same database restores the saved draft without sending anything to the model."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from support_console.ui.app import create_app
from tests.ui_helpers import (
    console,
    notifications,
    open_first_customer,
    seed_customer,
    services_for,
    settle,
    ui_settings,
)
from tests.wire_replies import stall_after, stream_text
from tests.wire_server import WireServer

ROOT = Path(__file__).resolve().parents[1]
WORDS = " ".join(f"word{i}" for i in range(40))


def test_killed_mid_stream_then_restored_without_a_request(tmp_path: Path, wire_server: WireServer) -> None:
    settings = ui_settings(tmp_path, wire_server)
    services = services_for(settings)
    _, conversation_id = seed_customer(services, messages=("My parcel is late",))
    services.close()
    # Words arrive every 0.1 s, then the upstream hangs: the child is killed while streaming.
    wire_server.enqueue(stall_after(stream_text(WORDS, delay=0.1), 20, 30.0))
    child = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.ui_helpers",
            "crash-child",
            str(tmp_path / "console.db"),
            wire_server.base_url,
            str(settings.config_path),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    services = services_for(settings)
    try:
        deadline = time.monotonic() + 20
        saved_text = ""
        while time.monotonic() < deadline:
            draft = services.store.pending_draft(conversation_id)
            saved_text = draft.text if draft else ""
            if "word8" in saved_text:
                break
            if child.poll() is not None:
                raise AssertionError(child.stderr.read().decode() if child.stderr else "child died")
            time.sleep(0.05)
        assert "word8" in saved_text, "the child never saved a growing draft"
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=10)
        assert child.returncode == -signal.SIGKILL
        assert len(wire_server.requests) == 1
        draft = services.store.pending_draft(conversation_id)
        assert draft is not None
        assert draft.state == "draft"
        assert draft.text.startswith("word0 word1")
        restored_text = draft.text
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(timeout=10)
        services.close()

    import asyncio

    async def reopen() -> None:
        services = services_for(settings)
        try:
            app = create_app(settings, services)
            async with console(app, (100, 30)) as pilot:
                main = await open_first_customer(pilot, app)
                assert main.draft.text == restored_text
                assert main.draft.draft_id == draft.id
                assert not main.streaming
                assert "Restored" in str(main.query_one("#draft-status").render())
                # Editing and approving the restored draft works like any other.
                await pilot.press("ctrl+n", "space", "o", "k")
                await pilot.press("ctrl+s")
                await settle(pilot)
                assert any("approved" in m for _, m in notifications(app))
            sent = services.store.page_messages(conversation_id)[-1]
            assert sent.state == "sent"
            assert sent.text == restored_text + " ok"
            assert sent.original_text == restored_text
        finally:
            services.close()

    asyncio.run(reopen())
    assert len(wire_server.requests) == 1  # reopening never asked the model for anything
