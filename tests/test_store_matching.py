"""Customer matching has one definition (core/matching.py folding, the store's folded keys): a customer with a
non-ASCII name or email is found the same way by every path — the customer list, search, export, the
importer's matching and the email lookups — and an upgraded database keeps every customer it had."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from support_console.cli.main import main
from support_console.core.errors import StoreError
from support_console.core.matching import fold, spelled_among
from support_console.store import Store
from support_console.store.engine import create_engine
from support_console.store.migrations import MIGRATIONS, migrate
from support_console.workflows.importer import import_file

ELISE = {"email": "elise.dupont@exemple.fr", "name": "Élise Dupont", "ticket": "E-1"}
AT = "2026-10-01 10:00:00.000000"


@pytest.fixture
def db(tmp_path: Path) -> Path:
    """A database into which Élise Dupont was imported, with one message asking for a refund."""
    rows = [{**ELISE, "id": "1", "text": "Je voudrais un remboursement", "timestamp": "2026-10-01T10:00:00Z"}]
    source = tmp_path / "elise.jsonl"
    source.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    path = tmp_path / "matching.db"
    store = Store.open(f"sqlite:///{path}")
    try:
        assert import_file(store, source).customers_created == 1
        store.add_customer("Bob Stone", "bob@example.com")  # someone else, who must never match
    finally:
        store.close()
    return path


@pytest.fixture
def store(db: Path) -> Iterator[Store]:
    store = Store.open(f"sqlite:///{db}")
    try:
        yield store
    finally:
        store.close()


def _cli(db: Path, capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    config = db.with_suffix(".toml")
    config.write_text("", encoding="utf-8")
    assert main(["--db", str(db), "--config", str(config), *argv]) == 0
    return capsys.readouterr().out


def test_fold_ignores_case_compatibility_forms_and_spacing() -> None:
    assert fold("Élise") == fold("élise") == fold("ÉLISE") == "élise"
    assert fold("E\u0301lise") == "élise"  # a combining accent composes (NFKC)
    assert fold("ｅｌｉｓｅ") == "elise"  # full-width letters
    assert fold("STRASSE") == fold("Straße") == "strasse"
    assert fold("  Ann \n\t Lee ") == "ann lee"
    assert fold("Zoë@Exemple.FR") == "zoë@exemple.fr"


def test_a_name_is_found_among_names_by_the_same_folding() -> None:
    assert spelled_among(" ÉLISE ", ["lee", "Élise"]) == "Élise"
    assert spelled_among("ｌｅｅ", ("Lee",)) == "Lee"  # full-width letters read as the same name
    assert spelled_among("lea", ["lee", "Élise"]) is None


@pytest.mark.parametrize("typed", ["Élise", "élise", "ÉLISE", "élise dupont", "E\u0301lise", "DUPONT"])
def test_the_customer_list_finds_a_non_ascii_name_however_it_is_typed(store: Store, typed: str) -> None:
    assert [r.customer.name for r in store.list_customers(typed)] == ["Élise Dupont"]


def test_every_cli_path_finds_the_customer_by_a_non_ascii_name(
    db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    listed = _cli(db, capsys, "customers", "list", "--json", "--filter", "Élise")
    assert [c["name"] for c in json.loads(listed)["customers"]] == ["Élise Dupont"]
    hits = json.loads(_cli(db, capsys, "search", "remboursement", "--customer", "Élise", "--json"))["hits"]
    assert [h["customer"]["name"] for h in hits] == ["Élise Dupont"]
    exported = _cli(db, capsys, "export", "--format", "jsonl", "--customer", "ÉLISE").splitlines()
    assert [json.loads(line)["customer"]["name"] for line in exported] == ["Élise Dupont"]
    assert _cli(db, capsys, "search", "remboursement", "--customer", "Bob", "--json").count('"hits": []') == 1


def test_search_stats_logs_and_audit_filters_agree(store: Store) -> None:
    assert [h.customer_name for h in store.search("remboursement", customer="élise")] == ["Élise Dupont"]
    assert [h.customer_name for h in store.search("rembourse*", customer="ÉLISE")] == ["Élise Dupont"]
    from support_console.store import LogFilters

    rows = store.list_conversations(LogFilters(customer="Élise"))
    assert [r.customer_name for r in rows] == ["Élise Dupont"]
    assert store.count_conversations(LogFilters(customer="élise")) == 1
    assert [t.customer_name for t in store.iter_audit(customer="ÉLISE DUPONT")] == ["Élise Dupont"]
    assert store.list_customers("100%") == []  # wildcards stay literal
    assert store.list_customers("_") == []


def test_email_lookups_fold_non_ascii_letters(store: Store) -> None:
    zoe = store.add_customer("Zoë", "Zoë.B@Exemple.fr")
    assert store.find_customer("ZOË.B@EXEMPLE.FR") == zoe
    assert store.find_customer("zoë.b@exemple.fr") == zoe
    with pytest.raises(StoreError, match="already exists"):
        store.add_customer("Another Zoë", "zoë.b@exemple.fr")
    with pytest.raises(StoreError, match="already exists"):
        store.add_customer("Ligature", "ＺＯË.B@exemple.fr")  # full-width: the same address


def test_import_matches_an_existing_customer_by_a_differently_cased_non_ascii_email(
    store: Store, tmp_path: Path
) -> None:
    zoe = store.add_customer("Zoë Brun", "ZOË.Brun@Exemple.fr")
    at = "2026-10-02T09:00:00Z"
    rows = [
        {"email": "zoë.brun@exemple.fr", "ticket": "Z-1", "id": "1", "text": "bonjour", "timestamp": at},
        {"email": "Zoë.BRUN@EXEMPLE.FR", "ticket": "Z-1", "id": "2", "text": "encore", "timestamp": at},
    ]
    source = tmp_path / "zoe.jsonl"
    source.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    report = import_file(store, source)
    assert (report.ok, report.added, report.customers_created, report.conversations_created) == (
        True, 2, 0, 1,
    )  # fmt: skip
    [summary] = store.list_customers("zoë")
    assert (summary.customer.id, summary.customer.name, summary.unread) == (zoe.id, "Zoë Brun", 2)


def test_an_imported_upper_case_non_ascii_email_is_one_customer(tmp_path: Path) -> None:
    """Before, the importer folded in Python and looked up in SQL: such a file failed with a KeyError."""
    at = "2026-10-02T09:00:00Z"
    rows = [
        {"email": "ÉMILE@exemple.fr", "ticket": "M-1", "id": "1", "text": "allô", "timestamp": at},
        {"email": "émile@exemple.fr", "ticket": "M-1", "id": "2", "text": "re", "timestamp": at},
    ]
    source = tmp_path / "emile.jsonl"
    source.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    store = Store.open(f"sqlite:///{tmp_path / 'emile.db'}")
    try:
        first = import_file(store, source)
        assert (first.ok, first.added, first.customers_created) == (True, 2, 1)
        assert import_file(store, source).added == 0
        [summary] = store.list_customers()
        assert summary.customer.email == "ÉMILE@exemple.fr"
        assert store.find_customer("émile@EXEMPLE.fr") is not None
    finally:
        store.close()


def test_every_customer_write_stores_the_folded_keys(store: Store, tmp_path: Path) -> None:
    store.add_customer("Ｆｕｌｌ Ｗｉｄｔｈ", "Wide@Example.com", "CRM-Ä1")
    source = tmp_path / "more.jsonl"
    source.write_text(
        json.dumps({"email": "Ünal@Example.com", "text": "hi", "timestamp": "2026-10-01T10:00:00Z"}) + "\n",
        encoding="utf-8",
    )
    import_file(store, source)
    with store.engine.connect() as conn:
        rows = conn.exec_driver_sql("SELECT name, email, external_id, email_key, match_key FROM customers")
        for name, email, external_id, email_key, match_key in rows:
            assert email_key == fold(email)
            assert match_key == "\n".join((fold(name), fold(email), fold(external_id or "")))


def _insert_customer(conn: object, name: str, email: str) -> None:
    import sqlalchemy as sa

    assert isinstance(conn, sa.Connection)
    conn.exec_driver_sql(
        "INSERT INTO customers (name, email, attributes, created_at, open_conversations, unread) "
        "VALUES (?, ?, '{}', ?, 0, 0)",
        (name, email, AT),
    )


def test_upgrading_keeps_customers_that_collide_under_the_new_folding(tmp_path: Path) -> None:
    """Version 6 compared emails with SQL lower() (ASCII only), so 'Élise@x' and 'élise@x' could both exist.
    Upgrading must not fail on them: both stay, the oldest keeps the email for lookups."""
    url = f"sqlite:///{tmp_path / 'v6.db'}"
    engine = create_engine(url)
    migrate(engine, MIGRATIONS[:6])
    with engine.begin() as conn:
        _insert_customer(conn, "Élise (first)", "Élise@exemple.fr")
        _insert_customer(conn, "Élise (second)", "élise@exemple.fr")
        _insert_customer(conn, "Ann", "ann@example.com")
    engine.dispose()
    store = Store.open(url)
    try:
        assert sorted(r.customer.name for r in store.list_customers("élise")) == [
            "Élise (first)", "Élise (second)",
        ]  # fmt: skip
        assert [r.customer.name for r in store.list_customers("ANN@")] == ["Ann"]
        found = store.find_customer("ÉLISE@EXEMPLE.FR")
        assert found is not None
        assert found.name == "Élise (first)"
        with pytest.raises(StoreError, match="already exists"):
            store.add_customer("Third", "élise@exemple.fr")
        source = tmp_path / "again.jsonl"
        source.write_text(
            json.dumps({"email": "élise@exemple.fr", "text": "salut", "timestamp": "2026-10-01T10:00:00Z"})
            + "\n",
            encoding="utf-8",
        )
        assert import_file(store, source).customers_created == 0
        [first] = [r for r in store.list_customers("élise") if r.open_conversations]
        assert first.customer.name == "Élise (first)"
        with store.engine.connect() as conn:
            keys: dict[str, str | None] = dict(
                conn.exec_driver_sql("SELECT name, email_key FROM customers").all()
            )
        assert keys == {"Élise (first)": "élise@exemple.fr", "Élise (second)": None, "Ann": "ann@example.com"}
    finally:
        store.close()
