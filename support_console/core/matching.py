"""How people's text is matched: the one folding rule behind every customer filter and email lookup.

``fold`` makes two spellings that a person reads as the same compare equal: letter case in every script
(``Élise`` / ``élise``, ``STRASSE`` / ``straße``), compatibility forms (full-width ``ｅｌｉｓｅ``, ligatures
``ﬁ``) and runs of whitespace. It is Unicode's NFKC plus full case folding (``str.casefold``), normalised
again because case folding can leave a string that is no longer in NFKC.

Why in Python, not SQL: SQLite's ``lower()`` and ``LIKE`` fold ASCII letters only, PostgreSQL's depend on the
server's collation. The store keeps each customer's folded keys in columns (written on every customer write)
and compares them with a folded pattern, so every database gives the same answer. Standard library only: the
import parser (a child process) folds each row's email with it.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable


def fold(text: str) -> str:
    """``text`` folded for matching: NFKC, case-folded, whitespace runs as one space, trimmed."""
    if text.isascii():  # the common case (most emails): NFKC changes nothing, casefold is lower
        return " ".join(text.lower().split())
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold())
    return " ".join(folded.split())


def spelled_among(name: str, names: Iterable[str]) -> str | None:
    """The one of ``names`` that is ``name`` as people read it (the same :func:`fold`), if any: how an agent
    named ``LEE`` is found as ``lee``."""
    key = fold(name)
    return next((known for known in names if fold(known) == key), None)
