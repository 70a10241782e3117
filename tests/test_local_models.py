"""Local and self-hosted servers (vLLM, llama.cpp, llama-cpp-python, Ollama, LM Studio) against the real
loopback server speaking each family's shapes: the window learned from the server or an overflow, never a
silent guess; overflows recognised with their numbers; window cuts told from max_tokens cuts; the persona's
parameters sent explicitly; model names checked; a persona that does not reach the model."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import aclosing
from pathlib import Path

import pytest

from support_console.config.settings import CliOverrides, load_settings
from support_console.core.model_facts import resolve_model
from support_console.llm import ErrorKind, LLMError
from support_console.llm.server_probe import probe_server
from support_console.store import Store
from support_console.workflows.drafting import Drafter, PreparedDraft, record_customer_message
from support_console.workflows.server_facts import ServerKnowledge
from support_console.workflows.services import Services, build_services
from tests.wire_local import Family, LocalModel, Template
from tests.wire_server import (
    Reply,
    WireServer,
    empty_stream,
    error,
    hang,
    llama_cpp_python_models,
    llama_props,
    llama_server_models,
    llama_server_overflow,
    llama_server_overflow_500,
    lm_studio_models,
    ollama_models,
    ollama_show,
    stream_text,
    vllm_models,
    vllm_overflow,
    vllm_tokenize,
)

LONG_SYSTEM = "You are the support assistant of Example Ltd. " + "Always be precise, kind and brief. " * 20
PERSONA = f"""\
id = "local"
name = "Local"
system = "{LONG_SYSTEM}"
[parameters]
max_tokens = 200
temperature = 0.2
"""


@pytest.fixture(autouse=True)
def _hermetic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))


def _services(tmp_path: Path, server: WireServer, model: str, config: str = "") -> Services:
    tmp_path.mkdir(parents=True, exist_ok=True)
    personas = tmp_path / "personas"
    personas.mkdir(exist_ok=True)
    (personas / "local.toml").write_text(PERSONA)
    config_file = tmp_path / "config.toml"
    config_file.write_text(config)
    overrides = CliOverrides(
        db=str(tmp_path / "d.db"),
        personas=personas,
        config=config_file,
        base_url=server.base_url,
        model=model,
    )
    return build_services(load_settings(overrides, env={"OPENAI_API_KEY": "sk-local-0123456789"}))


@pytest.fixture
def make(tmp_path: Path, wire_server: WireServer) -> Iterator[list[Services]]:
    made: list[Services] = []
    yield made
    for services in made:
        services.close()


def _conversation(services: Services, text: str = "My order never arrived.", n: int = 1) -> int:
    store = services.store
    customer = store.add_customer("Ann", f"ann{n}@example.com")
    assert customer.id is not None
    return record_customer_message(store, customer.id, text, "local")


async def _draft(services: Services, prepared: PreparedDraft) -> Drafter:
    drafter = Drafter(services)
    async with aclosing(drafter.stream(prepared, save_every=60)) as events:
        async for _ in events:
            pass
    return drafter


# ------------------------------------------------------------------------------------ the window, learned


def test_vllm_says_its_window_in_the_model_list(wire_server: WireServer) -> None:
    wire_server.route("GET", "/v1/models", vllm_models("Qwen/Qwen2.5-7B-Instruct", max_model_len=4096))
    facts = probe_server(wire_server.base_url, "Qwen/Qwen2.5-7B-Instruct")
    assert (facts.context_window, facts.offered) == (4096, ("Qwen/Qwen2.5-7B-Instruct",))
    assert "max_model_len" in facts.source
    assert wire_server.requests_to("/props") == []  # the first answer was enough


def test_llama_server_says_its_window_in_props(wire_server: WireServer) -> None:
    wire_server.route("GET", "/v1/models", llama_server_models(n_ctx_train=8192))
    wire_server.route("GET", "/props", llama_props(2048))
    facts = probe_server(wire_server.base_url, "anything")
    assert facts.context_window == 2048  # the slot's n_ctx, not the model's training context
    assert "n_ctx" in facts.source


@pytest.mark.parametrize(("num_ctx", "expected", "word"), [(8192, 8192, "num_ctx"), (None, 131072, "length")])
def test_ollama_says_its_window_in_show(
    wire_server: WireServer, num_ctx: int | None, expected: int, word: str
) -> None:
    wire_server.route("GET", "/v1/models", ollama_models("llama3.2:latest"))
    wire_server.route("POST", "/api/show", ollama_show(num_ctx=num_ctx))
    facts = probe_server(wire_server.base_url, "llama3.2")
    assert facts.context_window == expected
    assert word in facts.source
    assert wire_server.requests_to("/api/show")[0].json == {"model": "llama3.2"}


@pytest.mark.parametrize(("loaded", "expected"), [(4096, 4096), (None, 32768)])
def test_lm_studio_says_its_window_in_api_v0(
    wire_server: WireServer, loaded: int | None, expected: int
) -> None:
    wire_server.route("GET", "/api/v0/models", lm_studio_models("qwen2.5-7b-instruct", loaded=loaded))
    assert probe_server(wire_server.base_url, "qwen2.5-7b-instruct").context_window == expected


def test_llama_cpp_python_says_no_window_and_an_unreachable_server_is_asked_once(
    wire_server: WireServer,
) -> None:
    wire_server.route("GET", "/v1/models", llama_cpp_python_models("gemma"))
    facts = probe_server(wire_server.base_url, "gemma")
    assert (facts.context_window, facts.offered) == (None, ("gemma",))
    closed = WireServer()
    url = closed.base_url
    closed.close()
    assert probe_server(url, "gemma", timeout=0.5).context_window is None


def test_a_silent_server_costs_the_probe_one_timeout_not_one_per_endpoint(wire_server: WireServer) -> None:
    wire_server.route("GET", "/v1/models", hang())  # accepts the connection, never answers
    start = time.monotonic()
    facts = probe_server(wire_server.base_url, "gemma", timeout=0.4)
    assert facts.context_window is None
    assert time.monotonic() - start < 1.2  # five endpoints would take 2 s
    assert wire_server.requests_to("/props") == []


def test_the_learned_window_trims_the_request_is_stored_and_not_asked_again(
    tmp_path: Path, wire_server: WireServer, make: list[Services]
) -> None:
    wire_server.route("GET", "/v1/models", llama_server_models())
    wire_server.route("GET", "/props", llama_props(1024))
    services = _services(tmp_path, wire_server, "gpt-4o")  # a GPT-like alias: not OpenAI's 128k
    make.append(services)
    prepared = Drafter(services).prepare(_conversation(services), "local")
    assert (prepared.model.context_window, prepared.model.window_source) == (1024, "server")
    assert prepared.report.budget < 1024
    Drafter(services).prepare(_conversation(services, n=2), "local")
    assert len(wire_server.requests_to("/props")) == 1  # once per process
    services.close()
    again = _services(tmp_path, wire_server, "gpt-4o")
    make.append(again)
    assert Drafter(again).prepare(_conversation(again, n=3), "local").model.context_window == 1024
    assert len(wire_server.requests_to("/props")) == 1  # the next start reads the store
    learned = again.store.server_model(wire_server.base_url, "gpt-4o")
    assert learned is not None
    assert learned.context_window == 1024


def test_the_config_file_overrides_what_the_server_said(
    tmp_path: Path, wire_server: WireServer, make: list[Services]
) -> None:
    wire_server.route("GET", "/props", llama_props(1024))
    services = _services(tmp_path, wire_server, "gemma", '[models."gemma"]\ncontext_window = 3000\n')
    make.append(services)
    model = Drafter(services).prepare(_conversation(services), "local").model
    assert (model.context_window, model.window_source) == (3000, "config")


def test_an_unknown_window_is_said_with_how_to_set_it(
    tmp_path: Path, wire_server: WireServer, make: list[Services]
) -> None:
    wire_server.route("GET", "/v1/models", llama_cpp_python_models("gemma"))
    services = _services(tmp_path, wire_server, "gemma")
    make.append(services)
    prepared = Drafter(services).prepare(_conversation(services), "local")
    assert not prepared.model.window_known
    assert any('[models."gemma"]' in notice and "unknown" in notice for notice in prepared.notices)
    assert resolve_model("gpt-4o").window_known


def test_a_name_the_server_does_not_list_is_named_with_what_it_offers(
    tmp_path: Path, wire_server: WireServer, make: list[Services]
) -> None:
    wire_server.route(
        "GET", "/v1/models", vllm_models("meta-llama/Llama-3.1-8B-Instruct", max_model_len=8192)
    )
    services = _services(tmp_path, wire_server, "llama3")
    make.append(services)
    prepared = Drafter(services).prepare(_conversation(services), "local")
    assert any("meta-llama/Llama-3.1-8B-Instruct" in n and "'llama3'" in n for n in prepared.notices)
    wire_server.route("GET", "/v1/models", ollama_models("llama3.2:latest"))
    ollama = _services(tmp_path / "ollama", wire_server, "llama3.2")
    make.append(ollama)
    notices = Drafter(ollama).prepare(_conversation(ollama), "local").notices
    assert not any("offers" in notice for notice in notices)  # "llama3.2:latest" is that name


# ------------------------------------------------------------------------------------ overflows


async def _failure(
    tmp_path: Path, server: WireServer, make: list[Services], model: str, *replies: Reply
) -> LLMError:
    """Draft for a new conversation against ``replies``: the LLMError it ends in."""
    services = _services(tmp_path, server, model)
    make.append(services)
    prepared = Drafter(services).prepare(_conversation(services), "local")
    server.enqueue(*replies)
    with pytest.raises(LLMError) as caught:
        await _draft(services, prepared)
    return caught.value


async def test_llama_server_overflow_has_its_numbers_and_the_window_is_remembered(
    tmp_path: Path, wire_server: WireServer, make: list[Services]
) -> None:
    services = _services(tmp_path, wire_server, "gemma")
    make.append(services)
    conversation = _conversation(services)
    prepared = Drafter(services).prepare(conversation, "local")
    wire_server.enqueue(llama_server_overflow(4476, 2048))
    with pytest.raises(LLMError) as caught:
        await _draft(services, prepared)
    failure = caught.value
    assert failure.kind is ErrorKind.CONTEXT_LENGTH
    assert (failure.context_window, failure.prompt_tokens) == (2048, 4476)
    assert "2,048" in str(failure)
    assert "retry" in str(failure)
    again = Drafter(services).prepare(conversation, "local")  # the retry: trimmed to the learned window
    assert (again.model.context_window, again.model.window_source) == (2048, "overflow")
    stored = services.store.server_model(wire_server.base_url, "gemma")
    assert stored is not None
    assert (stored.context_window, stored.source) == (2048, "overflow")


async def test_llama_server_500_overflow_is_not_retried(
    tmp_path: Path, wire_server: WireServer, make: list[Services]
) -> None:
    failure = await _failure(
        tmp_path, wire_server, make, "gemma", llama_server_overflow_500(), stream_text("never sent")
    )
    assert failure.kind is ErrorKind.CONTEXT_LENGTH
    assert "minute" not in str(failure)
    assert len(wire_server.requests_to("/v1/chat/completions")) == 1


@pytest.mark.parametrize("wrapped", [False, True])
async def test_vllm_overflow_has_its_numbers(
    tmp_path: Path, wire_server: WireServer, make: list[Services], wrapped: bool
) -> None:
    failure = await _failure(
        tmp_path, wire_server, make, "qwen", vllm_overflow(2048, 2150, 200, wrapped=wrapped)
    )
    assert (failure.kind, failure.context_window, failure.prompt_tokens) == (
        ErrorKind.CONTEXT_LENGTH,
        2048,
        2150,
    )


async def test_an_empty_200_stream_near_a_guessed_window_is_a_context_error(
    tmp_path: Path, wire_server: WireServer, make: list[Services]
) -> None:
    # llama-cpp-python: no window anywhere, so the request was sized to a guess
    failure = await _failure(tmp_path, wire_server, make, "gemma", empty_stream())
    assert failure.kind is ErrorKind.CONTEXT_LENGTH
    assert "context_window" in str(failure)
    assert "finish reason" not in str(failure)


async def test_an_empty_200_stream_far_from_a_known_window_is_a_stream_error(
    tmp_path: Path, wire_server: WireServer, make: list[Services]
) -> None:
    wire_server.route("GET", "/props", llama_props(32768))
    failure = await _failure(tmp_path, wire_server, make, "gemma", empty_stream())
    assert failure.kind is ErrorKind.STREAM_ERROR
    assert "empty reply" in str(failure)


async def test_a_plain_bad_request_is_still_a_bad_request(
    tmp_path: Path, wire_server: WireServer, make: list[Services]
) -> None:
    failure = await _failure(
        tmp_path,
        wire_server,
        make,
        "gemma",
        error(400, {"error": {"code": 400, "message": "top_k must be positive", "type": "x"}}),
    )
    assert failure.kind is ErrorKind.BAD_REQUEST


# ------------------------------------------------------------------------------------ replies and requests


@pytest.mark.parametrize(("usage", "by_window"), [((1800, 180), True), ((300, 200), False), (None, True)])
async def test_a_window_cut_is_told_from_a_max_tokens_cut(
    tmp_path: Path,
    wire_server: WireServer,
    make: list[Services],
    usage: tuple[int, int] | None,
    by_window: bool,
) -> None:
    wire_server.route("GET", "/props", llama_props(2048))
    services = _services(tmp_path, wire_server, "gemma")
    make.append(services)
    prepared = Drafter(services).prepare(_conversation(services), "local")
    wire_server.enqueue(stream_text("Cut short here", finish_reason="length", usage=usage, model="gemma"))
    drafter = await _draft(services, prepared)
    assert drafter.cut_by_window is by_window  # without usage: 3 tokens of 200 asked for is the window


async def test_neutral_parameters_are_sent_to_compatible_servers(
    tmp_path: Path, wire_server: WireServer, make: list[Services]
) -> None:
    services = _services(tmp_path, wire_server, "gemma")
    make.append(services)
    prepared = Drafter(services).prepare(_conversation(services), "local")
    await _draft(services, prepared)
    sent = wire_server.requests_to("/v1/chat/completions")[-1].json
    assert (sent["top_p"], sent["frequency_penalty"], sent["presence_penalty"]) == (1.0, 0.0, 0.0)
    assert sent["temperature"] == 0.2


async def test_a_persona_that_does_not_reach_the_model_is_said_once_per_model(
    tmp_path: Path, wire_server: WireServer, make: list[Services]
) -> None:
    services = _services(tmp_path, wire_server, "gemma")
    make.append(services)
    conversation = _conversation(services)
    for _ in range(2):  # gemma's template dropped the system message: 14 prompt tokens for ~200
        wire_server.enqueue(stream_text("Hello.", usage=(14, 3), model="gemma"))
    first = await _draft(services, Drafter(services).prepare(conversation, "local"))
    assert len(first.warnings) == 1
    assert "system role" in first.warnings[0]
    second = await _draft(services, Drafter(services).prepare(conversation, "local"))
    assert second.warnings == []
    wire_server.enqueue(stream_text("Hello.", usage=(260, 3), model="gemma"))
    other = _services(tmp_path / "other", wire_server, "gemma")
    make.append(other)
    fine = await _draft(other, Drafter(other).prepare(_conversation(other), "local"))
    assert fine.warnings == []


def test_learned_facts_are_shown_by_config(
    tmp_path: Path, wire_server: WireServer, capsys: pytest.CaptureFixture[str]
) -> None:
    from support_console.cli.main import main

    store = Store.open(f"sqlite:///{tmp_path / 'd.db'}")
    try:
        store.remember_server_model(
            wire_server.base_url, "gemma", context_window=2048, source="overflow", offered=("gemma",)
        )
    finally:
        store.close()
    code = main(["--db", str(tmp_path / "d.db"), "--base-url", wire_server.base_url, "config"])
    out = capsys.readouterr().out
    assert code == 0
    assert "gemma: 2,048-token window (overflow)" in out
    assert "offers: gemma" in out


def test_dry_run_says_the_window_is_unknown_and_how_to_set_it(
    tmp_path: Path,
    wire_server: WireServer,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from support_console.cli.main import main

    monkeypatch.setenv("OPENAI_API_KEY", "sk-local-0123456789")
    wire_server.route("GET", "/v1/models", llama_cpp_python_models("gemma"))
    argv = ["--db", str(tmp_path / "d.db"), "--base-url", wire_server.base_url, "--model", "gemma"]
    code = main([*argv, "draft", "ann@example.com", "-m", "Where is my parcel?", "--dry-run"])
    out = capsys.readouterr().out
    assert code == 0
    assert "UNKNOWN: assumed" in out
    assert 'context_window under [models."gemma"]' in out
    wire_server.route("GET", "/props", llama_props(2048))
    code = main([*argv, "--model", "other", "draft", "ann@example.com", "-m", "Still?", "--dry-run"])
    out = capsys.readouterr().out
    assert "context window 2048, as the server reports it" in out
    assert "UNKNOWN" not in out
    assert "it offers: gemma" in out  # and the name it does not serve is named


async def test_the_margin_is_learned_from_the_servers_prompt_counts(
    tmp_path: Path, wire_server: WireServer, make: list[Services]
) -> None:
    wire_server.route("GET", "/props", llama_props(2048))
    services = _services(tmp_path, wire_server, "gemma")
    make.append(services)
    conversation = _conversation(services)
    before = Drafter(services).prepare(conversation, "local")
    ours = before.report.prompt_tokens
    theirs = round(ours * 1.043)  # the worst case: o200k undercounts that tokenizer by 4.3 %
    wire_server.enqueue(stream_text("Hello.", usage=(theirs, 3), model="gemma"))
    await _draft(services, before)
    after = Drafter(services).prepare(conversation, "local")
    room = 2048 - 200
    assert before.report.budget == room - 64
    assert after.report.budget <= room * ours / theirs  # what we count now fits what the server counts
    assert after.report.budget > room * ours / theirs - 40
    stored = services.store.server_model(wire_server.base_url, "gemma")
    assert stored is not None
    assert stored.count_ratio == pytest.approx(theirs / ours)


def test_counts_for_a_local_model_are_marked_estimated(
    tmp_path: Path, wire_server: WireServer, make: list[Services]
) -> None:
    services = _services(tmp_path, wire_server, "gpt-4o")  # nothing says it is local: OpenAI's encoding
    make.append(services)
    assert Drafter(services).prepare(_conversation(services), "local").counts_exact
    wire_server.route("GET", "/props", llama_props(4096))  # a llama-server under a GPT-like alias
    local = _services(tmp_path / "local", wire_server, "gpt-4o")
    make.append(local)
    assert not Drafter(local).prepare(_conversation(local), "local").counts_exact


def test_ollamas_model_limit_is_used_with_a_caveat_and_num_ctx_without(
    tmp_path: Path, wire_server: WireServer, make: list[Services]
) -> None:
    wire_server.route("GET", "/v1/models", ollama_models("llama3.2:latest"))
    wire_server.route("POST", "/api/show", ollama_show(num_ctx=None, context_length=131072))
    services = _services(tmp_path, wire_server, "llama3.2")
    make.append(services)
    prepared = Drafter(services).prepare(_conversation(services), "local")
    assert prepared.model.context_window == 131072
    assert any("num_ctx" in notice and "silently" in notice for notice in prepared.notices)
    wire_server.route("POST", "/api/show", ollama_show(num_ctx=8192))
    set_ctx = _services(tmp_path / "num_ctx", wire_server, "llama3.2")
    make.append(set_ctx)
    prepared = Drafter(set_ctx).prepare(_conversation(set_ctx), "local")
    assert prepared.model.context_window == 8192
    assert prepared.notices == ()


def _exchange(services: Services, conversation: int, reply: str, *customer: str) -> None:
    """An approved agent reply (an assistant turn) and the customer's answers (two in a row: user turns)."""
    store = services.store
    draft = store.save_draft(conversation, text=reply, original_text=reply, persona_id="local", final=True)
    store.approve_draft(draft, reply, "kim")
    for text in customer:
        store.add_message(conversation, "customer", text)


