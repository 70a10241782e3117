"""Importing conversation logs: the shipped sample, JSONL and CSV, idempotency, bad rows by line number,
continuing tickets, progress, the CLI command, and a concurrent writer that must not be disturbed."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

import pytest
import sqlalchemy as sa

from support_console.cli.main import main
from support_console.store import (
    ROLE_AGENT,
    ROLE_CUSTOMER,
    ROLE_NOTE,
    STATE_NOTE,
    STATE_RECEIVED,
    STATE_SENT,
    LogFilters,
    Store,
)
from support_console.store.counters import after, update_counters
from support_console.store.first_page import name_from_email
from support_console.store.tables import CONVERSATIONS
from support_console.workflows import import_rows
from support_console.workflows.importer import ImportFileError, import_file
from tests.db_helpers import is_sqlite, stored_text

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "sample_conversations.jsonl"


def _write_jsonl(path: Path, rows: Sequence[object]) -> Path:
    path.write_text(
        "".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows), encoding="utf-8"
    )
    return path


def _count(store: Store, table: str) -> int:
    with store.engine.connect() as conn:
        return int(conn.exec_driver_sql(f"SELECT count(*) FROM {table}").scalar_one())


def test_the_sample_loads_completely_and_twice_adds_nothing(store: Store) -> None:
    rows = [json.loads(line) for line in SAMPLE.read_text(encoding="utf-8").splitlines()]
    first = import_file(store, SAMPLE)
    assert first.ok
    assert first.rows == len(rows) == first.added
    assert first.customers_created == len({r["email"] for r in rows}) >= 30
    assert first.conversations_created == len({r["ticket"] for r in rows})
    assert {r["persona"] for r in rows} == {"xbox-support", "billing-refunds", "tech-support"}
    again = import_file(store, SAMPLE)
    assert again.ok
    assert again.added == 0
    assert again.skipped == len(rows)
    assert again.customers_created == again.conversations_created == 0
    assert _count(store, "messages") == len(rows)
    assert "0 messages added" in again.summary()


def test_imported_replies_keep_original_sent_approver_and_status(store: Store) -> None:
    import_file(store, SAMPLE)
    [row] = store.list_conversations(LogFilters(customer="ellen.brooks", status="resolved"), limit=10)[-1:]
    trail = store.audit_conversation(row.conversation_id)
    reply = next(m for m in trail.messages if m.role == "agent")
    assert reply.state == "sent"
    assert reply.approved_by == "Elena Rossi"
    assert reply.original_text is not None
    assert "5-7 business days" in reply.original_text
    assert "3-5 business days" in reply.text
    assert reply.edited
    assert (reply.model, reply.finish_reason, reply.persona_id) == (
        "gpt-4o-2024-08-06",
        "stop",
        "billing-refunds",
    )
    assert (reply.prompt_tokens, reply.completion_tokens) == (463, 38)
    assert [m.role for m in trail.messages] == ["customer", "note", "agent", "customer"]
    assert store.count_conversations(LogFilters(status="pending")) >= 3
    assert store.search("ARN 74987506290001748291003")  # imported text is searchable at once


def test_bad_rows_are_reported_by_line_and_good_rows_kept(store: Store, tmp_path: Path) -> None:
    good = {"email": "a@example.com", "text": "hello", "timestamp": "2026-10-01T10:00:00Z", "ticket": "T1"}
    path = _write_jsonl(tmp_path / "mixed.jsonl", [
        good,
        "{not json",
        {**good, "email": "", "id": "2"},
        "",
        {**good, "timestamp": "yesterday", "id": "3"},
        {**good, "role": "bot", "id": "4"},
        {**good, "original": "model text", "id": "5"},
        ["a", "list"],
        {**good, "text": "   ", "id": "6"},
        {**good, "status": "closed", "id": "7"},
        {**good, "role": "agent", "prompt_tokens": "many", "id": "8"},
        {**good, "text": "still imported", "id": "9"},
    ])  # fmt: skip
    report = import_file(store, path)
    assert report.added == 2
    assert report.rows == 11
    lines = {e.line: e.message for e in report.errors}
    assert sorted(lines) == [2, 3, 5, 6, 7, 8, 9, 10, 11]
    assert "JSON" in lines[2]
    assert "email" in lines[3]
    assert "ISO 8601" in lines[5]
    assert "'bot'" in lines[6]
    assert "agent" in lines[7]
    assert "object" in lines[8]
    assert "text" in lines[9]
    assert "open, pending" in lines[10]
    assert "whole number" in lines[11]
    assert "9 bad rows" in report.summary()


def test_csv_with_aliases_quotes_and_multiline_text(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    path.write_text(
        "customer_email,customer_name,created_at,ticket_id,message_id,role,text,approved_by\n"
        'kim@example.com,Kim Lee,2026-10-01T08:00:00,Z-1,1,customer,"Line one, with a comma\nline two",\n'
        "kim@example.com,Kim Lee,2026-10-01T08:05:00+02:00,Z-1,2,agent,Thanks Kim,Priya\n"
        "kim@example.com,,not-a-time,Z-1,3,customer,bad row,\n",
        encoding="utf-8",
    )
    report = import_file(store, path)
    assert report.added == 2
    assert [(e.line, "ISO 8601" in e.message) for e in report.errors] == [
        (5, True)
    ]  # line 5: after the quoted newline
    trail = store.audit_conversation(store.list_conversations()[0].conversation_id)
    assert trail.customer_name == "Kim Lee"
    assert trail.messages[0].text == "Line one, with a comma\nline two"
    assert trail.messages[1].approved_by == "Priya"
    assert trail.messages[1].state == "sent"
    assert trail.messages[1].created_at.isoformat() == "2026-10-01T06:05:00+00:00"  # offsets become UTC


def test_a_later_file_continues_the_same_ticket(store: Store, tmp_path: Path) -> None:
    base = {"email": "Dana@Example.com", "ticket": "T-9", "timestamp": "2026-10-01T10:00:00Z"}
    import_file(store, _write_jsonl(tmp_path / "a.jsonl", [{**base, "id": "1", "text": "first"}]))
    report = import_file(store, _write_jsonl(tmp_path / "b.jsonl", [
        {**base, "id": "1", "text": "first"},
        {**base, "email": "dana@example.com", "id": "2", "text": "second", "status": "resolved"},
        {**base, "ticket": "T-10", "id": "1", "text": "another ticket"},
    ]))  # fmt: skip
    assert (report.added, report.skipped, report.conversations_created, report.customers_created) == (
        2,
        1,
        1,
        0,
    )
    conversations = store.list_conversations()
    assert len(conversations) == 2
    t9 = next(c for c in conversations if c.messages == 2)
    assert t9.status == "resolved"


def test_a_first_import_skips_the_files_own_repeats_and_keeps_its_order(store: Store, tmp_path: Path) -> None:
    """A batch of new tickets only (PostgreSQL copies it straight into the table): a row repeated in the
    file is written once, and ids follow the file's order across interleaved tickets."""
    base = {"email": "eve@example.com", "timestamp": "2026-10-01T10:00:00Z"}
    path = _write_jsonl(tmp_path / "repeats.jsonl", [
        {**base, "ticket": "T-1", "id": "1", "text": "one"},
        {**base, "ticket": "T-2", "id": "1", "text": "two"},
        {**base, "ticket": "T-1", "id": "1", "text": "one again"},
        {**base, "ticket": "T-1", "id": "2", "text": "three"},
    ])  # fmt: skip
    report = import_file(store, path)
    assert (report.added, report.skipped, report.conversations_created) == (3, 1, 2)
    with store.engine.connect() as conn:
        texts = conn.exec_driver_sql("SELECT text FROM messages ORDER BY id").scalars().all()
    assert texts == ["one", "two", "three"]
    assert import_file(store, path).added == 0


