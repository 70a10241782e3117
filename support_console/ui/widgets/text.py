"""Literal text for the screen.

Customer messages and model output are data, never markup: they are wrapped in :class:`rich.text.Text`
(which does not parse ``[bold]``) and shown through :func:`support_console.core.safe_text.visible`, the one
terminal-safety rule, so an ANSI escape pasted from a terminal cannot restyle or corrupt the screen.
"""

from __future__ import annotations

from datetime import datetime

from rich.text import Text

from support_console.core.safe_text import visible


def literal(text: str, style: str = "") -> Text:
    """A Rich ``Text`` that shows ``text`` exactly as written (no markup, no escapes)."""
    return Text(visible(text), style=style)


def timestamp(moment: datetime | None) -> str:
    """A compact, sortable timestamp for the transcript."""
    return moment.strftime("%Y-%m-%d %H:%M") if moment is not None else ""
