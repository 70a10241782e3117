"""What PostgreSQL's refusals mean, each in one sentence that says what to do (never a password).

The server (or libpq, before there is a server to talk to) answers a failed connection or statement with an
SQLSTATE and a message; the sentences below are chosen by the SQLSTATE where the server sent one, else by
libpq's wording, which has been stable for many releases. The message shown is the driver's first line with
its ``FATAL:`` prefix dropped: it names the host, port, role or database, which helps, and libpq never puts
a password in it.
"""

from __future__ import annotations

from typing import Final

#: SQLSTATE -> what to do. The server's message comes first in the sentence (see :func:`explain`).
_BY_STATE: Final = {
    "28P01": "the password is wrong: check the one in the database URL, PGPASSWORD or PGPASSFILE",
    "28000": "the server does not let this role in: check the role's name and the server's pg_hba.conf",
    "3D000": "create the database (createdb NAME, or CREATE DATABASE) or fix its name in the database URL",
    "42501": (
        "the role lacks the rights support-console needs: make it the database's owner (ALTER DATABASE "
        "… OWNER TO …) or grant it CREATE on the schema and all rights on its tables (README: Team mode)"
    ),
    "53300": "the server has no free connection: close other sessions or raise max_connections",
    "57P03": "the server is starting up or shutting down: try again in a moment",
}
#: libpq's words for a server that cannot be reached (no SQLSTATE: there is no server to send one).
_UNREACHABLE: Final = (
    "connection refused", "could not translate host name", "timeout expired", "no route to host",
    "network is unreachable", "no such file or directory", "could not connect",
    "server closed the connection",
    "connection timed out", "name or service not known",
)  # fmt: skip
_UNREACHABLE_ADVICE: Final = (
    "the PostgreSQL server cannot be reached: check that it runs and that the host and port in the "
    "database URL are right (and sslmode, if the server requires TLS)"
)


def sqlstate(error: BaseException | None) -> str | None:
    """The SQLSTATE psycopg read from the server's answer, if it had one."""
    state = getattr(error, "sqlstate", None)
    return state if isinstance(state, str) else None


def server_message(error: BaseException) -> str:
    """The driver's message on one line, without libpq's framing ("connection failed: …", "FATAL:")."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    text = lines[0] if lines else type(error).__name__  # the next lines may quote the statement
    for prefix in ("connection failed: ",):
        text = text.removeprefix(prefix)
    return text.replace("FATAL:  ", "").replace("FATAL: ", "").replace("ERROR:  ", "")


def advice(error: BaseException | None) -> str | None:
    """What to do about a psycopg error, or None when it is not one of the refusals above."""
    if error is None:
        return None
    state = sqlstate(error)
    if state in _BY_STATE:
        return _BY_STATE[state]
    text = str(error).lower()
    if "password authentication failed" in text or "no password supplied" in text:
        return _BY_STATE["28P01"]
    if "database" in text and "does not exist" in text:
        return _BY_STATE["3D000"]
    if "permission denied" in text:
        return _BY_STATE["42501"]
    if any(words in text for words in _UNREACHABLE):
        return _UNREACHABLE_ADVICE
    return None


def explain(error: BaseException | None, where: str) -> str | None:
    """One sentence for a refusal of the database ``where`` (a URL without its password), or None."""
    what = advice(error)
    if error is None or what is None:
        return None
    if what is _UNREACHABLE_ADVICE:  # no server answered (or it went away): nothing was refused
        lost = "server closed the connection" in str(error).lower()
        opening = f"The connection to {where} was lost" if lost else f"Could not connect to {where}"
        return f"{opening} ({server_message(error)}): {what}."
    return f"PostgreSQL refused {where} ({server_message(error)}): {what}."