def test_rows_without_ids_are_still_idempotent(store: Store, tmp_path: Path) -> None:
    path = _write_jsonl(tmp_path / "noid.jsonl", [
        {"email": "x@example.com", "text": "no id, no ticket", "timestamp": "2026-10-01T10:00:00Z"},
        {"email": "x@example.com", "text": "second", "timestamp": "2026-10-01T10:01:00Z"},
    ])  # fmt: skip
    assert import_file(store, path).added == 2
    assert import_file(store, path).added == 0
    assert store.count_conversations() == 1


def test_a_customer_without_a_name_is_named_as_draft_names_one(store: Store, tmp_path: Path) -> None:
    path = _write_jsonl(tmp_path / "names.jsonl", [
        {"email": "jane.doe@example.com", "text": "hi", "timestamp": "2026-10-01T10:00:00Z"},
        {"email": "kim@example.com", "name": "Kim Lee", "text": "hi", "timestamp": "2026-10-01T10:00:00Z"},
    ])  # fmt: skip
    assert import_file(store, path).ok
    jane, kim = store.find_customer("jane.doe@example.com"), store.find_customer("kim@example.com")
    assert jane is not None
    assert jane.name == name_from_email("jane.doe@example.com") == "Jane Doe"
    assert kim is not None
    assert kim.name == "Kim Lee"


