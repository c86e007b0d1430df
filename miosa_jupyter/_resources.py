"""``client.exec`` and ``client.computers``: the calls, shaped like the API page's recipes."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urljoin

import httpx

from ._errors import ERROR_BODY_LIMIT, MiosaError, cut
from ._events_get import aopen_events, open_events, origin_of
from ._models import ExecResult
from ._stream import AsyncExecStream, ExecStream

if TYPE_CHECKING:
    from ._client import AsyncMiosa, Miosa

__all__ = ["AsyncComputers", "AsyncExec", "Computers", "Exec"]


class _ClientDefault:
    def __repr__(self) -> str:
        return "<the client's>"


CLIENT_DEFAULT: Any = _ClientDefault()  # an idle_timeout not given: the client's (None means none)


def _path(computer_id: str, tail: str = "") -> str:
    return f"/computers/{quote(str(computer_id), safe='')}{tail}"


def _body(command: str, timeout: int | None, shell: str | None) -> dict[str, Any]:
    body: dict[str, Any] = {"command": command}
    if timeout is not None:
        body["timeout"] = timeout
    if shell is not None:
        body["shell"] = shell
    return body


def _events_url(base_url: str, computer_id: str, answer: dict[str, Any]) -> str:
    """The events URL of a ticket answer.

    ``stream_url`` is origin-relative and already holds ``/api/v1``: resolve it with urljoin, never by
    concatenation. It must stay on the base URL's origin: the ticket in it is a credential.
    """
    ticket, url = answer.get("ticket"), answer.get("stream_url")
    if isinstance(url, str) and url:
        url = urljoin(base_url + "/", url)
        if origin_of(url) != origin_of(base_url):
            raise MiosaError(
                f"The server's stream_url {cut(url, 100)!r} is on another origin than the base URL "
                f"{base_url!r}; it is not followed (the ticket in it is a credential). The command was "
                f"started on {computer_id} and may still be running; its output could not be read."
            )
        return url
    if url in (None, "") and isinstance(ticket, str) and ticket:
        return f"{base_url}{_path(computer_id, '/exec/stream/events')}?ticket={quote(ticket, safe='')}"
    raise MiosaError(
        f"The server's answer to the POST has no usable ticket or stream_url "
        f"(keys: {cut(', '.join(map(str, answer)), 100) or 'none'}). The command may have started on "
        f"{computer_id}, but without one its output can't be read."
    )


def idle_seconds(value: Any) -> float | None:
    """Check an ``idle_timeout``: seconds > 0, or None for no limit."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise ValueError(f"idle_timeout must be a number of seconds > 0, or None; got {value!r}")
    return float(value)


def _idle(client: Miosa | AsyncMiosa, idle_timeout: Any) -> float | None:
    return client.idle_timeout if idle_timeout is CLIENT_DEFAULT else idle_seconds(idle_timeout)


# -- the calls: built once here, sent by the sync and the async twins (``client._request(*call)``) --

Call = tuple[str, str, dict[str, Any]]  # method, path, and the keyword arguments of _request


def _stream_call(computer_id: str, command: str, timeout: int | None, shell: str | None) -> Call:
    body = _body(command, timeout, shell)
    return (
        "POST",
        _path(computer_id, "/exec/stream"),
        {"json": body, "starts": computer_id, "limit": ERROR_BODY_LIMIT},
    )


def _run_call(computer_id: str, command: str, timeout: int | None, shell: str | None) -> Call:
    body = _body(command, timeout, shell)
    return (
        "POST",
        _path(computer_id, "/exec"),
        {"json": body, "timeout": _wait(timeout), "starts": computer_id},
    )


def _python_call(computer_id: str, code: str, timeout: int | None) -> Call:
    body: dict[str, Any] = {"code": code}
    if timeout is not None:
        body["timeout"] = timeout
    return (
        "POST",
        _path(computer_id, "/exec/python"),
        {"json": body, "timeout": _wait(timeout), "starts": computer_id},
    )


def _computers_call(action: str, computer_id: str | None = None) -> Call:
    if computer_id is None:  # the list
        return "GET", "/computers", {"expect": (dict, list)}
    if action == "get":
        return "GET", _path(computer_id), {}
    return "POST", _path(computer_id, f"/{action}"), {}