def _text_counts(server: WireServer, family: str) -> int:
    """The requests that counted one text (not a whole request) on ``family``'s routes."""
    if family == "llama-cpp-python":
        return len(server.requests_to("/extras/tokenize/count"))
    if family == "vllm":
        return sum("prompt" in r.json for r in server.requests_to("/tokenize"))
    return sum("<|im_start|>" not in r.json["content"] for r in server.requests_to("/tokenize"))


def _whole_counts(server: WireServer, family: str) -> int:
    """The requests that counted a whole request (the template's measurement)."""
    if family == "llama-cpp-python":
        return len(server.requests_to("/v1/chat/completions"))
    if family == "vllm":
        return sum("messages" in r.json for r in server.requests_to("/tokenize"))
    return len(server.requests_to("/apply-template"))


@pytest.mark.parametrize(
    ("family", "template"),
    [("llama-cpp-python", "chatml"), ("llama-cpp-python", "gemma"), ("vllm", "chatml"),
     ("llama-server", "chatml")],
)  # fmt: skip
def test_counts_are_the_servers_per_message_and_add_up_to_its_whole_request_count(
    tmp_path: Path, wire_server: WireServer, make: list[Services], family: Family, template: Template
) -> None:
    local = LocalModel(family, template, name="local-model")
    local.install(wire_server)
    services = _services(tmp_path, wire_server, "local-model")
    make.append(services)
    conversation = _conversation(services)
    _exchange(
        services, conversation, "Sorry! Could you send the order number?", "It is 48213.", "Paid by card."
    )
    prepared = Drafter(services).prepare(conversation, "local")
    roles = [m["role"] for m in prepared.request.messages]
    assert roles == ["system", "user", "assistant", "user", "user"]
    assert prepared.counts_exact
    whole = local.prompt_tokens([dict(m) for m in prepared.request.messages])
    assert prepared.report.prompt_tokens == whole  # the sum of the parts is the server's own count
    measured, texts = _whole_counts(wire_server, family), _text_counts(wire_server, family)
    services.store.add_message(conversation, "customer", "Any news about my parcel, please?")
    again = Drafter(services).prepare(conversation, "local")
    assert _text_counts(wire_server, family) == texts + 1  # only the new message was counted
    assert _whole_counts(wire_server, family) == measured  # the template was measured once
    assert again.report.prompt_tokens == local.prompt_tokens([dict(m) for m in again.request.messages])
    Drafter(services).prepare(conversation, "local")
    assert _text_counts(wire_server, family) == texts + 1  # the same conversation again: nothing asked


