"""The events of one execution waiting for their reader, bounded in bytes of memory.

Counting chunks let short lines inflate the bound 25-30x (one unread ``yes ab`` held ~98 MB): a
Python string costs ~49 bytes before its first character, a list slot 8 more. So each chunk counts
its characters plus 57 bytes a line. Past the bound ``put`` waits, the pump stops reading, the pipe
fills and the command blocks: back-pressure, never loss. The ending always fits.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from typing import Generic, TypeVar

from .._wire import OutputChunk

__all__ = ["LINE_OVERHEAD", "OutputQueue"]

T = TypeVar("T")
LINE_OVERHEAD = 57  # bytes of a str object and its list slot, past its characters (CPython, 64-bit)


def weight(item: object) -> int:
    """What an item holds in memory, about (an ending: nothing worth counting)."""
    if isinstance(item, OutputChunk):
        return sum(map(len, item.lines)) + LINE_OVERHEAD * len(item.lines)
    return 0


class OutputQueue(Generic[T]):
    """A FIFO of output chunks and one ending, holding at most ``max_bytes`` (one chunk always fits)."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.nbytes = 0
        self._items: deque[tuple[T, int]] = deque()
        self._arrived = asyncio.Event()
        self._room = asyncio.Event()
        self._room.set()

    def empty(self) -> bool:
        return not self._items

    async def put(self, item: T) -> None:
        """Add ``item``, waiting while the queue holds ``max_bytes`` (a slow or absent reader)."""
        size = weight(item)
        while self._items and self.nbytes + size > self.max_bytes:
            self._room.clear()
            await self._room.wait()
        self.put_nowait(item, size)

    def put_nowait(self, item: T, size: int | None = None) -> None:
        """Add ``item`` now, whatever the bound (the ending, an error)."""
        size = weight(item) if size is None else size
        self._items.append((item, size))
        self.nbytes += size
        self._arrived.set()

    async def wait(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for an item; True if one is there. ``poke()`` ends the wait."""
        if not self._items:
            self._arrived.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._arrived.wait(), timeout)
        return bool(self._items)

    def poke(self) -> None:
        """Wake whoever waits in ``wait()`` (a reader that was superseded)."""
        self._arrived.set()

    def put_back(self, item: T) -> None:
        """Return part of the item just taken to the front (it was in the queue: it fits)."""
        size = weight(item)
        self._items.appendleft((item, size))
        self.nbytes += size
        self._arrived.set()

    async def get(self) -> T:
        while not self._items:
            self._arrived.clear()
            await self._arrived.wait()
        return self.get_nowait()

    def get_nowait(self) -> T:
        if not self._items:
            raise asyncio.QueueEmpty
        item, size = self._items.popleft()
        self.nbytes -= size
        self._room.set()
        return item