def test_progress_is_reported_in_bytes(store: Store) -> None:
    seen: list[tuple[int, int]] = []
    import_file(store, SAMPLE, progress=lambda done, total: seen.append((done, total)), batch_rows=25)
    size = SAMPLE.stat().st_size
    assert len(seen) >= 4
    assert seen[-1] == (size, size)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)


def test_unreadable_files_raise_a_clear_error(store: Store, tmp_path: Path) -> None:
    with pytest.raises(ImportFileError, match="Cannot read"):
        import_file(store, tmp_path / "missing.jsonl")
    latin = tmp_path / "latin.csv"
    latin.write_bytes(b"email,n\xe4me,text,timestamp\ncafe@example.com,Caf,hi,2026-10-01T10:00:00Z\n")
    with pytest.raises(ImportFileError) as info:
        import_file(store, latin)
    assert str(info.value) == (
        f"{latin} cannot be imported: its header line is not UTF-8 text (byte 0xe4 in the header line, "
        "column 8). Save the file as UTF-8 and import it again; nothing was imported."
    )


def test_cli_import_exit_code_summary_and_progress(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "cli.db"
    bad = _write_jsonl(tmp_path / "bad.jsonl", [
        {"email": "a@example.com", "text": "fine", "timestamp": "2026-10-01T10:00:00Z"},
        {"email": "a@example.com", "text": "no time"},
    ])  # fmt: skip
    config = tmp_path / "config.toml"
    config.write_text("", encoding="utf-8")
    argv = ["--db", str(db), "--config", str(config)]
    assert main([*argv, "import", str(SAMPLE)]) == 0
    out, err = capsys.readouterr()
    assert "messages added" in out
    assert "importing sample_conversations.jsonl: 100%" in err
    assert main([*argv, "import", str(bad)]) == 1
    out, err = capsys.readouterr()
    assert f"{bad}: line 2: field 'timestamp' is missing" in err
    assert "1 messages added" in out
    assert "1 bad rows skipped" in out


def test_other_writers_are_not_disturbed_by_a_large_import(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'busy.db'}"
    importer_store, writer_store = Store.open(url), Store.open(url)
    rows = [
        {"email": f"bulk{i % 500}@example.com", "ticket": f"B{i // 10}", "id": str(i),
         "text": f"bulk message {i}", "timestamp": "2026-10-01T10:00:00Z"}
        for i in range(20_000)
    ]  # fmt: skip
    path = _write_jsonl(tmp_path / "big.jsonl", rows)
    customer = writer_store.add_customer("Live Agent Customer", "live@example.com")
    assert customer.id is not None
    conversation = writer_store.current_conversation(customer.id)
    assert conversation.id is not None
    errors: list[BaseException] = []
    written = 0
    done = threading.Event()

    def live_writer() -> None:
        nonlocal written
        try:
            while not done.is_set() or written < 20:
                writer_store.add_message(conversation.id, "customer", f"live message {written}")  # type: ignore[arg-type]
                written += 1
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=live_writer)
    thread.start()
    try:
        report = import_file(importer_store, path)
    finally:
        done.set()
        thread.join()
    try:
        assert errors == []
        assert report.ok
        assert report.added == len(rows)
        with writer_store.engine.connect() as conn:
            live = conn.execute(
                sa.text("SELECT count(*) FROM messages WHERE conversation_id = :c"), {"c": conversation.id}
            ).scalar_one()
        assert live == written >= 20
        _index_consistent(writer_store)
        assert len(writer_store.search("live message")) == min(written, 50)  # one page of results
        assert writer_store.search("bulk message 19999")
    finally:
        importer_store.close()
        writer_store.close()


