"""Writing the event stream: many SSE frames per write, one ``output`` event per line.

The wire keeps the API page's format (one ``output`` event per line, JSON data with the event name
also in ``type``) but a whole pipe read is framed with one ``json.dumps`` and one ``str.replace``
instead of a dumps and a format per line.
"""

from __future__ import annotations

import json
from typing import Any, NamedTuple

__all__ = ["HEARTBEAT", "OutputChunk", "encode_event", "encode_output"]

HEARTBEAT = ": heartbeat\n\n"
_HEAD = 'event: output\ndata: {"type":"output","line":"'


class OutputChunk(NamedTuple):
    """Lines read from one stream in one go; the text of each line excludes its ``\\n``.

    Every line but the last ended with ``\\n``; the last did too unless ``partial`` (a line
    flushed mid-way: a prompt, a progress bar, a cut at the length cap, the end of output).
    """

    stream: str
    lines: list[str]
    partial: bool


def encode_output(chunk: OutputChunk) -> str:
    """Frame a chunk as one ``output`` event per line."""
    # json.dumps(list) separates items with '", "'; inside an encoded string every '"' is escaped,
    # so that sequence can only be a separator and one replace() frames every line at C speed.
    tail = '","stream":"' + chunk.stream + '"}\n\n'
    body = json.dumps(chunk.lines, ensure_ascii=False)[2:-2]
    body = body.replace('", "', "\\n" + tail + _HEAD)
    return _HEAD + body + (tail if chunk.partial else "\\n" + tail)


def encode_event(event: str, payload: dict[str, Any]) -> str:
    """Frame one event; ``type`` goes into the JSON too, for clients that read only ``data:``."""
    data = json.dumps({"type": event, **payload}, ensure_ascii=False, separators=(",", ":"))
    return f"event: {event}\ndata: {data}\n\n"
