"""``Miosa`` and ``AsyncMiosa``: thin clients for the Miosa exec API over an injectable httpx client.

Configuration comes from arguments, else ``MIOSA_API_KEY``, ``MIOSA_BASE_URL`` and ``MIOSA_TENANT``.
``Miosa.local()`` binds a client to the embedded local computer instead (no account needed).
"""

from __future__ import annotations

import json
import os
from importlib import metadata as _metadata
from typing import Any, TypeVar

import httpx

from ._errors import (
    ERROR_BODY_LIMIT,
    APIConnectionError,
    APIStatusError,
    MiosaError,
    cut,
    error_from_response,
)
from ._events_get import aread_bounded, read_bounded
from ._resources import AsyncComputers, AsyncExec, Computers, Exec, idle_seconds

__all__ = ["DEFAULT_BASE_URL", "AsyncMiosa", "Miosa", "connect"]

try:
    __version__ = _metadata.version("miosa-jupyter")  # one source: pyproject.toml
except _metadata.PackageNotFoundError:  # run from a source tree that was never installed
    __version__ = "0+unknown"
DEFAULT_BASE_URL = "https://api.miosa.ai/api/v1"
# Bounded connect, generous read for ordinary calls; the event stream reads with the idle timeout.
DEFAULT_TIMEOUT = httpx.Timeout(60.0, connect=10.0)
# The servers send a heartbeat at least every 15 s: four missed ones mean the stream is gone.
DEFAULT_IDLE_TIMEOUT = 60.0
# Failures before any byte of the request was sent: only then is it certain nothing was started.
_NOT_SENT = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.PoolTimeout,
    httpx.ProxyError,
    httpx.UnsupportedProtocol,
    httpx.LocalProtocolError,
)


def _settings(
    api_key: str | None, base_url: str | None, tenant: str | None
) -> tuple[str, str, dict[str, str]]:
    api_key = api_key or os.environ.get("MIOSA_API_KEY")
    if not api_key:
        raise MiosaError(
            "No API key: set MIOSA_API_KEY or pass api_key=..., "
            "or use Miosa.local() for the embedded local computer."
        )
    base_url = (base_url or os.environ.get("MIOSA_BASE_URL") or DEFAULT_BASE_URL).rstrip("/")
    headers = {
        "Authorization": f"Bearer {api_key}",
        "Accept": "application/json",
        # Only what an error body's bounded reader decodes too (httpx would add br and zstd).
        "Accept-Encoding": "gzip, deflate",
        "User-Agent": f"miosa-jupyter/{__version__}",
    }
    tenant = tenant or os.environ.get("MIOSA_TENANT")
    if tenant:
        headers["X-MIOSA-Tenant"] = tenant
    return api_key, base_url, headers


_Client = TypeVar("_Client", bound="_Base")


class _Base:
    """What the twins share: settings, request building, and reading answers (not the I/O)."""

    base_url: str
    idle_timeout: float | None
    _headers: dict[str, str]
    _http: Any

    def __init__(
        self, api_key: str | None, base_url: str | None, tenant: str | None, idle_timeout: Any
    ) -> None:
        self._api_key, self.base_url, self._headers = _settings(api_key, base_url, tenant)
        self.idle_timeout = idle_seconds(idle_timeout)

    @classmethod
    def local(cls: type[_Client], **kwargs: Any) -> _Client:
        """A client bound to the embedded local computer (started on first use)."""
        from .local import local_server

        server = local_server()
        return cls(server.token, base_url=server.base_url, **kwargs)

    def _build(self, method: str, path: str, kwargs: dict[str, Any]) -> httpx.Request:
        request: httpx.Request = self._http.build_request(
            method, self.base_url + path, headers=self._headers, **kwargs
        )
        return request

    def _unanswered(self, exc: httpx.TransportError, starts: str | None) -> APIConnectionError:
        """Say what is known when no answer came: nothing was started only if nothing was sent."""
        what = type(exc).__name__ + (f": {exc}" if str(exc) else "")
        if isinstance(exc, _NOT_SENT):
            return APIConnectionError(
                f"Can't reach {self.base_url} ({what}). Check MIOSA_BASE_URL and your network"
                + ("; nothing was started." if starts else "."),
                started=False,
            )
        if starts:
            return APIConnectionError(
                f"The request was sent to {self.base_url} but no answer came ({what}): the command "
                f"may have started on {starts}. It is not retried: a second request would run it twice.",
                started=None,
            )
        return APIConnectionError(f"No answer from {self.base_url} ({what}).", started=None)

    def _answer(
        self,
        request: httpx.Request,
        response: httpx.Response,
        body: bytes | None,
        *,
        starts: str | None,
        expect: type | tuple[type, ...],
        limit: int | None,
    ) -> Any:
        """The JSON an answer holds, or the error it is."""
        status = response.status_code
        if status >= 400:
            return error_from_response(response, body=body)
        what = f"{request.method} {request.url.path}"
        if not 200 <= status < 300:
            location = cut(response.headers.get("location", ""), 200)
            return APIStatusError(
                f"The server answered {what} with a redirect"
                + (f" to {location!r}" if location else "")
                + ", which is not followed: API calls carry the API key, and a repeated POST would run "
                "a command twice. Set MIOSA_BASE_URL to the address that answers.",
                status_code=status,
                request_id=response.headers.get("x-request-id"),
            )
        try:
            value = json.loads(body) if body is not None else None
        except (ValueError, RecursionError):
            value = None
        if isinstance(value, expect):
            return value
        kind = "object" if expect is dict else "object or list"
        note = f" The command may have started on {starts}." if starts else ""
        if body is None:
            shown = "a body that could not be decoded"
        elif limit is not None and len(body) >= limit:
            shown = f"a body larger than {limit // 1024} KiB"
        else:
            shown = repr(cut(body.decode("utf-8", errors="replace"), 100)) if body else "an empty body"
        return APIStatusError(
            f"The answer to {what} is not the JSON {kind} the API defines: {shown}.{note}",
            status_code=status,
            request_id=response.headers.get("x-request-id"),
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.base_url!r})"


