"""Persona problems in the console: one summary toast however many files are broken (not a stack of 21 on
every reload), and every problem one command-palette command away. Real files on disk: broken TOML, an
unclosed placeholder, a FIFO, a dangling link and a link loop.

Why: a team folder with many broken files buried the console under toasts each time anything changed.
"""

from __future__ import annotations

import os
from pathlib import Path

from support_console.ui.app import PersonaProblemsScreen, create_app
from tests.ui_helpers import console, notifications, screen_text, services_for, ui_settings, wait_for


def _broken_folder(tmp_path: Path, count: int) -> Path:
    folder = tmp_path / "team"
    folder.mkdir()
    for i in range(count - 4):
        (folder / f"broken-{i:02d}.toml").write_text(f'id = "b{i}"\nname = \n')
    (folder / "unclosed.toml").write_text('name = "U"\nsystem = "Hello {{ name and bye"\n')
    os.mkfifo(folder / "pipe.toml")
    (folder / "dangling.toml").symlink_to(folder / "gone.toml")
    (folder / "loop.toml").symlink_to(folder / "loop.toml")
    return folder


async def test_many_persona_problems_make_one_toast_and_a_list_on_demand(tmp_path: Path) -> None:
    folder = _broken_folder(tmp_path, 21)
    services = services_for(ui_settings(tmp_path, None, personas=folder))
    try:
        assert len(services.personas.problems) == 21
        app = create_app(services.settings, services)
        async with console(app, size=(120, 40)) as pilot:
            await pilot.pause()
            errors = [m for severity, m in notifications(app) if severity == "error"]
            assert len(errors) == 1, errors
            assert errors[0].startswith("21 persona file problems, the first: ")
            assert "'Persona file problems'" in errors[0]
            await pilot.press("escape")  # the no-provider screen
            await pilot.press("ctrl+p")
            await pilot.press(*"Persona file problems")
            await wait_for(pilot, lambda: "List the 21 problem(s)" in screen_text(app), what="the command")
            await pilot.press("enter")
            await wait_for(pilot, lambda: isinstance(app.screen, PersonaProblemsScreen), what="the list")
            shown = screen_text(app)
            assert "Persona file problems (21)" in shown
            assert "dangling.toml: is a symbolic link to" in shown
            assert "pipe.toml: is a FIFO (named pipe)" in shown
            await pilot.press("escape")
            assert not isinstance(app.screen, PersonaProblemsScreen)

            # Another file changes: one more summary, not another 21 toasts.
            (folder / "broken-00.toml").write_text('name = "Fixed"\nsystem = "Hi"\n')
            assert app.check_personas() is True
            await pilot.pause()
            # (the first toast may have timed out by now on a loaded machine: count only the new ones)
            new = [m for severity, m in notifications(app) if severity == "error" and m not in errors]
            assert len(new) == 1, new
            assert new[0].startswith("20 persona file problems")
    finally:
        services.close()


async def test_a_single_problem_is_shown_whole(tmp_path: Path) -> None:
    folder = tmp_path / "team"
    folder.mkdir()
    (folder / "unclosed.toml").write_text('name = "U"\nsystem = "Hello {{ name and bye"\n')
    services = services_for(ui_settings(tmp_path, None, personas=folder))
    try:
        app = create_app(services.settings, services)
        async with console(app, size=(120, 40)) as pilot:
            await pilot.pause()
            [error] = [m for severity, m in notifications(app) if severity == "error"]
            assert "unclosed.toml: field 'system': '{{ name and bye' (line 1 of the message)" in error
    finally:
        services.close()
