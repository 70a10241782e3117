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
