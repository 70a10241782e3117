"""The store's clock and its stored time layout, without SQLAlchemy (the first page reads times too).

Times are aware UTC in Python and naive UTC text in SQLite, in SQLAlchemy's own layout
(``YYYY-MM-DD HH:MM:SS.ffffff``, so text order is time order); ``models.UTCDateTime`` converts with these.
"""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    """Now, timezone-aware UTC: the one clock of the store."""
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    """``value`` as aware UTC; a naive datetime is taken to be UTC already (the only unambiguous reading)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def to_stored(value: datetime) -> str:
    """``value`` as SQLite stores it: naive UTC text."""
    return as_utc(value).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")


def from_stored(value: str) -> datetime:
    """A stored time as aware UTC."""
    return as_utc(datetime.fromisoformat(value))
