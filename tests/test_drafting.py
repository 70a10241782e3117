"""The drafting workflow against real parts: a SQLite file in tmp_path, the loopback wire server, the SDK."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import aclosing
from pathlib import Path

import pytest

from support_console.config.settings import CliOverrides, load_settings
from support_console.core.errors import ConfigError, PersonaError
from support_console.core.tokens import count_chat
from support_console.core.trimming import TRUNCATION_MARKER
from support_console.core.vocabulary import REFUSAL_NOTE, STOPPED_NOTE
from support_console.llm import ErrorKind, LLMError, StreamEvent
from support_console.store import Message
from support_console.workflows.drafting import (
    NO_CONVERSATION,
    Drafter,
    choose_persona,
    record_customer_message,
)
from support_console.workflows.services import Services, build_services
from tests.wire_server import WireServer, drop_after, error_event_after, stream_text

KEY = "sk-test-drafting-0123456789"

PERSONAS = {
    "plain.toml": """\
id = "plain"
name = "Plain"
system = "Reply to {{ name }} ({{ tier }})."
triggers = ["widget"]
[variables]
tier = "standard"
""",
    "mini.toml": """\
id = "mini"
name = "Mini"
model = "gpt-4o-mini"
deployment = "mini-deploy"
system = "Short replies."
[parameters]
max_tokens = 100
""",
    "tiny-window.toml": """\
