"""The exceptions this package raises.

Every error is a ``MiosaError``, so one ``except MiosaError`` catches them all::

    MiosaError
    ├── APIConnectionError        no answer: not reached (nothing started), or cut before answering
    ├── LocalServerError          the embedded local computer could not start
    ├── StreamError               the event stream ended (or went silent) before exit, timeout or error
    ├── CommandFailedError        the command exited non-zero (raised by the magic, not the client)
    │   └── CommandTimeoutError   the command was killed at its timeout
    └── APIStatusError            an answer the client can't use: an error status, a redirect, not JSON
        ├── BadRequestError           400, 413, 422: the request itself is wrong
        ├── AuthenticationError       401: missing or wrong API key
        ├── NotFoundError             404: no such computer (or path)
        ├── ComputerNotRunningError   409: the computer is stopped
        ├── TicketError               410 (or 401 on the events URL): ticket used, expired or unknown
        ├── RateLimitError            429: too many requests or concurrent commands
        └── ServerError               5xx: the server or the computer's agent failed

Not an error, so outside the tree: ``RunInterrupted`` (a ``KeyboardInterrupt``), which ``%%miosa``
raises when the kernel is interrupted, so the cells queued after it don't run.

A plain ``MiosaError`` is raised for an answer that is well formed but can't be followed (a
``stream_url`` on another origin, a ticket answer without a ticket).
"""

from __future__ import annotations

import json
import zlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import httpx

__all__ = [
    "APIConnectionError",
    "APIStatusError",
    "AuthenticationError",
    "BadRequestError",
    "CommandFailedError",
    "CommandTimeoutError",
    "ComputerNotRunningError",
    "LocalServerError",
    "MiosaError",
    "NotFoundError",
    "RateLimitError",
    "RunInterrupted",
    "ServerError",
    "StreamError",
    "TicketError",
]


class MiosaError(Exception):
    """Base class: every error this package raises.

    ``status_code``, ``code`` and ``request_id`` are set when a server answered, else None.
    """

    status_code: int | None = None
    code: str | None = None
    request_id: str | None = None

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def _render_traceback_(self) -> list[str]:
        # IPython calls this instead of printing a traceback: one short line, no wall of frames.
        return [f"{type(self).__name__}: {self.message}"]


class APIConnectionError(MiosaError):
    """Raised when no answer came: the server can't be reached (refused, DNS failure, connect
    timeout), or the connection failed or timed out after the request was sent.

    ``started`` says what is known of the command: ``False`` when nothing was sent (nothing was
    started), ``None`` when the request was sent but no answer came (it may have started), ``True``
    when the command was started and its event stream could not be opened.
    """

    def __init__(self, message: str, *, started: bool | None = False) -> None:
        super().__init__(message)
        self.started = started


class StreamError(MiosaError):
    """Raised when the event stream ends, or is silent past the idle timeout, before an ``exit``,
    ``timeout`` or ``error`` event; or when the events URL answers something that isn't a stream.

    The output received before the drop has already been delivered; the command may still be
    running (the local computer kills it when the stream drops).
    """


class APIStatusError(MiosaError):
    """Raised when the server answers with a status or body the client can't use: an error status
    (4xx/5xx) and its error body, a redirect where none is followed, or a body that isn't the JSON
    the API defines. ``body`` holds the decoded body (at most ``ERROR_BODY_LIMIT`` bytes of it)."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        code: str | None = None,
        request_id: str | None = None,
        body: Any = None,
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.code = code
        self.request_id = request_id
        self.body = body

    def __str__(self) -> str:
        tail = f" (HTTP {self.status_code}"
        tail += f", {self.code}" if self.code else ""
        tail += f", request {self.request_id})" if self.request_id else ")"
        return self.message + tail


class BadRequestError(APIStatusError):
    """Raised for 400, 413 and 422: a missing command, a timeout out of range, a body too large."""


class AuthenticationError(APIStatusError):
    """Raised for 401 on an authenticated call: the API key is missing or wrong."""


class NotFoundError(APIStatusError):
    """Raised for 404: the computer (or path) does not exist."""


class ComputerNotRunningError(APIStatusError):
    """Raised for 409 ``COMPUTER_NOT_RUNNING``: start the computer first."""


class TicketError(APIStatusError):
    """Raised when the stream ticket was already used, has expired, or is unknown."""


class RateLimitError(APIStatusError):
    """Raised for 429: too many requests, or too many commands running at once."""


class ServerError(APIStatusError):
    """Raised for 5xx, e.g. 502 ``AGENT_UNAVAILABLE`` when the computer's shell cannot be started."""


class CommandFailedError(MiosaError):
    """Raised by ``%%miosa`` (not the client) when the command exits non-zero, so Run All stops.

    ``result`` holds the ``ExecResult``.
    """

    def __init__(self, message: str, result: Any = None, *, run: Any = None) -> None:
        super().__init__(message)
        self._result = result
        self._run = run

    @property
    def result(self) -> Any:
        """The ``ExecResult`` (built on first use from the run, whose output may be large)."""
        if self._result is None and self._run is not None:
            self._result = self._run.result
        return self._result


