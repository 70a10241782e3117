"""Clipboard honesty: the console says what it did with an approved reply. A copy command (a real script on
PATH, found the way wl-copy is) is run and its success or failure reported; without one, the reply is said to
be sent to the terminal (OSC 52), never "copied"; the last reply can be written to a file."""

from __future__ import annotations

import stat
from pathlib import Path

from support_console.config.settings import CliOverrides, load_settings
from support_console.ui.app import create_app
from tests.ui_helpers import console, notifications, open_first_customer, seed_customer, settle, wait_for
from tests.wire_replies import stream_text
from tests.wire_server import WireServer

REPLY = "Your parcel left the depot today.\nIt should arrive on Friday."


def fake_copy_command(folder: Path, name: str, out: Path, exit_code: int = 0) -> Path:
    """A real executable called ``name`` that writes its stdin to ``out`` and exits with ``exit_code``."""
    folder.mkdir(parents=True, exist_ok=True)
    script = folder / name
    script.write_text(
        f"#!/bin/sh\ncat > '{out}'\necho 'no display here' >&2\nexit {exit_code}\n", encoding="utf-8"
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script


def settings_with_path(tmp_path: Path, server: WireServer, path: str, config: str = "") -> object:
    config_file = tmp_path / "config.toml"
    config_file.write_text('[agent]\nname = "alice"\n' + config, encoding="utf-8")
    overrides = CliOverrides(
        base_url=server.base_url, model="gpt-4o", db=str(tmp_path / "c.db"), config=config_file
    )
    return load_settings(overrides, env={"OPENAI_API_KEY": "sk-test", "PATH": path})


async def approve_one(tmp_path: Path, server: WireServer, settings: object) -> tuple[object, list[str], str]:
    from support_console.config.settings import Settings
    from support_console.workflows.services import build_services

    assert isinstance(settings, Settings)
    services = build_services(settings)
    try:
        seed_customer(services, messages=("Where is my parcel?",))
        server.enqueue(stream_text(REPLY))
        app = create_app(settings, services)
        async with console(app, (100, 30)) as pilot:
            main = await open_first_customer(pilot, app)
            await pilot.press("ctrl+g")
            await wait_for(pilot, lambda: not main.streaming and main.draft.text == REPLY, what="the draft")
            await settle(pilot)
            await pilot.press("ctrl+s")
            await wait_for(
                pilot,
                lambda: "Sent." in str(main.query_one("#draft-status").render()),
                what=f"sent: {main.query_one('#draft-status').render()} {notifications(app)}",
            )
            await wait_for(pilot, lambda: "Copying" not in str(main.query_one("#draft-status").render()))
            status = str(main.query_one("#draft-status").render())
            said = [m for _, m in notifications(app) if m.startswith("Reply approved")]
            return app.clipboard, said, status
    finally:
        services.close()


async def test_a_copy_command_on_path_gets_the_reply(tmp_path: Path, wire_server: WireServer) -> None:
    out = tmp_path / "copied.txt"
    bin_dir = tmp_path / "bin"
    fake_copy_command(bin_dir, "xclip", out)
    settings = settings_with_path(tmp_path, wire_server, str(bin_dir))
    clipboard, said, status = await approve_one(tmp_path, wire_server, settings)
    assert out.read_text(encoding="utf-8") == REPLY
    assert "Copied to the clipboard with xclip" in status
    assert any("with xclip" in m for m in said)
    assert clipboard == ""  # no OSC 52 sent when the command did the work


async def test_a_failing_copy_command_is_reported_and_osc52_is_named(
    tmp_path: Path, wire_server: WireServer
) -> None:
    out = tmp_path / "copied.txt"
    script = fake_copy_command(tmp_path / "tools", "my-copy", out, exit_code=3)
    settings = settings_with_path(tmp_path, wire_server, "", f'[clipboard]\ncommand = "{script} --quiet"\n')
    clipboard, said, status = await approve_one(tmp_path, wire_server, settings)
    assert out.read_text(encoding="utf-8") == REPLY
    assert "my-copy failed (exit 3: no display here)" in status
    assert "OSC 52" in status
    assert clipboard == REPLY
    assert not any("Copied" in m for m in said)


async def test_without_a_command_the_reply_is_only_said_to_be_sent_to_the_terminal(
    tmp_path: Path, wire_server: WireServer
) -> None:
    settings = settings_with_path(tmp_path, wire_server, str(tmp_path / "empty-bin"))
    clipboard, said, status = await approve_one(tmp_path, wire_server, settings)
    assert clipboard == REPLY
    assert "sent to the terminal's clipboard (OSC 52)" in status
    assert "Write the last reply to a file" in said[0]
    assert "copied" not in " ".join(said).lower()


def test_the_configured_command_wins_over_path_and_paths_are_split(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    fake_copy_command(bin_dir, "wl-copy", tmp_path / "x")
    fake_copy_command(bin_dir, "pbcopy", tmp_path / "y")
    config = tmp_path / "config.toml"
    config.write_text("", encoding="utf-8")
    found = load_settings(CliOverrides(config=config), env={"PATH": str(bin_dir)}).clipboard
    assert found.command == (str(bin_dir / "wl-copy"),)  # the first of wl-copy, xclip, pbcopy
    assert found.command_source == "found on PATH"
    config.write_text('[clipboard]\ncommand = ["tee", "/tmp/x y"]\nfile = "r.txt"\n', encoding="utf-8")
    chosen = load_settings(CliOverrides(config=config), env={"PATH": str(bin_dir), "EDITOR": "vim -n"})
    assert chosen.clipboard.command == ("tee", "/tmp/x y")
    assert chosen.clipboard.file == tmp_path / "r.txt"
    assert chosen.clipboard.editor == ("vim", "-n")


async def test_the_last_reply_can_be_written_to_a_file_from_the_palette(
    tmp_path: Path, wire_server: WireServer
) -> None:
    from support_console.config.settings import Settings
    from support_console.workflows.services import build_services

    target = tmp_path / "out" / "reply.txt"
    settings = settings_with_path(tmp_path, wire_server, "", f'[clipboard]\nfile = "{target}"\n')
    assert isinstance(settings, Settings)
    services = build_services(settings)
    try:
        seed_customer(services, messages=("Where is my parcel?",))
        wire_server.enqueue(stream_text(REPLY))
        app = create_app(settings, services)
        async with console(app, (100, 30)) as pilot:
            main = await open_first_customer(pilot, app)
            await pilot.press("ctrl+p")
            await pilot.press(*"write the last reply")
            await pilot.pause(0.3)
            await pilot.press("enter")
            await settle(pilot)
            assert ("information", "No reply has been sent in this session yet.") in notifications(app)
            await pilot.press("ctrl+g")
            await wait_for(pilot, lambda: not main.streaming and main.draft.text == REPLY, what="the draft")
            await settle(pilot)
            await pilot.press("ctrl+s")
            await wait_for(pilot, lambda: main.drafting.last_reply == REPLY, what="the reply sent")
            await pilot.press("ctrl+p")
            await pilot.press(*"write the last reply")
            await pilot.pause(0.3)
            await pilot.press("enter")
            await wait_for(pilot, target.exists, what="the reply file")
            await settle(pilot)
            assert target.read_text(encoding="utf-8") == REPLY + "\n"
            assert ("information", f"The last reply is in {target}.") in notifications(app)
    finally:
        services.close()


async def test_open_in_the_editor_writes_the_reply_and_says_where_when_it_cannot_hand_over(
    tmp_path: Path, wire_server: WireServer
) -> None:
    from support_console.config.settings import Settings
    from support_console.workflows.services import build_services

    target = tmp_path / "reply.txt"
    config = f'[clipboard]\nfile = "{target}"\n'
    settings = settings_with_path(tmp_path, wire_server, "", config)
    assert isinstance(settings, Settings)
    assert settings.clipboard.editor is None
    services = build_services(settings)
    try:
        seed_customer(services, messages=("Where is my parcel?",))
        wire_server.enqueue(stream_text(REPLY))
        app = create_app(settings, services)
        async with console(app, (100, 30)) as pilot:
            main = await open_first_customer(pilot, app)
            await pilot.press("ctrl+g")
            await wait_for(pilot, lambda: not main.streaming and main.draft.text == REPLY, what="the draft")
            await settle(pilot)
            await pilot.press("ctrl+s")
            await wait_for(pilot, lambda: main.drafting.last_reply == REPLY, what="the reply sent")
            main.action_edit_last_reply()
            await settle(pilot)
            assert any("No editor is set" in m for _, m in notifications(app))
            assert not target.exists()
    finally:
        services.close()
