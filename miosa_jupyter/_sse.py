"""Decoding a text/event-stream body into (event, data) pairs, many events per call, and those
into the payloads the API page defines (``Decoder``: bytes in, batches of payloads out).

A spec parser handles one line per Python call; on a stream of one event per output line that costs
three calls per line. Here a whole network chunk is checked against the strict shape our servers
write (``event: NAME\ndata: JSON\n\n`` and ``: comment`` frames) with one regex and its events are
pulled out with one ``findall``. Anything else (``\r`` line endings, ``id:``/``retry:`` fields,
several ``data:`` lines, no space after the colon) goes through the spec's line-by-line algorithm
(WHATWG HTML, "Interpreting an event stream"). The tests check both paths agree with httpx-sse's
decoders, the oracle, on streams cut at every byte.

Both paths track the spec's event id for resuming (``last_id``: the id of the last dispatched event,
as EventSource sends it in ``Last-Event-ID``) and count the events dispatched since the event that
set it (``since``): a server that writes an id every few events replays those again, and the
client skips them. The fast path accepts ``id:`` lines that end or begin a frame; finding the last
one in a region is an ``rfind`` and a count over the text after it.

Both paths are linear in the stream's length, however long one event is and however it is cut: the
text of an unfinished event is kept as a list of pieces, joined once when the event ends, and each
chunk is searched once (issue 10: a 40 MB event took 12.6 s when every chunk re-joined and
re-searched all the text before it).
"""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Iterator
from itertools import repeat
from operator import itemgetter
from typing import Any, NamedTuple, final

from ._models import Event
from ._wire import ID_PREFIX, OUTPUT_HEAD, TERMINAL_EVENTS, output_tail

__all__ = ["Batch", "Decoder", "SSEParser", "StreamLines", "iter_events", "split_outputs"]

# A frame: an optional id, an optional event name, one data line, an optional id; or a comment.
# Ids here are non-empty and NUL-free (the others go the spec's way: reset, or ignored).
_ID = r"(?:id: [^\n\0]+\n)?"
_STRICT = re.compile(r"(?:" + _ID + r"(?:event: [^\n]*\n)?data: [^\n]*\n" + _ID + r"\n|:[^\n]*\n\n?)*")
_EVENTS = re.compile(r"^" + _ID + r"(?:event: ([^\n]*)\n)?data: ([^\n]*)\n" + _ID + r"\n", re.MULTILINE)