class RunInterrupted(KeyboardInterrupt):
    """Raised by ``%%miosa`` on a kernel interrupt, after the run was cancelled; shown as one line."""

    def _render_traceback_(self) -> list[str]:
        return [f"KeyboardInterrupt: {self}"]


class CommandTimeoutError(CommandFailedError):
    """Raised by ``%%miosa`` when the command was killed at its timeout."""


_BY_STATUS: dict[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    404: NotFoundError,
    409: ComputerNotRunningError,
    410: TicketError,
    413: BadRequestError,
    422: BadRequestError,
    429: RateLimitError,
}


MESSAGE_LIMIT = 300  # characters of a server's message shown in an exception
ERROR_BODY_LIMIT = 64 * 1024  # bytes of an error body read, after decoding


def error_from_response(
    response: httpx.Response, *, ticket: bool = False, body: bytes | None = None
) -> APIStatusError:
    """Build the exception for an error response, from its body (``body``, else the read content).

    Reads the documented ``{"error": {"code", "message", "request_id"}}`` and the legacy shapes
    (``{"error": "CODE", "detail": ...}``, ``{"message", "code"}``); falls back to the status text.
    ``ticket=True`` marks the events URL, where a 401 means a bad ticket, not a bad key. What the
    server wrote is cut to a few hundred characters: a message is for reading, not a data channel.
    """
    status = response.status_code
    code = message = request_id = None
    parsed: Any = _json_or_text(response.content if body is None else body)
    if isinstance(parsed, dict):
        err = parsed.get("error")
        if isinstance(err, dict):
            code, message, request_id = err.get("code"), err.get("message"), err.get("request_id")
        elif isinstance(err, str):
            code, message = err, parsed.get("detail") or parsed.get("message")
        else:
            code, message = parsed.get("code"), parsed.get("message") or parsed.get("detail")
        request_id = request_id or parsed.get("request_id")
    request_id = request_id or response.headers.get("x-request-id")
    if not message:
        # A page, not the API's JSON (a proxy's 502, a CDN's HTML): one line of it, control
        # characters escaped.
        text = " ".join(parsed.split()) if isinstance(parsed, str) else ""
        message = (text if text.isprintable() else repr(text)[1:-1]) or response.reason_phrase
        message = message or f"HTTP {status}"
    if ticket and status == 401:
        cls: type[APIStatusError] = TicketError
    else:
        cls = _BY_STATUS.get(status, ServerError if status >= 500 else APIStatusError)
    return cls(
        cut(str(message), MESSAGE_LIMIT),
        status_code=status,
        code=code and cut(str(code), 100),
        request_id=request_id and cut(str(request_id), 100),
        body=parsed,
    )


def cut(text: str, limit: int) -> str:
    """``text``, or its first ``limit`` characters and an ellipsis."""
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def _json_or_text(body: bytes) -> Any:
    text = body.decode("utf-8", errors="replace")
    try:
        return json.loads(text)
    except (ValueError, RecursionError):  # not JSON, cut at the limit, or nested too deep
        return text


class BoundedBody:
    """At most ``limit`` bytes of a response body, decoded as they arrive.

    A body is decompressed here, not by httpx, so that reading stops at the limit: a gzip bomb
    never inflates past it (httpx inflates a whole network read at once: 64 KiB into 64 MB).
    Bodies in an encoding other than gzip or deflate are not read (``readable`` is False).
    """

    def __init__(self, response: httpx.Response, limit: int = ERROR_BODY_LIMIT) -> None:
        self.limit = limit
        self.data = bytearray()
        self.full = False
        header = response.headers.get("content-encoding", "")
        encodings = [e for e in (e.strip().lower() for e in header.split(",")) if e not in ("", "identity")]
        self.readable = encodings in ([], ["gzip"], ["x-gzip"], ["deflate"])
        # "deflate" is meant as zlib data but some servers send it raw (httpx tries both too).
        self._raw_deflate = encodings == ["deflate"]
        self._zlib = None
        if encodings and self.readable:
            self._zlib = zlib.decompressobj(wbits=zlib.MAX_WBITS | (32 if self._raw_deflate else 16))

    def feed(self, raw: bytes) -> bool:
        """Take one network read; return True once the limit is reached (stop reading)."""
        room = self.limit - len(self.data)
        if self._zlib is None:
            self.data += raw[:room]
        else:
            try:
                self.data += self._zlib.decompress(raw, room)  # at most `room` bytes come out
            except zlib.error:
                if not (self._raw_deflate and not self.data):
                    self.full = True  # corrupt: keep what decoded
                    return True
                self._raw_deflate = False
                self._zlib = zlib.decompressobj(wbits=-zlib.MAX_WBITS)
                return self.feed(raw)
        self.full = len(self.data) >= self.limit
        return self.full


class LocalServerError(MiosaError):
    """Raised when the embedded local computer can't start (port taken, bind refused)."""
