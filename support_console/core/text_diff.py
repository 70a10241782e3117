"""How much an agent changed the model's draft: a normalised edit distance and a word-level diff.

Used by the audit trail (``store/audit.py``: the edit distance of each sent AI reply), the stats
(``store/stats.py``, ``store/quality.py``: edit rate, sent unchanged, lightly edited, rewritten) and the
audit view (``ui/screens/audit.py``: the word diff). The distance is rapidfuzz's normalised Levenshtein
distance (a maintained C implementation, bit-parallel: long replies stay cheap); the word diff is difflib's,
which gives the readable runs the audit view shows. No database.
"""

from __future__ import annotations

import difflib
import re
from typing import Final

from rapidfuzz.distance import Levenshtein

from support_console.core.safe_text import without_controls

#: Word diffs compare at most this many characters of each text: SequenceMatcher is quadratic in the worst
#: case, and replies longer than this are rare. Edit distances (rapidfuzz) compare the whole texts.
DIFF_CAP: Final = 4000

DiffOp = tuple[str, str]  # ("equal" | "insert" | "delete", text)


def edit_distance(original: str, sent: str) -> float:
    """Normalised character edit distance: 0.0 identical, 1.0 nothing in common.

    Levenshtein distance (insertions, deletions, substitutions) over the longer text's length, rounded to 4
    places, by rapidfuzz.

    Measures the agent's edits: the escape sequences the console drops from the model's text before the agent
    sees it (``safe_text.without_controls``; the stored original keeps them) do not count.
    """
    if original == sent:
        return 0.0
    original = without_controls(original)[0]
    if original == sent:
        return 0.0
    if not original or not sent:
        return 1.0
    return round(Levenshtein.normalized_distance(original, sent), 4)


def diff_words(original: str, sent: str) -> list[DiffOp]:
    """Word-level diff of the model's text against the sent text, as (op, text) runs in reading order.

    Words carry their trailing whitespace but are compared without it (so "word." at the end of the draft
    still matches "word. More" in the sent text). Joining the "equal" and "insert" runs gives ``sent`` back;
    "equal" and "delete" runs give ``original`` up to whitespace (within DIFF_CAP characters).
    """
    a, b = _words(original[:DIFF_CAP]), _words(sent[:DIFF_CAP])
    matcher = difflib.SequenceMatcher(None, [w.strip() for w in a], [w.strip() for w in b], autojunk=False)
    ops: list[DiffOp] = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            _push(ops, "equal", "".join(b[j1:j2]))
        else:
            deleted, inserted = "".join(a[i1:i2]), "".join(b[j1:j2])
            if deleted and inserted and not deleted[-1].isspace() and not inserted[0].isspace():
                deleted += " "  # the draft's last word, replaced: never "persists.firmware" on screen
            if deleted and ops and not ops[-1][1][-1].isspace() and not deleted[0].isspace():
                gap = a[i1 - 1][len(a[i1 - 1].rstrip()) :] if i1 else ""
                deleted = (gap or " ") + deleted  # cut after the sent text's last word: not "regards.Owen"
            _push(ops, "delete", deleted)
            _push(ops, "insert", inserted)
    return ops


def _words(text: str) -> list[str]:
    """Words with their trailing whitespace (leading whitespace is its own token): lossless."""
    return re.findall(r"^\s+|\S+\s*", text)


def _push(ops: list[DiffOp], op: str, text: str) -> None:
    if not text:
        return
    if ops and ops[-1][0] == op:
        ops[-1] = (op, ops[-1][1] + text)
    else:
        ops.append((op, text))
