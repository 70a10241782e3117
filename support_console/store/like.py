"""Substring matching with LIKE, the text taken literally: the one home of LIKE escaping.

``%`` and ``_`` are LIKE's wildcards and ``\\`` is our escape character, so all three are escaped in the
text searched for; ``ESCAPE '\\'`` is spelled out because SQLite has no default escape character (PostgreSQL's
default is the same backslash). Case is the caller's business: LIKE folds ASCII letters on SQLite and
nothing on PostgreSQL, so callers compare text they have folded themselves (``core.matching.fold``) or
accept that difference (the full-text search's fallback scan).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa


def escape_like(text: str) -> str:
    """``text`` with LIKE's wildcards and the escape character escaped."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def contains(column: sa.ColumnElement[Any], text: str) -> sa.ColumnElement[bool]:
    """``column`` contains ``text`` as a substring (wildcards in ``text`` are literal)."""
    return column.like(f"%{escape_like(text)}%", escape="\\")