def _index_consistent(store: Store) -> None:
    if not is_sqlite(store):
        return  # PostgreSQL's search vector is a generated column: the database itself keeps it right
    with store.engine.connect() as conn:
        conn.exec_driver_sql("INSERT INTO messages_fts(messages_fts, rank) VALUES ('integrity-check', 1)")
        assert conn.exec_driver_sql("SELECT count(*) FROM fts_deferred").scalar_one() == 0


def _snapshot(store: Store) -> list[object]:
    """Everything an import writes, without ids' accidents or the time of the import (updated_at)."""
    with store.engine.connect() as conn:
        return [
            conn.exec_driver_sql(sql).all()
            for sql in (
                "SELECT name, email, created_at, open_conversations, unread, last_activity FROM customers",
                "SELECT customer_id, status, persona_id, created_at, last_activity, unread_count "
                "FROM conversations",
                "SELECT id, conversation_id, role, state, text, original_text, persona_id, model, "
                "finish_reason, prompt_tokens, completion_tokens, approved_by, approved_at, created_at, "
                "external_id FROM messages",
            )
        ]


def _mixed_rows() -> list[object]:
    base = {"email": "Mo@Example.com", "ticket": "M-1", "timestamp": "2026-10-01T10:00:00Z"}
    return [
        {**base, "id": "1", "text": "printer offline", "name": "Mo"},
        {**base, "id": "2", "role": "agent", "text": "Restart it", "original": "Restart it.",
         "model": "gpt-4o", "prompt_tokens": 12, "completion_tokens": "3", "approved_by": "Priya",
         "persona": "tech-support"},
        "{broken",
        {**base, "id": "3", "text": "works now", "timestamp": "2026-10-01T12:30:00+02:00",
         "status": "resolved"},
        {**base, "ticket": "M-2", "id": "1", "text": "week date", "timestamp": "2026-W40-4T09:15:00Z"},
        {**base, "ticket": "M-2", "id": "2", "text": "naive time", "timestamp": "2026-10-02 09:15:00.250"},
        {"email": "mo@example.com", "ticket": "M-1", "id": "4", "text": "no time"},
        {"email": "other@example.com", "text": "no id, no ticket", "timestamp": "2026-10-03T08:00:00-05:00"},
        {**base, "id": "1", "text": "printer offline"},  # repeated in the file
    ]  # fmt: skip


def test_parsing_in_a_child_process_gives_the_same_import(tmp_path: Path) -> None:
    path = _write_jsonl(tmp_path / "mixed.jsonl", _mixed_rows())
    stores = [Store.open(f"sqlite:///{tmp_path / f'{mode}.db'}") for mode in ("child", "here")]
    try:
        seen: list[tuple[int, int]] = []
        child = import_file(stores[0], path, progress=lambda d, t: seen.append((d, t)), parse_in_child=True)
        here = import_file(stores[1], path, parse_in_child=False)
        assert [(e.line, e.message) for e in child.errors] == [(e.line, e.message) for e in here.errors]
        assert [e.line for e in child.errors] == [3, 7]
        assert (child.rows, child.added, child.skipped) == (here.rows, here.added, here.skipped) == (9, 6, 1)
        assert _snapshot(stores[0]) == _snapshot(stores[1])
        assert seen[-1] == (path.stat().st_size, path.stat().st_size)
        for store in stores:
            assert import_file(store, path, parse_in_child=True).added == 0
            _index_consistent(store)
    finally:
        for store in stores:
            store.close()


