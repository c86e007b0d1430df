"""Writing the event stream: many SSE frames per write, one ``output`` event per line.

The wire keeps the API page's format (one ``output`` event per line, JSON data with the event name
also in ``type``; ``_wire.py`` spells it) but a whole pipe read is framed with one ``json.dumps`` and
one ``str.replace`` instead of a dumps and a format per line.
"""

from __future__ import annotations

import json
from typing import Any

from .._wire import HEARTBEAT, OUTPUT_HEAD_BYTES, STREAMS, OutputChunk, output_tail

__all__ = ["HEARTBEAT", "OutputChunk", "encode_event", "encode_output"]

_HEAD = OUTPUT_HEAD_BYTES
# The bytes JSON must escape in a string, less the newlines that separate lines here.
_NEEDS_ESCAPE = bytes(range(10)) + bytes(range(11, 32)) + b'"\\'


def encode_output(chunk: OutputChunk) -> bytes:
    """Frame a chunk as one ``output`` event per line, as the UTF-8 bytes to write."""
    tail = _TAILS[chunk.stream] if chunk.stream in _TAILS else _tail(chunk.stream)
    data = "\n".join(chunk.lines).encode()
    if len(data.translate(None, _NEEDS_ESCAPE)) == len(data):
        # Most output needs no JSON escaping at all (no quote, backslash or control character):
        # then every newline is a frame boundary and one replace() frames the whole chunk.
        # (bytes.translate is ~5x faster than a regex or json.dumps at finding that out.)
        body = data.replace(b"\n", b"\\n" + tail + _HEAD)
    else:
        # json.dumps(list) separates items with '", "'; inside an encoded string every '"' is
        # escaped, so that sequence can only be a separator and one replace() frames every line.
        encoded = json.dumps(chunk.lines, ensure_ascii=False)[2:-2].encode()
        body = encoded.replace(b'", "', b"\\n" + tail + _HEAD)
    return _HEAD + body + (tail if chunk.partial else b"\\n" + tail)


def _tail(stream: str) -> bytes:
    return output_tail(stream).encode()


_TAILS = {name: _tail(name) for name in STREAMS}


def encode_event(event: str, payload: dict[str, Any]) -> bytes:
    """Frame one event; ``type`` goes into the JSON too, for clients that read only ``data:``."""
    data = json.dumps({"type": event, **payload}, ensure_ascii=False, separators=(",", ":"))
    return f"event: {event}\ndata: {data}\n\n".encode()
