"""Shared fixtures. Kept minimal on purpose: each area's helpers live in its own tests/*_helpers.py."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.wire_server import WireServer


@pytest.fixture
def wire_server() -> Iterator[WireServer]:
    """A started loopback OpenAI / Azure OpenAI server (tests/wire_server.py), closed after the test."""
    server = WireServer()
    try:
        yield server
    finally:
        server.close()