def test_times_are_stored_as_utc_whatever_their_iso_form(store: Store, tmp_path: Path) -> None:
    import_file(store, _write_jsonl(tmp_path / "times.jsonl", _mixed_rows()))
    with store.engine.connect() as conn:
        rows = conn.exec_driver_sql("SELECT text, created_at FROM messages").all()
    stamps = {text: stored_text(created) for text, created in rows}
    assert stamps["printer offline"] == "2026-10-01 10:00:00.000000"
    assert stamps["works now"] == "2026-10-01 10:30:00.000000"
    assert stamps["week date"] == "2026-10-01 09:15:00.000000"
    assert stamps["naive time"] == "2026-10-02 09:15:00.250000"
    assert stamps["no id, no ticket"] == "2026-10-03 13:00:00.000000"


def test_imported_counters_match_the_store_definitions(store: Store, tmp_path: Path) -> None:
    """Conversations get their counters as they are created; recounting them must change nothing."""
    import_file(store, SAMPLE)
    import_file(store, _write_jsonl(tmp_path / "more.jsonl", _mixed_rows()))
    before = _snapshot(store)
    with store.engine.begin() as conn:
        update_counters(conn, CONVERSATIONS.c.id > 0, after(0))  # recount every conversation (and roll-up)
    assert _snapshot(store) == before
    with store.engine.connect() as conn:
        unread = conn.exec_driver_sql("SELECT sum(unread_count) FROM conversations").scalar_one()
    assert unread > 0


