"""URLs shown to people: checked, and stripped of anything that may carry a credential.

The one home of URL redaction: config errors, the provider description and model-client errors all show
URLs through :func:`safe_url`, so a key in a query string (``?api-key=…``) or in user info never reaches a
screen or a log.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit, urlunsplit


def url_problem(value: str) -> str | None:
    """Why ``value`` is not an http(s) URL with a host, or None when it is one."""
    try:
        parts = urlsplit(value)
        host = parts.hostname
    except ValueError:  # e.g. an unclosed IPv6 bracket
        host = None
    if not host or parts.scheme not in ("http", "https"):
        return "is not a URL: it must start with http:// or https://, e.g. http://localhost:8000/v1"
    return None


def safe_url(url: str | None) -> str:
    """The URL without user info, query or fragment, any of which may carry credentials."""
    if not url:
        return "(no URL set)"
    try:
        parts = urlsplit(url)
        host = f"{parts.hostname or ''}{f':{parts.port}' if parts.port else ''}"
    except ValueError:
        return "(unparseable URL)"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


_SQLITE = "sqlite:///"


def sqlite_url(path: Path) -> str:
    """The SQLAlchemy URL of an SQLite file at ``path`` (absolute, so the URL means the same anywhere)."""
    return f"{_SQLITE}{path.expanduser().resolve()}"


def sqlite_file(db_url: str) -> Path | None:
    """The file of a plain ``sqlite:///`` URL (as :func:`sqlite_url` makes); None for anything else (in
    memory, URI options, other databases), which the Store alone opens."""
    if not db_url.startswith(_SQLITE) or "?" in db_url:
        return None
    path = db_url[len(_SQLITE) :]
    return Path(path) if path and path != ":memory:" else None


def safe_db_url(url: str) -> str:
    """The database URL without a password: neither the one in its user info nor one given as a query
    parameter (libpq reads ``?password=…`` and ``sslpassword``; any key naming a password or secret is
    masked)."""
    try:
        from sqlalchemy.engine import make_url  # a parser only: no engine is created

        parsed = make_url(url)
        shown = parsed.set(query={}).render_as_string(hide_password=True)
    except Exception:  # an unparseable URL was rejected earlier; never show it raw
        return "(a database URL)"
    query = []
    for key, value in parsed.query.items():
        for one in (value,) if isinstance(value, str) else value:
            query.append(f"{key}={'***' if _is_secret(key) else one}")
    return shown + ("?" + "&".join(query) if query else "")


def _is_secret(key: str) -> bool:
    lowered = key.lower()
    return any(word in lowered for word in ("password", "secret", "token", "key"))
