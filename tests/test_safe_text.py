"""Terminal safety: one rule (core/safe_text.py) for the console, the CLI and every export format.

Bidi overrides and escape sequences in customer text must never reach a terminal raw, and the stored text and
the data a JSON export carries must stay exactly what the customer wrote."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from support_console.cli.main import main
from support_console.core.safe_text import UNSAFE, escaped, is_safe, json_escaped, visible
from support_console.store import Store
from support_console.workflows.export import export

TROJAN = "refund \u202eydobon\u202c ok \x1b[31mred\x1b[0m \x9b2J bell\x07"
ARABIC = "مرحبا \u200f(RLM) \u200e(LRM) \u061c(ALM)"  # direction marks are legitimate text


def test_the_rule_covers_controls_and_bidi_overrides_but_not_direction_marks() -> None:
    assert not is_safe(TROJAN)
    for char in ("\x1b", "\x07", "\x7f", "\x9b", "\u202a", "\u202e", "\u2066", "\u2069", "\x0d"):
        assert UNSAFE.fullmatch(char), repr(char)
    for char in ("\n", "\t", "\u200e", "\u200f", "\u061c", "é", "€"):
        assert not UNSAFE.fullmatch(char), repr(char)
    assert is_safe(ARABIC)
    assert visible(ARABIC) == escaped(ARABIC) == ARABIC


def test_each_medium_spells_the_rule_its_own_way() -> None:
    assert escaped(TROJAN) == "refund \\u202eydobon\\u202c ok \\x1b[31mred\\x1b[0m \\x9b2J bell\\x07"
    assert visible(TROJAN) == "refund \ufffdydobon\ufffd ok ␛[31mred␛[0m \ufffd2J bell␇"
    assert visible("a\r\nb\rc") == "a\nb\nc"
    encoded = json_escaped(json.dumps({"t": TROJAN}, ensure_ascii=False))
    assert is_safe(encoded)
    assert json.loads(encoded) == {"t": TROJAN}


@pytest.fixture
def store(tmp_path: Path) -> Store:
    store = Store.open(f"sqlite:///{tmp_path / 'safe.db'}")
    customer = store.add_customer("Mallory \u202eX", "mallory@example.com")
    assert customer.id is not None
    conversation = store.current_conversation(customer.id)
    assert conversation.id is not None
    store.add_message(conversation.id, "customer", TROJAN)
    return store


@pytest.mark.parametrize("fmt", ["md", "json", "jsonl"])
def test_exports_never_carry_raw_controls_and_json_keeps_the_data(store: Store, fmt: str) -> None:
    out = io.StringIO()
    try:
        export(store, out, fmt)
    finally:
        store.close()
    text = out.getvalue()
    assert is_safe(text.replace("\n", "")), [m.group() for m in UNSAFE.finditer(text)]
    if fmt == "md":
        assert "\\u202eydobon" in text
        assert "\\x1b[31m" in text
    else:
        line = text if fmt == "json" else text.splitlines()[0]
        data = json.loads(line)
        conversation = data["conversations"][0] if fmt == "json" else data
        assert conversation["customer"]["name"] == "Mallory \u202eX"
        assert conversation["messages"][0]["text"] == TROJAN


def test_cli_output_escapes_bidi_and_controls(
    store: Store, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    store.close()
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))  # no user config file is read
    db = str(tmp_path / "safe.db")
    assert main(["--db", db, "customers", "list"]) == 0
    listed = capsys.readouterr().out
    assert "Mallory \\u202eX" in listed
    assert is_safe(listed.replace("\n", ""))
    assert main(["--db", db, "search", "refund", "--json"]) == 0
    found = capsys.readouterr().out
    assert is_safe(found.replace("\n", ""))
    assert json.loads(found)["hits"][0]["customer"]["name"] == "Mallory \u202eX"
