"""The event stream of one streaming exec, sync and async.

``Miosa.exec.stream()`` returns one of these: iterate it for ``Event``s (the API page's recipes), or
``batches()`` for lists of payloads, one list per network read, which is what the notebook runner
uses so that no per-line object is built on its path.
"""

from __future__ import annotations

import codecs
import contextlib
import json
import socket
from collections.abc import AsyncIterator, Iterator
from itertools import repeat
from operator import itemgetter
from typing import Any, NamedTuple

import httpx

from ._errors import StreamError, error_from_response
from ._models import TERMINAL_EVENTS, Event
from ._sse import SSEParser, split_outputs

__all__ = ["AsyncExecStream", "Batch", "ExecStream", "StreamLines"]

_DATA = itemgetter(1)
_NAME = itemgetter(0)
_DROPPED = (
    "The event stream ended before the command finished ({}); the output so far was delivered. "
    "On the local computer the command was killed; rerun it to get the rest."
)


class StreamLines(NamedTuple):
    """Consecutive ``output`` events of one stream, decoded in bulk: just their ``line`` texts."""

    stream: str
    lines: list[str]


Part = StreamLines | dict[str, Any]  # a run of output lines, or one decoded event payload
Batch = list[Part]


class _Decoder:
    """Bytes in, parts out; remembers whether a terminal event was seen."""

    def __init__(self) -> None:
        self._text = codecs.getincrementaldecoder("utf-8")(errors="replace").decode
        self._sse = SSEParser()
        self.finished = False

    def feed(self, data: bytes) -> Batch:
        region, events = self._sse.feed_region(self._text(data))
        if region is not None:
            fast = split_outputs(region)
            if fast is not None:
                return [StreamLines(*fast)]
            events = self._sse.events_of(region)
        if not events:
            return []
        return self._payloads(events)

    def _payloads(self, events: list[tuple[str, str]]) -> Batch:
        try:
            payloads: list[Any] = json.loads("[" + ",".join(map(_DATA, events)) + "]")
        except ValueError:
            payloads = []
        if len(payloads) != len(events):  # malformed data, or data like `1,2` that split in two
            payloads = [_loads(data) for _, data in events]
        names = list(map(_NAME, events))
        try:
            # All C-level: a per-line Python loop here would cost more than the parse.
            same = list(map(dict.get, payloads, repeat("type"))) == names
        except TypeError:  # a payload that isn't an object
            same = False
        if not same:
            payloads = _named_slow(names, payloads)
            names = [p["type"] for p in payloads]
        if not TERMINAL_EVENTS.isdisjoint(names):
            self.finished = True
        return payloads


def _loads(data: str) -> dict[str, Any]:
    try:
        value = json.loads(data)
    except ValueError:
        return {"raw": data}
    return value if isinstance(value, dict) else {"raw": value}


def _named_slow(names: list[str], payloads: list[Any]) -> Batch:
    out: Batch = []
    for name, payload in zip(names, payloads, strict=False):
        p = payload if isinstance(payload, dict) else {"raw": payload}
        if name and name != "message":
            p["type"] = name
        else:
            p.setdefault("type", "message")
        out.append(p)
    return out


def _events(batch: Batch) -> Iterator[Event]:
    for part in batch:
        if type(part) is StreamLines:
            stream = part.stream
            for line in part.lines:
                yield Event("output", {"type": "output", "line": line, "stream": stream})
        else:
            yield Event(part["type"], part)


def _stream_error(exc: Exception) -> StreamError:
    return StreamError(_DROPPED.format(type(exc).__name__ + (f": {exc}" if str(exc) else "")))


class ExecStream:
    """The events of one command, already connected. Iterate it, or use it as a context manager.

    Leaving the loop early (``break``), dropping a half-read iterator, or ``close()`` closes the
    connection; the local computer then kills the command. Keep the iterator
    (``events = iter(stream)``) to read it bit by bit.
    """

    def __init__(self, response: httpx.Response, *, computer_id: str, command: str) -> None:
        self.computer_id = computer_id
        self.command = command
        self._response = response
        self._decoder = _Decoder()

    def batches(self) -> Iterator[Batch]:
        """Yield the events of each network read, as ``StreamLines``s (runs of output lines of one
        stream, decoded in bulk) and event payload dicts; raise ``StreamError`` if the stream drops.

        This is the fast path the notebook runner uses; iterate the stream itself for ``Event``s.
        """
        try:
            for data in self._response.iter_raw():
                batch = self._decoder.feed(data)
                if batch:
                    yield batch
                    if self._decoder.finished:
                        return
        except (httpx.TransportError, httpx.StreamError) as exc:
            raise _stream_error(exc) from None
        finally:
            self.close()
        if not self._decoder.finished:
            raise _stream_error(ConnectionError("connection closed"))

    def __iter__(self) -> Iterator[Event]:
        for batch in self.batches():
            yield from _events(batch)

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


class AsyncExecStream:
    """The async twin of ``ExecStream``: connects on first use (``async for`` or ``async with``)."""

    def __init__(self, connect: Any, *, computer_id: str, command: str) -> None:
        self.computer_id = computer_id
        self.command = command
        self._connect = connect
        self._response: httpx.Response | None = None
        self._decoder = _Decoder()

    async def _open(self) -> httpx.Response:
        if self._response is None:
            self._response = await self._connect()
        return self._response

    async def batches(self) -> AsyncIterator[Batch]:
        response = await self._open()
        try:
            async for data in response.aiter_raw():
                batch = self._decoder.feed(data)
                if batch:
                    yield batch
                    if self._decoder.finished:
                        return
        except (httpx.TransportError, httpx.StreamError) as exc:
            raise _stream_error(exc) from None
        finally:
            await self.aclose()
        if not self._decoder.finished:
            raise _stream_error(ConnectionError("connection closed"))

    async def _iter(self) -> AsyncIterator[Event]:
        async for batch in self.batches():
            for event in _events(batch):
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


def check_events_response(response: httpx.Response) -> None:
    """Raise the mapped error for a non-2xx events answer (body already read)."""
    if response.status_code >= 400:
        raise error_from_response(response, ticket=True)
    ctype = response.headers.get("content-type", "")
    if "text/event-stream" not in ctype:
        raise StreamError(
            f"Expected an event stream from the events URL, got {ctype or 'no content type'!r}."
        )
