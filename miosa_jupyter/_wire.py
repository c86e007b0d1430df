"""The wire format of the event stream, in one place: what the local computer writes
(``local/_sse.py``) and what the client's fast path recognises (``_sse.py``).

An execution's stream is the API page's: one ``output`` event per line, then one terminal event,
with ``: heartbeat`` comments while nothing happens. Our servers write the JSON with the event name
also in ``type`` and no spaces, which lets both ends handle a whole write of frames with a few
C-level string operations (see each module's docstring)::

    event: output
    data: {"type":"output","line":"1\\n","stream":"stdout"}

    event: output
    data: {"type":"output","line":"2\\n","stream":"stdout"}
    id: 2

Event ids (``id: N``) are the ordinal of an event in its execution, counted from 1. The local computer
writes one on the last frame of each write (and always on the terminal event), after ``data:``: the
spec's last-event-ID buffer persists across events, so every event dispatched after it reports that
id, and a client resuming from it gets every later event. Ids on every frame would cost the encoder a
format per line on its hot path (see ``local/_replay.py`` for the figures).
"""

from __future__ import annotations

from typing import NamedTuple

__all__ = [
    "EVENT_NAMES",
    "HEARTBEAT",
    "OUTPUT_HEAD",
    "OUTPUT_HEAD_BYTES",
    "TERMINAL_EVENTS",
    "OutputChunk",
    "id_field",
    "output_tail",
]

OUTPUT = "output"
TERMINAL_EVENTS = frozenset({"exit", "timeout", "error"})
EVENT_NAMES = frozenset({OUTPUT, *TERMINAL_EVENTS})
STREAMS = ("stdout", "stderr")

# One comment line, no blank line after it: a blank line would dispatch an empty event in readers
# that keep the last event id and skip the spec's "no data: dispatch nothing" (httpx-sse 0.4 does:
# every heartbeat after an id would reach its users as an event with no data).
HEARTBEAT = b": heartbeat\n"

# An output frame is HEAD + the JSON string of its line + TAIL; inside an encoded string every '"'
# is escaped, so neither can occur inside the line.
OUTPUT_HEAD = 'event: output\ndata: {"type":"output","line":"'
OUTPUT_HEAD_BYTES = OUTPUT_HEAD.encode()


def output_tail(stream: str) -> str:
    """The end of an output frame of ``stream``, its blank line included (no ``id:`` field)."""
    return '","stream":"' + stream + '"}\n\n'


ID_PREFIX = "\nid: "  # an id field as it follows the data line of a frame


def id_field(n: int) -> bytes:
    """The ``id:`` field that ends a frame, blank line included: it replaces the frame's last ``\\n``."""
    return b"id: %d\n\n" % n


class OutputChunk(NamedTuple):
    """Lines read from one stream in one go; the text of each line excludes its ``\\n``.

    Every line but the last ended with ``\\n``; the last did too unless ``partial`` (a line
    flushed mid-way: a prompt, a progress bar, a cut at the length cap, the end of output).
    Each line becomes one ``output`` event.
    """

    stream: str
    lines: list[str]
    partial: bool
