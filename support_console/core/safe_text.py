"""Terminal safety: the one rule for which characters of customer and model text may reach a terminal raw.

Customer messages and model output are data. Shown on a terminal (the console, the CLI's output, an export
someone ``cat``s), some characters are instructions to the terminal instead of text:

* C0 controls other than newline and tab: ESC starts escape sequences that recolour, retitle, move the cursor
  or rewrite the screen; BEL beeps; BS and CR overwrite what was printed;
* DEL, and the C1 controls U+0080-U+009F (U+009B is a one-byte CSI on some terminals);
* the bidi embedding, override and isolate controls (U+202A-U+202E, U+2066-U+2069): "Trojan Source" text that
  reads on screen differently than it is.

Those are :data:`UNSAFE`, the only rule, used by every output. Marks that merely hint direction (LRM U+200E,
RLM U+200F, ALM U+061C) are legitimate in Arabic and Hebrew text and are not touched.

The rule has one spelling per medium, each reversible by eye:

* :func:`escaped` for plain-text output (the CLI, Markdown exports): ``\\x1b``, ``\\u202e``;
* :func:`json_escaped` for JSON text: the same characters as JSON ``\\u`` escapes, so the data a program
  reads back is unchanged;
* :func:`visible` for the console: control pictures (ESC shows as ␛, DEL as ␡) and U+FFFD for C1 and bidi
  controls, with line endings normalised (a TextArea and Rich split lines themselves).

The stored text is never changed by any of these: they are for showing only.
"""

from __future__ import annotations

import re
from typing import Final

#: Every character that must not reach a terminal raw (see the module docstring).
UNSAFE: Final = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")

_REPLACEMENT: Final = "\ufffd"


def is_safe(text: str) -> bool:
    """True when ``text`` holds nothing a terminal would act on."""
    return UNSAFE.search(text) is None


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def escaped(text: str) -> str:
    """``text`` for plain-text output: each unsafe character as a ``\\x1b`` / ``\\u202e`` escape."""
    return UNSAFE.sub(_escape, text)


def json_escaped(json_text: str) -> str:
    """JSON text (from ``json.dumps(..., ensure_ascii=False)``) with each unsafe character as a ``\\u``
    escape. Raw unsafe characters can only occur inside JSON strings, where the escape means the same
    character, so parsing the result gives exactly the same data."""
    return UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", json_text)


def _picture(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code < 0x20:
        return chr(0x2400 + code)  # the Unicode "control pictures" block: ESC shows as ␛
    if code == 0x7F:
        return "␡"
    return _REPLACEMENT  # C1 controls and bidi controls


def visible(text: str) -> str:
    """``text`` for the console: line endings normalised, unsafe characters as visible symbols."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return UNSAFE.sub(_picture, text) if UNSAFE.search(text) else text


# -- what is dropped from text before it enters an editor --------------------------------------------------

#: Escape sequences as a terminal parses them (CSI, OSC, DCS/SOS/PM/APC strings, two-character escapes, the
#: one-byte C1 CSI) and every other control a terminal acts on (C0 but tab and newline, DEL, C1). Removed
#: whole, so no "[31m" is left behind. Bidi controls are not in it: they are text an editor can hold.
_SEQUENCES: Final = (
    r"\x1b\[[0-?]*[ -/]*[@-~]"
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)"
    r"|\x1b[PX^_][^\x1b]*\x1b\\"
    r"|\x1b[ -/]*[0-~]"
    r"|\x9b[0-?]*[ -/]*[@-~]"
)
DROPPED: Final = re.compile(_SEQUENCES + "|[\x00-\x08\x0b-\x1f\x7f-\x9f]")

#: The start of an escape sequence cut off at the end of a streamed piece (the rest comes in the next one).
_UNFINISHED: Final = re.compile(
    r"(?:\x1b(?:\[[0-?]*[ -/]*|\][^\x07\x1b]*\x1b?|[PX^_][^\x1b]*\x1b?|[ -/]*)|\x9b[0-?]*[ -/]*|\r)\Z"
)
_HOLD_AT_MOST: Final = 4096


def without_controls(text: str) -> tuple[str, int]:
    """``text`` with escape sequences and terminal controls removed, and how many were removed.

    Why: what an agent sees in the editor is what is sent, so display safety cannot be a substitution in the
    text; only what no reply should carry is dropped (and counted, so the agent is told). Line endings are
    normalised ("\\r\\n" is a newline, not a removal); direction marks and bidi controls stay.
    """
    if "\r" in text:
        text = text.replace("\r\n", "\n")
    if DROPPED.search(text) is None:
        return text, 0
    return DROPPED.subn("", text)


def split_unfinished(text: str) -> tuple[str, str]:
    """(what can be cleaned now, the unfinished escape sequence or carriage return at its end, if any).

    Streamed pieces can split "\\x1b[31m" or "\\r\\n" in two; the tail is held back and put in front of the
    next piece. A tail longer than a few kilobytes is no sequence any terminal waits for: it is let go.
    """
    match = _UNFINISHED.search(text, max(0, len(text) - _HOLD_AT_MOST))
    if match is None or match.start() == match.end():
        return text, ""
    return text[: match.start()], text[match.start() :]


def pictured(text: str) -> str:
    """``text`` with each unsafe character as a visible symbol, one for one (same length, same indexes):
    for drawing a line whose characters an editor keeps addressing by position."""
    return UNSAFE.sub(_picture, text) if UNSAFE.search(text) else text
