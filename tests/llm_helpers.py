"""Helpers for the model-client tests: provider settings pointing at the wire server, and collecting a stream.

Why: every test_llm*.py test needs the same four ways to reach the loopback server (OpenAI, compatible,
Azure deployments route, Azure /openai/v1 route) with a distinctive fake key, so a key leak is easy to spot.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from support_console.config.settings import ProviderSettings
from support_console.core.model_facts import resolve_model
from support_console.core.personas import ModelParams
from support_console.llm import ChatRequest, LLMError, ModelClient, StreamEvent, make_request
from tests.wire_server import WireServer

FAKE_KEY = "sk-test-FAKEKEY-7f3a9c2e1b"  # distinctive: must never appear in any error text
API_VERSION = "2024-10-21"
ROUTES = ("openai", "compatible", "azure", "azure_v1")


def provider(wire: WireServer, route: str = "openai", **changes: object) -> ProviderSettings:
    """Settings that reach ``wire`` by ``route``; no retries and short deadlines unless changed."""
    base = {
        "openai": ProviderSettings(kind="openai", model="gpt-4o", base_url=wire.base_url, api_key=FAKE_KEY),
        "compatible": ProviderSettings(kind="compatible", model="llama3", base_url=wire.base_url),
        "azure": ProviderSettings(
            kind="azure",
            azure_endpoint=wire.azure_endpoint,
            azure_deployment="prod-chat",
            api_version=API_VERSION,
            api_key=FAKE_KEY,
        ),
        "azure_v1": ProviderSettings(
            kind="azure", azure_endpoint=wire.azure_endpoint, azure_deployment="prod-chat", api_key=FAKE_KEY
        ),
    }[route]
    limits = {"first_token_timeout": 5.0, "stall_timeout": 5.0, "total_timeout": 10.0, "max_retries": 0}
    return replace(base, **{**limits, **changes})  # type: ignore[arg-type]


def request_for(
    settings: ProviderSettings, text: str = "Where is my order?", **params: object
) -> ChatRequest:
    """A one-message request for the provider's model (or deployment)."""
    name = settings.model_name or "gpt-4o"
    messages = [{"role": "system", "content": "You are helpful."}, {"role": "user", "content": text}]
    return make_request(resolve_model(name), messages, ModelParams(**params))  # type: ignore[arg-type]


async def collect(client: ModelClient, request: ChatRequest) -> list[StreamEvent]:
    """Every event of one stream (closing the generator in every case)."""
    stream = client.stream(request)
    try:
        return [event async for event in stream]
    finally:
        await stream.aclose()


async def failure(client: ModelClient, request: ChatRequest) -> LLMError:
    """The LLMError a stream ends with (the test fails if it ends without one, or if it shows the key)."""
    with pytest.raises(LLMError) as info:
        await collect(client, request)
    assert FAKE_KEY not in str(info.value)
    assert FAKE_KEY not in repr(info.value)
    return info.value


async def fail(wire: WireServer, route: str = "openai", **changes: object) -> LLMError:
    """The LLMError of one request to ``wire`` by ``route`` (settings changed as given), the client closed."""
    client = ModelClient(provider(wire, route, **changes))
    try:
        return await failure(client, request_for(client.provider))
    finally:
        await client.aclose()