def test_the_parser_uses_the_stores_words_and_imports_no_sqlalchemy() -> None:
    """The parser runs in a child process that must start fast: it takes the vocabulary, the time layout and
    the email folding from their stdlib-only homes, and never loads SQLAlchemy."""
    assert import_rows.STATES == {
        ROLE_CUSTOMER: STATE_RECEIVED,
        ROLE_AGENT: STATE_SENT,
        ROLE_NOTE: STATE_NOTE,
    }
    probe = (
        "import sys, support_console.workflows.import_rows;"
        "print(sorted(m for m in ('sqlalchemy', 'sqlmodel', 'pydantic') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def _latin1_csv(path: Path, rows: int, bad: set[int]) -> Path:
    """A UTF-8 CSV of ``rows`` rows, except the rows in ``bad``, whose name is written in latin-1."""
    with path.open("wb") as out:
        out.write(b"email,name,text,timestamp\n")
        for i in range(rows):
            name = "Jos\xe9".encode("latin-1" if i in bad else "utf-8")
            out.write(b"a%d@example.com,%s,hello %d,2026-10-01T10:00:00Z\n" % (i, name, i))
    return path


@pytest.mark.parametrize("in_child", [False, True])
def test_a_latin1_row_in_a_csv_is_reported_by_line_and_skipped(
    store: Store, tmp_path: Path, in_child: bool
) -> None:
    path = _latin1_csv(tmp_path / "latin.csv", 99, {29, 70})
    report = import_file(store, path, parse_in_child=in_child, batch_rows=10)
    assert (report.rows, report.added) == (99, 97)
    assert [str(e) for e in report.errors] == [
        "line 31: not UTF-8 text (byte 0xe9 at column 20); save the file as UTF-8",
        "line 72: not UTF-8 text (byte 0xe9 at column 20); save the file as UTF-8",
    ]
    assert _count(store, "messages") == 97
    customer = store.find_customer("a28@example.com")
    assert customer is not None
    assert customer.name == "Jos\xe9"  # the rows around the bad ones, UTF-8, are imported as they are
    assert store.find_customer("a29@example.com") is None


@pytest.mark.parametrize("in_child", [False, True])
def test_a_lone_surrogate_escape_in_jsonl_is_reported_by_line_and_skipped(
    store: Store, tmp_path: Path, in_child: bool
) -> None:
    good = {"email": "s@example.com", "timestamp": "2026-10-01T10:00:00Z", "ticket": "T1"}
    lines = [json.dumps({**good, "id": str(i), "text": f"hello {i}"}) for i in range(54)]
    lines[20] = lines[20].replace("hello 20", "broken \\ud800 here")  # valid JSON, not storable text
    lines[31] = lines[31].replace("hello 31", "emoji \\ud83d\\ude00 ok")  # a proper pair: a real character
    lines[40] = lines[40].replace('"email"', '"name": "\\uDFFF", "email"')
    path = tmp_path / "surrogates.jsonl"
    path.write_text("\n".join(lines) + "\n")
    report = import_file(store, path, parse_in_child=in_child, batch_rows=7)
    assert (report.rows, report.added) == (54, 52)
    assert [str(e) for e in report.errors] == [
        "line 21: field 'text' holds a lone surrogate escape (\\ud800), which is not text: fix the character "
        "or remove the escape",
        "line 41: field 'name' holds a lone surrogate escape (\\udfff), which is not text: fix the character "
        "or remove the escape",
    ]
    texts = {m.text for m in store.page_messages(store.current_conversation(1).id or 0, limit=100)}
    assert "emoji \U0001f600 ok" in texts


def test_other_malformed_rows_are_row_errors_too(store: Store, tmp_path: Path) -> None:
    good = {"email": "n@example.com", "text": "fine", "timestamp": "2026-10-01T10:00:00Z"}
    jsonl = tmp_path / "odd.jsonl"
    jsonl.write_bytes(
        b"\n".join([
            json.dumps({**good, "id": "1"}).encode(),
            b"[" * 100_000,  # deeper than the JSON parser recurses
            json.dumps({**good, "id": "2", "text": "caf\u00e9"}).encode().replace(b"\\u00e9", b"\xe9"),
            json.dumps({**good, "id": "3"}).encode(),
        ]) + b"\n"
    )  # fmt: skip
    report = import_file(store, jsonl)
    assert report.added == 2
    assert {e.line: e.message for e in report.errors} == {
        2: "nested too deeply to be a message; each line must be one flat JSON object",
        3: "not UTF-8 text (byte 0xe9 at column 40); save the file as UTF-8",
    }
    csv_path = tmp_path / "huge-field.csv"
    csv_path.write_text(
        "email,text,timestamp\n"
        f"a@example.com,{'x' * 200_000},2026-10-01T10:00:00Z\n"
        "b@example.com,after it,2026-10-01T10:00:00Z\n"
    )
    report = import_file(store, csv_path)
    assert [e.line for e in report.errors] == [2]
    assert "not valid CSV (field larger than field limit" in report.errors[0].message
    assert report.added == 1


def test_the_store_goes_on_numbering_after_an_import(store: Store, tmp_path: Path) -> None:
    """The importer gives its conversations explicit ids (PostgreSQL: the sequence is moved past them):
    a conversation the Store opens afterwards, and a second import, get new ids, never an imported one's."""
    when = "2026-10-01T10:00:00Z"
    first = [
        {"email": "a@example.com", "ticket": f"T{i}", "id": "1", "text": f"hi {i}", "timestamp": when}
        for i in range(3)
    ]
    assert import_file(store, _write_jsonl(tmp_path / "first.jsonl", first)).ok
    imported = {r.conversation_id for r in store.list_conversations()}
    customer = store.add_customer("Bea", "bea@example.com")
    assert customer.id is not None
    opened = store.current_conversation(customer.id)
    assert opened.id is not None
    assert opened.id > max(imported)
    second = [{"email": "c@example.com", "ticket": "T9", "id": "1", "text": "later", "timestamp": when}]
    assert import_file(store, _write_jsonl(tmp_path / "second.jsonl", second)).ok
    ids = [r.conversation_id for r in store.list_conversations()]
    assert len(ids) == len(set(ids)) == 5
