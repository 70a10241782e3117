"""Database faults, produced for real: stores that cannot be opened, another application's SQLite file, a
full disk (a small tmpfs), a read-only mount (a tmpfs remounted read-only) and read-only files.

The CLI runs as a subprocess (the real entry point) and the console under Pilot. Mounting needs root; where
it is not permitted the test is skipped and says so.
"""

from __future__ import annotations

import hashlib
import os
import re
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from support_console.config.settings import CliOverrides, Settings, load_settings
from support_console.core.errors import StoreError
from support_console.store import Store
from support_console.store.queue_rows import VIEW_ALL
from support_console.ui.app import create_app
from support_console.workflows.services import StoreUnavailable, build_services
from tests.ui_helpers import screen_text, wait_for
from tests.wire_server import WireServer, stream_text

ROOT = Path(__file__).resolve().parent.parent
PG_URL = "postgresql://dbuser:secret@127.0.0.1:1/db"  # no server listens on port 1
#: A driver support-console does not ship (it uses psycopg 3 for every postgresql URL).
MISSING_DRIVER_URL = "postgresql+psycopg2://dbuser:secret@127.0.0.1:1/db"
PASSWORD = "secret"


# ------------------------------------------------------------------------------------------------ helpers


def cli(tmp_path: Path, *argv: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The real CLI in a child process, with a hermetic environment (no provider, data inside tmp_path)."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI", "AZURE", "SUPPORT_CONSOLE"))}
    base.pop("DATABASE_URL", None)
    base.update(XDG_CONFIG_HOME=str(tmp_path / "cfg"), XDG_DATA_HOME=str(tmp_path / "data"),
                HOME=str(tmp_path), PYTHONPATH=str(ROOT))  # fmt: skip
    return subprocess.run(
        [sys.executable, "-m", "support_console", *argv],
        capture_output=True, text=True, env={**base, **(env or {})}, timeout=120,
    )  # fmt: skip


def one_error_line(proc: subprocess.CompletedProcess[str]) -> str:
    """The single ``error:`` line of a failed run (AssertionError if there is a traceback or more)."""
    lines = [line for line in proc.stderr.splitlines() if not line.startswith("importing ")]
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("error: "), proc.stderr
    assert "Traceback" not in proc.stderr
    return lines[0]


def console_settings(tmp_path: Path, db: str) -> Settings:
    config = tmp_path / "config.toml"
    config.write_text('[agent]\nname = "alice"\n', encoding="utf-8")
    return load_settings(CliOverrides(db=db, config=config), env={})


async def console_error(tmp_path: Path, db: str) -> tuple[int | None, str]:
    """Run the console on ``db`` under Pilot until it stops; its return code and everything it showed."""
    settings = console_settings(tmp_path, db)
    services = build_services(settings, open_store=False)
    app = create_app(settings, services)
    shown = ""
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            shown = screen_text(app)
            await wait_for(pilot, lambda: app.return_code is not None, within=20, what="the console to stop")
            shown += "\n" + "\n".join(str(m) for m in app._exit_renderables)  # printed once it has closed
    finally:
        await services.aclose()
    return app.return_code, shown


@contextmanager
def tmpfs(where: Path, size: str) -> Iterator[Path]:
    """A real tmpfs of ``size`` at ``where`` (root only); skips the test when mounting is not permitted."""
    where.mkdir()
    made = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)],
                          capture_output=True, text=True)  # fmt: skip
    if made.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {made.stderr.strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], capture_output=True)


def remount(where: Path, options: str) -> None:
    done = subprocess.run(["mount", "-o", f"remount,{options}", str(where)], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot remount the tmpfs ({options}): {done.stderr.strip()}")


def foreign_file(path: Path) -> str:
    """Another application's SQLite database (two tables, a row); returns its checksum."""
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)")
        conn.execute("CREATE TABLE tags (note_id INTEGER, tag TEXT)")
        conn.execute("INSERT INTO notes (body) VALUES ('keep me')")
    conn.close()
    return digest(path)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def import_file(path: Path, rows: int, *, customers: int = 50) -> Path:
    """A JSONL import file of ``rows`` messages over a few hundred tickets."""
    import json

    with path.open("w", encoding="utf-8") as out:
        for i in range(rows):
            out.write(json.dumps({
                "email": f"c{i % customers}@example.com", "ticket": f"T{i % 400}", "id": str(i),
                "text": f"My router keeps dropping the connection, message {i}. " * 4,
                "timestamp": "2026-01-05T10:00:00Z",
            }) + "\n")  # fmt: skip
    return path


