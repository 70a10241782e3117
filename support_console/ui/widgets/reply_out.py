"""Getting the approved reply to the agent's clipboard, and saying honestly what was done.

A copy command (``[clipboard] command``, or wl-copy / xclip / pbcopy found on PATH) is the one way the console
can know the text arrived. OSC 52 is a request to the terminal, which may ignore it (tmux does by default),
so for it the console says what it sent, not that the text is on the clipboard, and names the ways that
work everywhere: the copy command, a file, the editor (palette commands, see ``ConsoleCommands``).
"""

from __future__ import annotations

import asyncio
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from textual.app import App, SuspendNotSupported

from support_console.config.settings import ClipboardSettings
from support_console.workflows.clipboard import reply_file, run_copy_command, write_reply

OSC52 = "sent to the terminal's clipboard (OSC 52)"
OTHER_WAYS = (
    "if pasting does not work (tmux drops OSC 52 by default): ctrl+p → 'Write the last reply to a file' or "
    "'Open the last reply in the editor', or set [clipboard] command"
)


@dataclass(frozen=True)
class Copied:
    """What was done with the reply: ``status`` for the draft's status line, ``notice`` for the toast."""

    status: str
    notice: str
    by_command: bool


async def deliver(app: App[Any], settings: ClipboardSettings, text: str) -> Copied:
    """Copy ``text`` with the copy command (in a thread) if there is one, else (or if it fails) by OSC 52."""
    if settings.command:
        error = await asyncio.to_thread(run_copy_command, settings.command, text)
        name = settings.command_name
        if error is None:
            words = f"Copied to the clipboard with {name}: paste it into your channel."
            return Copied(words, words, by_command=True)
        app.copy_to_clipboard(text)
        words = f"The copy command {error}; the reply was {OSC52} instead."
        return Copied(words, f"{words} {OTHER_WAYS[0].upper()}{OTHER_WAYS[1:]}.", by_command=False)
    app.copy_to_clipboard(text)
    status = f"The reply was {OSC52}; the terminal may drop it (ctrl+p has other ways)."
    return Copied(status, f"The reply was {OSC52}: {OTHER_WAYS}.", by_command=False)


REPLY_COMMANDS = (
    ("Copy the last reply again", "copy_last_reply"),
    ("Write the last reply to a file", "write_last_reply"),
    ("Open the last reply in the editor", "edit_last_reply"),
)
"""Palette entries (name, MainScreen action) for the ways out that work in every terminal."""


async def write_to_file(app: App[Any], settings: ClipboardSettings, text: str) -> Path | None:
    """Write the reply to the reply file (in a thread); the path, or None after telling the agent why not."""
    path = reply_file(settings)
    try:
        await asyncio.to_thread(write_reply, path, text)
    except OSError as error:
        app.notify(
            f"Could not write the reply to {path} ({error.strerror or error}): set [clipboard] file.",
            severity="error",
            markup=False,
        )
        return None
    return path


async def open_in_editor(app: App[Any], settings: ClipboardSettings, text: str) -> None:
    """Write the reply to the reply file and open it in $VISUAL / $EDITOR (the console waits meanwhile)."""
    if settings.editor is None:
        app.notify(
            "No editor is set: set $EDITOR (or $VISUAL), or write the reply to a file instead.",
            severity="warning",
            markup=False,
        )
        return
    path = await write_to_file(app, settings, text)
    if path is None:
        return
    try:
        with app.suspend():
            # Blocking on purpose: the terminal belongs to the editor until it exits.
            done = subprocess.run([*settings.editor, str(path)], check=False)  # noqa: ASYNC221
    except SuspendNotSupported:
        app.notify(f"This terminal cannot hand over to an editor: the reply is in {path}.", markup=False)
        return
    except OSError as error:
        app.notify(
            f"{settings.editor[0]} could not be started ({error.strerror}).", severity="error", markup=False
        )
        return
    name = Path(settings.editor[0]).name
    app.notify(f"Back from {name} (exit {done.returncode}); the reply is in {path}.", markup=False)
