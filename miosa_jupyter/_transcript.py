"""The whole output of a run, kept in the kernel: in memory up to a cap, then spilled to a temp file.

The view shows a bounded window; this is the lossless copy behind ``--out``, ``ExecResult`` and the
view's download. Text is stored in chunks (one per stream run of a network read), never per line.
The spill file holds the output's bytes exactly as they arrived, both streams in arrival order, so
``read(offset, size)`` is one positional read; which stream each run of bytes came from is kept apart.
"""

from __future__ import annotations

from array import array
from bisect import bisect_right
from collections.abc import Iterator
from typing import IO

from ._spill import read_at, spill_file, write_all

__all__ = ["Transcript"]

_CODEC = ("utf-8", "surrogatepass")


class Transcript:
    """Append-only ``(stream, text)`` chunks; ``text()`` joins them back, ``read()`` gives bytes.

    ``add`` is called by the reader thread (under the run's lock); ``read`` and ``size`` may be
    called from another thread while it adds.
    """

    def __init__(self, memory_cap: int = 16 << 20) -> None:
        self.memory_cap = memory_cap
        self._chunks: list[tuple[str, str]] = []
        self._in_memory = 0
        self._spill: IO[bytes] | None = None
        self._spilled = 0  # bytes in the spill file
        self._run_sizes = array("q")  # the spill file's runs of one stream: their sizes in bytes
        self._run_streams: list[str] = []
        # The in-memory chunks as bytes, encoded once each when a reader first asks (a download of
        # a running log): their ends, from the end of the spill file.
        self._encoded: list[bytes] = []
        self._encoded_ends = array("q")

    def add(self, stream: str, text: str) -> None:
        self._chunks.append((stream, text))
        self._in_memory += len(text)
        if self._in_memory > self.memory_cap:
            self._flush_to_disk()

    def settle(self, keep: int = 1 << 20) -> None:
        """A finished run's output goes to disk if it holds more than ``keep`` characters in memory:
        the kernel keeps finished runs' logs (``%miosa log``), not their memory."""
        if self._in_memory > keep:
            self._flush_to_disk()

    @property
    def footprint(self) -> int:
        """Bytes on disk and characters in memory."""
        return self._spilled + self._in_memory

    def _flush_to_disk(self) -> None:
        if self._spill is None:
            self._spill = spill_file("miosa-transcript-")
        parts: list[bytes] = []
        for stream, text in self._chunks:
            data = text.encode(*_CODEC)
            if self._run_streams and self._run_streams[-1] == stream:
                self._run_sizes[-1] += len(data)
            else:
                self._run_streams.append(stream)
                self._run_sizes.append(len(data))
            parts.append(data)
        data = b"".join(parts)
        write_all(self._spill, data)
        self._spilled += len(data)
        self._chunks = []
        self._in_memory = 0
        self._encoded, self._encoded_ends = [], array("q")

    def chunks(self, stream: str | None = None) -> Iterator[tuple[str, str]]:
        """``(stream, text)`` in arrival order (of one stream, if given); a spilled run of one stream
        is read and decoded in one piece."""
        if self._spill is not None:
            offset = 0
            for s, size in zip(self._run_streams, self._run_sizes, strict=True):
                if stream is None or s == stream:
                    yield s, read_at(self._spill, offset, size).decode(*_CODEC)
                offset += size
        for s, t in list(self._chunks):
            if stream is None or s == stream:
                yield s, t

    def text(self, stream: str | None = None) -> str:
        """All output (``stream=None``, in arrival order) or one stream's."""
        return "".join(t for _, t in self.chunks(stream))

    def _memory_bytes(self) -> tuple[list[bytes], array[int]]:
        """The in-memory chunks encoded (the new ones encoded now), and where each ends (call under
        the run's lock)."""
        encoded, ends = self._encoded, self._encoded_ends
        for _, text in self._chunks[len(encoded) :]:
            encoded.append(text.encode(*_CODEC))
            ends.append((ends[-1] if ends else 0) + len(encoded[-1]))
        return encoded, ends

    @property
    def size(self) -> int:
        """The output's size in bytes (UTF-8) so far."""
        _, ends = self._memory_bytes()
        return self._spilled + (ends[-1] if ends else 0)

    def read(self, offset: int, size: int) -> bytes:
        """Up to ``size`` bytes of the output (UTF-8, both streams in arrival order) from ``offset``."""
        out = b""
        if offset < self._spilled and self._spill is not None:
            out = read_at(self._spill, offset, min(size, self._spilled - offset))
            offset += len(out)
            size -= len(out)
        if size > 0:
            encoded, ends = self._memory_bytes()
            at = offset - self._spilled
            k = bisect_right(ends, at)
            parts: list[bytes] = []
            while size > 0 and k < len(encoded):
                begin = ends[k] - len(encoded[k])
                piece = encoded[k][at - begin : at - begin + size]
                parts.append(piece)
                size -= len(piece)
                at += len(piece)
                k += 1
            out += b"".join(parts)
        return out
