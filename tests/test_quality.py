"""How good the drafts are, on a seeded real SQLite file: the quality stats per persona, tool, model and
agent, thumbs in the stats and the exports, languages detected and overridden, and the v13 migration."""

from __future__ import annotations

import io
import json
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from support_console.cli.main import main
from support_console.core.languages import detect_language
from support_console.core.vocabulary import GENERATION_REWRITE, OUTCOME_ACCEPTED, ROLE_CUSTOMER
from support_console.store import Store
from support_console.store.engine import create_engine
from support_console.store.migrations import MIGRATIONS, migrate
from support_console.workflows.export import export
from support_console.workflows.languages import customer_language, language_instruction, set_language


def _draft(
    store: Store, cid: int, text: str, *, persona: str, model: str, author: str | None = None
) -> tuple[int, int]:
    gid = store.start_generation(cid, draft_id=None, persona_id=persona, model=model, parameters={})
    draft = store.save_draft(
        cid, text=text, original_text=text, persona_id=persona, model=model, finish_reason="stop",
        usage=(10, 5), generation_id=gid, final=True, author=author,
    )  # fmt: skip
    return draft, gid


def test_quality_stats_on_a_seeded_database(store: Store) -> None:
    customer = store.add_customer("Jane", "jane@example.com")
    assert customer.id is not None
    cid = store.current_conversation(customer.id, "tech").id
    assert cid is not None
    model_text = "Your refund of $20 was sent today and arrives in 3 days."
    # 1: sent as-is (thumbs up); 2: lightly edited; 3: rewritten (a "shorter" rewrite accepted); 4: discarded
    store.add_message(cid, ROLE_CUSTOMER, "refund?")
    d1, g1 = _draft(store, cid, model_text, persona="tech", model="gpt-4o")
    store.approve_draft(d1, model_text, "alice")
    store.rate_generation(g1, 1, agent="alice")
    store.add_message(cid, ROLE_CUSTOMER, "and?")
    d2, _ = _draft(store, cid, model_text, persona="tech", model="gpt-4o")
    store.approve_draft(d2, model_text.replace("today", "today!"), "bob")
    store.add_message(cid, ROLE_CUSTOMER, "more?")
    d3, g3 = _draft(store, cid, model_text, persona="billing", model="gpt-4o-mini")
    rewrite = store.start_generation(
        cid, draft_id=d3, persona_id="billing", model="gpt-4o-mini", parameters={}, kind=GENERATION_REWRITE,
        tool_id="shorter",
    )  # fmt: skip
    store.record_output(rewrite, "Refund sent.")
    store.set_outcome(rewrite, OUTCOME_ACCEPTED)
    store.rate_generation(rewrite, -1, reason="lost the amount", agent="alice")
    store.approve_draft(d3, "Refund sent.", "alice")
    store.rate_generation(g3, -1, reason="too long", agent="alice")
    store.add_message(cid, ROLE_CUSTOMER, "last")
    d4, _ = _draft(store, cid, model_text, persona="tech", model="gpt-4o", author="carol")
    store.discard_draft(d4)

    stats = store.quality_stats()
    persona = {row.key: row for row in stats.by_persona}
    tech, billing = persona["tech"], persona["billing"]
    assert (tech.drafts, tech.sent_as_is, tech.lightly_edited, tech.rewritten, tech.discarded) == (
        3,
        1,
        1,
        0,
        1,
    )
    assert (billing.sent_as_is, billing.rewritten, billing.thumbs_down) == (0, 1, 1)
    assert tech.thumbs_up == 1
    assert tech.median_edit_distance is not None
    assert 0 < tech.median_edit_distance < 0.1  # median of 0.0 and one character's edit
    assert tech.median_seconds_to_send is not None
    assert tech.median_seconds_to_send >= 0
    tools = {row.key: row for row in stats.by_tool}
    assert tools["shorter"].drafts == 1
    assert tools["shorter"].rewritten == 1
    assert tools["shorter"].thumbs_down == 2  # the rewrite's own and the draft's
    assert tools["(none)"].drafts == 3
    assert {row.key for row in stats.by_model} == {"gpt-4o", "gpt-4o-mini"}
    agents = {row.key: row for row in stats.by_agent}
    assert (agents["alice"].sent_as_is, agents["alice"].rewritten, agents["bob"].lightly_edited) == (1, 1, 1)
    assert agents["carol"].discarded == 1  # an unsent draft counts for the agent whose draft it was

    later = store.quality_stats(since=(store.get_message(d4).created_at + timedelta(days=1)))
    assert later.by_persona == []

    out = io.StringIO()
    export(store, out, "jsonl")
    generations = json.loads(out.getvalue())["generations"]
    rated = {g["id"]: (g["rating"], g["rating_reason"], g["kind"]) for g in generations}
    assert rated[g3] == (-1, "too long", "draft")
    assert rated[rewrite] == (-1, "lost the amount", "rewrite")
    md = io.StringIO()
    export(store, md, "md")
    assert "thumbs down: too long" in md.getvalue()
    assert "rewrite shorter" in md.getvalue()


