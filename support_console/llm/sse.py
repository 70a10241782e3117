"""Server-sent events from the bytes of a streamed response, one network read at a time.

Why our own decoder: the openai SDK turns every event into a pydantic model object, which cost about two
thirds of the event loop's time while a long reply streamed. The client still sends the request with the SDK
(retries, errors, Azure) and reads the body itself: this decoder splits each read into its events, and the
client reads each event's JSON into plain dicts. It follows the SDK's decoder (the WHATWG event-stream rules)
exactly: CR, LF and CRLF end a line, even split across reads; comments are skipped; several `data:` lines
join with "\n"; a blank line ends an event when anything (event, data, id, retry) was set, and the last
event id is kept across events, as the spec says. Each line must be UTF-8 (UnicodeDecodeError otherwise).
Pure Python: no SDK, no network.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

__all__ = ["Event", "EventDecoder"]


@dataclass(frozen=True, slots=True)
class Event:
    """One event: its name (None for the default) and its data."""

    event: str | None
    data: str


class EventDecoder:
    """Feed it the body's reads in order; each feed returns the events the read completed."""

    def __init__(self) -> None:
        self._rest = b""  # an unfinished line
        self._skip_lf = False  # the last read ended with a CR (maybe the first half of a CRLF)
        self._event: str | None = None
        self._data: list[str] = []
        self._last_id: str | None = None
        self._retry: int | None = None

    def feed(self, chunk: bytes) -> list[Event]:
        """The events completed by ``chunk`` (a read of the body)."""
        if not chunk:
            return []
        if self._skip_lf:  # the previous read ended with a CR: an LF opening this one belongs to it
            self._skip_lf = False
            if chunk.startswith(b"\n"):
                chunk = chunk[1:]
        buffer = self._rest + chunk if self._rest else chunk
        if b"\r" in buffer:
            self._skip_lf = buffer.endswith(b"\r")
            buffer = buffer.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        lines = buffer.split(b"\n")
        self._rest = lines.pop()
        return self._lines(lines)

    def finish(self) -> None:
        """The body ended: an unfinished last line is read (it cannot complete an event)."""
        rest, self._rest = self._rest, b""
        if rest:
            self._lines([rest])

    def _lines(self, lines: list[bytes]) -> list[Event]:
        events: list[Event] = []
        for raw in lines:
            line = raw.decode("utf-8")
            if not line:
                if self._event or self._data or self._last_id or self._retry is not None:
                    events.append(Event(self._event, "\n".join(self._data)))
                    self._event, self._data, self._retry = None, [], None
            elif line.startswith(":"):
                continue
            else:
                self._field(line)
        return events

    def _field(self, line: str) -> None:
        name, _, value = line.partition(":")
        if value.startswith(" "):
            value = value[1:]
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value or None
        elif name == "id":
            if "\0" not in value:
                self._last_id = value
        elif name == "retry":
            with contextlib.suppress(ValueError):
                self._retry = int(value)