id = "tiny-window"
name = "Tiny Window"
model = "tiny"
system = "Reply."
[parameters]
max_tokens = 50
""",
}


@pytest.fixture(autouse=True)
def _hermetic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep the real user's persona folder and data directory out of the tests."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))


@pytest.fixture
def personas_dir(tmp_path: Path) -> Path:
    return write_personas(tmp_path / "personas")


def make_services(
    tmp_path: Path, personas_dir: Path, env: dict[str, str], db: str | None = None, **flags: str
) -> Services:
    """Services on ``db`` (a new SQLite file by default) with the test personas and ``flags``."""
    config = tmp_path / "config.toml"
    config.write_text('[models."tiny"]\nfamily = "gpt-4o"\ncontext_window = 400\n')
    database = db or str(tmp_path / "d.db")
    overrides = CliOverrides(db=database, personas=personas_dir, config=config, **flags)  # type: ignore[arg-type]
    return build_services(load_settings(overrides, env=env))


def azure_services(tmp_path: Path, personas_dir: Path, wire_server: WireServer) -> Services:
    """Services on the loopback server as Azure OpenAI, deployment ``prod-chat``."""
    return make_services(
        tmp_path, personas_dir, {"AZURE_OPENAI_API_KEY": KEY}, azure_endpoint=wire_server.azure_endpoint,
        deployment="prod-chat", api_version="2024-10-21",
    )  # fmt: skip


def al_says_hi(services: Services) -> int:
    """A new customer Al whose conversation holds one customer message; its conversation id."""
    customer = services.store.add_customer("Al", "al@example.com")
    assert customer.id is not None
    return record_customer_message(services.store, customer.id, "hi", "plain")


def openai_services(
    tmp_path: Path, personas_dir: Path, wire_server: WireServer, db: str | None = None
) -> Services:
    """Services on the loopback server as OpenAI, model gpt-4o (on ``db``: a new SQLite file by default)."""
    return make_services(
        tmp_path, personas_dir, {"OPENAI_API_KEY": KEY}, db, provider="openai", base_url=wire_server.base_url,
        model="gpt-4o",
    )  # fmt: skip


def write_personas(folder: Path) -> Path:
    """The test personas (``PERSONAS``) as files in ``folder``."""
    folder.mkdir()
    for name, text in PERSONAS.items():
        (folder / name).write_text(text)
    return folder


@pytest.fixture
async def services(
    tmp_path: Path, personas_dir: Path, wire_server: WireServer, db_url: str
) -> AsyncIterator[Services]:
    """Services on the loopback server and each backend in turn (conftest's ``db_url``); the client is
    closed in the test's own event loop."""
    built = openai_services(tmp_path, personas_dir, wire_server, db_url)
    try:
        yield built
    finally:
        await built.aclose()


@pytest.fixture
def conversation(services: Services) -> int:
    """Jane's conversation holding one customer message."""
    customer = services.store.add_customer("Jane", "jane@example.com", attributes={"tier": "gold"})
    assert customer.id is not None
    return record_customer_message(services.store, customer.id, "My invoice is wrong.", "plain")


async def stored_draft(services: Services, conversation: int, text: str | None = None) -> Message:
    """The pending draft once a save has stored it (with ``text``, if given): saves run in the background."""
    for _ in range(500):
        stored = services.store.pending_draft(conversation)
        if stored is not None and (text is None or stored.text == text):
            return stored
        await asyncio.sleep(0.01)
    raise AssertionError(f"no draft {text!r} was saved")


async def collect(drafter: Drafter, stream: AsyncGenerator[StreamEvent, None]) -> str:
    async with aclosing(stream) as events:
        return "".join([event.text async for event in events])


# ------------------------------------------------------------------------------------------------ prepare


def test_prepare_renders_persona_and_history_and_sends_nothing(
    services: Services, conversation: int, wire_server: WireServer
) -> None:
    store = services.store
    draft_id = store.save_draft(conversation, text="Sorry! Fixed.", persona_id="plain", model="gpt-4o")
    store.approve_draft(draft_id, "Sorry! It is fixed now.", "agent")
    store.add_message(conversation, "note", "internal: refunded")
    store.save_draft(conversation, text="an unsent draft")
    store.add_message(conversation, "customer", "Thanks, and the next one?")

    prepared = Drafter(services).prepare(conversation, "plain")

    assert wire_server.requests == []
    assert prepared.conversation_id == conversation
    assert prepared.persona.id == "plain"
    assert prepared.request.model == "gpt-4o"
    assert prepared.model.family == "gpt-4o"
    assert list(prepared.request.messages) == [
        {"role": "system", "content": "Reply to Jane (gold)."},
        {"role": "user", "content": "My invoice is wrong."},
        {"role": "assistant", "content": "Sorry! It is fixed now."},
        {"role": "user", "content": "Thanks, and the next one?"},
    ]
    assert prepared.report.prompt_tokens == count_chat(prepared.request.messages, prepared.model)
    assert prepared.request.params == {"max_tokens": 750, "temperature": 0.0}


def test_persona_model_overrides_provider_model_and_config_overrides_apply(
    services: Services, conversation: int
) -> None:
    drafter = Drafter(services)
    mini = drafter.prepare(conversation, "mini")
    assert mini.request.model == "gpt-4o-mini"
    assert mini.request.params["max_tokens"] == 100
    tiny = drafter.prepare(conversation, "tiny-window")  # [models."tiny"]: gpt-4o facts, 400-token window
    assert (tiny.model.family, tiny.model.context_window) == ("gpt-4o", 400)
    assert tiny.report.budget == 400 - 50 - 64


def test_azure_uses_the_persona_deployment_else_the_provider_one(
    tmp_path: Path, personas_dir: Path, wire_server: WireServer
) -> None:
    services = azure_services(tmp_path, personas_dir, wire_server)
    try:
        conversation = al_says_hi(services)
        drafter = Drafter(services)
        assert drafter.prepare(conversation, "mini").request.model == "mini-deploy"
        assert drafter.prepare(conversation, "plain").request.model == "prod-chat"
    finally:
        services.close()


async def test_an_azure_deployment_is_trimmed_for_the_model_it_was_served_by(
    tmp_path: Path, personas_dir: Path, wire_server: WireServer
) -> None:
    services = azure_services(tmp_path, personas_dir, wire_server)
    try:
        conversation = al_says_hi(services)
        drafter = Drafter(services)
        before = drafter.prepare(conversation, "plain")
        assert (before.model.family, before.model.context_window) == ("unknown", 8192)
        assert "temperature" in before.request.params
        wire_server.enqueue(stream_text("Hello Al", azure=True, model="o3-mini-2025-01-31"))
        await collect(drafter, drafter.stream(before))

        after = Drafter(services).prepare(conversation, "plain")  # the service said what runs behind it
        assert after.request.model == "prod-chat"
        assert (after.model.family, after.model.context_window) == ("o3-mini", 200_000)
        assert after.request.params == {"max_completion_tokens": 750}  # reasoning family: no sampling
        reopened = azure_services(tmp_path, personas_dir, wire_server)
        try:  # remembered in the database, so the next process (a CLI run) knows it too
            assert Drafter(reopened).prepare(conversation, "plain").model.family == "o3-mini"
        finally:
            reopened.close()
    finally:
        await services.aclose()


def test_preview_writes_nothing_and_counts_the_pending_message(services: Services, conversation: int) -> None:
    store = services.store
    before = store.count_messages(conversation)
    drafter = Drafter(services)
    prepared = drafter.preview({"name": "Jane", "tier": "gold"}, "plain", "Second question", conversation)
    assert store.count_messages(conversation) == before
    assert [m["content"] for m in prepared.request.messages[1:]] == [
        "My invoice is wrong.",
        "Second question",
    ]
    fresh = drafter.preview({"name": "Neo"}, "plain", "First words")
    assert fresh.conversation_id == NO_CONVERSATION
    assert fresh.report.kept == 1


async def test_a_preview_cannot_be_streamed(services: Services) -> None:
    prepared = Drafter(services).preview({"name": "Neo"}, "plain", "hello")
    with pytest.raises(ValueError, match="preview"):
        await collect(Drafter(services), Drafter(services).stream(prepared))


def test_long_message_is_truncated_to_fit(services: Services, conversation: int) -> None:
    services.store.add_message(conversation, "customer", "word " * 2000)
    prepared = Drafter(services).prepare(conversation, "tiny-window")
    assert prepared.report.truncated
    assert TRUNCATION_MARKER in prepared.request.messages[-1]["content"]
    assert prepared.report.prompt_tokens <= prepared.report.budget


def test_choose_persona_order(services: Services) -> None:
    personas = services.personas
    assert choose_persona(personas, "widget", requested="mini").id == "mini"
    assert choose_persona(personas, "my widget", conversation_persona="mini").id == "plain"
    assert choose_persona(personas, "hello", conversation_persona="mini").id == "mini"
    assert choose_persona(personas, "hello").id == "tech-support"
    assert choose_persona(personas, "hello", conversation_persona="deleted-one").id == "tech-support"
    with pytest.raises(PersonaError, match="no persona 'nope'"):
        choose_persona(personas, "hello", requested="nope")


def test_no_model_anywhere_is_a_config_error(tmp_path: Path, personas_dir: Path) -> None:
    services = make_services(tmp_path, personas_dir, {})
    try:
        with pytest.raises(ConfigError, match="--model"):
            Drafter(services).preview({"name": "X"}, "plain", "hi")
        assert Drafter(services).preview({"name": "X"}, "mini", "hi").request.model == "gpt-4o-mini"
    finally:
        services.close()


def test_recording_the_same_message_after_a_failed_draft_does_not_duplicate_it(
    services: Services, conversation: int
) -> None:
    store = services.store
    store.save_draft(conversation, text="", error="boom")
    customer_id = store.get_conversation(conversation).customer_id
    assert record_customer_message(store, customer_id, "My invoice is wrong.", "plain") == conversation
    assert store.count_messages(conversation) == 2  # the customer message and the failed draft
    record_customer_message(store, customer_id, "Another thing", "mini")
    assert store.count_messages(conversation) == 3
    assert store.get_conversation(conversation).persona_id == "mini"


# ------------------------------------------------------------------------------------------------- stream


async def test_stream_saves_the_growing_draft_then_the_final_facts(
    services: Services, conversation: int, wire_server: WireServer
) -> None:
    pieces = ["Hello", " Jane,", " the invoice", " is fixed."]
    wire_server.enqueue(stream_text("".join(pieces), chunks=pieces, usage=(31, 4), model="gpt-4o-2024-11-20"))
    drafter = Drafter(services)
    prepared = drafter.prepare(conversation, "plain")
    seen: list[str] = []
    async with aclosing(drafter.stream(prepared, save_every=0)) as events:
        async for event in events:
            seen.append(event.text)
            stored = await stored_draft(services, conversation, "".join(seen))
            assert stored.text == "".join(seen)
    assert seen == pieces
    draft = services.store.pending_draft(conversation)
    assert draft is not None
    assert draft.id == drafter.draft_id
    full = "Hello Jane, the invoice is fixed."
    assert (draft.state, draft.text, draft.original_text) == ("draft", full, full)
    assert (draft.persona_id, draft.model, draft.finish_reason) == ("plain", "gpt-4o-2024-11-20", "stop")
    assert (draft.prompt_tokens, draft.completion_tokens, draft.error) == (31, 4, None)
    assert drafter.result is not None
    assert drafter.result.finish_reason == "stop"
    assert wire_server.last.json["messages"] == list(prepared.request.messages)


async def test_saves_are_throttled_by_save_every(
    services: Services, conversation: int, wire_server: WireServer
) -> None:
    pieces = ["one", " two", " three", " four"]
    wire_server.enqueue(stream_text("".join(pieces), chunks=pieces))
    drafter = Drafter(services)
    stored_texts: list[str] = []
    async with aclosing(drafter.stream(drafter.prepare(conversation, "plain"), save_every=3600)) as events:
        async for _ in events:
            stored = await stored_draft(services, conversation)
            stored_texts.append(stored.text if stored else "")
    assert stored_texts == ["one"] * 4  # only the first piece was saved while streaming
    final = services.store.pending_draft(conversation)
    assert final is not None
    assert final.text == "one two three four"


async def test_dropped_stream_saves_the_partial_draft_with_the_error(
    services: Services, conversation: int, wire_server: WireServer
) -> None:
    wire_server.enqueue(drop_after(stream_text("ab cd ef gh", chunks=["ab", " cd", " ef", " gh"]), 3))
    drafter = Drafter(services)
    with pytest.raises(LLMError) as caught:
        await collect(drafter, drafter.stream(drafter.prepare(conversation, "plain"), save_every=3600))
    assert caught.value.kind is ErrorKind.STREAM_ERROR
    draft = services.store.pending_draft(conversation)
    assert draft is not None
    assert draft.id == drafter.draft_id
    assert draft.text == "ab cd"
    assert draft.error == str(caught.value)
    assert draft.finish_reason is None
    assert drafter.result is None


async def test_error_event_mid_stream_saves_the_partial_draft(
    services: Services, conversation: int, wire_server: WireServer
) -> None:
    reply = stream_text("ab cd", chunks=["ab", " cd"])
    wire_server.enqueue(error_event_after(reply, 2, {"message": "overloaded", "type": "server_error"}))
    drafter = Drafter(services)
    with pytest.raises(LLMError):
        await collect(drafter, drafter.stream(drafter.prepare(conversation, "plain")))
    draft = services.store.pending_draft(conversation)
    assert draft is not None
    assert draft.text == "ab"
    assert draft.error


async def test_closing_early_keeps_what_came_and_closes_the_response(
    services: Services, conversation: int, wire_server: WireServer
) -> None:
    text = " ".join(f"w{i}" for i in range(50))
    wire_server.enqueue(stream_text(text, delay=0.02))
    drafter = Drafter(services)
    got: list[str] = []
    async with aclosing(drafter.stream(drafter.prepare(conversation, "plain"), save_every=3600)) as events:
        async for event in events:
            got.append(event.text)
            if len(got) == 3:
                break
    draft = services.store.pending_draft(conversation)
    assert draft is not None
    assert draft.text == "w0 w1 w2"
    assert draft.error == STOPPED_NOTE
    assert await asyncio.to_thread(wire_server.wait_for_disconnect)


async def test_cancelling_the_task_keeps_what_came(
    services: Services, conversation: int, wire_server: WireServer
) -> None:
    text = " ".join(f"w{i}" for i in range(50))
    wire_server.enqueue(stream_text(text, delay=0.02))
    drafter = Drafter(services)
    two = asyncio.Event()
    got: list[str] = []

    async def consume() -> None:
        async with aclosing(drafter.stream(drafter.prepare(conversation, "plain"))) as events:
            async for event in events:
                got.append(event.text)
                if len(got) == 2:
                    two.set()

    task = asyncio.create_task(consume())
    await asyncio.wait_for(two.wait(), 10)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    draft = services.store.pending_draft(conversation)
    assert draft is not None
    assert draft.text == "".join(got)
    assert draft.error == STOPPED_NOTE
    assert draft.text.startswith("w0 w1")


async def test_refusal_is_stored_as_a_refusal(
    services: Services, conversation: int, wire_server: WireServer
) -> None:
    wire_server.enqueue(stream_text("", refusal="I can't help with that."))
    drafter = Drafter(services)
    text = await collect(drafter, drafter.stream(drafter.prepare(conversation, "plain")))
    assert text == "I can't help with that."
    draft = services.store.pending_draft(conversation)
    assert draft is not None
    assert draft.text == "I can't help with that."
    assert draft.error == REFUSAL_NOTE
    assert drafter.result is not None
    assert drafter.result.refusal == "I can't help with that."


async def test_updating_an_existing_draft(
    services: Services, conversation: int, wire_server: WireServer
) -> None:
    draft_id = services.store.save_draft(conversation, text="", persona_id="plain")
    wire_server.enqueue(stream_text("Regenerated."))
    drafter = Drafter(services)
    await collect(drafter, drafter.stream(drafter.prepare(conversation, "plain"), draft_id=draft_id))
    assert drafter.draft_id == draft_id
    draft = services.store.pending_draft(conversation)
    assert draft is not None
    assert draft.id == draft_id
    assert draft.text == "Regenerated."


async def test_no_provider_raises_not_configured_and_saves_nothing(
    tmp_path: Path, personas_dir: Path
) -> None:
    services = make_services(tmp_path, personas_dir, {}, model="gpt-4o")
    try:
        assert services.client is None
        customer = services.store.add_customer("Al", "al@example.com")
        assert customer.id is not None
        conversation = record_customer_message(services.store, customer.id, "hi", "plain")
        drafter = Drafter(services)
        with pytest.raises(LLMError) as caught:
            await collect(drafter, drafter.stream(drafter.prepare(conversation, "plain")))
        assert caught.value.kind is ErrorKind.NOT_CONFIGURED
        assert "support-console config" in str(caught.value)
        assert services.store.pending_draft(conversation) is None
    finally:
        services.close()


def test_build_services_reloads_personas(services: Services, personas_dir: Path) -> None:
    (personas_dir / "extra.toml").write_text('id = "extra"\nname = "Extra"\nsystem = "Hi."\n')
    assert "extra" not in services.personas.personas
    assert "extra" in services.reload_personas().personas
    assert "extra" in services.personas.personas


async def test_stopping_before_anything_arrived_saves_no_empty_draft(
    services: Services, conversation: int, wire_server: WireServer
) -> None:
    wire_server.enqueue(stream_text("late", delay=5.0))
    drafter = Drafter(services)
    task = asyncio.create_task(collect(drafter, drafter.stream(drafter.prepare(conversation, "plain"))))
    for _ in range(500):
        if wire_server.requests:
            break
        await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert wire_server.requests
    assert drafter.draft_id is None
    assert services.store.pending_draft(conversation) is None
