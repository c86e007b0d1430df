"""One execution's event stream as the local computer writes it, resumable the SSE way.

Every write of frames ends with ``id: N``, N the ordinal of its last event in the execution (counted
from 1; ``_wire.py``). The last writes are kept, up to ``replay_bytes``, keyed by that id: a
reconnection with ``Last-Event-ID: N`` gets every write after N again, then the live ones. The writes
kept are the very bytes sent, so the window costs no copy.

One connection reads at a time. A reconnection takes over (``attach``): the older connection stops at
its next step and its response ends. When the reader goes away the command keeps running for
``resume_grace`` seconds (its output waits in the bounded queue: back-pressure, not loss); with no
reconnection by then it is killed. After its end the stream stays resumable for the same grace.

Why one id per write, not per frame: ``seq 1 1000000`` through ``exec.stream(...).batches()``,
medians, interleaved runs against a checkout without ids (``BENCH_OLD=/tmp/old python -m
bench._resume``; a shared, noisy machine): before 434/419/466/444/480 ms, with ids 421/393/435/440/
452 ms, and 597 vs 552 ms under load: no cost above the noise. The encoder adds one small
``b"".join`` per write, the client one ``in`` test per read (an ``rfind`` and a ``count`` over the text
after the last id when there is one). An id on every frame would cost a format per line in the
encoder and an id-aware split in the client's bulk decode. A browser's EventSource resumes correctly
from sparse ids: the spec's last-event-ID buffer persists across events. The first event is a
write of its own (with ``id: 1``) so that a cut inside the first full write can resume too.

What a cut loses in flight must fit the window: the server's socket send buffer (``send_buffer``,
512 KiB, which Linux doubles), at most one write past uvicorn's flow control, and the network's share.
Writes go one at a time with a turn of the event loop after each: after a hang-up uvicorn's ``send``
returns at once without sending, and without that turn the whole queue went into the void, past the
window (measured: 4 MB gaps through a proxy, ~2 MB once fixed).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Callable

from .._wire import HEARTBEAT, OutputChunk, id_field
from ._backend import Ending, Execution
from ._computer import ApiError
from ._sse import encode_event, encode_output

__all__ = ["Feed"]

MAX_WRITE = 256 * 1024  # bytes of frames gathered into one write

_HOW = "POST the exec again to run the command anew."


class Feed:
    """The writes of one execution's stream and who reads them."""

    def __init__(
        self,
        execution: Execution,
        computer_id: str,
        *,
        replay_bytes: int,
        grace: float,
        heartbeat: float,
        on_forget: Callable[[], object],
    ) -> None:
        self.execution = execution
        self.computer_id = computer_id
        self.replay_bytes = replay_bytes
        self.grace = grace
        self.heartbeat = heartbeat
        self._on_forget = on_forget
        self.last = 0  # the id of the last event written
        self.ended = False  # the terminal event is written
        self._window: deque[tuple[int, bytes]] = deque()  # (id at the end of the write, its bytes)
        self._nbytes = 0
        self._floor = 0  # the id that ends the last write dropped from the window
        self._owner: object | None = None
        self._timer: asyncio.TimerHandle | None = None

    # -- connections -------------------------------------------------------------------------

    def attach(self, after: int = 0) -> AsyncIterator[bytes]:
        """A connection that sends every event after ``after``, then the live ones; it supersedes
        the connection reading now. ``ApiError`` 410 if the events after ``after`` are not all kept."""
        if after != self._floor and not any(end == after for end, _ in self._window):
            raise self._unavailable(after)
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        me = object()
        self._owner = me
        self.execution.queue.poke()  # an older reader waiting for output wakes and ends
        return self._events(me, after)

    def resume(self, header: str) -> AsyncIterator[bytes]:
        """``attach`` after the event a ``Last-Event-ID`` header names."""
        if not (header.isascii() and header.isdigit()) or len(header) > 18:
            raise ApiError(
                410,
                "RESUME_UNAVAILABLE",
                f"Last-Event-ID {header[:40]!r} is not an event id of this stream (they are whole "
                f"numbers); it can't be resumed from there. {_HOW}",
            )
        return self.attach(int(header))

    def _unavailable(self, after: int) -> ApiError:
        if after > self.last:
            why = f"event {after} was never sent (the stream is at event {self.last})"
        elif after < self._floor:
            why = (
                f"event {after} is older than the replay window, which keeps the last "
                f"{self.replay_bytes:,} bytes of the stream (events after {self._floor})"
            )
        else:
            why = f"event {after} does not end a write of this stream (ids are sent at write ends)"
        return ApiError(410, "RESUME_UNAVAILABLE", f"The stream can't be resumed: {why}. {_HOW}")

    async def _events(self, me: object, sent: int) -> AsyncIterator[bytes]:
        queue = self.execution.queue
        try:
            while self._owner is me:
                if sent < self.last:  # a replay, or what an older reader took and may not have sent
                    # In writes of about MAX_WRITE: one big write would sit whole in the transport's
                    # buffer, in flight past flow control, and a cut would lose all of it again.
                    for end, data in self._after(sent):
                        if self._owner is not me:
                            return
                        sent = end
                        yield data
                        await asyncio.sleep(0)
                elif self.ended:
                    return
                elif not queue.empty():
                    data = self._take()
                    sent = self.last
                    yield data
                    # After a hang-up uvicorn's send returns at once without sending: without a turn
                    # of the loop (which notices the hang-up and ends this) the whole queue would
                    # go into the void, past the replay window.
                    await asyncio.sleep(0)
                elif not await queue.wait(self.heartbeat) and self._owner is me:
                    yield HEARTBEAT
        finally:
            if self._owner is me:
                self._left()

    def _left(self) -> None:
        """The reader went away (or the stream ended): kill the command if no one comes back."""
        self._owner = None
        self._timer = asyncio.get_running_loop().call_later(self.grace, self._expire)

    def _expire(self) -> None:
        self._timer = None
        if self._owner is None:
            # A command no one reads is killed; a finished one's stream is forgotten.
            self.execution.cancel()
            self._window.clear()
            self._nbytes = 0
            self._on_forget()

    # -- writes ------------------------------------------------------------------------------

    def _take(self) -> bytes:
        """Frame what waits in the queue as one write (up to ``MAX_WRITE``), ending with its id."""
        queue = self.execution.queue
        parts: list[bytes] = []
        size = 0
        n = self.last
        item: OutputChunk | Ending | None = queue.get_nowait()
        if not n and isinstance(item, OutputChunk):
            # The first event is a write of its own, with its id: a cut inside the first full write
            # (thousands of events) can then resume. (An id-only "id: 0" block would do it too,
            # but httpx-sse dispatches such a block as an event with empty data.)
            if len(item.lines) > 1:
                queue.put_back(OutputChunk(item.stream, item.lines[1:], item.partial))
                item = OutputChunk(item.stream, item.lines[:1], False)
            parts.append(encode_output(item))
            n = 1
            item = None
        while isinstance(item, OutputChunk):
            frames = encode_output(item)
            parts.append(frames)
            size += len(frames)
            n += len(item.lines)
            if size >= MAX_WRITE or queue.empty():
                break
            item = queue.get_nowait()
        if isinstance(item, Ending):  # the last item of the queue (``_backend.py``)
            parts.append(encode_event(*item))
            n += 1
            self.ended = True
        # The id field takes the place of the last frame's final "\n" (a view: no copy of the frame).
        last = parts.pop()
        data = b"".join([*parts, memoryview(last)[:-1], id_field(n)])
        self.last = n
        self._keep(n, data)
        return data

    def _keep(self, end: int, data: bytes) -> None:
        window = self._window
        window.append((end, data))
        self._nbytes += len(data)
        while self._nbytes > self.replay_bytes and len(window) > 1:
            self._floor, dropped = window.popleft()
            self._nbytes -= len(dropped)

    def _after(self, sent: int) -> list[tuple[int, bytes]]:
        """The kept writes after event ``sent``, small ones joined: ``(id at the end, bytes)``."""
        out: list[tuple[int, bytes]] = []
        group: list[bytes] = []
        size = 0
        for end, data in list(self._window):
            if end <= sent:
                continue
            group.append(data)
            size += len(data)
            if size >= MAX_WRITE:
                out.append((end, b"".join(group)))
                group, size = [], 0
        if group:
            out.append((self.last, b"".join(group)))
        return out
