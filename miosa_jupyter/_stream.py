"""The event stream of one streaming exec, sync and async: opening it, then reading it.

``Miosa.exec.stream()`` returns one of these: iterate it for ``Event``s (the API page's recipes), or
``batches()`` for lists of payloads, one list per network read, which is what the notebook runner
uses so that no per-line object is built on its path.
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

import httpx

from ._errors import (
    ERROR_BODY_LIMIT,
    APIConnectionError,
    BoundedBody,
    MiosaError,
    StreamError,
    cut,
    error_from_response,
)
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
_UNREAD = "The command was started on {} and may still be running, but its output could not be read: "


# -- opening: the events GET ---------------------------------------------------------------------

MAX_REDIRECTS = 5  # as browsers bound an EventSource's redirects
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_DEFAULT_PORTS = {"http": 80, "https": 443}
# identity: the body is read as it comes, with no decoder holding bytes back.
_HEADERS = {"Accept": "text/event-stream", "Accept-Encoding": "identity", "Cache-Control": "no-store"}
_DECODED = frozenset({"gzip", "deflate"})  # what httpx decodes whatever is installed


def origin_of(url: str | httpx.URL) -> tuple[str, str | None, int | None]:
    """``(scheme, host, port)`` of a URL, the default port filled in: what "same origin" compares."""
    parts = urlsplit(str(url))
    try:
        port = parts.port
    except ValueError:
        port = -1
    scheme = parts.scheme.lower()
    return scheme, parts.hostname, port or _DEFAULT_PORTS.get(scheme)


class _Hops:
    """The events GET and the redirects it follows, as EventSource does: at most five, to any http(s)
    URL. The GET carries no credential of ours (the ticket is in the URL); on the way to another
    origin the user's client's own ``Authorization``, cookies and auth are dropped too."""

    def __init__(
        self, http: httpx.Client | httpx.AsyncClient, url: str, *, computer_id: str, idle: float | None
    ) -> None:
        self.http = http
        self.computer_id = computer_id
        self.idle = idle
        self.origin = origin_of(url)
        self.timeout = httpx.Timeout(10.0, read=idle)
        self.count = 0
        self.auth: Any = httpx.USE_CLIENT_DEFAULT
        self.request = self._build(url)

    def _build(self, url: str | httpx.URL) -> httpx.Request:
        request = self.http.build_request("GET", url, headers=_HEADERS, timeout=self.timeout)
        if origin_of(url) != self.origin:
            request.headers.pop("authorization", None)
            request.headers.pop("cookie", None)
            self.auth = None
        else:
            self.auth = httpx.USE_CLIENT_DEFAULT
        return request

    def follow(self, response: httpx.Response) -> httpx.Request | None:
        """The next request after ``response``, or None when ``response`` is the answer."""
        url = self._location(response)
        if url is None or self.count == MAX_REDIRECTS:
            return None
        self.count += 1
        self.request = self._build(url)
        return self.request

    def _location(self, response: httpx.Response) -> httpx.URL | None:
        location = response.headers.get("location")
        if response.status_code not in _REDIRECTS or location is None:
            return None
        try:
            url = response.url.join(location)
        except httpx.InvalidURL:
            return None
        return url if url.scheme in _DEFAULT_PORTS else None

    def unread(self, why: str) -> str:
        return _UNREAD.format(self.computer_id) + why

    def failed(self, exc: httpx.TransportError) -> APIConnectionError:
        if isinstance(exc, httpx.ReadTimeout) and self.idle is not None:
            why = f"the events URL sent no answer within {self.idle:g} s."
        else:
            why = f"the events URL failed ({_describe(exc)})."
        return APIConnectionError(self.unread(why), started=True)

    def refusal(self, response: httpx.Response) -> str | None:
        """Why ``response`` is not an event stream this client can read, or None if it is one."""
        if response.status_code in _REDIRECTS:
            if self._location(response) is not None:
                return self.unread(f"the events URL redirected more than {MAX_REDIRECTS} times.")
            where = cut(response.headers.get("location", ""), 100)
            return self.unread(f"the events URL redirected to {where!r}, which is not an http URL.")
        ctype = response.headers.get("content-type", "")
        encodings = {e.strip().lower() for e in response.headers.get("content-encoding", "").split(",")}
        encodings -= {"", "identity"}
        if response.status_code != 200 or ctype.partition(";")[0].strip().lower() != "text/event-stream":
            got = f"HTTP {response.status_code}, {cut(ctype, 100) or 'no content type'!r}"
            return self.unread(f"expected an event stream from the events URL, got {got}.")
        if not encodings <= _DECODED:
            return self.unread(
                f"the events URL answered in the {', '.join(sorted(encodings))!r} encoding, which the "
                "client does not decode (it asked for identity)."
            )
        return None

    def error(self, response: httpx.Response, body: bytes, why: str) -> MiosaError:
        if response.status_code >= 400:
            return error_from_response(response, ticket=True, body=body)
        return StreamError(why)


def open_events(http: httpx.Client, url: str, *, computer_id: str, idle: float | None) -> httpx.Response:
    """Send the events GET (following redirects as EventSource does); return the streaming answer."""
    hops = _Hops(http, url, computer_id=computer_id, idle=idle)
    request: httpx.Request | None = hops.request
    while request is not None:
        try:
            response = http.send(request, stream=True, follow_redirects=False, auth=hops.auth)
        except httpx.TransportError as exc:
            raise hops.failed(exc) from None
        except KeyboardInterrupt:
            # The command is running but its ticket may be unredeemed (it would run until the
            # ticket expires): redeem it and hang up at once, so the computer ends it now.
            _hang_up(http, request)
            raise
        if (request := hops.follow(response)) is not None:
            response.close()
    why = hops.refusal(response)
    if why is not None:
        raise hops.error(response, read_bounded(response), why)
    return response


async def aopen_events(
    http: httpx.AsyncClient, url: str, *, computer_id: str, idle: float | None
) -> httpx.Response:
    """The async twin of ``open_events``."""
    hops = _Hops(http, url, computer_id=computer_id, idle=idle)
    request: httpx.Request | None = hops.request
    while request is not None:
        try:
            response = await http.send(request, stream=True, follow_redirects=False, auth=hops.auth)
        except httpx.TransportError as exc:
            raise hops.failed(exc) from None
        if (request := hops.follow(response)) is not None:
            await response.aclose()
    why = hops.refusal(response)
    if why is not None:
        raise hops.error(response, await aread_bounded(response), why)
    return response


def read_bounded(response: httpx.Response, limit: int = ERROR_BODY_LIMIT) -> bytes:
    """At most ``limit`` decoded bytes of a streamed response's body (then closed): what came
    before the body ended, reached the limit, or the connection failed."""
    body = BoundedBody(response, limit)
    try:
        if body.readable:
            for raw in response.iter_raw():
                if body.feed(raw):
                    break
    except httpx.TransportError:
        pass
    finally:
        response.close()
    return bytes(body.data)


async def aread_bounded(response: httpx.Response, limit: int = ERROR_BODY_LIMIT) -> bytes:
    """The async twin of ``read_bounded``."""
    body = BoundedBody(response, limit)
    try:
        if body.readable:
            async for raw in response.aiter_raw():
                if body.feed(raw):
                    break
    except httpx.TransportError:
        pass
    finally:
        await response.aclose()
    return bytes(body.data)


def _hang_up(http: httpx.Client, request: httpx.Request) -> None:
    with (
        contextlib.suppress(Exception),
        http.stream("GET", request.url, headers=request.headers, timeout=2.0),
    ):
        pass


def _describe(exc: Exception) -> str:
    return type(exc).__name__ + (f": {exc}" if str(exc) else "")


# -- reading ------------------------------------------------------------------------------------


class _Reading:
    """What both streams share: the errors a failed read becomes."""

    computer_id: str
    idle_timeout: float | None

    def _error(self, exc: Exception) -> StreamError:
        if isinstance(exc, httpx.ReadTimeout) and self.idle_timeout is not None:
            return StreamError(_SILENT.format(self.idle_timeout, self.computer_id))
        return StreamError(_DROPPED.format(_describe(exc), self.computer_id))


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