# ------------------------------------------------------------------ 4. stores that cannot be opened


def unopenable(tmp_path: Path, kind: str) -> str:
    """A database URL or path that cannot be opened, of each kind the issue names."""
    if kind == "random bytes":
        path = tmp_path / "random.db"
        path.write_bytes(os.urandom(8192))
        return str(path)
    if kind == "a directory":
        path = tmp_path / "folder.db"
        path.mkdir()
        return str(path)
    if kind == "a missing driver":
        return MISSING_DRIVER_URL
    if kind == "an unknown driver":
        return "sqlite+nosuchdriver:///x.db"
    raise AssertionError(kind)


KINDS = ["random bytes", "a directory", "a missing driver", "an unknown driver"]


@pytest.mark.parametrize("kind", KINDS)
def test_cli_says_one_line_for_a_store_that_cannot_be_opened(tmp_path: Path, kind: str) -> None:
    proc = cli(tmp_path, "--db", unopenable(tmp_path, kind), "customers", "list")
    assert proc.returncode == 1
    line = one_error_line(proc)
    assert "database" in line
    assert PASSWORD not in proc.stdout + proc.stderr


def test_database_url_password_never_shown_by_the_cli(tmp_path: Path) -> None:
    proc = cli(tmp_path, "customers", "list", env={"DATABASE_URL": PG_URL})
    assert proc.returncode == 1
    assert "postgresql://dbuser:***@127.0.0.1:1/db" in one_error_line(proc) or "postgresql" in proc.stderr
    assert PASSWORD not in proc.stdout + proc.stderr


@pytest.mark.parametrize("kind", KINDS)
async def test_console_ends_with_the_clis_line_for_a_store_that_cannot_be_opened(
    tmp_path: Path, kind: str
) -> None:
    db = unopenable(tmp_path, kind)
    code, shown = await console_error(tmp_path, db)
    assert code == 1
    expected = one_error_line(cli(tmp_path, "--db", db, "customers", "add", "a@example.com", "--name", "A"))
    assert expected in shown.replace("\n", " ") or expected in shown
    assert PASSWORD not in shown
    assert "Traceback" not in shown
    assert "locals" not in shown


def test_a_store_that_cannot_be_opened_says_the_same_again_without_retrying(tmp_path: Path) -> None:
    """A screen that asks for the store after the opening thread failed gets the same sentence."""
    services = build_services(console_settings(tmp_path, PG_URL), open_store=False)
    with pytest.raises(StoreUnavailable) as first:
        services.open_store()
    with pytest.raises(StoreUnavailable) as again:
        _ = services.store
    assert str(first.value) == str(again.value)
    assert PASSWORD not in str(first.value)
    assert first.value.__cause__ is None
    assert first.value.__suppress_context__
    assert services.first_queue(VIEW_ALL, 10) == []  # the first frame's list: empty, the store not retried
    services.close()


async def test_console_on_a_foreign_database_ends_with_one_line_and_writes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "other-app.db"
    before = foreign_file(path)
    code, shown = await console_error(tmp_path, str(path))
    assert code == 1
    assert "is not a support-console database" in shown
    assert digest(path) == before


# ----------------------------------------------------------------- 2. another application's database


def test_cli_refuses_another_applications_database_and_writes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "other-app.db"
    before = foreign_file(path)
    for argv in (["customers", "list"], ["customers", "add", "a@example.com", "--name", "A"], ["stats"]):
        proc = cli(tmp_path, "--db", str(path), *argv)
        assert proc.returncode == 1
        line = one_error_line(proc)
        assert str(path) in line
        assert "not a support-console database" in line
        assert "notes, tags" in line
    assert digest(path) == before
    assert sorted(p.name for p in tmp_path.glob("other-app.db*")) == ["other-app.db"]  # no -wal, no -shm
    with sqlite3.connect(path) as conn:
        assert [r[0] for r in conn.execute("SELECT name FROM sqlite_master ORDER BY name")] == [
            "notes",
            "tags",
        ]
    conn.close()


