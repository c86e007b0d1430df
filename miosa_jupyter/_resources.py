"""``client.exec`` and ``client.computers``: the calls, shaped like the API page's recipes."""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urljoin

import httpx

from ._models import ExecResult
from ._stream import AsyncExecStream, ExecStream, check_events_response

if TYPE_CHECKING:
    from ._client import AsyncMiosa, Miosa

__all__ = ["AsyncComputers", "AsyncExec", "Computers", "Exec"]

# The event stream may be quiet for minutes (a long compile): no read timeout, bounded connect.
STREAM_TIMEOUT = httpx.Timeout(10.0, read=None)


def _path(computer_id: str, tail: str = "") -> str:
    return f"/computers/{quote(str(computer_id), safe='')}{tail}"


def _body(command: str, timeout: int | None, shell: str | None) -> dict[str, Any]:
    body: dict[str, Any] = {"command": command}
    if timeout is not None:
        body["timeout"] = timeout
    if shell is not None:
        body["shell"] = shell
    return body


def _events_request(
    http: httpx.Client | httpx.AsyncClient, base_url: str, computer_id: str, answer: dict[str, Any]
) -> httpx.Request:
    """Build the GET for the events URL.

    ``stream_url`` is origin-relative and already holds ``/api/v1``: resolve it with urljoin, never by
    concatenation. The ticket is the credential, so the API key is not sent there.
    """
    ticket = answer.get("ticket", "")
    url = answer.get("stream_url")
    if url:
        url = urljoin(base_url + "/", url)
    else:
        url = f"{base_url}{_path(computer_id, '/exec/stream/events')}?ticket={quote(ticket, safe='')}"
    return http.build_request(
        "GET",
        url,
        headers={"Accept": "text/event-stream", "Cache-Control": "no-store"},
        timeout=STREAM_TIMEOUT,
    )


class Exec:
    """Run commands: ``stream()`` delivers output live, ``run()``/``python()`` wait for the end."""

    def __init__(self, client: Miosa) -> None:
        self._client = client

    def stream(
        self, computer_id: str, *, command: str, timeout: int | None = None, shell: str | None = None
    ) -> ExecStream:
        """Start ``command`` and connect to its event stream.

        The command starts on this call (never retried: a second POST would run it twice). Iterate
        the result for ``Event``s; the stream ends after ``exit``, ``timeout`` or ``error``.
        """
        c = self._client
        answer = c._request("POST", _path(computer_id, "/exec/stream"), json=_body(command, timeout, shell))
        request = _events_request(c._http, c.base_url, computer_id, answer.json())
        try:
            response = c._http.send(request, stream=True)
        except httpx.TransportError as exc:
            raise c._connection_error(exc) from None
        except KeyboardInterrupt:
            # The command is running but its ticket may be unredeemed (it would run until the
            # ticket expires): redeem it and hang up at once, so the computer ends it now.
            _hang_up(c._http, request)
            raise
        if response.status_code >= 400 or "text/event-stream" not in response.headers.get("content-type", ""):
            response.read()
            response.close()
            check_events_response(response)
        return ExecStream(response, computer_id=computer_id, command=command)

    def run(
        self, computer_id: str, *, command: str, timeout: int | None = None, shell: str | None = None
    ) -> ExecResult:
        """Run ``command`` and wait for it (``POST /exec``)."""
        c = self._client
        answer = c._request(
            "POST", _path(computer_id, "/exec"), json=_body(command, timeout, shell), timeout=_wait(timeout)
        )
        return ExecResult.from_api(answer.json())

    def python(self, computer_id: str, *, code: str, timeout: int | None = None) -> ExecResult:
        """Run Python ``code`` on the computer and wait for it (``POST /exec/python``)."""
        body: dict[str, Any] = {"code": code}
        if timeout is not None:
            body["timeout"] = timeout
        answer = self._client._request(
            "POST", _path(computer_id, "/exec/python"), json=body, timeout=_wait(timeout)
        )
        return ExecResult.from_api(answer.json())


