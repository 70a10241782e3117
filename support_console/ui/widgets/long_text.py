"""Where a long draft is cut into the part the editor holds and the parts it does not.

Textual's TextArea costs, per key and per row drawn, in proportion to the line the cursor is on (soft
wrapping re-wraps the edited line and divides the whole line for every row it draws) and to the whole
document (each row drawn joins it). A 5 MB one-paragraph reply held whole made a key wait 20 s. So a draft
that is very long, or has a very long line, is edited through a window: the editor holds a bounded part of
it around the cursor and the pane keeps the text before and after that part, so the whole text is always
``before + editor text + after``, exactly, and moving towards an edge of the part moves the window.
"""

from __future__ import annotations

from textual.widgets.text_area import DocumentBase, Location

WHOLE_MAX = 200_000
"""A draft up to this many characters is held whole by the editor (loading it costs about 0.1 s)..."""
LINE_MAX = 10_000
"""...unless one of its lines is longer than this (a key on a line this long costs about 10 ms more)."""
REACH = 200
"""How far back from a cut a space or a line break is looked for, so a row does not start mid-word."""


def too_long(text: str) -> bool:
    """True when ``text`` is edited through a window rather than held whole."""
    if len(text) <= LINE_MAX:
        return False
    return len(text) > WHOLE_MAX or max(map(len, text.split("\n"))) > LINE_MAX


def cut_near(text: str, at: int) -> int:
    """A place to cut ``text`` at or a little before ``at``: just after a line break or a space when one is
    near, never between a carriage return and its line feed."""
    at = max(0, min(at, len(text)))
    if at in (0, len(text)):
        return at
    low = max(0, at - REACH)
    for separator in ("\n", " "):
        found = text.rfind(separator, low, at)
        if found >= 0:
            return found + 1
    return at + 1 if text[at - 1] == "\r" and text[at] == "\n" else at


def window(text: str, centre: int, keep: int) -> tuple[int, int]:
    """The part ``[start, end)`` of ``text`` the editor holds around ``centre``: up to ``keep``
    characters on each side, cut where :func:`cut_near` says."""
    start = cut_near(text, centre - keep) if centre > keep else 0
    end = cut_near(text, centre + keep) if centre + keep < len(text) else len(text)
    return start, max(end, centre)


def index_of(document: DocumentBase, location: Location) -> int:
    """The index in ``document.text`` of ``location`` (in the part a long draft's editor holds: bounded)."""
    row, column = location
    lines = document.lines
    return sum(len(line) for line in lines[:row]) + row * len(document.newline) + column


def location_of(document: DocumentBase, index: int) -> Location:
    """The location of the ``index``-th character of ``document.text`` (the end if beyond it)."""
    newline = len(document.newline)
    for row, line in enumerate(document.lines):
        if index <= len(line):
            return row, index
        index -= len(line) + newline
    return document.end