def test_a_foreign_table_named_schema_version_is_still_foreign(tmp_path: Path) -> None:
    path = tmp_path / "flyway.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
        conn.execute("CREATE TABLE accounts (id INTEGER PRIMARY KEY)")
    conn.close()
    before = digest(path)
    with pytest.raises(StoreError, match="not a support-console database"):
        Store.open(f"sqlite:///{path}")
    assert digest(path) == before


def test_an_empty_file_and_a_new_path_become_support_console_databases(tmp_path: Path) -> None:
    empty = tmp_path / "empty.db"
    empty.touch()
    for path in (empty, tmp_path / "new" / "fresh.db"):
        proc = cli(tmp_path, "--db", str(path), "customers", "add", "a@example.com", "--name", "A")
        assert proc.returncode == 0, proc.stderr
        proc = cli(tmp_path, "--db", str(path), "customers", "list")
        assert proc.returncode == 0
        assert "a@example.com" in proc.stdout


def test_our_own_database_opens_again(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ours.db'}"
    Store.open(url).close()
    store = Store.open(url)  # ours: schema_version and customers
    store.close()


# ----------------------------------------------------------------------------------- 1. a full disk


def test_import_on_a_full_disk_says_how_many_rows_were_kept_and_resumes_exactly(tmp_path: Path) -> None:
    # A batch (importer.BATCH_ROWS, 10,000 rows) is some 5 MB of database and as much write-ahead log: 12 MB
    # fill up after a batch or more, before the 40,000 rows are all in.
    source = import_file(tmp_path / "big.jsonl", 40_000)
    with tmpfs(tmp_path / "small", "12m") as small:
        db = small / "console.db"
        proc = cli(tmp_path, "--db", str(db), "import", str(source))
        assert proc.returncode == 1, proc.stderr
        line = one_error_line(proc)
        found = re.search(
            r"filled up while importing .*big\.jsonl: (\d+) rows imported before the disk filled; "
            r"free space and import again, nothing is imported twice\.$",
            line,
        )
        assert found, line
        kept = int(found.group(1))
        assert 0 < kept < 40_000
        remount(small, "size=64m")  # the agent frees space
        proc = cli(tmp_path, "--db", str(db), "import", str(source))
        assert proc.returncode == 0, proc.stderr
        assert f"{40_000 - kept} messages added, {kept} already present" in proc.stdout
        store = Store.open(f"sqlite:///{db}")
        try:
            assert sum(store.count_messages(r.conversation_id) for r in store.list_conversations(
                limit=1000)) == 40_000  # fmt: skip
        finally:
            store.close()


def test_draft_on_a_full_disk_says_so_and_which_partial_draft_is_kept(
    tmp_path: Path, wire_server: WireServer
) -> None:
    with tmpfs(tmp_path / "small", "2m") as small:
        db = small / "console.db"
        assert (
            cli(
                tmp_path, "--db", str(db), "customers", "add", "jane@example.com", "--name", "Jane"
            ).returncode
            == 0
        )
        words = " ".join(f"word{i:05d}-" + "x" * 40 for i in range(4000))
        wire_server.enqueue(stream_text(words + " ", chunks=[w + " " for w in words.split(" ")], delay=0.002))
        argv = [sys.executable, "-m", "support_console", "--db", str(db), "--provider", "openai",
                "--base-url", wire_server.base_url, "--model", "gpt-4o", "draft", "jane@example.com",
                "-m", "My router is down."]  # fmt: skip
        env = {
            k: v for k, v in os.environ.items() if not k.startswith(("OPENAI", "AZURE", "SUPPORT_CONSOLE"))
        }
        env.update(OPENAI_API_KEY="sk-test-not-a-real-key", XDG_CONFIG_HOME=str(tmp_path / "cfg"),
                   HOME=str(tmp_path), PYTHONPATH=str(ROOT))  # fmt: skip
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True)
        try:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and not _has_draft(db):
                time.sleep(0.05)
            assert _has_draft(db), "the first save of the draft"
            filler = small / "filler"
            with filler.open("wb") as out:  # another program fills the disk while the reply streams
                try:
                    while True:
                        out.write(b"\0" * 65536)
                        out.flush()
                except OSError:
                    pass
            out_text, err = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
        assert proc.returncode == 1, err
        line = one_error_line(subprocess.CompletedProcess(argv, 1, out_text, err))
        assert "disk holding the database is full" in line
        assert "the partial draft #" in line
        assert "is kept unsent" in line
        draft_id = int(line.split("the partial draft #")[1].split(" ")[0])
        filler.unlink()
        with sqlite3.connect(db) as conn:
            state, text = conn.execute(
                "SELECT state, text FROM messages WHERE id = ?", (draft_id,)
            ).fetchone()
        conn.close()
        assert state == "draft"
        assert text.startswith("word00000-")


