"""Persona files on disk (tmp_path and the bundled folder): load, validate, render, override, suggest."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from support_console.core.errors import PersonaError
from support_console.core.personas import (
    ModelParams,
    PersonaProblem,
    PersonaSet,
    bundled_personas_dir,
    check_files,
    fingerprint,
    load_personas,
)

BUNDLED_IDS = {"xbox-support", "billing-refunds", "tech-support"}


def persona_file(folder: Path, stem: str, body: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{stem}.toml"
    path.write_text(body, encoding="utf-8")
    return path


def minimal(name: str = "Test", system: str = "You help.", extra: str = "") -> str:
    return f'name = "{name}"\nsystem = """{system}"""\n{extra}'


def test_bundled_personas_all_load_clean_and_render() -> None:
    assert bundled_personas_dir() == Path(__file__).resolve().parents[1] / "personas"
    personas = load_personas()
    assert personas.problems == ()
    assert set(personas.personas) == BUNDLED_IDS
    for persona in personas.ordered():
        assert persona.source.parent == bundled_personas_dir()
        assert persona.triggers
        assert persona.description
        assert len(persona.system) > 500  # written for real use, not a placeholder
        rendered = persona.render_system({"name": "Ana"})
        assert "{{" not in rendered
        assert "Ana" in rendered
        assert "password" in rendered  # every bundled persona says never to ask for one
    assert check_files([bundled_personas_dir()]) == []


def test_bundled_persona_parameters_and_variables() -> None:
    xbox = load_personas().get("xbox-support")
    assert xbox.params == ModelParams(temperature=0.3, max_tokens=600)
    assert set(xbox.variables) == {"name", "plan"}
    rendered = xbox.render_system({})
    assert "Customer name: not given (greet the customer without a name)\n" in rendered
    assert "Subscription on file: not on file" in rendered
    assert xbox.render_system({"plan": "Game Pass Core"}).count("Game Pass Core") == 1


def test_defaults_follow_power_automate(tmp_path: Path) -> None:
    persona_file(tmp_path, "plain", minimal())
    persona = load_personas([tmp_path]).get("plain")
    assert persona.params == ModelParams(0.0, 750, 1.0, 0.0, 0.0)
    assert persona.model is None
    assert persona.deployment is None
    assert persona.triggers == ()
    assert persona.description == ""
    assert persona.id == "plain"


def test_all_fields_are_read(tmp_path: Path) -> None:
    body = """
id = "vip"
name = "VIP Desk"
description = "For premium customers."
system = "Hello {{ name }} ({{email}}, {{ external_id }}) on {{ tier }}."
triggers = ["premium", "vip"]
model = "gpt-4o"
deployment = "prod-vip"

[parameters]
temperature = 1
max_tokens = 300
top_p = 0.5
frequency_penalty = -1.5
presence_penalty = 2

