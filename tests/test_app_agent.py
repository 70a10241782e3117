"""Agent identity: asked once on the first run when neither [agent] name nor $USER says who is working, saved
in the config file, shown in the header and recorded as the approver; never an agent called "agent"."""

from __future__ import annotations

import tomllib
from pathlib import Path

from support_console.config.settings import CliOverrides, load_settings
from support_console.ui.app import create_app
from support_console.ui.screens.agent_name import AgentNameScreen
from support_console.workflows.services import build_services
from tests.ui_helpers import console, open_first_customer, paste, seed_customer, settle, wait_for
from tests.wire_server import WireServer


def settings_for(tmp_path: Path, server: WireServer, env: dict[str, str], config: str) -> object:
    config_file = tmp_path / "config.toml"
    config_file.write_text(config, encoding="utf-8")
    overrides = CliOverrides(
        base_url=server.base_url, model="gpt-4o", db=str(tmp_path / "c.db"), config=config_file
    )
    return load_settings(overrides, env={"OPENAI_API_KEY": "sk-test", **env})


async def test_first_run_asks_who_is_working_once_and_records_it(
    tmp_path: Path, wire_server: WireServer
) -> None:
    from support_console.config.settings import Settings

    settings = settings_for(tmp_path, wire_server, {}, '[keys]\ngenerate = "ctrl+g"\n')
    assert isinstance(settings, Settings)
    assert settings.agent_source == "unset"
    services = build_services(settings)
    try:
        _, conversation_id = seed_customer(services, messages=("Hi",))
        app = create_app(settings, services)
        async with console(app, (100, 30)) as pilot:
            await wait_for(pilot, lambda: isinstance(app.screen, AgentNameScreen), what="the question")
            await pilot.press("escape")  # later: sending must wait for a name
            main = await open_first_customer(pilot, app)
            await wait_for(pilot, lambda: "agent: not set" in str(main.sub_title), what="the header")
            await paste(pilot, "draft-editor", "Hello Jane")
            await pilot.press("ctrl+s")
            await wait_for(pilot, lambda: isinstance(app.screen, AgentNameScreen), what="asked again")
            assert not [m for m in services.store.page_messages(conversation_id) if m.state == "sent"]
            await pilot.press(*"Zoë Quinn", "enter")
            await wait_for(pilot, lambda: not isinstance(app.screen, AgentNameScreen), what="the name saved")
            await settle(pilot)  # the send goes on by itself once the name is given
            # (the header says "waiting for the database" instead while a write waits: a loaded machine)
            await wait_for(pilot, lambda: "agent: Zoë Quinn" in str(main.sub_title), what="the header")
        sent = [m for m in services.store.page_messages(conversation_id) if m.state == "sent"]
        assert [(m.text, m.approved_by) for m in sent] == [("Hello Jane", "Zoë Quinn")]
        saved = tomllib.loads(settings.config_path.read_text(encoding="utf-8"))
        assert saved == {"keys": {"generate": "ctrl+g"}, "agent": {"name": "Zoë Quinn"}}
    finally:
        services.close()
    again = settings_for(tmp_path, wire_server, {}, settings.config_path.read_text(encoding="utf-8"))
    assert isinstance(again, Settings)
    assert (again.agent_name, again.agent_source) == ("Zoë Quinn", "config")  # not asked a second time


def test_user_is_the_agent_when_the_config_names_nobody(tmp_path: Path, wire_server: WireServer) -> None:
    from support_console.config.settings import Settings

    settings = settings_for(tmp_path, wire_server, {"USER": "bob"}, "")
    assert isinstance(settings, Settings)
    assert (settings.agent_name, settings.agent_source) == ("bob", "environment")
    named = settings_for(tmp_path, wire_server, {"USER": "bob"}, '[agent]\nname = "Ana"\n')
    assert isinstance(named, Settings)
    assert (named.agent_name, named.agent_source) == ("Ana", "config")


async def test_the_palette_changes_who_is_working_and_the_file_keeps_one_name(
    tmp_path: Path, wire_server: WireServer
) -> None:
    from support_console.config.settings import Settings

    settings = settings_for(tmp_path, wire_server, {"USER": "bob"}, '[agent]\nname = "Ana"\n\n[keys]\n')
    assert isinstance(settings, Settings)
    services = build_services(settings)
    try:
        app = create_app(settings, services)
        async with console(app, (100, 30)) as pilot:
            main = app.main_screen
            assert main is not None
            assert not isinstance(app.screen, AgentNameScreen)  # named in the file: never asked
            await pilot.press("ctrl+p", *"who is working")
            await pilot.pause(0.3)
            await pilot.press("enter")
            await wait_for(pilot, lambda: isinstance(app.screen, AgentNameScreen), what="the question")
            field = app.screen.query_one("#agent-name")
            field.value = ""  # type: ignore[attr-defined]
            await pilot.press(*"Ana Lima", "enter")
            await wait_for(pilot, lambda: main.session.agent_name == "Ana Lima", what="the new name")
        saved = tomllib.loads(settings.config_path.read_text(encoding="utf-8"))
        assert saved["agent"] == {"name": "Ana Lima"}
    finally:
        services.close()
