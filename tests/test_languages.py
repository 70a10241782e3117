"""The offline language heuristic (core/languages.py) and the ``[agent] language`` setting."""

from __future__ import annotations

from pathlib import Path

import pytest

from support_console.config.settings import load_settings
from support_console.core.errors import ConfigError
from support_console.core.languages import detect_language, normalise_code, same_language


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("Hallo, meine Bestellung ist noch nicht angekommen. Können Sie mir helfen?", "de"),
        ("Bonjour, ma commande n'est pas arrivée. Pouvez-vous m'aider ?", "fr"),
        ("Hola, mi pedido no ha llegado todavía. ¿Me puede ayudar?", "es"),
        ("Ciao, il mio ordine non è ancora arrivato, grazie", "it"),
        ("Obrigado pela ajuda, mas o pedido ainda não chegou", "pt"),
        ("Dank je wel voor de hulp, maar mijn pakket is nog niet er", "nl"),
        ("My order has not arrived yet, can you help me?", "en"),
        # English's "a" is Portuguese's too: it must not outvote the English words around it
        (
            "My PC shows a blue screen 'CRITICAL_PROCESS_DIED' about once a day since I added a second SSD.",
            "en",
        ),
        ("Olá, a minha encomenda ainda não chegou e o site diz que foi entregue", "pt"),
        ("Привет, мой заказ не пришёл", "ru"),
        ("Привіт, де моє замовлення? Дякую", "uk"),
        ("注文がまだ届きません", "ja"),
        ("我的订单还没到", "zh"),
        ("안녕하세요, 주문이 아직 안 왔어요", "ko"),
        ("Γεια σας, η παραγγελία μου δεν έφτασε", "el"),
        ("مرحبا، لم يصل طلبي بعد", "ar"),
    ],
)
def test_detects_the_languages_a_desk_sees(text: str, code: str) -> None:
    assert detect_language([text]) == code


@pytest.mark.parametrize("text", ["ok", "", "ORD-12345", "https://example.com/x?id=1", "👍"])
def test_short_or_wordless_text_is_unknown(text: str) -> None:
    assert detect_language([text]) is None


def test_the_newest_messages_decide_and_codes_are_normalised() -> None:
    newest_first = ["Bonjour, ma commande n'est pas arrivée, merci pour votre aide", "x " * 10_000]
    assert detect_language(newest_first) == "fr"
    assert normalise_code(" PT_br ") == "pt-br"
    assert normalise_code("German") is None
    assert same_language("pt-br", "pt")
    assert not same_language("en", "de")


def test_agent_language_setting(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    env = {"SUPPORT_CONSOLE_CONFIG": str(config)}
    config.write_text('[agent]\nname = "kim"\n', encoding="utf-8")
    assert load_settings(env=env).agent_language == "en"
    config.write_text('[agent]\nlanguage = "DE"\n', encoding="utf-8")
    assert load_settings(env=env).agent_language == "de"
    config.write_text('[agent]\nlanguage = "Deutsch!"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"language"):
        load_settings(env=env)


def test_a_dry_run_for_a_german_message_asks_for_german(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    from support_console.cli.main import main

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.delenv("SUPPORT_CONSOLE_CONFIG", raising=False)
    db = ["--db", str(tmp_path / "dry.db"), "--model", "gpt-4o"]
    text = "Hallo, meine Bestellung ist noch nicht angekommen. Können Sie mir helfen?"
    assert main(["draft", "neu@example.de", "-m", text, "--dry-run", "--json", *db]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["language"] == "de"
    assert "Write the whole reply in German (de)" in data["request"]["messages"][0]["content"]
    assert any("drafts are asked in German" in w for w in data["warnings"])
    english = "Where is my order? It has not come."
    assert main(["draft", "new@example.com", "-m", english, "--dry-run", "--json", *db]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["language"] is None
    assert "Write the whole reply" not in data["request"]["messages"][0]["content"]
