"""Small immutable values: one event of a stream, the result of a command."""

from __future__ import annotations

import dataclasses
from typing import Any, Literal, NamedTuple

from ._wire import TERMINAL_EVENTS

__all__ = ["Event", "ExecResult", "Outcome"]

Outcome = Literal["success", "failure", "timeout", "error", "cancelled"]


class Event(NamedTuple):
    """One Server-Sent Event of a streaming exec, as the API page's recipes read it.

    ``type`` is ``"output"``, ``"exit"``, ``"timeout"`` or ``"error"``; ``data`` is the decoded JSON
    payload (``event.data["line"]``). The properties give typed access to the usual fields.
    A NamedTuple rather than a frozen dataclass: it is built once per output line, and tuple
    construction is several times cheaper on that path.
    """

    type: str
    data: dict[str, Any]

    @property
    def line(self) -> str:
        """The text of an ``output`` event (ends with ``\\n`` unless it is a partial line)."""
        line: str = self.data.get("line", "")
        return line

    @property
    def stream(self) -> str:
        """``"stdout"`` or ``"stderr"`` for an ``output`` event."""
        stream: str = self.data.get("stream", "stdout")
        return stream

    @property
    def exit_code(self) -> int | None:
        """The exit code of an ``exit`` event."""
        return self.data.get("exit_code")

    @property
    def duration_ms(self) -> int | None:
        """How long the command ran, on an ``exit`` event."""
        return self.data.get("duration_ms")

    @property
    def timeout_seconds(self) -> int | None:
        """The timeout that killed the command, on a ``timeout`` event."""
        return self.data.get("timeout_seconds")

    @property
    def message(self) -> str:
        """The message of an ``error`` event."""
        message: str = self.data.get("message", "")
        return message

    @property
    def is_terminal(self) -> bool:
        """True for the events after which the stream closes."""
        return self.type in TERMINAL_EVENTS


@dataclasses.dataclass(frozen=True)
class ExecResult:
    """What a finished command gave: exit code, output, duration.

    ``output`` is stdout and stderr interleaved in arrival order. ``exit_code`` is None when the
    command never finished (timeout, error, cancelled); ``outcome`` names which.
    """

    exit_code: int | None
    stdout: str = ""
    stderr: str = ""
    output: str = ""
    duration_ms: int | None = None
    timed_out: bool = False
    error: str | None = None
    cancelled: bool = False

    @property
    def ok(self) -> bool:
        """True when the command exited 0."""
        return self.exit_code == 0 and not self.timed_out

    @property
    def outcome(self) -> Outcome:
        """``success``, ``failure``, ``timeout``, ``error`` or ``cancelled``: the banner's word."""
        if self.cancelled:
            return "cancelled"
        if self.timed_out:
            return "timeout"
        if self.error is not None or self.exit_code is None:
            return "error"
        return "success" if self.exit_code == 0 else "failure"

    def __repr__(self) -> str:
        def cut(s: str) -> str:
            return repr(s) if len(s) <= 60 else repr(s[:57] + "...")

        return (
            f"ExecResult(exit_code={self.exit_code!r}, outcome={self.outcome!r}, "
            f"duration_ms={self.duration_ms!r}, stdout={cut(self.stdout)}, stderr={cut(self.stderr)})"
        )

    @classmethod
    def from_api(cls, body: dict[str, Any]) -> ExecResult:
        """Read an ``/exec`` answer; SDKs disagree on its shape: ``stdout``/``stderr``, else ``output``."""
        stdout = body.get("stdout")
        stderr = body.get("stderr") or ""
        output = body.get("output")
        if stdout is None:
            stdout = output or ""
        if output is None:
            output = stdout + stderr
        return cls(
            exit_code=body.get("exit_code", 0),
            stdout=stdout,
            stderr=stderr,
            output=output,
            duration_ms=body.get("duration_ms"),
            timed_out=bool(body.get("timed_out", False)),
        )
