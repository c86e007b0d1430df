"""The local computer's HTTP API: a Starlette app speaking the Miosa exec API on loopback."""

from __future__ import annotations

import hmac
import json
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from ._backend import Backend, Execution
from ._computer import ApiError, LocalComputer, LocalSettings
from ._guard import CORS, Guard, api_error, http_error, internal_error
from ._replay import Feed
from ._result import collect_unless_gone
from ._tickets import TicketRejected

__all__ = ["create_app"]

_API = "/api/v1"


def create_app(settings: LocalSettings | None = None, *, backend: Backend | None = None) -> Starlette:
    """Build the app; each call has its own computer, tickets and token (``app.state.computer``).

    ``backend`` runs the commands (``_backend.py``); by default each is a subprocess of this host.
    """
    settings = settings or LocalSettings()
    computer = LocalComputer(settings, backend)
    middleware = [Middleware(Guard, settings=settings)]
    if settings.cors_origin:
        # Lets a page from that origin open the events URL with a browser EventSource.
        middleware.append(
            Middleware(
                CORS,
                allow_origins=[settings.cors_origin],
                allow_methods=["GET", "POST"],
                allow_headers=["authorization", "content-type"],
            )
        )
    routes = [
        Route(f"{_API}/computers", list_computers),
        Route(f"{_API}/computers/{{id}}", get_computer),
        Route(f"{_API}/computers/{{id}}/start", start_computer, methods=["POST"]),
        Route(f"{_API}/computers/{{id}}/stop", stop_computer, methods=["POST"]),
        Route(f"{_API}/computers/{{id}}/exec/stream", exec_stream, methods=["POST"]),
        Route(f"{_API}/computers/{{id}}/exec/stream/events", exec_events),
        Route(f"{_API}/computers/{{id}}/exec", exec_run, methods=["POST"]),
        Route(f"{_API}/computers/{{id}}/exec/python", exec_python, methods=["POST"]),
    ]
    app = Starlette(
        routes=routes,
        middleware=middleware,
        exception_handlers={ApiError: api_error, HTTPException: http_error, Exception: internal_error},
    )
    app.state.computer = computer
    return app


# -- endpoints -------------------------------------------------------------------------------


async def list_computers(request: Request) -> Response:
    computer = _authorized(request)
    items = [computer.describe(cid) for cid in computer.status]
    # SDKs disagree on the envelope ({data, meta} vs {computers, total}); answer both.
    return JSONResponse({"data": items, "computers": items, "total": len(items)})


async def get_computer(request: Request) -> Response:
    computer = _authorized(request)
    cid = request.path_params["id"]
    computer.check(cid, running=False)
    return JSONResponse(computer.describe(cid))


async def start_computer(request: Request) -> Response:
    computer = _authorized(request)
    cid = request.path_params["id"]
    computer.check(cid, running=False)
    computer.status[cid] = "running"
    return JSONResponse({"success": True, **computer.describe(cid)})


async def stop_computer(request: Request) -> Response:
    computer = _authorized(request)
    cid = request.path_params["id"]
    computer.check(cid, running=False)
    computer.stop(cid)
    return JSONResponse({"success": True, **computer.describe(cid)})


async def exec_stream(request: Request) -> Response:
    """Start the command now and answer 202 with a ticket for its event stream."""
    computer = _authorized(request)
    cid = request.path_params["id"]
    computer.check(cid)
    command, timeout, shell = _exec_args(await _json_body(request), computer.settings)
    execution = await computer.start(command, timeout=timeout, shell=shell)
    ticket, expires_at = computer.tickets.issue(cid, execution)
    stream_url = f"{_API}/computers/{quote(cid, safe='')}/exec/stream/events?ticket={ticket}"
    return JSONResponse(
        {"ticket": ticket, "expires_at": int(expires_at), "stream_url": stream_url}, status_code=202
    )