class AsyncExec:
    """The async twin of ``Exec``."""

    def __init__(self, client: AsyncMiosa) -> None:
        self._client = client

    def stream(
        self, computer_id: str, *, command: str, timeout: int | None = None, shell: str | None = None
    ) -> AsyncExecStream:
        """Start ``command`` on first use: ``async for event in client.exec.stream(...)``."""
        c = self._client

        async def connect() -> httpx.Response:
            answer = await c._request(
                "POST", _path(computer_id, "/exec/stream"), json=_body(command, timeout, shell)
            )
            request = _events_request(c._http, c.base_url, computer_id, answer.json())
            try:
                response = await c._http.send(request, stream=True)
            except httpx.TransportError as exc:
                raise c._connection_error(exc) from None
            if response.status_code >= 400 or "text/event-stream" not in response.headers.get(
                "content-type", ""
            ):
                await response.aread()
                await response.aclose()
                check_events_response(response)
            return response

        return AsyncExecStream(connect, computer_id=computer_id, command=command)

    async def run(
        self, computer_id: str, *, command: str, timeout: int | None = None, shell: str | None = None
    ) -> ExecResult:
        answer = await self._client._request(
            "POST", _path(computer_id, "/exec"), json=_body(command, timeout, shell), timeout=_wait(timeout)
        )
        return ExecResult.from_api(answer.json())

    async def python(self, computer_id: str, *, code: str, timeout: int | None = None) -> ExecResult:
        body: dict[str, Any] = {"code": code}
        if timeout is not None:
            body["timeout"] = timeout
        answer = await self._client._request(
            "POST", _path(computer_id, "/exec/python"), json=body, timeout=_wait(timeout)
        )
        return ExecResult.from_api(answer.json())


def _hang_up(http: httpx.Client, request: httpx.Request) -> None:
    with (
        contextlib.suppress(Exception),
        http.stream("GET", request.url, headers=request.headers, timeout=2.0),
    ):
        pass


def _wait(timeout: int | None) -> httpx.Timeout:
    # A waiting exec answers only when the command ends: allow its timeout plus a margin.
    return httpx.Timeout(10.0, read=(timeout if isinstance(timeout, int | float) else 300) + 30)


class Computers:
    """List and look up computers; start or stop one."""

    def __init__(self, client: Miosa) -> None:
        self._client = client

    def list(self) -> list[dict[str, Any]]:
        body = self._client._request("GET", "/computers").json()
        return _items(body)

    def get(self, computer_id: str) -> dict[str, Any]:
        return self._client._request("GET", _path(computer_id)).json()

    def start(self, computer_id: str) -> dict[str, Any]:
        return self._client._request("POST", _path(computer_id, "/start")).json()

    def stop(self, computer_id: str) -> dict[str, Any]:
        return self._client._request("POST", _path(computer_id, "/stop")).json()


class AsyncComputers:
    """The async twin of ``Computers``."""

    def __init__(self, client: AsyncMiosa) -> None:
        self._client = client

    async def list(self) -> list[dict[str, Any]]:
        return _items((await self._client._request("GET", "/computers")).json())

    async def get(self, computer_id: str) -> dict[str, Any]:
        return (await self._client._request("GET", _path(computer_id))).json()

    async def start(self, computer_id: str) -> dict[str, Any]:
        return (await self._client._request("POST", _path(computer_id, "/start"))).json()

    async def stop(self, computer_id: str) -> dict[str, Any]:
        return (await self._client._request("POST", _path(computer_id, "/stop"))).json()


def _items(body: Any) -> list[dict[str, Any]]:
    # The list's envelope varies between API versions: {data: [...]}, {computers: [...]}, or a bare list.
    if isinstance(body, list):
        return body
    return body.get("data") or body.get("computers") or []
