"""Decoding a text/event-stream body into (event, data) pairs, many events per call.

httpx-sse's ``SSEDecoder`` handles one line per Python call; on a stream of one event per output
line that costs three calls per line. Here a whole network chunk is checked against the strict
shape our servers write (``event: NAME\\ndata: JSON\\n\\n`` and ``: comment`` frames) with one
regex and its events are pulled out with one ``findall``. Anything else (``\\r`` line endings,
``id:``/``retry:`` fields, several ``data:`` lines, no space after the colon) goes through
httpx-sse's own decoders, which stay the oracle: the tests check both paths agree on streams cut
at every byte.
"""

from __future__ import annotations

import re

from httpx_sse import ServerSentEvent
from httpx_sse._decoders import SSEDecoder, SSELineDecoder

__all__ = ["SSEParser"]

_STRICT = re.compile(r"(?:(?:event: [^\n]*\n)?data: [^\n]*\n\n|:[^\n]*\n\n)*")
_EVENTS = re.compile(r"^(?:event: ([^\n]*)\n)?data: ([^\n]*)\n\n", re.MULTILINE)


class SSEParser:
    """Incremental SSE parser: ``feed(text)`` returns the events completed by ``text``.

    Each event is an ``(event, data)`` tuple; ``event`` is ``""`` when the frame had no ``event:``
    field (the spec's ``"message"``). Comments and heartbeats produce nothing.
    """

    def __init__(self) -> None:
        self._pending = ""
        self._lines = SSELineDecoder()
        self._decoder = SSEDecoder()
        self._slow = False  # True while the slow path holds a partial line or event

    def feed(self, text: str) -> list[tuple[str, str]]:
        if not self._slow:
            buf = self._pending + text
            if "\r" not in buf:
                end = buf.rfind("\n\n") + 2
                if end < 2:
                    self._pending = buf
                    return []
                region = buf[:end]
                if _STRICT.fullmatch(region):
                    self._pending = buf[end:]
                    return _EVENTS.findall(region)
            self._pending = ""
            text = buf
        return self._feed_slow(text)

    def _feed_slow(self, text: str) -> list[tuple[str, str]]:
        events: list[tuple[str, str]] = []
        last = None
        for line in self._lines.decode(text):
            last = line
            sse = self._decoder.decode(line)
            if sse is not None:
                events.append((_raw_event(sse), sse.data))
        at_boundary = last == "" or (last is None and not self._slow)
        self._slow = not (at_boundary and not self._lines.buffer and not self._lines.trailing_cr)
        return events

    @property
    def has_partial(self) -> bool:
        """True when bytes of an unfinished event are held (the stream was cut mid-event)."""
        return bool(self._pending.strip("\n")) or self._slow


def _raw_event(sse: ServerSentEvent) -> str:
    # ServerSentEvent.event reports "message" for a frame without an event field; the fast path
    # reports "". Callers treat "" and "message" alike (the name then comes from the JSON "type").
    return "" if sse.event == "message" else sse.event
