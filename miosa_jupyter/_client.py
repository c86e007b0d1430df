"""``Miosa`` and ``AsyncMiosa``: thin clients for the Miosa exec API over an injectable httpx client.

Configuration comes from arguments, else ``MIOSA_API_KEY``, ``MIOSA_BASE_URL`` and ``MIOSA_TENANT``.
``Miosa.local()`` binds a client to the embedded local computer instead (no account needed).
"""

from __future__ import annotations

import os
from typing import Any

import httpx

from ._errors import APIConnectionError, MiosaError, error_from_response
from ._resources import AsyncComputers, AsyncExec, Computers, Exec

__all__ = ["DEFAULT_BASE_URL", "AsyncMiosa", "Miosa", "connect"]

__version__ = "0.1.0"
DEFAULT_BASE_URL = "https://api.miosa.ai/api/v1"
# Bounded connect, generous read for ordinary calls; the event stream overrides read to None.
DEFAULT_TIMEOUT = httpx.Timeout(60.0, connect=10.0)


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
        "User-Agent": f"miosa-jupyter/{__version__}",
    }
    tenant = tenant or os.environ.get("MIOSA_TENANT")
    if tenant:
        headers["X-MIOSA-Tenant"] = tenant
    return api_key, base_url, headers


class _Base:
    base_url: str
    _http: Any

    def _raise_for(self, response: httpx.Response) -> None:
        if response.status_code >= 400:
            raise error_from_response(response)

    def _connection_error(self, exc: httpx.TransportError) -> APIConnectionError:
        return APIConnectionError(
            f"Can't reach {self.base_url} ({type(exc).__name__}: {exc}). "
            "Check MIOSA_BASE_URL and your network; nothing was started."
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.base_url!r})"


class Miosa(_Base):
    """Synchronous client.

    Parameters
    ----------
    api_key, base_url, tenant
        Default to ``MIOSA_API_KEY``, ``MIOSA_BASE_URL`` (else the Miosa cloud) and ``MIOSA_TENANT``.
    http_client
        An ``httpx.Client`` to use (proxies, custom transports); headers are added per request.

    Calls that start a command are never retried: a second POST would run it twice.
    """

    def __init__(
        self,
        api_key: str | None = None,
        *,
        base_url: str | None = None,
        tenant: str | None = None,
        timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
        http_client: httpx.Client | None = None,
    ) -> None:
        self._api_key, self.base_url, self._headers = _settings(api_key, base_url, tenant)
        self._owns_http = http_client is None
        self._http = http_client or httpx.Client(timeout=timeout)
        self.exec = Exec(self)
        self.computers = Computers(self)

    @classmethod
    def local(cls, **kwargs: Any) -> Miosa:
        """A client bound to the embedded local computer (started on first use)."""
        from .local import local_server

        server = local_server()
        return cls(server.token, base_url=server.base_url, **kwargs)

    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self._http.request(method, self.base_url + path, headers=self._headers, **kwargs)
        except httpx.TransportError as exc:
            raise self._connection_error(exc) from None
        self._raise_for(response)
        return response

    def close(self) -> None:
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> Miosa:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncMiosa(_Base):
    """Asynchronous client, the twin of ``Miosa``: ``async for event in client.exec.stream(...)``."""

    def __init__(
        self,
        api_key: str | None = None,
        *,
        base_url: str | None = None,
        tenant: str | None = None,
        timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
        http_client: httpx.AsyncClient | None = None,
    ) -> None:
        self._api_key, self.base_url, self._headers = _settings(api_key, base_url, tenant)
        self._owns_http = http_client is None
        self._http = http_client or httpx.AsyncClient(timeout=timeout)
        self.exec = AsyncExec(self)
        self.computers = AsyncComputers(self)

    @classmethod
    def local(cls, **kwargs: Any) -> AsyncMiosa:
        """An async client bound to the embedded local computer (started on first use)."""
        from .local import local_server

        server = local_server()
        return cls(server.token, base_url=server.base_url, **kwargs)

    async def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = await self._http.request(method, self.base_url + path, headers=self._headers, **kwargs)
        except httpx.TransportError as exc:
            raise self._connection_error(exc) from None
        self._raise_for(response)
        return response

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