class SSEParser:
    """Incremental SSE parser: ``feed(text)`` returns the events completed by ``text``.

    Each event is an ``(event, data)`` tuple; ``event`` is ``""`` when the frame had no ``event:``
    field (the spec's ``"message"``). Comments and heartbeats produce nothing. One byte order mark at
    the start of the stream is dropped, as the spec says (a CDN may add one).

    ``last_id`` is the spec's "last event ID string" (None until an event set one; ``""`` when a
    server reset it), ``since`` the number of events dispatched after the one that set it, ``retry``
    the reconnection time in milliseconds a ``retry:`` field asked for (None if none did).
    ``reset()`` starts a new connection's stream and keeps the three.
    """

    def __init__(self) -> None:
        self._start = True  # nothing fed yet: a BOM may come
        # The fast path: the text after the last frame boundary, in pieces (no "\r", no "\n\n").
        self._pieces: list[str] = []
        self._lf = False  # the pieces end with "\n": a boundary may straddle two chunks
        # The slow path: the spec's parser state.
        self._slow = False  # True while it holds a partial line or event
        self._line: list[str] = []  # the pieces of a partial line
        self._skip_lf = False  # the last chunk ended with \r: drop a \n that starts the next
        self._event = ""
        self._data: list[str] = []
        self._id: str | None = None  # the spec's last event ID buffer
        self._id_set = False  # the current block set the buffer
        # What a resume needs.
        self.last_id: str | None = None
        self.since = 0
        self.retry: int | None = None

    def reset(self) -> None:
        """A new connection: forget the partial event and line, keep the ids (and the buffer)."""
        self._start = True
        self._pieces, self._lf = [], False
        self._slow = False
        self._line, self._skip_lf = [], False
        self._event, self._data, self._id_set = "", [], False
        self._id = self.last_id  # a block cut mid-way goes whole, its id too

    def feed(self, text: str) -> list[tuple[str, str]]:
        region, events = self.feed_region(text)
        if region is None:
            return events
        return self.events_of(region)

    def feed_region(self, text: str) -> tuple[str | None, list[tuple[str, str]]]:
        """Take ``text``; return the complete region it finished, for the caller to decode in bulk
        (``(region, [])``), or the events the slow path decoded (``(None, events)``)."""
        if self._start:
            if not text:
                return None, []
            self._start = False
            if text[0] == "\ufeff":
                text = text[1:]
        if self._slow or "\r" in text:
            if self._pieces:  # held text has no \r: hand it over once
                text = "".join(self._pieces) + text
                self._pieces, self._lf = [], False
            return None, self._feed_slow(text)
        end = text.rfind("\n\n") + 2
        if end < 2:
            if not (self._lf and text[:1] == "\n"):
                if text:
                    self._pieces.append(text)
                    self._lf = text[-1] == "\n"
                return None, []
            end = 1  # "...\n" + "\n...": the boundary straddles the chunks
        pieces = self._pieces
        pieces.append(text[:end])
        rest = text[end:]
        self._pieces = [rest] if rest else []
        self._lf = rest[-1:] == "\n"
        return "".join(pieces), []

    def events_of(self, region: str) -> list[tuple[str, str]]:
        """Decode a complete region (it ends at an event boundary) into ``(event, data)`` pairs."""
        if _STRICT.fullmatch(region):
            events = _EVENTS.findall(region)
            self.count(region, len(events))
            return events
        return self._feed_slow(region)

    def count(self, region: str, events: int) -> None:
        """Note the ``events`` a strict region dispatched: find its last id, count what came after."""
        at = region.rfind(ID_PREFIX) + 1
        if not at and not region.startswith("id: "):
            self.since += events
            return
        end = region.index("\n", at)
        self._id = self.last_id = region[at + 4 : end]
        # The dispatches after that id's event: its frame's own data line comes after it when the id
        # begins the frame (a blank line follows an id that ends it).
        self.since = region.count("\ndata: ", end) - (region[end + 1] != "\n")

    def _feed_slow(self, text: str) -> list[tuple[str, str]]:
        # A lone \r ends a line at once (a \n right after it, even in the next chunk, belongs to it);
        # normalising here lets an event ended by "\r\r" dispatch now, not when more bytes come.
        if self._skip_lf and text[:1] == "\n":
            text = text[1:]
            self._skip_lf = False
        events: list[tuple[str, str]] = []
        for line in self._lines(text) if text else ():
            self._interpret(line, events)
        # Back to the fast path only at a line start with no event half-read.
        self._slow = bool(self._line or self._event or self._data or self._skip_lf)
        return events

    def _lines(self, text: str) -> list[str]:
        """The lines ``text`` ends, the first joined to the held piece; keep what follows the last."""
        self._skip_lf = text[-1] == "\r"
        if "\r" in text:
            text = text.replace("\r\n", "\n").replace("\r", "\n")
        lines = text.split("\n")
        rest = lines.pop()
        if lines and self._line:
            self._line.append(lines[0])
            lines[0] = "".join(self._line)
            self._line = []
        if rest:
            self._line.append(rest)
        return lines

    def _interpret(self, line: str, events: list[tuple[str, str]]) -> None:
        if not line:
            # Dispatch: the last event ID string takes the buffer's value (even when no data came,
            # when the spec dispatches nothing), then the event goes out.
            if self._id_set:
                self.last_id, self.since, self._id_set = self._id, 0, False
            elif self._data:
                self.since += 1
            if self._data:
                events.append((self._event, "\n".join(self._data)))
                self._data = []
            self._event = ""
            return
        if line[0] == ":":
            return
        field, _, value = line.partition(":")
        if value[:1] == " ":
            value = value[1:]
        if field == "data":
            self._data.append(value)
        elif field == "event":
            self._event = value
        elif field == "id":
            if "\0" not in value:
                self._id, self._id_set = value, True
        elif field == "retry" and value.isascii() and value.isdigit():
            self.retry = int(value)


_OUT_HEAD = OUTPUT_HEAD


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
    if ID_PREFIX in region:
        without = _without_ids(region)
        if without is None:
            return None
        region = without
    tail = output_tail(stream)
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


def _without_ids(region: str) -> str | None:
    """The region with the ``id:`` lines that end frames taken out (None if one is not that)."""
    pieces = region.split(ID_PREFIX)
    for i in range(1, len(pieces)):
        piece = pieces[i]
        end = piece.find("\n")
        # "...}" "\nid: " "N" "\n\n" "event: ...": keep the blank line that ends the frame.
        if end < 1 or piece[end + 1 : end + 2] != "\n" or "\0" in piece[:end]:
            return None
        pieces[i] = piece[end:]
    return "".join(pieces)


# -- payloads -------------------------------------------------------------------------------------

_DATA = itemgetter(1)
_NAME = itemgetter(0)


@final  # parts are told apart by ``type(part) is StreamLines`` (cheaper than isinstance): no subclasses
class StreamLines(NamedTuple):
    """Consecutive ``output`` events of one stream, decoded in bulk: just their ``line`` texts."""

    stream: str
    lines: list[str]


Part = StreamLines | dict[str, Any]  # a run of output lines, or one decoded event payload
Batch = list[Part]


