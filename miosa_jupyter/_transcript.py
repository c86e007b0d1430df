"""The whole output of a run, kept in the kernel: in memory up to a cap, then spilled to a temp file.

The view shows a bounded window; this is the lossless copy behind ``--out`` and ``ExecResult``.
Text is stored in chunks (one per stream run of a network read), never per line.
"""

from __future__ import annotations

import struct
import tempfile
from collections.abc import Iterator
from typing import IO

__all__ = ["Transcript"]

_HEADER = struct.Struct("<cQ")  # stream tag, byte length
_TAGS = {"stdout": b"o", "stderr": b"e"}
_NAMES = {b"o": "stdout", b"e": "stderr"}


class Transcript:
    """Append-only ``(stream, text)`` chunks; ``text()`` joins them back."""

    def __init__(self, memory_cap: int = 16 << 20) -> None:
        self.memory_cap = memory_cap
        self._chunks: list[tuple[str, str]] = []
        self._in_memory = 0
        self._spill: IO[bytes] | None = None

    def add(self, stream: str, text: str) -> None:
        self._chunks.append((stream, text))
        self._in_memory += len(text)
        if self._in_memory > self.memory_cap:
            self._flush_to_disk()

    def _flush_to_disk(self) -> None:
        if self._spill is None:
            # Unlinked at once; its space goes back when the Run (and so this) is collected.
            self._spill = tempfile.TemporaryFile(prefix="miosa-transcript-")  # noqa: SIM115 (lives as long as the run)
        write = self._spill.write
        for stream, text in self._chunks:
            data = text.encode("utf-8", "surrogatepass")
            write(_HEADER.pack(_TAGS.get(stream, b"o"), len(data)))
            write(data)
        self._chunks = []
        self._in_memory = 0

    def chunks(self) -> Iterator[tuple[str, str]]:
        if self._spill is not None:
            self._spill.seek(0)
            read = self._spill.read
            while header := read(_HEADER.size):
                tag, size = _HEADER.unpack(header)
                yield _NAMES[tag], read(size).decode("utf-8", "surrogatepass")
            self._spill.seek(0, 2)
        yield from self._chunks

    def text(self, stream: str | None = None) -> str:
        """All output (``stream=None``, in arrival order) or one stream's."""
        return "".join(t for s, t in self.chunks() if stream is None or s == stream)