def _alternating(path: Path, server: WireServer, make: list[Services], local: LocalModel) -> PreparedDraft:
    """A request of alternating turns (user, assistant, user) prepared against ``local``."""
    local.install(server)
    services = _services(path, server, local.name)
    make.append(services)
    conversation = _conversation(services)
    _exchange(services, conversation, "Sorry! Could you send the order number?", "It is 48213.")
    return Drafter(services).prepare(conversation, "local")


@pytest.mark.parametrize("family", ["vllm", "llama-cpp-python"])
def test_a_template_that_refuses_two_user_turns_in_a_row_still_adds_up_for_alternating_turns(
    tmp_path: Path, wire_server: WireServer, make: list[Services], family: Family
) -> None:
    local = LocalModel(family, "chatml", name="strict", strict=True)
    prepared = _alternating(tmp_path, wire_server, make, local)
    assert [m["role"] for m in prepared.request.messages] == ["system", "user", "assistant", "user"]
    assert prepared.counts_exact
    assert prepared.report.prompt_tokens == local.prompt_tokens([dict(m) for m in prepared.request.messages])


@pytest.mark.parametrize("family", ["vllm", "llama-cpp-python"])
def test_a_template_whose_cost_is_not_its_roles_is_found_out_and_counted_whole_or_estimated(
    tmp_path: Path, wire_server: WireServer, make: list[Services], family: Family
) -> None:
    local = LocalModel(family, "repeating", name="odd")
    prepared = _alternating(tmp_path, wire_server, make, local)
    whole = local.prompt_tokens([dict(m) for m in prepared.request.messages])
    if family == "vllm":  # the whole request, counted by the server
        assert (prepared.counts_exact, prepared.report.prompt_tokens) == (True, whole)
    else:  # a whole count would be a completion reading the whole prompt: tiktoken's estimate instead
        assert not prepared.counts_exact
        assert len(wire_server.requests_to("/v1/chat/completions")) == 5  # the measurement only