class Miosa(_Base):
    """Synchronous client.

    Parameters
    ----------
    api_key, base_url, tenant
        Default to ``MIOSA_API_KEY``, ``MIOSA_BASE_URL`` (else the Miosa cloud) and ``MIOSA_TENANT``.
    timeout
        For ordinary calls (``httpx.Timeout`` or seconds); a waiting ``exec.run`` allows its own
        timeout plus a margin.
    idle_timeout
        Seconds an event stream may stay silent (no event, no heartbeat) before it counts as
        dropped and raises ``StreamError``; None waits forever. The servers send a heartbeat at
        least every 15 s, so the default of 60 s only ends streams that are gone.
        ``exec.stream(..., idle_timeout=...)`` overrides it for one stream.
    http_client
        An ``httpx.Client`` to use (proxies, custom transports); headers are added per request.

    Calls that start a command are never retried, and never redirected: a second POST would run it
    twice. An error names what is known: whether the command was started.
    """

    def __init__(
        self,
        api_key: str | None = None,
        *,
        base_url: str | None = None,
        tenant: str | None = None,
        timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
        idle_timeout: float | None = DEFAULT_IDLE_TIMEOUT,
        http_client: httpx.Client | None = None,
    ) -> None:
        super().__init__(api_key, base_url, tenant, idle_timeout)
        self._owns_http = http_client is None
        self._http = http_client or httpx.Client(timeout=timeout)
        self.exec = Exec(self)
        self.computers = Computers(self)

    def _request(
        self,
        method: str,
        path: str,
        *,
        starts: str | None = None,
        expect: type | tuple[type, ...] = dict,
        limit: int | None = None,
        **kwargs: Any,
    ) -> Any:
        """Send one API call; return its JSON. ``starts`` names the computer when the call starts a
        command (errors then say whether it may have started); ``limit`` bounds a success body."""
        request = self._build(method, path, kwargs)
        body: bytes | None
        try:
            response = self._http.send(request, stream=True, follow_redirects=False)
            if response.is_success and limit is None:
                try:
                    body = response.read()
                except httpx.DecodingError:
                    body = None
                finally:
                    response.close()
            else:
                body = read_bounded(response, limit or ERROR_BODY_LIMIT)
        except httpx.TransportError as exc:
            raise self._unanswered(exc, starts) from None
        answer = self._answer(request, response, body, starts=starts, expect=expect, limit=limit)
        if isinstance(answer, MiosaError):
            raise answer
        return answer

    def close(self) -> None:
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> Miosa:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncMiosa(_Base):
    """Asynchronous client, the twin of ``Miosa`` (same parameters):
    ``async for event in client.exec.stream(...)``."""

    def __init__(
        self,
        api_key: str | None = None,
        *,
        base_url: str | None = None,
        tenant: str | None = None,
        timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
        idle_timeout: float | None = DEFAULT_IDLE_TIMEOUT,
        http_client: httpx.AsyncClient | None = None,
    ) -> None:
        super().__init__(api_key, base_url, tenant, idle_timeout)
        self._owns_http = http_client is None
        self._http = http_client or httpx.AsyncClient(timeout=timeout)
        self.exec = AsyncExec(self)
        self.computers = AsyncComputers(self)

    async def _request(
        self,
        method: str,
        path: str,
        *,
        starts: str | None = None,
        expect: type | tuple[type, ...] = dict,
        limit: int | None = None,
        **kwargs: Any,
    ) -> Any:
        request = self._build(method, path, kwargs)
        body: bytes | None
        try:
            response = await self._http.send(request, stream=True, follow_redirects=False)
            if response.is_success and limit is None:
                try:
                    body = await response.aread()
                except httpx.DecodingError:
                    body = None
                finally:
                    await response.aclose()
            else:
                body = await aread_bounded(response, limit or ERROR_BODY_LIMIT)
        except httpx.TransportError as exc:
            raise self._unanswered(exc, starts) from None
        answer = self._answer(request, response, body, starts=starts, expect=expect, limit=limit)
        if isinstance(answer, MiosaError):
            raise answer
        return answer

    async def aclose(self) -> None:
        if self._owns_http:
            await self._http.aclose()

    async def __aenter__(self) -> AsyncMiosa:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


def connect() -> tuple[Miosa, str, bool]:
    """The client a notebook should use: the cloud when ``MIOSA_API_KEY`` is set, else the embedded
    local computer (started once per process).

    Returns ``(client, default computer id, is_local)``; the computer id comes from
    ``MIOSA_COMPUTER_ID`` for the cloud (may be empty) and is ``local`` for the local computer.
    """
    global _connected
    if os.environ.get("MIOSA_API_KEY"):
        key = ("cloud", os.environ["MIOSA_API_KEY"], os.environ.get("MIOSA_BASE_URL"))
        if _connected is None or _connected[0] != key:
            _connected = (key, Miosa())
        return _connected[1], os.environ.get("MIOSA_COMPUTER_ID", ""), False
    from .local import local_server

    server = local_server()
    key = ("local", server.token, server.base_url)
    if _connected is None or _connected[0] != key:
        _connected = (key, Miosa(server.token, base_url=server.base_url))
    return _connected[1], server.computer_id, True


_connected: tuple[tuple[str, str, str | None], Miosa] | None = None
