"""The event stream of one streaming exec, sync and async, once opened (``_events_get.py``).

``Miosa.exec.stream()`` returns one of these: iterate it for ``Event``s (the API page's recipes), or
``batches()`` for lists of payloads, one list per network read, which is what the notebook runner
uses so that no per-line object is built on its path.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import httpx

from ._errors import APIConnectionError, APIStatusError, MiosaError, StreamError
from ._events_get import describe
from ._models import Event
from ._sse import Batch, Decoder, StreamLines, iter_events

__all__ = ["AsyncExecStream", "Batch", "ExecStream", "StreamLines"]

_DROPPED = "The event stream ended before the command finished ({}); the output so far was delivered. "
_SILENT = (
    "The event stream went silent: no data for {:g} s (servers send a heartbeat at least every 15 s), "
    "so it was treated as dropped. The output so far was delivered. "
)
_RUNNING = (
    "The command may still be running on {} (the local computer ends it when no reader comes back "
    "within a second or so)."
)

# Reconnection, the SSE way: the same events URL with Last-Event-ID, never a second POST.
ATTEMPTS = 5
FIRST_DELAY = 0.1  # seconds before the second attempt (the first goes at once), doubling...
MAX_DELAY = 2.0  # ...up to this; a server's ``retry:`` is honoured within [0, MAX_DELAY]

# -- reading ------------------------------------------------------------------------------------


class _Reading:
    """What both streams share: the errors a failed read becomes, and when to resume.

    ``reconnecting`` is True while the stream reconnects after a drop, and ``reconnects`` counts the
    reconnections that succeeded: both are plain attributes, safe to read from any thread.
    """

    computer_id: str
    idle_timeout: float | None
    reconnecting: bool = False
    reconnects: int = 0
    _decoder: Decoder
    _stopped: bool = False  # closed or aborted by the caller: never resume
    _tries = 0  # reconnection attempts since the stream last delivered events

    def _error(self, exc: Exception, why: str = "") -> StreamError:
        if isinstance(exc, httpx.ReadTimeout) and self.idle_timeout is not None:
            head = _SILENT.format(self.idle_timeout)
        else:
            head = _DROPPED.format(describe(exc))
        return StreamError(head + why + _RUNNING.format(self.computer_id))

    def _resume_from(self, cause: Exception, can: bool) -> str:
        """The id to resume after, or raise the error that says why the stream can't be resumed."""
        if self._stopped or not can:
            raise self._error(cause) from None
        last = self._decoder.last_id
        if last is None:
            why = "It could not be resumed: the server sent no event id to resume from. "
            raise self._error(cause, why) from None
        return last

    def _delay(self) -> float | None:
        """Seconds to wait before the next attempt (None: no attempt left), counting the attempts
        since the stream last delivered something: at once (or after the server's ``retry:``), then
        backing off. A server that accepts and drops every reconnection runs out of attempts."""
        tries = self._tries
        if tries >= ATTEMPTS:
            return None
        self._tries += 1
        retry = self._decoder.retry
        first = FIRST_DELAY if retry is None else max(FIRST_DELAY, min(retry / 1000, MAX_DELAY))
        if not tries:
            return 0.0 if retry is None else min(retry / 1000, MAX_DELAY)
        return min(first * 2.0 ** (tries - 1), MAX_DELAY)

    def _refused(self, cause: Exception, last: str, exc: MiosaError) -> StreamError | None:
        """The error to raise when the server's answer ends the attempts (None: try again)."""
        if isinstance(exc, APIConnectionError) or (
            isinstance(exc, APIStatusError) and (exc.status_code or 0) >= 500
        ):
            return None
        why = f"The client tried to resume after event {last}, but the server refused: {_reason(exc)} "
        return self._error(cause, why)

    def _exhausted(
        self, cause: Exception, last: str, tries: int, began: float, exc: MiosaError | None
    ) -> StreamError:
        got = f"the last attempt failed: {_reason(exc)}" if exc else "each one dropped before an event."
        why = (
            f"The client tried to resume after event {last} {tries} times over "
            f"{time.monotonic() - began:.1f} s; {got} "
        )
        return self._error(cause, why)

    def _resumed(self) -> None:
        self._decoder.reconnect()
        self.reconnects += 1


def _reason(exc: MiosaError) -> str:
    """What an attempt got, in the events GET's own words (without its "may still be running")."""
    text = exc.message.rpartition(_UNREAD_TAIL)[2].strip()
    if exc.code:
        text = f"{text.rstrip('.')} ({exc.code})."
    return text


_UNREAD_TAIL = "its output could not be read: "


_READ_ERRORS = (httpx.TransportError, httpx.StreamError, httpx.DecodingError)
_CLOSED = ConnectionError("connection closed")


