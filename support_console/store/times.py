"""The stored time layout: how a time is written to the database and read back (one home, no SQLAlchemy).

SQLite has no time type, so times are stored as naive UTC text in SQLAlchemy's own layout
(``YYYY-MM-DD HH:MM:SS.ffffff``: text order is time order). Everything that writes a time goes through
:func:`to_stored` (``tables.UTCDateTime``, the bulk writers) or :func:`stored_from_iso` (the import parser,
per row); everything that reads one through :func:`from_stored` (``UTCDateTime``, the console's first page).
What a time without a zone means is ``core.clock.as_utc``'s to say: UTC.

Standard library only: the import parser runs in a child process that must start fast.
"""

from __future__ import annotations

from datetime import UTC, datetime

from support_console.core.clock import as_utc


def to_stored(value: datetime) -> str:
    """``value`` as the database stores it: naive UTC text."""
    return as_utc(value).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")


def from_stored(value: str) -> datetime:
    """A stored time as aware UTC."""
    return as_utc(datetime.fromisoformat(value))


def stored_from_iso(text: str) -> str | None:
    """An ISO 8601 time (any offset; none means UTC) as stored text, or None when it is not one.

    The import parser calls this for every row, so the usual ``2026-10-02T18:04:00Z`` is cut into shape
    without making a datetime, and other forms cut the "+00:00" off instead of making a naive copy.
    """
    try:
        stamp = datetime.fromisoformat(text)
    except ValueError:
        return None
    if len(text) == 20 and text[19] == "Z" and text[4] == text[7] == "-" and text[13] == text[16] == ":":
        return f"{text[:10]} {text[11:19]}.000000"  # valid: parsed above
    offset = stamp.utcoffset()
    if offset is None:  # naive: UTC already (core.clock.as_utc)
        return stamp.isoformat(" ", "microseconds")
    if offset:
        stamp = stamp.astimezone(UTC)
    return stamp.isoformat(" ", "microseconds")[:26]
