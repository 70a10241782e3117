"""The one clock and the one reading of a time without a zone, for every layer (standard library only).

Times are timezone-aware UTC everywhere in support-console. A naive time (an import row without an offset,
a date typed into a filter, a ``datetime`` a caller built without ``tzinfo``) is taken to be UTC already:
the only reading that gives the same answer on every machine. The import parser runs in a child process that
must start fast, so this module imports nothing but :mod:`datetime`.
"""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    """Now, timezone-aware UTC."""
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    """``value`` as aware UTC; a naive datetime is taken to be UTC already."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
