"""Literal text for the screen.

Customer messages and model output are data, never markup: they are wrapped in :class:`rich.text.Text`
(which does not parse ``[bold]``) and their control characters are replaced by visible symbols, so an ANSI
escape pasted from a terminal cannot restyle or corrupt the screen. Newlines and tabs are kept.
"""

from __future__ import annotations

from datetime import datetime

from rich.text import Text

_KEEP = {"\n", "\t"}


def _visible(char: str) -> str:
    code = ord(char)
    if code < 0x20:
        return chr(0x2400 + code)  # the Unicode "control pictures" block: ESC shows as ␛
    if code == 0x7F:
        return "␡"
    return "�"  # C1 controls (0x80-0x9f) and bidi overrides


def _is_control(char: str) -> bool:
    code = ord(char)
    return (
        (code < 0x20 and char not in _KEEP)
        or 0x7F <= code <= 0x9F
        or 0x202A <= code <= 0x202E
        or 0x2066 <= code <= 0x2069
    )


def sanitize(text: str) -> str:
    """Return ``text`` with carriage returns normalised and control characters made visible."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if not any(_is_control(c) for c in text):
        return text
    return "".join(_visible(c) if _is_control(c) else c for c in text)


def literal(text: str, style: str = "") -> Text:
    """A Rich ``Text`` that shows ``text`` exactly as written (no markup, no escapes)."""
    return Text(sanitize(text), style=style)


def timestamp(moment: datetime | None) -> str:
    """A compact, sortable timestamp for the transcript."""
    return moment.strftime("%Y-%m-%d %H:%M") if moment is not None else ""
