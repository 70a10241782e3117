"""Getting an approved reply out of the console: a copy command, a file, or the agent's editor.

The terminal's clipboard (OSC 52) is written by the console itself, but nothing tells it whether the terminal
kept it (tmux drops it by default): so the console says what it did, never that the text "is on the
clipboard", unless a copy command said so by succeeding. These run in a worker thread (a copy command may
hang); nothing here knows Textual.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import platformdirs

from support_console.config.settings import APP_NAME, ClipboardSettings

COPY_TIMEOUT = 5.0
"""Seconds a copy command may take: wl-copy and xclip return at once (they fork to serve the selection)."""


def run_copy_command(command: tuple[str, ...], text: str) -> str | None:
    """Give ``text`` to the copy command on its stdin; None when it succeeded, else what went wrong."""
    name = Path(command[0]).name
    try:
        done = subprocess.run(
            command,
            input=text.encode("utf-8"),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            timeout=COPY_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return f"{name} did not finish within {COPY_TIMEOUT:g} s"
    except OSError as error:
        return f"{name} could not be started ({error.strerror or error.__class__.__name__})"
    if done.returncode != 0:
        detail = done.stderr.decode("utf-8", "replace").strip().splitlines()
        return f"{name} failed (exit {done.returncode}{': ' + detail[-1] if detail else ''})"
    return None


def reply_file(settings: ClipboardSettings) -> Path:
    """Where the last reply is written: ``[clipboard] file``, else the data directory's last-reply.txt."""
    if settings.file is not None:
        return settings.file
    return Path(platformdirs.user_data_dir(APP_NAME)) / "last-reply.txt"


def write_reply(path: Path, text: str) -> None:
    """Write the reply to ``path`` (its folder created); OSError says why not."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")