async def exec_events(request: Request) -> Response:
    """The event stream. No bearer token: the ticket is the credential (EventSource can't send one)."""
    computer: LocalComputer = request.app.state.computer
    cid = request.path_params["id"]
    computer.check(cid, running=False)
    ticket = request.query_params.get("ticket")
    if not ticket:
        raise ApiError(401, "invalid_ticket", "Missing ?ticket=; POST .../exec/stream to get one.")
    resume = request.headers.get("last-event-id")
    try:
        execution = computer.tickets.redeem(ticket, cid)
    except TicketRejected as exc:
        if exc.code != "TICKET_USED" or resume is None:
            raise ApiError(exc.status, exc.code, exc.message) from None
        body = _resumed(computer, ticket, cid, resume)
    else:
        # A first connection starts at the first event (a Last-Event-ID here names nothing yet).
        execution.claimed.set()
        body = _feed(computer, ticket, execution).attach()
    return StreamingResponse(
        body,
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


async def exec_run(request: Request) -> Response:
    computer = _authorized(request)
    cid = request.path_params["id"]
    computer.check(cid)
    command, timeout, shell = _exec_args(await _json_body(request), computer.settings)
    return JSONResponse(await collect_unless_gone(request, computer, command, timeout, shell))


async def exec_python(request: Request) -> Response:
    computer = _authorized(request)
    cid = request.path_params["id"]
    computer.check(cid)
    body = await _json_body(request)
    code = body.get("code")
    if not isinstance(code, str) or not code.strip():
        raise ApiError(422, "VALIDATION_ERROR", "'code' is required: a non-empty string of Python.")
    command, shell = computer.backend.python(code)
    command, timeout, _ = _exec_args({**body, "command": command}, computer.settings)
    return JSONResponse(await collect_unless_gone(request, computer, command, timeout, shell))


# -- the event stream ------------------------------------------------------------------------


def _feed(computer: LocalComputer, ticket: str, execution: Execution) -> Feed:
    """The stream of a ticket just redeemed: resumable while its command lives, and a grace after."""
    s = computer.settings
    feed = Feed(
        execution,
        s.computer_id,
        replay_bytes=s.replay_bytes,
        grace=s.resume_grace,
        heartbeat=s.heartbeat,
        on_forget=lambda: computer.feeds.pop(ticket, None),
    )
    computer.feeds[ticket] = feed
    return feed


def _resumed(computer: LocalComputer, ticket: str, cid: str, last_event_id: str) -> AsyncIterator[bytes]:
    """A reconnection (a used ticket and ``Last-Event-ID``): the stream again, after that event."""
    feed = computer.feeds.get(ticket)
    if feed is None:
        grace = computer.settings.resume_grace
        raise ApiError(
            410,
            "RESUME_UNAVAILABLE",
            f"This stream can't be resumed any more: its command ended, or was ended because no reader "
            f"came back within {grace:g} s of the last one leaving, more than {grace:g} s ago. "
            "POST the exec again to run the command anew.",
        )
    if feed.computer_id != cid:
        raise ApiError(401, "invalid_ticket", f"This ticket is not for computer {cid!r}.")
    return feed.resume(last_event_id)


# -- requests ----------------------------------------------------------------------------------


def _authorized(request: Request) -> LocalComputer:
    computer: LocalComputer = request.app.state.computer
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    expected = computer.settings.token.encode()
    token = token.strip(" \t")  # HTTP whitespace only: not NBSP and other Unicode spaces
    if scheme.lower() != "bearer" or not hmac.compare_digest(token.encode("utf-8", "replace"), expected):
        raise ApiError(
            401, "invalid_token", "Missing or wrong API key: send 'Authorization: Bearer <token>'."
        )
    return computer


async def _json_body(request: Request) -> dict[str, Any]:
    limit = request.app.state.computer.settings.max_body
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > limit:
        raise ApiError(413, "PAYLOAD_TOO_LARGE", f"Request body is over {limit} bytes.")
    raw = bytearray()
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > limit:
            raise ApiError(413, "PAYLOAD_TOO_LARGE", f"Request body is over {limit} bytes.")
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError):  # RecursionError: JSON nested a thousand levels deep
        raise ApiError(
            400, "VALIDATION_ERROR", 'Body must be JSON, e.g. {"command": "ls", "timeout": 30}.'
        ) from None
    if not isinstance(body, dict):
        raise ApiError(422, "VALIDATION_ERROR", 'Body must be a JSON object, e.g. {"command": "ls"}.')
    return body


def _exec_args(body: dict[str, Any], settings: LocalSettings) -> tuple[str, int, str]:
    command = body.get("command")
    if not isinstance(command, str) or not command.strip():
        raise ApiError(422, "VALIDATION_ERROR", "'command' is required: a non-empty string.")
    size = len(command.encode("utf-8", "surrogatepass"))
    if size > settings.max_command:
        # The shell gets the command as one argument, and Linux caps one argument at 128 KiB
        # (MAX_ARG_STRLEN): past it exec fails with "Argument list too long".
        raise ApiError(
            422,
            "VALIDATION_ERROR",
            f"'command' is {size:,} bytes; one command can be at most {settings.max_command:,} bytes "
            "(the shell gets it as one argument). Put a long script in a file and run the file.",
        )
    timeout = body.get("timeout", settings.default_timeout)
    if isinstance(timeout, float) and timeout.is_integer():
        timeout = int(timeout)
    if isinstance(timeout, bool) or not isinstance(timeout, int) or not 1 <= timeout <= settings.max_timeout:
        raise ApiError(
            422,
            "VALIDATION_ERROR",
            f"'timeout' must be a whole number of seconds from 1 to {settings.max_timeout}, "
            f"got {json.dumps(timeout)[:40]}.",
        )
    shell = body.get("shell", settings.default_shell)
    if not isinstance(shell, str) or not shell.startswith("/") or len(shell) > 4096:
        raise ApiError(422, "VALIDATION_ERROR", "'shell' must be an absolute path such as /bin/bash.")
    if "\0" in command or "\0" in shell:
        raise ApiError(422, "VALIDATION_ERROR", "'command' and 'shell' cannot contain NUL bytes.")
    if not _utf8(command) or not _utf8(shell):  # JSON can carry lone surrogates; argv can't
        raise ApiError(422, "VALIDATION_ERROR", "'command' and 'shell' must be valid Unicode text.")
    return command, timeout, shell


def _utf8(text: str) -> bool:
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True
