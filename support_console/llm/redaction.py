"""Keeping the API key out of server text we show (stderr, ``--json``, the stored error, a toast).

Why more than ``text.replace(key, …)``: services echo keys partly ("sk-abc*****2345"), cut ("the key
sk-proj-AbCd… is invalid", minus its last characters) or re-cased, and an exact match misses all of those.
So any long run of the key's characters, in any case, is removed. The opposite fault matters as much: local
servers are often given a placeholder key such as ``x`` or ``EMPTY``, and replacing every "x" turns
"maximum context length" into "ma[key]imum conte[key]t length". A key too short to be a secret is left alone.
"""

from __future__ import annotations

import re

__all__ = ["MIN_SECRET_LENGTH", "redact", "shorten"]

#: Keys shorter than this are placeholders ("x", "EMPTY", "ollama"), not secrets: real API keys are dozens of
#: characters long. It is also the shortest run of a key's characters that counts as an echo of the key.
MIN_SECRET_LENGTH = 8
#: Server text longer than this is cut: an error message is a sentence, not a page.
MAX_SHOWN = 500
_MASKED = re.compile(r"\S*\*{3,}\S*")  # "sk-abc*****2345": how services echo part of a key
KEY_MARK = "[key]"


def redact(text: str, key: str | None) -> str:
    """``text`` without the key: every run of at least MIN_SECRET_LENGTH characters that occurs in the key
    (case ignored) becomes ``[key]``, and masked echoes (``sk-abc*****2345``) become ``[redacted]``."""
    if key and len(key) >= MIN_SECRET_LENGTH:
        text = _without_runs_of(text, key)
    return _MASKED.sub("[redacted]", text)


def shorten(text: str, limit: int = MAX_SHOWN) -> str:
    """At most ``limit`` characters of server text, marked when cut."""
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _without_runs_of(text: str, key: str) -> str:
    """Replace each maximal run of ``text`` that is a substring of ``key`` (case-insensitively) and at least
    MIN_SECRET_LENGTH long. Seeds are looked up in a set of the key's MIN_SECRET_LENGTH-grams, so the cost is
    linear in the text for any key."""
    n = MIN_SECRET_LENGTH
    folded_key, folded = _lower(key), _lower(text)
    grams = {folded_key[i : i + n] for i in range(len(folded_key) - n + 1)}
    pieces: list[str] = []
    start = i = 0
    while i <= len(folded) - n:
        if folded[i : i + n] not in grams:
            i += 1
            continue
        end = i + n
        while end < len(folded) and folded[i : end + 1] in folded_key:
            end += 1
        pieces += [text[start:i], KEY_MARK]
        start = i = end
    pieces.append(text[start:])
    return "".join(pieces)


def _lower(text: str) -> str:
    """Lower case, one character for one (a few characters lower to two, e.g. "İ"; those stay as they are),
    so positions in the result are positions in ``text``."""
    lowered = text.lower()
    if len(lowered) == len(text):
        return lowered
    return "".join(c.lower() if len(c.lower()) == 1 else c for c in text)
