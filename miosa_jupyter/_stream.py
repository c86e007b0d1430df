"""The event stream of one streaming exec, sync and async, once opened (``_events_get.py``).

``Miosa.exec.stream()`` returns one of these: iterate it for ``Event``s (the API page's recipes), or
``batches()`` for lists of payloads, one list per network read, which is what the notebook runner
uses so that no per-line object is built on its path.
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx

from ._errors import StreamError
from ._events_get import describe
from ._models import Event
from ._sse import Batch, Decoder, StreamLines, iter_events

__all__ = ["AsyncExecStream", "Batch", "ExecStream", "StreamLines"]

_DROPPED = (
    "The event stream ended before the command finished ({}); the output so far was delivered. "
    "The command may still be running on {} (the local computer ends it when its stream drops)."
)
_SILENT = (
    "The event stream went silent: no data for {:g} s (servers send a heartbeat at least every 15 s), "
    "so it was treated as dropped; the command may still be running on {}. "
    "The output so far was delivered."
)
# -- reading ------------------------------------------------------------------------------------


class _Reading:
    """What both streams share: the errors a failed read becomes."""

    computer_id: str
    idle_timeout: float | None

    def _error(self, exc: Exception) -> StreamError:
        if isinstance(exc, httpx.ReadTimeout) and self.idle_timeout is not None:
            return StreamError(_SILENT.format(self.idle_timeout, self.computer_id))
        return StreamError(_DROPPED.format(describe(exc), self.computer_id))


_READ_ERRORS = (httpx.TransportError, httpx.StreamError, httpx.DecodingError)


class ExecStream(_Reading):
    """The events of one command, already connected. Iterate it, or use it as a context manager.

    Leaving the loop early (``break``), dropping a half-read iterator, or ``close()`` closes the
    connection; the local computer then kills the command. Keep the iterator
    (``events = iter(stream)``) to read it bit by bit. A stream silent for ``idle_timeout`` seconds
    (no event, no heartbeat) raises ``StreamError``.
    """

    def __init__(
        self, response: httpx.Response, *, computer_id: str, command: str, idle_timeout: float | None = None
    ) -> None:
        self.computer_id = computer_id
        self.command = command
        self.idle_timeout = idle_timeout
        self._response = response
        self._decoder = Decoder()

    def batches(self) -> Iterator[Batch]:
        """Yield the events of each network read, as ``StreamLines``s (runs of output lines of one
        stream, decoded in bulk) and event payload dicts; raise ``StreamError`` if the stream drops
        or goes silent.

        This is the fast path the notebook runner uses; iterate the stream itself for ``Event``s.
        """
        try:
            for data in self._response.iter_bytes():
                batch = self._decoder.feed(data)
                if batch:
                    yield batch
                    if self._decoder.finished:
                        return
        except _READ_ERRORS as exc:
            raise self._error(exc) from None
        finally:
            self.close()
        if not self._decoder.finished:
            raise self._error(ConnectionError("connection closed"))

    def __iter__(self) -> Iterator[Event]:
        for batch in self.batches():
            yield from iter_events(batch)

    def close(self) -> None:
        self._response.close()

    def abort(self) -> None:
        """Cut the connection from any thread; a reader blocked in ``batches()`` wakes with ``StreamError``.

        ``close()`` from another thread would not wake a blocked ``recv``; shutting the socket down does.
        """
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
    ) -> None:
        self.computer_id = computer_id
        self.command = command
        self.idle_timeout = idle_timeout
        self._connect = connect
        self._response: httpx.Response | None = None
        self._decoder = Decoder()

    async def _open(self) -> httpx.Response:
        if self._response is None:
            self._response = await self._connect()
        return self._response

    async def batches(self) -> AsyncIterator[Batch]:
        response = await self._open()
        try:
            async for data in response.aiter_bytes():
                batch = self._decoder.feed(data)
                if batch:
                    yield batch
                    if self._decoder.finished:
                        return
        except _READ_ERRORS as exc:
            raise self._error(exc) from None
        finally:
            await self.aclose()
        if not self._decoder.finished:
            raise self._error(ConnectionError("connection closed"))

    async def _iter(self) -> AsyncIterator[Event]:
        async for batch in self.batches():
            for event in iter_events(batch):
                yield event

    def __aiter__(self) -> AsyncIterator[Event]:
        return self._iter()

    async def aclose(self) -> None:
        if self._response is not None:
            await self._response.aclose()

    async def __aenter__(self) -> AsyncExecStream:
        await self._open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