def test_llama_cpp_python_is_told_by_its_count_route_and_counted_in_its_shapes(
    tmp_path: Path, wire_server: WireServer, make: list[Services]
) -> None:
    LocalModel("llama-cpp-python", "chatml", name="gemma").install(wire_server)
    facts = probe_server(wire_server.base_url, "gemma")
    assert (facts.context_window, facts.source) == (None, "llama-cpp-python /extras/tokenize/count")
    services = _services(tmp_path, wire_server, "gemma")
    make.append(services)
    prepared = Drafter(services).prepare(_conversation(services), "local")
    assert prepared.counts_exact
    assert not prepared.model.window_known  # its API says no window: the notice says how to set it
    bodies = [r.json for r in wire_server.requests_to("/extras/tokenize/count")]
    assert {"model": "gemma", "input": "My order never arrived."} in bodies
    assert {"model": "gemma", "input": ""} in bodies  # the BOS every count includes, taken off
    measured = [r.json for r in wire_server.requests_to("/v1/chat/completions")]
    assert all(b["max_tokens"] == 1 and b["stream"] is False for b in measured)
    assert all(m["content"] != "My order never arrived." for b in measured for m in b["messages"])


@pytest.mark.parametrize(("template", "warned"), [("gemma", True), ("chatml", False)])
async def test_a_template_that_drops_the_system_message_is_told_without_usage(
    tmp_path: Path, wire_server: WireServer, make: list[Services], template: Template, warned: bool
) -> None:
    LocalModel("llama-cpp-python", template, name="gemma").install(wire_server)
    services = _services(tmp_path, wire_server, "gemma")
    make.append(services)
    conversation = _conversation(services)
    prepared = Drafter(services).prepare(conversation, "local")
    told = [n for n in prepared.notices if "system role" in n and "drops the system message" in n]
    assert len(told) == int(warned)  # before anything is sent
    wire_server.enqueue(stream_text("Hello.", usage=None, model="gemma"))  # it ignores stream_options
    drafted = await _draft(services, prepared)
    assert drafted.result is not None
    assert drafted.result.usage is None
    assert drafted.warnings == []  # said once per model: before the draft (or never)


