"""The exceptions this package raises.

Every error is a ``MiosaError``, so one ``except MiosaError`` catches them all::

    MiosaError
    ├── APIConnectionError        the server could not be reached (nothing was started)
    ├── LocalServerError          the embedded local computer could not start
    ├── StreamError               the event stream ended before exit, timeout or error
    ├── CommandFailedError        the command exited non-zero (raised by the magic, not the client)
    │   └── CommandTimeoutError   the command was killed at its timeout
    └── APIStatusError            the server answered with an error status and body
        ├── BadRequestError           400, 413, 422: the request itself is wrong
        ├── AuthenticationError       401: missing or wrong API key
        ├── NotFoundError             404: no such computer (or path)
        ├── ComputerNotRunningError   409: the computer is stopped
        ├── TicketError               410 (or 401 on the events URL): ticket used, expired or unknown
        ├── RateLimitError            429: too many requests or concurrent commands
        └── ServerError               5xx: the server or the computer's agent failed

Not an error, so outside the tree: ``RunInterrupted`` (a ``KeyboardInterrupt``), which ``%%miosa``
raises when the kernel is interrupted, so the cells queued after it don't run.
"""

from __future__ import annotations

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
    """Raised when the server cannot be reached: refused, DNS failure, connect timeout."""


class StreamError(MiosaError):
    """Raised when the event stream ends before an ``exit``, ``timeout`` or ``error`` event.

    The output received before the drop has already been delivered; the command's fate is unknown
    (the local computer kills it when the stream drops).
    """


class APIStatusError(MiosaError):
    """Raised when the server answers with an error status (4xx/5xx) and an error body."""

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


def error_from_response(response: httpx.Response, *, ticket: bool = False) -> APIStatusError:
    """Build the exception for an error response whose body has been read.

    Reads the documented ``{"error": {"code", "message", "request_id"}}`` and the legacy shapes
    (``{"error": "CODE", "detail": ...}``, ``{"message", "code"}``); falls back to the status text.
    ``ticket=True`` marks the events URL, where a 401 means a bad ticket, not a bad key.
    """
    status = response.status_code
    code = message = request_id = None
    try:
        body: Any = response.json()
    except ValueError:
        body = response.text
    if isinstance(body, dict):
        err = body.get("error")
        if isinstance(err, dict):
            code, message, request_id = err.get("code"), err.get("message"), err.get("request_id")
        elif isinstance(err, str):
            code, message = err, body.get("detail") or body.get("message")
        else:
            code, message = body.get("code"), body.get("message") or body.get("detail")
        request_id = request_id or body.get("request_id")
    request_id = request_id or response.headers.get("x-request-id")
    if not message:
        text = body if isinstance(body, str) and body.strip() else response.reason_phrase
        message = str(text).strip()[:200] or f"HTTP {status}"
    if ticket and status == 401:
        cls: type[APIStatusError] = TicketError
    else:
        cls = _BY_STATUS.get(status, ServerError if status >= 500 else APIStatusError)
    return cls(str(message), status_code=status, code=code and str(code), request_id=request_id, body=body)


class LocalServerError(MiosaError):
    """Raised when the embedded local computer can't start (port taken, bind refused)."""