class ExecStream(_Reading):
    """The events of one command, already connected. Iterate it, or use it as a context manager.

    A dropped connection (a read error, the end of the body before a terminal event, or silence for
    ``idle_timeout`` seconds) is resumed: the stream reconnects to the same events URL with
    ``Last-Event-ID`` (at most ``ATTEMPTS`` times, backing off) and skips the events it already
    delivered, so each arrives once. When that can't be done, ``StreamError`` says why.

    Leaving the loop early (``break``), dropping a half-read iterator, ``close()`` or ``abort()``
    closes the connection and never reconnects; the local computer then kills the command once no
    reader comes back. Keep the iterator (``events = iter(stream)``) to read it bit by bit.
    """

    def __init__(
        self,
        response: httpx.Response,
        *,
        computer_id: str,
        command: str,
        idle_timeout: float | None = None,
        reopen: Callable[[str], httpx.Response] | None = None,
    ) -> None:
        self.computer_id = computer_id
        self.command = command
        self.idle_timeout = idle_timeout
        self._response = response
        self._reopen = reopen
        self._decoder = Decoder()
        self._stop = threading.Event()

    def batches(self) -> Iterator[Batch]:
        """Yield the events of each network read, as ``StreamLines``s (runs of output lines of one
        stream, decoded in bulk) and event payload dicts; raise ``StreamError`` if the stream drops
        or goes silent and can't be resumed.

        This is the fast path the notebook runner uses; iterate the stream itself for ``Event``s.
        """
        decoder = self._decoder
        try:
            while True:
                try:
                    for data in self._response.iter_bytes():
                        batch = decoder.feed(data)
                        if batch:
                            self._tries = 0
                            yield batch
                            if decoder.finished:
                                return
                    cause: Exception = _CLOSED
                except _READ_ERRORS as exc:
                    cause = exc
                self._response.close()
                self._resume(cause)
        finally:
            self.close()

    def _resume(self, cause: Exception) -> None:
        last = self._resume_from(cause, self._reopen is not None)
        assert self._reopen is not None
        self.reconnecting = True
        began = time.monotonic()
        failed: MiosaError | None = None
        try:
            while (delay := self._delay()) is not None:
                if self._stop.wait(delay):
                    break
                try:
                    response = self._reopen(last)
                except MiosaError as exc:
                    if (error := self._refused(cause, last, exc)) is not None:
                        raise error from None
                    failed = exc
                    continue
                if self._stop.is_set():
                    response.close()
                    break
                self._response = response
                self._resumed()
                return
            else:
                raise self._exhausted(cause, last, self._tries, began, failed) from None
        finally:
            self.reconnecting = False
        raise self._error(cause) from None  # stopped by the caller meanwhile

    def __iter__(self) -> Iterator[Event]:
        for batch in self.batches():
            yield from iter_events(batch)

    def close(self) -> None:
        self._stopped = True
        self._stop.set()
        self._response.close()

    def abort(self) -> None:
        """Cut the connection from any thread; a reader blocked in ``batches()`` wakes with ``StreamError``.

        ``close()`` from another thread would not wake a blocked ``recv``; shutting the socket down does.
        """
        self._stopped = True
        self._stop.set()
        stream = self._response.extensions.get("network_stream")
        sock = stream.get_extra_info("socket") if stream is not None else None
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def __enter__(self) -> ExecStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncExecStream(_Reading):
    """The async twin of ``ExecStream``: connects on first use (``async for`` or ``async with``)."""

    def __init__(
        self,
        connect: Callable[[], Any],
        *,
        computer_id: str,
        command: str,
        idle_timeout: float | None = None,
        reopen: Callable[[str], Awaitable[httpx.Response]] | None = None,
    ) -> None:
        self.computer_id = computer_id
        self.command = command
        self.idle_timeout = idle_timeout
        self._connect = connect
        self._reopen = reopen
        self._response: httpx.Response | None = None
        self._decoder = Decoder()

    async def _open(self) -> httpx.Response:
        if self._response is None:
            self._response = await self._connect()
        return self._response

    async def batches(self) -> AsyncIterator[Batch]:
        response = await self._open()
        decoder = self._decoder
        try:
            while True:
                try:
                    async for data in response.aiter_bytes():
                        batch = decoder.feed(data)
                        if batch:
                            self._tries = 0
                            yield batch
                            if decoder.finished:
                                return
                    cause: Exception = _CLOSED
                except _READ_ERRORS as exc:
                    cause = exc
                await response.aclose()
                response = await self._resume(cause)
        finally:
            await self.aclose()

    async def _resume(self, cause: Exception) -> httpx.Response:
        last = self._resume_from(cause, self._reopen is not None)
        assert self._reopen is not None
        self.reconnecting = True
        began = time.monotonic()
        failed: MiosaError | None = None
        try:
            while (delay := self._delay()) is not None:
                if delay:
                    await asyncio.sleep(delay)
                if self._stopped:
                    break
                try:
                    response = await self._reopen(last)
                except MiosaError as exc:
                    if (error := self._refused(cause, last, exc)) is not None:
                        raise error from None
                    failed = exc
                    continue
                self._response = response
                self._resumed()
                return response
            else:
                raise self._exhausted(cause, last, self._tries, began, failed) from None
        finally:
            self.reconnecting = False
        raise self._error(cause) from None

    async def _iter(self) -> AsyncIterator[Event]:
        async for batch in self.batches():
            for event in iter_events(batch):
                yield event

    def __aiter__(self) -> AsyncIterator[Event]:
        return self._iter()

    async def aclose(self) -> None:
        self._stopped = True
        if self._response is not None:
            await self._response.aclose()

    async def __aenter__(self) -> AsyncExecStream:
        await self._open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
