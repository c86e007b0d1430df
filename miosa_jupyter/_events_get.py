"""Opening a command's event stream: the events GET, as a browser's EventSource opens it.

Redirects are followed (at most ``MAX_REDIRECTS``, credentials dropped on the way to another
origin), the body is asked for as it is (``Accept-Encoding: identity``; a server that compresses
anyway is decoded), and an answer that is not a stream becomes a ``MiosaError`` whose message says
what is known: the POST has started the command by now. Error bodies are read bounded (a gzip bomb
never inflates past the cap).
"""

from __future__ import annotations

import contextlib
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

__all__ = [
    "MAX_REDIRECTS",
    "aopen_events",
    "aread_bounded",
    "describe",
    "open_events",
    "origin_of",
    "read_bounded",
]

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
        self,
        http: httpx.Client | httpx.AsyncClient,
        url: str,
        *,
        computer_id: str,
        idle: float | None,
        last_event_id: str | None = None,
    ) -> None:
        self.http = http
        # A reconnection says where it resumes, on every hop, as EventSource does.
        self.headers = _HEADERS if last_event_id is None else {**_HEADERS, "Last-Event-ID": last_event_id}
        self.computer_id = computer_id
        self.idle = idle
        self.origin = origin_of(url)
        self.timeout = httpx.Timeout(10.0, read=idle)
        self.count = 0
        self.auth: Any = httpx.USE_CLIENT_DEFAULT
        self.request = self._build(url)

    def _build(self, url: str | httpx.URL) -> httpx.Request:
        request = self.http.build_request("GET", url, headers=self.headers, timeout=self.timeout)
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
            why = f"the events URL failed ({describe(exc)})."
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


def open_events(
    http: httpx.Client, url: str, *, computer_id: str, idle: float | None, last_event_id: str | None = None
) -> httpx.Response:
    """Send the events GET (following redirects as EventSource does); return the streaming answer.

    ``last_event_id`` reconnects: the server resumes after that event (``Last-Event-ID``)."""
    hops = _Hops(http, url, computer_id=computer_id, idle=idle, last_event_id=last_event_id)
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
    http: httpx.AsyncClient,
    url: str,
    *,
    computer_id: str,
    idle: float | None,
    last_event_id: str | None = None,
) -> httpx.Response:
    """The async twin of ``open_events``."""
    hops = _Hops(http, url, computer_id=computer_id, idle=idle, last_event_id=last_event_id)
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


def describe(exc: Exception) -> str:
    return type(exc).__name__ + (f": {exc}" if str(exc) else "")