class Decoder:
    """Bytes of an event stream in, batches of payloads out, as the API page defines them.

    Remembers whether a terminal event was seen: the first ``exit``, ``timeout`` or ``error`` ends
    the run, and nothing after it counts, however the bytes were cut into reads.

    Across connections (``reconnect()``) it keeps the event id to resume from (``last_id``) and drops
    the events a resumed stream sends again: those dispatched after that id and already delivered.
    """

    def __init__(self) -> None:
        self._text = codecs.getincrementaldecoder("utf-8")(errors="replace").decode
        self._sse = SSEParser()
        self.finished = False
        self._skip = 0  # events of this connection already delivered over an earlier one

    @property
    def last_id(self) -> str | None:
        """The id to resume from (``Last-Event-ID``), or None when no event had one."""
        return self._sse.last_id or None

    @property
    def retry(self) -> int | None:
        """The reconnection time, in milliseconds, the server asked for with ``retry:``."""
        return self._sse.retry

    def reconnect(self) -> None:
        """A new connection resumes after ``last_id``: start its bytes afresh, skip what was delivered."""
        # Events dispatched after the last id were delivered, or skipped because they had been; the
        # rest of an earlier skip comes after them.
        self._skip += self._sse.since
        self._sse.since = 0
        self._sse.reset()
        self._text = codecs.getincrementaldecoder("utf-8")(errors="replace").decode

    def feed(self, data: bytes) -> Batch:
        if self.finished:
            return []
        region, events = self._sse.feed_region(self._text(data))
        if region is not None:
            fast = split_outputs(region)
            if fast is not None:
                self._sse.count(region, len(fast[1]))
                batch: Batch = [StreamLines(*fast)]
                return _drop(batch, self) if self._skip else batch
            events = self._sse.events_of(region)
        if not events:
            return []
        if self._skip:
            skip = min(self._skip, len(events))
            self._skip -= skip
            del events[:skip]
            if not events:
                return []
        return self._payloads(events)

    def _payloads(self, events: list[tuple[str, str]]) -> Batch:
        try:
            payloads: list[Any] = json.loads("[" + ",".join(map(_DATA, events)) + "]")
        except (ValueError, RecursionError):
            payloads = []
        names = list(map(_NAME, events))
        # Malformed data, data like `1,2` that split in two, or not the objects the page defines.
        if len(payloads) != len(events) or not _as_defined(names, payloads):
            payloads = [_payload(name, data) for name, data in events]
            names = [p["type"] for p in payloads]
        if not TERMINAL_EVENTS.isdisjoint(names):
            self.finished = True
            del payloads[min(names.index(n) for n in TERMINAL_EVENTS.intersection(names)) + 1 :]
        return payloads


def _drop(batch: Batch, decoder: Decoder) -> Batch:
    """``batch`` less the first events the decoder must skip (a fast batch: runs of lines)."""
    out: Batch = []
    for i, part in enumerate(batch):
        skip = decoder._skip
        if not skip:
            out += batch[i:]
            break
        assert type(part) is StreamLines
        n = len(part.lines)
        decoder._skip = max(0, skip - n)
        if n > skip:
            out.append(StreamLines(part.stream, part.lines[skip:]))
    return out


def _as_defined(names: list[str], payloads: list[Any]) -> bool:
    """True when each payload is an object whose ``type`` is its event's name and each ``output``
    has a string ``line``. All C-level for a batch of outputs: a per-line Python loop here would
    cost more than the parse."""
    try:
        if list(map(dict.get, payloads, repeat("type"))) != names:
            return False
    except TypeError:  # a payload that isn't an object
        return False
    outputs = names.count("output")
    if not outputs:
        return True
    lines = list(map(dict.get, payloads, repeat("line")))
    if outputs == len(names):
        return list(map(type, lines)).count(str) == outputs
    return all(type(line) is str for name, line in zip(names, lines, strict=True) if name == "output")


def _payload(name: str, data: str) -> dict[str, Any]:
    """One event's payload, the slow way: what isn't the page's object is kept as text, not dropped."""
    try:
        value = json.loads(data)
    except (ValueError, RecursionError):
        value = None
    payload: dict[str, Any] = value if isinstance(value, dict) else {"raw": data}
    if name and name != "message":
        payload["type"] = name
    elif not isinstance(payload.get("type"), str):
        payload["type"] = "message"
    kind = payload["type"]
    if kind == "output" and type(payload.get("line")) is not str:
        # Not the page's {"line", "stream"}: the text the server sent is the line.
        stream = payload.get("stream")
        payload = {
            "type": "output",
            "line": data + "\n",
            "stream": stream if isinstance(stream, str) else "stdout",
            "raw": data,
        }
    elif kind == "error" and not isinstance(payload.get("message"), str):
        payload["message"] = data
    return payload


def iter_events(batch: Batch) -> Iterator[Event]:
    for part in batch:
        if type(part) is StreamLines:
            stream = part.stream
            for line in part.lines:
                yield Event("output", {"type": "output", "line": line, "stream": stream})
        else:
            yield Event(part["type"], part)
