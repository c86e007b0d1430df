"""Spill files: what a run keeps past its memory cap (the transcript, the scrollback) goes to an
unlinked temporary file, read back with positional reads that never move a file pointer, so one
thread can read while another appends."""

from __future__ import annotations

import os
import tempfile
from typing import IO

__all__ = ["read_at", "spill_file", "write_all"]


def spill_file(prefix: str) -> IO[bytes]:
    """An unbuffered temporary file, unlinked at once: its space goes back when it is collected."""
    return tempfile.TemporaryFile(prefix=prefix, buffering=0)


def write_all(file: IO[bytes], data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[file.write(view) or 0 :]


def read_at(file: IO[bytes], offset: int, size: int) -> bytes:
    """Up to ``size`` bytes from ``offset`` (fewer only at the end of the file)."""
    parts: list[bytes] = []
    fd = file.fileno()
    while size > 0:
        piece = os.pread(fd, size, offset)
        if not piece:
            break
        parts.append(piece)
        offset += len(piece)
        size -= len(piece)
    return b"".join(parts)
