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

import json
import re

from httpx_sse import ServerSentEvent
from httpx_sse._decoders import SSEDecoder, SSELineDecoder

__all__ = ["SSEParser", "split_outputs"]

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
        self._has_data = False  # the slow path's current event has a data line
        self._skip_lf = False  # the last chunk ended with \r: drop a \n that starts the next

    def feed(self, text: str) -> list[tuple[str, str]]:
        region, events = self.feed_region(text)
        if region is None:
            return events
        return self.events_of(region)

    def feed_region(self, text: str) -> tuple[str | None, list[tuple[str, str]]]:
        """Take ``text``; return the complete region it finished, for the caller to decode in bulk
        (``(region, [])``), or the events the slow path decoded (``(None, events)``)."""
        if not self._slow:
            buf = self._pending + text
            if "\r" not in buf:
                end = buf.rfind("\n\n") + 2
                if end < 2:
                    self._pending = buf
                    return None, []
                self._pending = buf[end:]
                return buf[:end], []
            self._pending = ""
            text = buf
        return None, self._feed_slow(text)

    def events_of(self, region: str) -> list[tuple[str, str]]:
        """Decode a complete region (it ends at an event boundary) into ``(event, data)`` pairs."""
        if _STRICT.fullmatch(region):
            return _EVENTS.findall(region)
        return self._feed_slow(region)

    def _feed_slow(self, text: str) -> list[tuple[str, str]]:
        events: list[tuple[str, str]] = []
        last = None
        # A lone \r ends a line at once (a \n right after it, even in the next chunk, belongs to it);
        # normalising here lets an event ended by "\r\r" dispatch now, not when more bytes come.
        if self._skip_lf and text.startswith("\n"):
            text = text[1:]
        self._skip_lf = text.endswith("\r")
        if "\r" in text:
            text = text.replace("\r\n", "\n").replace("\r", "\n")
        if not text:
            return events
        for line in self._lines.decode(text):
            last = line
            if line.partition(":")[0] == "data":
                self._has_data = True
            sse = self._decoder.decode(line)
            # The spec dispatches nothing when no data line came (httpx-sse does, after an id: line).
            if sse is not None and self._has_data:
                events.append((_raw_event(sse), sse.data))
            if not line:
                self._has_data = False
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


_OUT_HEAD = 'event: output\ndata: {"type":"output","line":"'


def split_outputs(region: str) -> tuple[str, list[str]] | None:
    """The lines of a region made only of our servers' exact ``output`` frames of one stream.

    The frames differ only in the JSON string of ``line``: check the region is exactly
    ``HEAD line TAIL`` repeated, replace every ``TAIL HEAD`` with ``","`` and the whole region becomes
    one JSON array of strings, decoded by one ``json.loads`` (no per-line dicts, no per-line regex).
    Inside an encoded string every ``"`` is escaped, so ``TAIL``/``HEAD`` can only be frame edges.
    Anything else returns None and takes the general path.
    """
    if '"stream":"stderr"}' in region:
        if '"stream":"stdout"}' in region:
            return None
        stream = "stderr"
    else:
        stream = "stdout"
    tail = '","stream":"' + stream + '"}\n\n'
    if not region.startswith(_OUT_HEAD) or not region.endswith(tail):
        return None
    body = region[len(_OUT_HEAD) : -len(tail)]
    sep = tail + _OUT_HEAD
    joined = body.replace(sep, '","')
    # How many separators were replaced, from the length change: no extra pass to count them.
    k = 1 + (len(body) - len(joined)) // (len(sep) - 3)
    try:
        lines = json.loads('["' + joined + '"]')
    except ValueError:
        return None
    # Exactly one string per frame: a piece holding anything but one JSON string's content
    # (an unescaped quote, another frame) fails to parse or changes the count.
    return (stream, lines) if len(lines) == k else None