[variables]
tier = "Gold"
"""
    persona_file(tmp_path, "any-name", body)
    persona = load_personas([tmp_path]).get("vip")
    assert persona.params == ModelParams(1.0, 300, 0.5, -1.5, 2.0)
    assert (persona.name, persona.description, persona.model, persona.deployment) == (
        "VIP Desk",
        "For premium customers.",
        "gpt-4o",
        "prod-vip",
    )
    assert persona.triggers == ("premium", "vip")
    assert persona.source == tmp_path / "any-name.toml"
    values = {"name": "Ana", "email": "ana@example.com", "external_id": "C-7"}
    assert persona.render_system(values) == "Hello Ana (ana@example.com, C-7) on Gold."
    assert persona.render_system({**values, "tier": "Platinum"}).endswith("on Platinum.")


def test_prices_json_and_other_braces_survive_rendering(tmp_path: Path) -> None:
    system = (
        'Plan costs $59.99/yr; shell ${x} and $name; JSON {"a": {"b": 1}}; {single} {{ not-an-id }} '
        "{{{ name }}} {{name}} {{  plan  }}"
    )
    persona_file(tmp_path, "prices", f"name = 'P'\nsystem = '''{system}'''\n[variables]\nplan = 'Basic'\n")
    rendered = load_personas([tmp_path]).get("prices").render_system({"name": "Bo"})
    assert rendered == (
        'Plan costs $59.99/yr; shell ${x} and $name; JSON {"a": {"b": 1}}; {single} {{ not-an-id }} '
        "{Bo} Bo Basic"
    )


def test_values_are_inserted_literally_and_not_expanded_again(tmp_path: Path) -> None:
    persona_file(
        tmp_path, "lit", minimal(system="Dear {{ name }}, plan {{ plan }}.", extra="[variables]\nplan='X'\n")
    )
    persona = load_personas([tmp_path]).get("lit")
    assert (
        persona.render_system({"name": r"{{ plan }} \1 \g<0> $5"}) == r"Dear {{ plan }} \1 \g<0> $5, plan X."
    )
    # Missing or empty values fall back to the declared default; undeclared built-ins become empty.
    assert persona.render_system({"plan": ""}) == "Dear , plan X."


BROKEN = [
    # (file stem, body, field, fragment of the message)
    ("syntax", 'name = "A"\nsystem = "s"\ntriggers = [\n"x" "y"]\n', "", "line 4"),
    ("unknown-field", minimal(extra="temprature = 0.5\n"), "temprature", "unknown field"),
    (
        "wrong-type",
        minimal(extra="[parameters]\ntemperature = 'hot'\n"),
        "parameters.temperature",
        "expected a number, got 'hot'",
    ),
    ("range", minimal(extra="[parameters]\ntop_p = 1.5\n"), "parameters.top_p", "between 0 and 1"),
    ("nan", minimal(extra="[parameters]\ntemperature = nan\n"), "parameters.temperature", "between 0 and 2"),
    ("inf", minimal(extra="[parameters]\nmax_tokens = 5\ntop_p = inf\n"), "parameters.top_p", "got inf"),
    (
        "penalty",
        minimal(extra="[parameters]\npresence_penalty = -3\n"),
        "parameters.presence_penalty",
        "between -2 and 2",
    ),
    ("tokens", minimal(extra="[parameters]\nmax_tokens = 0\n"), "parameters.max_tokens", "at least 1"),
    (
        "tokens-float",
        minimal(extra="[parameters]\nmax_tokens = 1.5\n"),
        "parameters.max_tokens",
        "whole number",
    ),
    (
        "bool",
        minimal(extra="[parameters]\ntemperature = true\n"),
        "parameters.temperature",
        "expected a number",
    ),
    ("unknown-param", minimal(extra="[parameters]\ntemp = 1\n"), "parameters.temp", "unknown parameter"),
    ("no-name", 'system = "s"\n', "name", 'is required: add name = "..."'),
    ("no-system", 'name = "A"\n', "system", "is required"),
    ("late-system", 'name = "A"\n[variables]\nx = "1"\nsystem = "s"\n', "system", "inside [variables]"),
    (
        "late-trigger",
        minimal(extra="[parameters]\ntriggers = ['x']\n"),
        "parameters.triggers",
        "above the first",
    ),
    ("empty-name", minimal(name=""), "name", "is empty"),
    ("triggers-text", minimal(extra="triggers = 'xbox'\n"), "triggers", "expected a list of phrases"),
    ("triggers-num", minimal(extra="triggers = ['ok', 3]\n"), "triggers", "expected text in quotes, got 3"),
    ("undeclared", minimal(system="Hi {{ name }}, your {{ plan }}"), "system", "{{ plan }} is not declared"),
    ("bad-var", minimal(extra="[variables]\nplan = 3\n"), "variables.plan", "expected a default in quotes"),
    (
        "bad-var-name",
        minimal(extra='[variables]\n"my-plan" = "x"\n'),
        "variables.my-plan",
        "not a variable name",
    ),
    ("bad-id", minimal(extra='id = "Xbox Support"\n'), "id", "'Xbox Support' is not an id"),
    ("Bad Stem", minimal(), "id", "add id = 'bad-stem' or rename"),
]


@pytest.mark.parametrize(("stem", "body", "field", "fragment"), BROKEN, ids=[b[0] for b in BROKEN])
def test_broken_files_become_problems_naming_file_and_field(
    tmp_path: Path, stem: str, body: str, field: str, fragment: str
) -> None:
    broken = persona_file(tmp_path, stem, body)
    persona_file(tmp_path, "healthy", minimal(name="Healthy"))
    personas = load_personas([tmp_path])
    assert "healthy" in personas.personas  # the other files still load
    assert stem not in personas.personas
    assert len(personas.problems) == 1
    problem = personas.problems[0]
    assert problem.path == broken
    assert problem.field == field
    assert fragment in problem.message
    text = str(problem)
    assert text.startswith(f"{broken}: ")
    if field:
        assert f"field '{field}': " in text
    assert check_files([broken]) == [problem]


def test_every_problem_in_a_file_is_reported(tmp_path: Path) -> None:
    path = persona_file(tmp_path, "many", 'system = "{{ x }}"\ncolour = "red"\n[parameters]\ntop_p = 9\n')
    fields = [p.field for p in check_files([path])]
    assert sorted(fields) == ["colour", "name", "parameters.top_p", "system"]


def test_a_file_that_is_not_utf8_says_so(tmp_path: Path) -> None:
    path = tmp_path / "latin.toml"
    path.write_bytes('name = "Café"\nsystem = "Olá"\n'.encode("latin-1"))
    [problem] = check_files([path])
    assert str(problem) == f"{path}: is not UTF-8 text (byte 0xe9 at line 1, column 12): save it as UTF-8"


def test_every_bad_entry_of_a_table_is_reported_and_misplaced_parameters_are_explained(
    tmp_path: Path,
) -> None:
    body = minimal(
        system="{{ plan }}",
        extra='temperature = 0.2\n[parameters]\ntemperature = "hot"\nmax_tokens = -5\ntop_p = 3\nseed = 1\n'
        '[variables]\nplan = 5\n9x = "a"\n',
    )
    problems = {p.field: p.message for p in check_files([persona_file(tmp_path, "bad", body)])}
    assert sorted(problems) == [
        "parameters.max_tokens", "parameters.seed", "parameters.temperature", "parameters.top_p",
        "temperature", "variables.9x", "variables.plan",
    ]  # fmt: skip
    assert "move it under a [parameters] table" in problems["temperature"]
    assert problems["parameters.temperature"] == "expected a number, got 'hot'"


def test_problem_str_matches_the_documented_shape() -> None:
    problem = PersonaProblem(Path("personas/xbox.toml"), "temperature", "expected a number, got 'hot'")
    assert str(problem) == "personas/xbox.toml: field 'temperature': expected a number, got 'hot'"
    assert str(PersonaProblem(Path("a.toml"), "", "not valid TOML")) == "a.toml: not valid TOML"


def test_id_clash_within_one_folder_is_a_problem(tmp_path: Path) -> None:
    persona_file(tmp_path, "a", minimal(name="First", extra='id = "same"\n'))
    second = persona_file(tmp_path, "b", minimal(name="Second", extra='id = "same"\n'))
    personas = load_personas([tmp_path])
    assert personas.get("same").name == "First"
    assert [(p.path, p.field) for p in personas.problems] == [(second, "id")]
    assert "already used by a.toml" in personas.problems[0].message


def test_user_folders_override_bundled_and_earlier_folders_by_id(tmp_path: Path) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    persona_file(first, "xbox-support", minimal(name="Our Xbox"))
    persona_file(first, "extra", minimal(name="Extra One"))
    persona_file(second, "renamed", minimal(name="Extra Two", extra='id = "extra"\n'))
    personas = load_personas([first, second, tmp_path / "missing"])
    assert personas.problems == ()
    assert personas.get("xbox-support").name == "Our Xbox"
    assert personas.get("extra").name == "Extra Two"
    assert personas.get("billing-refunds").source.parent == bundled_personas_dir()
    assert set(personas.personas) == BUNDLED_IDS | {"extra"}


def test_a_file_where_a_folder_is_expected_is_a_problem(tmp_path: Path) -> None:
    not_a_folder = persona_file(tmp_path, "single", minimal())
    personas = load_personas([not_a_folder])
    assert [p.path for p in personas.problems] == [not_a_folder]
    assert set(personas.personas) == BUNDLED_IDS


def test_hidden_and_non_toml_files_are_ignored(tmp_path: Path) -> None:
    persona_file(tmp_path, ".#lock", "garbage = [")
    (tmp_path / "notes.txt").write_text("not a persona", encoding="utf-8")
    assert load_personas([tmp_path]).problems == ()


def test_get_unknown_id_lists_the_known_ones() -> None:
    with pytest.raises(PersonaError) as info:
        load_personas().get("nope")
    message = str(info.value)
    assert "There is no persona 'nope'" in message
    assert "billing-refunds, tech-support, xbox-support" in message
    assert info.value.field == "id"


def test_ordered_is_by_name_then_id(tmp_path: Path) -> None:
    persona_file(tmp_path, "b-id", minimal(name="alpha"))
    persona_file(tmp_path, "a-id", minimal(name="Alpha"))
    names = [(p.name, p.id) for p in load_personas([tmp_path]).ordered()]
    assert names[:2] == [("Alpha", "a-id"), ("alpha", "b-id")]
    assert [n for n, _ in names[2:]] == ["Billing & Refunds", "Tech Support", "Xbox Support"]


def suggestion(personas: PersonaSet, text: str) -> str | None:
    found = personas.suggest(text)
    return found.id if found else None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("My XBOX controller won't pair after the update", "xbox-support"),
        ("I was CHARGED TWICE this month, please refund", "billing-refunds"),
        ("The app keeps crashing with an error on install", "tech-support"),
        ("My Game\n  Pass library is empty", "xbox-support"),  # any run of spaces matches a space
        ("My controller won't charge anymore", "xbox-support"),  # not billing's bare "charge"
        ("There is a charge I don't recognise", "billing-refunds"),
        ("Lovely weather today", None),
        ("", None),
    ],
)
def test_suggest_with_bundled_triggers(text: str, expected: str | None) -> None:
    assert suggestion(load_personas(), text) == expected


def test_suggest_matches_whole_words_and_counts_matches(tmp_path: Path) -> None:
    persona_file(tmp_path, "passes", minimal(name="A Passes", extra='triggers = ["pass", "c++", ".net"]\n'))
    persona_file(tmp_path, "words", minimal(name="B Words", extra='triggers = ["password", "login"]\n'))
    only_mine = PersonaSet(
        {k: v for k, v in load_personas([tmp_path]).personas.items() if k in ("passes", "words")}
    )
    assert suggestion(only_mine, "forgot my password") == "words"  # "pass" does not fire inside "password"
    assert suggestion(only_mine, "my c++ build") == "passes"  # triggers with symbols still work
    assert suggestion(only_mine, "our .NET login") == "passes"  # even at the start of a trigger
    assert suggestion(only_mine, "pass pass, login") == "passes"  # most matches wins
    assert suggestion(only_mine, "pass login") == "passes"  # tie: the order of ordered()
    assert suggestion(only_mine, "passport") is None


def test_suggest_weighs_a_phrase_by_its_words(tmp_path: Path) -> None:
    persona_file(tmp_path, "money", minimal(name="A Money", extra='triggers = ["charge"]\n'))
    persona_file(tmp_path, "power", minimal(name="B Power", extra='triggers = ["will not charge"]\n'))
    only_mine = PersonaSet(
        {k: v for k, v in load_personas([tmp_path]).personas.items() if k in ("money", "power")}
    )
    assert suggestion(only_mine, "it will not charge") == "power"  # three words outweigh one
    assert suggestion(only_mine, "a charge, a charge, a charge and it will not charge") == "money"  # 4 > 3


def test_fingerprint_changes_when_files_change(tmp_path: Path) -> None:
    before = fingerprint([tmp_path])
    assert before == fingerprint([tmp_path])
    assert any(entry[0].endswith("xbox-support.toml") for entry in before)  # bundled files are included
    path = persona_file(tmp_path, "new", minimal())
    added = fingerprint([tmp_path])
    assert added != before
    path.write_text(minimal(name="Edited, longer"), encoding="utf-8")
    edited = fingerprint([tmp_path])
    assert edited != added
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 5_000_000_000))  # same size, newer mtime
    assert fingerprint([tmp_path]) != edited
    path.unlink()
    assert fingerprint([tmp_path]) == before != edited


def test_check_files_reports_missing_paths_and_clashes(tmp_path: Path) -> None:
    persona_file(tmp_path, "a", minimal(extra='id = "dup"\n'))
    b = persona_file(tmp_path, "b", minimal(extra='id = "dup"\n'))
    problems = check_files([tmp_path / "a.toml", b, tmp_path / "ghost.toml"])
    assert [(p.path.name, p.field) for p in problems] == [("ghost.toml", ""), ("b.toml", "id")]


# ---------------------------------------------------------------------------------------- odd files


def _load_within(seconds: float, dirs: list[Path]) -> PersonaSet:
    """load_personas in a thread, failing the test (instead of hanging it) if it blocks on a FIFO."""
    result: list[PersonaSet] = []
    worker = threading.Thread(target=lambda: result.append(load_personas(dirs)), daemon=True)
    worker.start()
    worker.join(seconds)
    assert result, "loading the personas blocked"
    return result[0]


def test_fifo_links_and_folders_in_a_persona_folder_are_reported_never_opened(tmp_path: Path) -> None:
    persona_file(tmp_path, "good", minimal(name="Good"))
    os.mkfifo(tmp_path / "pipe.toml")  # nothing ever writes to it: opening it would block for ever
    (tmp_path / "dangling.toml").symlink_to(tmp_path / "gone.toml")
    (tmp_path / "loop.toml").symlink_to(tmp_path / "loop.toml")
    (tmp_path / "folder.toml").mkdir()
    (tmp_path / "link-to-good.toml").symlink_to(tmp_path / "good.toml")
    (tmp_path / ".#good.toml").symlink_to("user@host.1234")  # an editor's lock file: hidden, skipped
    personas = _load_within(5, [tmp_path])
    assert "good" in personas.personas
    assert "link-to-good" in personas.personas  # a link to a regular file is a persona file
    messages = {p.path.name: p.message for p in personas.problems if p.field == ""}
    assert messages["pipe.toml"].startswith("is a FIFO (named pipe), not a file; it was not opened")
    assert messages["dangling.toml"] == (
        f"is a symbolic link to {tmp_path / 'gone.toml'}, which does not exist: persona files must be "
        "regular .toml files"
    )
    assert messages["loop.toml"].startswith("is a symbolic link loop")
    assert messages["folder.toml"].startswith("is a folder")
    assert ".#good.toml" not in messages
    assert len(personas.problems) == 4
    assert check_files([tmp_path / "pipe.toml"])[0].message == messages["pipe.toml"]  # named explicitly too


def test_adding_a_fifo_changes_the_fingerprint(tmp_path: Path) -> None:
    persona_file(tmp_path, "good", minimal())
    before = fingerprint([tmp_path])
    os.mkfifo(tmp_path / "pipe.toml")
    assert fingerprint([tmp_path]) != before


def test_a_byte_order_mark_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "bom.toml"
    path.write_bytes(b"\xef\xbb\xbf" + minimal(name="With BOM").encode())
    personas = load_personas([tmp_path])
    assert personas.problems == ()
    assert personas.get("bom").name == "With BOM"


@pytest.mark.parametrize(
    ("system", "shown"),
    [
        ("Hello {{ name and goodbye", "'{{ name and goodbye'"),
        ("Hello {{name}", "'{{name}'"),
        ("Dear {{ name }},\nyour {{ plan", "'{{ plan' (line 2 of the message)"),
    ],
)
def test_an_unclosed_placeholder_is_a_problem_naming_file_and_field(
    tmp_path: Path, system: str, shown: str
) -> None:
    path = persona_file(tmp_path, "unclosed", minimal(system=system, extra='[variables]\nplan = "x"\n'))
    personas = load_personas([tmp_path])
    assert "unclosed" not in personas.personas  # not sent with the braces in it
    [problem] = personas.problems
    assert (problem.path, problem.field) == (path, "system")
    assert shown in problem.message
    assert "unclosed placeholder" in problem.message


def test_a_huge_system_message_gets_a_size_warning_from_check_but_still_loads(tmp_path: Path) -> None:
    path = persona_file(tmp_path, "huge", minimal(system="Be kind to every customer today. " * 30_000))
    small = persona_file(tmp_path, "small", minimal(system="Be kind. " * 1000))
    assert "huge" in load_personas([tmp_path]).personas  # loading does not refuse it
    [warning] = check_files([path, small])
    assert warning.warning
    assert (warning.path, warning.field) == (path, "system")
    assert warning.message.startswith("is 210,001 tokens long: drafting cuts a system message")
    assert "shorten it to under 16,000 tokens" in warning.message
    named = persona_file(tmp_path, "gpt4", minimal(system="Be kind. " * 4000, extra='model = "gpt-4"\n'))
    [for_gpt4] = check_files([named])  # 8,192-token window: a 12,000-token message cannot stay whole
    assert "gpt-4's 8,192-token context window" in for_gpt4.message
