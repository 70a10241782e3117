"""The client's event-stream decoder reads a body as the openai SDK's decoder does, however it is split.

Why: the client decodes streamed bodies itself (the SDK's per-event model objects were most of the event
loop's time on a long reply), so every quirk the SDK handles must come out the same: CR, LF and CRLF line
ends (a CRLF split across two reads too), comments, several data lines, named events, ids, empty events.
The SDK's own decoder is the reference, fed the same bytes.
"""

from __future__ import annotations

import pytest
from openai._streaming import SSEDecoder

from support_console.llm.sse import Event, EventDecoder

BODIES = [
    b'data: {"a": 1}\n\ndata: {"b": 2}\n\ndata: [DONE]\n\n',
    b'data: {"a": 1}\r\n\r\ndata: {"b": "\xc3\xa9"}\r\n\r\n',
    b'data: {"a": 1}\r\rdata: {"b": 2}\r\r',
    b": ping\n\n: keep-alive\n\ndata: x\n\n\n\n\ndata: y\n\n",
    b"event: error\ndata: one\ndata: two\n\nevent:\ndata:three\n\n",
    b"id: 7\ndata: a\n\n\n\nretry: 5\n\nretry: soon\ndata: b\n\nfield-only\nid: x\0y\n\n",
    b'data: {"tail": "no blank line at the end"}',
    b'data: "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e"\n\n',
]


def _reference(body: bytes, sizes: int) -> list[Event]:
    reads = [body[i : i + sizes] for i in range(0, len(body), sizes)]
    return [Event(e.event, e.data) for e in SSEDecoder().iter_bytes(iter(reads))]


def _ours(body: bytes, sizes: int) -> list[Event]:
    decoder = EventDecoder()
    events: list[Event] = []
    for i in range(0, len(body), sizes):
        events += decoder.feed(body[i : i + sizes])
    decoder.finish()
    return events


@pytest.mark.parametrize("body", BODIES)
@pytest.mark.parametrize("size", [1, 2, 3, 7, 1 << 20])
def test_events_match_the_sdk_decoder_however_the_body_is_split(body: bytes, size: int) -> None:
    assert _ours(body, size) == _reference(body, size)


def test_a_crlf_split_across_two_reads_is_one_line_end() -> None:
    decoder = EventDecoder()
    assert decoder.feed(b"data: a\r") == []
    assert decoder.feed(b"\n\r") == [Event(None, "a")]
    assert decoder.feed(b"\ndata: b\n\n") == [Event(None, "b")]


def test_bytes_that_are_not_utf8_are_an_error_like_the_sdks() -> None:
    with pytest.raises(UnicodeDecodeError):
        _reference(b"data: \xff\n\n", 100)
    with pytest.raises(UnicodeDecodeError):
        EventDecoder().feed(b"data: \xff\n\n")