def test_thumbs_are_validated_and_replaced(store: Store) -> None:
    customer = store.add_customer("Jane", "jane@example.com")
    cid = store.current_conversation(customer.id or 0).id or 0
    store.add_message(cid, ROLE_CUSTOMER, "hi")
    draft, gid = _draft(store, cid, "Hello", persona="tech", model="gpt-4o")
    assert store.draft_generation(draft) == gid
    assert store.rating(gid) is None
    store.rate_generation(gid, -1, reason="  ", agent="alice")
    store.rate_generation(gid, 1, reason="good", agent="bob")
    rating = store.rating(gid)
    assert rating is not None
    assert (rating.rating, rating.reason, rating.rated_by) == (1, "good", "bob")
    with pytest.raises(ValueError, match="a rating is"):
        store.rate_generation(gid, 5)


def test_languages_detected_overridden_and_said_to_the_model(
    store: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    customer = store.add_customer("Jean", "jean@example.com")
    assert customer.id is not None
    cid = store.current_conversation(customer.id).id or 0
    store.add_message(cid, ROLE_CUSTOMER, "Bonjour, ma commande n'est pas arrivée. Pouvez-vous m'aider ?")
    known = customer_language(store, store.get_customer(customer.id))
    assert (known.code, known.source) == ("fr", "detected")
    assert known.differs_from("en")
    assert not known.differs_from("fr")
    set_language(store, customer.id, "pt_BR")
    known = customer_language(store, store.get_customer(customer.id))
    assert (known.code, known.source) == ("pt-br", "set")
    with pytest.raises(ValueError, match="not a language code"):
        set_language(store, customer.id, "Klingon!")
    set_language(store, customer.id, "auto")
    assert customer_language(store, store.get_customer(customer.id)).source == "detected"
    assert "Write the whole reply in French (fr)" in language_instruction("fr")
    assert detect_language(["ok"]) is None
    assert detect_language(["Привіт, де моє замовлення? Дякую, їжак"]) == "uk"


def test_language_cli_sets_and_shows(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "lang.db"
    setup = Store.open(f"sqlite:///{db}")
    setup.add_customer("Jane", "jane@example.com")
    setup.close()
    assert main(["language", "jane@example.com", "de", "--db", str(db), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert (data["language"], data["source"], data["differs"]) == ("de", "set", True)
    assert main(["language", "jane@example.com", "xx yy", "--db", str(db)]) == 2
    assert main(["language", "jane@example.com", "auto", "--db", str(db)]) == 0
    assert "unknown" in capsys.readouterr().out


def test_v13_migration_upgrades_a_version_12_file_in_place(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = create_engine(url)
    try:
        assert migrate(engine, MIGRATIONS[:12]) == 12
        with engine.begin() as conn:
            columns = {c["name"] for c in sa.inspect(conn).get_columns("generations")}
            assert "rating" not in columns
    finally:
        engine.dispose()
    store = Store.open(url)
    try:
        customer = store.add_customer("Old", "old@example.com")
        cid = store.current_conversation(customer.id or 0).id or 0
        store.add_message(cid, ROLE_CUSTOMER, "hi")
        _, gid = _draft(store, cid, "Hello", persona="tech", model="gpt-4o")
        store.rate_generation(gid, 1)
        store.set_coverage(gid, 1)
        (record,) = store.generations(cid)
        assert (record.rating, record.covers_message_id) == (1, 1)
    finally:
        store.close()


def test_stats_cli_prints_the_quality_table_and_json(
    store: Store, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    customer = store.add_customer("Jane", "jane@example.com")
    cid = store.current_conversation(customer.id or 0).id or 0
    store.add_message(cid, ROLE_CUSTOMER, "hi")
    draft, gid = _draft(store, cid, "Hello there", persona="tech", model="gpt-4o")
    store.approve_draft(draft, "Hello there", "alice")
    store.rate_generation(gid, 1)
    db = ["--db", store.engine.url.render_as_string(hide_password=False)]  # the CLI on the same database
    assert main(["stats", *db]) == 0
    out = capsys.readouterr().out
    assert "Draft quality" in out
    assert "persona: tech" in out
    assert main(["stats", "--json", *db]) == 0
    quality = json.loads(capsys.readouterr().out)["quality"]
    (row,) = quality["by_persona"]
    assert (row["key"], row["sent_as_is"], row["thumbs_up"]) == ("tech", 1, 1)