class Exec:
    """Run commands: ``stream()`` delivers output live, ``run()``/``python()`` wait for the end."""

    def __init__(self, client: Miosa) -> None:
        self._client = client

    def stream(
        self,
        computer_id: str,
        *,
        command: str,
        timeout: int | None = None,
        shell: str | None = None,
        idle_timeout: float | None = CLIENT_DEFAULT,
    ) -> ExecStream:
        """Start ``command`` and connect to its event stream.

        The command starts on this call (never retried: a second POST would run it twice). Iterate
        the result for ``Event``s; the stream ends after ``exit``, ``timeout`` or ``error``.
        ``idle_timeout`` overrides the client's for this stream (None: wait forever).
        """
        c = self._client
        idle = _idle(c, idle_timeout)
        method, path, options = _stream_call(computer_id, command, timeout, shell)
        answer = c._request(method, path, **options)
        url = _events_url(c.base_url, computer_id, answer)
        response = open_events(c._http, url, computer_id=computer_id, idle=idle)

        def reopen(last_event_id: str) -> httpx.Response:
            return open_events(c._http, url, computer_id=computer_id, idle=idle, last_event_id=last_event_id)

        return ExecStream(
            response, computer_id=computer_id, command=command, idle_timeout=idle, reopen=reopen
        )

    def run(
        self, computer_id: str, *, command: str, timeout: int | None = None, shell: str | None = None
    ) -> ExecResult:
        """Run ``command`` and wait for it (``POST /exec``)."""
        method, path, options = _run_call(computer_id, command, timeout, shell)
        return ExecResult.from_api(self._client._request(method, path, **options))

    def python(self, computer_id: str, *, code: str, timeout: int | None = None) -> ExecResult:
        """Run Python ``code`` on the computer and wait for it (``POST /exec/python``)."""
        method, path, options = _python_call(computer_id, code, timeout)
        return ExecResult.from_api(self._client._request(method, path, **options))


class AsyncExec:
    """The async twin of ``Exec``."""

    def __init__(self, client: AsyncMiosa) -> None:
        self._client = client

    def stream(
        self,
        computer_id: str,
        *,
        command: str,
        timeout: int | None = None,
        shell: str | None = None,
        idle_timeout: float | None = CLIENT_DEFAULT,
    ) -> AsyncExecStream:
        """Start ``command`` on first use: ``async for event in client.exec.stream(...)``."""
        c = self._client
        idle = _idle(c, idle_timeout)

        urls: list[str] = []

        async def connect() -> httpx.Response:
            method, path, options = _stream_call(computer_id, command, timeout, shell)
            answer = await c._request(method, path, **options)
            urls.append(_events_url(c.base_url, computer_id, answer))
            return await aopen_events(c._http, urls[0], computer_id=computer_id, idle=idle)

        async def reopen(last_event_id: str) -> httpx.Response:
            return await aopen_events(
                c._http, urls[0], computer_id=computer_id, idle=idle, last_event_id=last_event_id
            )

        return AsyncExecStream(
            connect, computer_id=computer_id, command=command, idle_timeout=idle, reopen=reopen
        )

    async def run(
        self, computer_id: str, *, command: str, timeout: int | None = None, shell: str | None = None
    ) -> ExecResult:
        method, path, options = _run_call(computer_id, command, timeout, shell)
        return ExecResult.from_api(await self._client._request(method, path, **options))

    async def python(self, computer_id: str, *, code: str, timeout: int | None = None) -> ExecResult:
        method, path, options = _python_call(computer_id, code, timeout)
        return ExecResult.from_api(await self._client._request(method, path, **options))


def _wait(timeout: int | None) -> httpx.Timeout:
    # A waiting exec answers only when the command ends: allow its timeout plus a margin.
    return httpx.Timeout(10.0, read=(timeout if isinstance(timeout, int | float) else 300) + 30)


class Computers:
    """List and look up computers; start or stop one."""

    def __init__(self, client: Miosa) -> None:
        self._client = client

    def _send(self, call: Call) -> dict[str, Any]:
        method, path, options = call
        answer: dict[str, Any] = self._client._request(method, path, **options)  # (checked: expect=dict)
        return answer

    def list(self) -> list[dict[str, Any]]:
        return _items(self._send(_computers_call("list")))

    def get(self, computer_id: str) -> dict[str, Any]:
        return self._send(_computers_call("get", computer_id))

    def start(self, computer_id: str) -> dict[str, Any]:
        return self._send(_computers_call("start", computer_id))

    def stop(self, computer_id: str) -> dict[str, Any]:
        return self._send(_computers_call("stop", computer_id))


class AsyncComputers:
    """The async twin of ``Computers``."""

    def __init__(self, client: AsyncMiosa) -> None:
        self._client = client

    async def _send(self, call: Call) -> dict[str, Any]:
        method, path, options = call
        answer: dict[str, Any] = await self._client._request(method, path, **options)  # (expect=dict)
        return answer

    async def list(self) -> list[dict[str, Any]]:
        return _items(await self._send(_computers_call("list")))

    async def get(self, computer_id: str) -> dict[str, Any]:
        return await self._send(_computers_call("get", computer_id))

    async def start(self, computer_id: str) -> dict[str, Any]:
        return await self._send(_computers_call("start", computer_id))

    async def stop(self, computer_id: str) -> dict[str, Any]:
        return await self._send(_computers_call("stop", computer_id))


def _items(body: dict[str, Any] | list[Any]) -> list[dict[str, Any]]:
    # The list's envelope varies between API versions: {data: [...]}, {computers: [...]}, or a bare list.
    if isinstance(body, list):
        return body
    items = body.get("data") or body.get("computers") or []
    return items if isinstance(items, list) else []