async def test_without_a_notice_before_the_draft_the_dropped_persona_is_said_after_it(
    tmp_path: Path, wire_server: WireServer, make: list[Services]
) -> None:
    """The reply's check reads the same counts: a draft whose notice was given by another knowledge (here a
    new one, as in a new process) is still told after the reply, though its stream has no usage."""
    LocalModel("llama-cpp-python", "gemma", name="gemma").install(wire_server)
    services = _services(tmp_path, wire_server, "gemma")
    make.append(services)
    prepared = Drafter(services).prepare(_conversation(services), "local")
    services.server_knowledge = ServerKnowledge(services.settings.provider)  # a new process's knowledge
    services.server_knowledge.learned(services.store, "gemma")
    wire_server.enqueue(stream_text("Hello.", usage=None, model="gemma"))
    drafted = await _draft(services, prepared)
    assert [w for w in drafted.warnings if "drops the system message" in w]


def test_llama_server_counts_through_its_template_and_a_request_too_big_is_trimmed_again(
    tmp_path: Path, wire_server: WireServer, make: list[Services]
) -> None:
    local = LocalModel("llama-server", "chatml", name="qwen", window=2048)
    local.install(wire_server)
    services = _services(tmp_path, wire_server, "qwen")
    make.append(services)
    conversation = _conversation(services)
    for n in range(30):
        services.store.add_message(conversation, "customer", f"Message {n}: " + "more words here " * 20)
    prepared = Drafter(services).prepare(conversation, "local")
    assert prepared.counts_exact
    assert prepared.report.prompt_tokens == local.prompt_tokens([dict(m) for m in prepared.request.messages])
    assert prepared.report.prompt_tokens <= 2048 - 200  # it fits beside the reply, by the server's count
    wire_server.route("POST", "/tokenize", error(404, {"error": {"message": "Not Found"}}))
    uncounted = _services(tmp_path / "uncounted", wire_server, "qwen")
    make.append(uncounted)
    other = _conversation(uncounted)
    for n in range(30):
        uncounted.store.add_message(other, "customer", f"Message {n}: " + "more words here " * 20)
    ours = Drafter(uncounted).prepare(other, "local")
    assert not ours.counts_exact
    assert ours.report.dropped < prepared.report.dropped  # our own count keeps more than the server's does
    assert local.prompt_tokens([dict(m) for m in ours.request.messages]) > 2048 - 200  # which overflows


async def test_a_window_learned_from_an_overflow_keeps_the_servers_own_counting(
    tmp_path: Path, wire_server: WireServer, make: list[Services]
) -> None:
    wire_server.route("GET", "/v1/models", vllm_models("qwen", max_model_len=8192))
    wire_server.route("POST", "/tokenize", vllm_tokenize(500, 8192))
    services = _services(tmp_path, wire_server, "qwen")
    make.append(services)
    conversation = _conversation(services)
    prepared = Drafter(services).prepare(conversation, "local")
    wire_server.enqueue(vllm_overflow(4096, 5000, 200))  # the server runs less than it lists
    with pytest.raises(LLMError):
        await _draft(services, prepared)
    again = Drafter(services).prepare(conversation, "local")
    assert (again.model.context_window, again.model.window_source, again.counts_exact) == (
        4096,
        "overflow",
        True,
    )
    services.close()
    later = _services(tmp_path, wire_server, "qwen")  # a new process: the overflow's window stays
    make.append(later)
    restarted = Drafter(later).prepare(conversation, "local")
    assert (restarted.model.context_window, restarted.counts_exact) == (4096, True)