def _has_draft(db: Path) -> bool:
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=0.2) as conn:
            return bool(conn.execute("SELECT count(*) FROM messages WHERE state = 'draft'").fetchone()[0] > 0)
    except sqlite3.Error:
        return False


# ------------------------------------------------------------------------------- 3. a read-only mount


def _seed(db: Path, tmp_path: Path) -> None:
    assert (
        cli(tmp_path, "--db", str(db), "customers", "add", "ro@example.com", "--name", "Ro").returncode == 0
    )
    source = import_file(tmp_path / "few.jsonl", 30, customers=3)
    assert cli(tmp_path, "--db", str(db), "import", str(source)).returncode == 0


def test_read_only_commands_read_a_database_on_a_read_only_mount(tmp_path: Path) -> None:
    with tmpfs(tmp_path / "ro", "16m") as mount:
        db = mount / "console.db"
        _seed(db, tmp_path)
        before = digest(db)
        remount(mount, "ro")
        listed = cli(tmp_path, "--db", str(db), "customers", "list")
        assert listed.returncode == 0, listed.stderr
        assert "ro@example.com" in listed.stdout
        assert "c1@example.com" in listed.stdout
        found = cli(tmp_path, "--db", str(db), "search", "router")
        assert found.returncode == 0, found.stderr
        assert "router" in found.stdout
        exported = cli(tmp_path, "--db", str(db), "export", "--format", "jsonl")
        assert exported.returncode == 0, exported.stderr
        assert exported.stdout.count("\n") >= 3
        stats = cli(tmp_path, "--db", str(db), "stats")
        assert stats.returncode == 0, stats.stderr
        assert cli(tmp_path, "--db", str(db), "config").returncode == 0
        assert digest(db) == before
        assert sorted(p.name for p in mount.iterdir()) == ["console.db"]
        added = cli(tmp_path, "--db", str(db), "customers", "add", "x@example.com", "--name", "X")
        assert added.returncode == 1
        assert "database" in one_error_line(added)


async def test_console_on_a_read_only_mount_ends_with_one_line(tmp_path: Path) -> None:
    with tmpfs(tmp_path / "ro", "16m") as mount:
        db = mount / "console.db"
        _seed(db, tmp_path)
        remount(mount, "ro")
        code, shown = await console_error(tmp_path, str(db))
        assert code == 1
        expected = one_error_line(cli(tmp_path, "--db", str(db), "customers", "add", "a@b.c", "--name", "A"))
        assert expected in shown
        assert "Traceback" not in shown


def test_an_older_schema_on_a_read_only_mount_says_to_open_it_writable_once(tmp_path: Path) -> None:
    from support_console.store.engine import create_engine
    from support_console.store.migrations import MIGRATIONS, migrate

    with tmpfs(tmp_path / "ro", "16m") as mount:
        db = mount / "old.db"
        engine = create_engine(f"sqlite:///{db}")
        migrate(engine, MIGRATIONS[:6])
        engine.dispose()
        remount(mount, "ro")
        proc = cli(tmp_path, "--db", str(db), "customers", "list")
        assert proc.returncode == 1
        line = one_error_line(proc)
        assert "schema version 6" in line
        assert "open it once where it is writable to upgrade it" in line
        remount(mount, "rw")
        upgraded = cli(tmp_path, "--db", str(db), "customers", "list")  # writable: upgraded as before
        assert upgraded.returncode == 0, upgraded.stderr
        remount(mount, "ro")
        assert cli(tmp_path, "--db", str(db), "customers", "list").returncode == 0
