"""A real, throwaway PostgreSQL server for the tests: started on demand, on a free loopback port.

Why a real server: what PostgreSQL says (its error texts, its authentication, its SQL) is what the store
must handle, and only the server itself says it. The binaries of the machine's PostgreSQL are used
(``/usr/lib/postgresql/<version>/bin`` on Debian, ``$SUPPORT_CONSOLE_PG_BIN``, or ``initdb`` on PATH). The
server refuses to run as root, and the tests and CI often run as root: then every server command runs as
the ``postgres`` user (``runuser -u postgres --``) in a directory it owns.

The data directory is initialised with a password for the ``postgres`` role and ``scram-sha-256`` on TCP, so
the tests exercise real password authentication (and can prove a password never reaches an error); the
Unix socket sits in the same temporary directory, never in ``/var/run``. ``fsync`` is off: the data is
thrown away.

When the binaries are missing the tests that need the server are skipped with the reason, unless
``SUPPORT_CONSOLE_REQUIRE_POSTGRES=1`` (CI sets it), which turns that skip into a failure.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

REQUIRE_VARIABLE = "SUPPORT_CONSOLE_REQUIRE_POSTGRES"
_NUMBERS = itertools.count(1)
BIN_VARIABLE = "SUPPORT_CONSOLE_PG_BIN"
SUPERUSER = "postgres"


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL server can be started here; the message says why and what to install."""


@dataclass(frozen=True)
class PostgresServer:
    """A running throwaway server: where it listens and the superuser's password."""

    host: str
    port: int
    password: str
    socket_dir: Path

    def url(self, database: str = "postgres", *, user: str = SUPERUSER, password: str | None = None) -> str:
        """An SQLAlchemy URL (psycopg 3 driver) for ``database`` over TCP with password authentication."""
        secret = self.password if password is None else password
        return f"postgresql+psycopg://{user}:{secret}@{self.host}:{self.port}/{database}"

    def create_database(self, name: str, *, template: str | None = None) -> str:
        """Create database ``name`` (empty, or a copy of ``template``) and return its URL."""
        import psycopg

        copy = f' TEMPLATE "{template}"' if template else ""
        with psycopg.connect(self.dsn(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"{copy}')
        return self.url(name)

    def drop_database(self, name: str) -> None:
        """Drop database ``name``, ending any session still connected to it."""
        import psycopg

        with psycopg.connect(self.dsn(), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def new_database_name(self, kind: str = "t") -> str:
        """A database name no other test of any worker uses (this process's id and a counter)."""
        return f"{kind}_{os.getpid()}_{next(_NUMBERS)}"

    def dsn(self, database: str = "postgres") -> str:
        """A libpq connection string for the superuser (for the tests' own checks, outside the store)."""
        where = f"host={self.host} port={self.port} dbname={database}"
        return f"{where} user={SUPERUSER} password={self.password}"


def bin_dir() -> Path:
    """The directory of the PostgreSQL server binaries, or PostgresUnavailable saying what is missing."""
    configured = os.environ.get(BIN_VARIABLE)
    candidates = [Path(configured)] if configured else []
    candidates += sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=_version, reverse=True)
    on_path = shutil.which("initdb")
    if on_path:
        candidates.append(Path(on_path).parent)
    for candidate in candidates:
        if (candidate / "initdb").is_file() and (candidate / "pg_ctl").is_file():
            return candidate
    raise PostgresUnavailable(
        "no PostgreSQL server binaries (initdb, pg_ctl) were found in /usr/lib/postgresql/*/bin, "
        f"${BIN_VARIABLE} or PATH: install PostgreSQL (Debian: apt-get install postgresql) to run these tests"
    )


def _version(path: Path) -> tuple[int, ...]:
    return tuple(int(part) for part in path.parent.name.split(".") if part.isdigit())


def _as_server_user(command: list[str]) -> list[str]:
    """Root may not run the server: hand root's commands to the ``postgres`` user."""
    if os.geteuid() != 0:
        return command
    if shutil.which("runuser") is None:
        raise PostgresUnavailable("running as root without runuser: PostgreSQL refuses to run as root")
    return ["runuser", "-u", SUPERUSER, "--", *command]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _run(command: list[str]) -> None:
    done = subprocess.run(_as_server_user(command), capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise PostgresUnavailable(f"{Path(command[0]).name} failed: {(done.stderr or done.stdout).strip()}")


@contextlib.contextmanager
def running_server() -> Iterator[PostgresServer]:
    """Initialise, start and (at exit) stop and delete a throwaway server."""
    binaries = bin_dir()
    root = Path(tempfile.mkdtemp(prefix="support-console-pg-"))
    try:
        if os.geteuid() == 0:
            shutil.chown(root, SUPERUSER, SUPERUSER)
        data, password = root / "data", secrets.token_hex(12)
        password_file = root / "password"
        password_file.write_text(password + "\n")
        if os.geteuid() == 0:
            shutil.chown(password_file, SUPERUSER, SUPERUSER)
        _run([
            str(binaries / "initdb"), "-D", str(data), "-U", SUPERUSER, f"--pwfile={password_file}",
            "--auth-host=scram-sha-256", "--auth-local=trust", "--encoding=UTF8", "--locale=C.UTF-8",
        ])  # fmt: skip
        port = _free_port()
        options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off"
        pg_ctl = [str(binaries / "pg_ctl"), "-D", str(data)]
        _run([*pg_ctl, "-o", options, "-l", str(root / "log"), "-w", "start"])
        try:
            yield PostgresServer("127.0.0.1", port, password, root)
        finally:
            _run([*pg_ctl, "-m", "immediate", "-w", "stop"])
    finally:
        shutil.rmtree(root, ignore_errors=True)
