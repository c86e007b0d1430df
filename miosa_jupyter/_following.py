"""Following a durable run (``_durable.py``) across as many stream execs as it takes: a part of
``Run`` (its reader thread), kept apart because it is its own concern.

The first exec starts the run and follows it; when an exec reaches the API's cap the next follows
on at once from the lines already shown; when one is lost the next is tried at once, then after
0.25 s doubling to 5 s, with "reconnecting…" in the banner, for ``reconnect_for`` seconds, after
which the run is left detached (still running there) with the line that re-attaches. Cancel kills
the run's process group on the computer with a short exec.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Any

from ._errors import (
    APIConnectionError,
    APIStatusError,
    AuthenticationError,
    BadRequestError,
    ComputerNotRunningError,
    MiosaError,
    NotFoundError,
    StreamError,
    TicketError,
)
from ._present import detached_words, first_line, reconnecting_words, running_words

if TYPE_CHECKING:
    from ._client import Miosa
    from ._durable import Follow
    from ._stream import Batch, ExecStream

__all__ = ["Following"]


class Following:
    """The durable half of ``Run``'s reader. The state it shares is ``Run``'s (declared here)."""

    client: Miosa
    computer_id: str
    command: str
    shell: str | None
    timeout: int | None
    _follow: Follow | None
    _attach: bool
    _from_end: int | None
    _follow_seconds: int
    _reconnect_for: float
    _control_seconds: int
    _kill_error: str | None
    _phase: str
    _stream: ExecStream | None
    _terminal: dict[str, Any] | None
    _error: str | None
    _start_error: MiosaError | None
    _cancelled: bool
    _opened: threading.Event
    _read_done: threading.Event
    _wake: threading.Event

    if TYPE_CHECKING:

        @property
        def run_id(self) -> str | None: ...
        def _apply(self, batch: Batch) -> None: ...
        def _note(self, text: str) -> None: ...
        def _read_attached(self, timeout: int | None) -> None: ...

    def _read_durable(self, follow: Follow) -> None:
        """Start the run detached and follow it, one exec after another, until its status comes.

        An exec ends at the API's cap (a ``timeout`` event), or its stream is lost: the next exec
        follows on from the lines already shown. Refusals that retrying can't fix end the run with
        the server's words; a computer out of reach for ``reconnect_for`` seconds leaves it
        detached, still running there, with the line that re-attaches.
        """
        first = True
        script = ""
        lost_since: float | None = None
        attempts = 0
        try:
            if self._attach:
                script = self._attach_script(follow)
            else:
                script = follow.start_script(self.command, self.shell or "/bin/bash", self.timeout)
            while True:
                why = self._follow_once(script, first)
                first = False
                if follow.unsupported:
                    self._note(
                        f"miosa: {self.computer_id} lacks {follow.unsupported} for a durable run; "
                        "running attached (this exec's limit applies, at most 300 s).\n"
                    )
                    self._follow = None
                    self._read_attached(self.timeout if self.timeout and self.timeout <= 300 else 300)
                    return
                if follow.status is not None or follow.missing or follow.lost or self._error:
                    return
                if why is None:  # the exec reached its cap: the next one follows on at once
                    lost_since, attempts = None, 0
                else:
                    lost_since = lost_since or time.monotonic()
                    if self._cancelled or time.monotonic() - lost_since > self._reconnect_for:
                        if not self._cancelled:
                            self._error = detached_words(self.computer_id, follow.run_id, why)
                        return
                    if attempts:  # the first try is at once; then 0.25 s, doubling to 5 s
                        self._phase = reconnecting_words(self.computer_id)
                        self._wake.set()
                        time.sleep(min(5.0, 0.25 * 2 ** min(5, attempts - 1)))
                    attempts += 1
                # Never the start script again: it would start the command twice.
                script = follow.follow_script()
                follow.resumed()
        except MiosaError as exc:
            if first:
                self._start_error = exc
            self._error = str(exc)
        except Exception as exc:  # never leave the driver waiting on a dead reader
            self._error = f"{type(exc).__name__}: {exc}"
        finally:
            self._opened.set()
            self._read_done.set()
            self._wake.set()

    def _follow_once(self, script: str, first: bool) -> str | None:
        """One exec of a durable run; returns why it was lost (None: it ended as planned)."""
        try:
            stream = self.client.exec.stream(
                self.computer_id, command=script, timeout=self._follow_seconds, shell="/bin/sh"
            )
        except MiosaError as exc:
            if first and _refused(exc):  # the POST was answered no: nothing was started
                raise
            if not first and not _retryable(exc):
                raise
            return _lost(exc, self.computer_id)  # (after the first POST it may run: follow, don't restart)
        self._stream = stream
        self._opened.set()
        if self._phase != (phase := running_words(self.computer_id, self.run_id)):
            self._phase = phase  # following again after a reconnection
            self._wake.set()
        if self._cancelled:  # (a cancel that came between two execs, or before the first)
            threading.Thread(target=self._kill, name="miosa-run-cancel", daemon=True).start()
        self._terminal = None
        try:
            for batch in stream.batches():
                self._apply(batch)
                self._wake.set()
        except StreamError as exc:
            return _lost(exc, self.computer_id)
        finally:
            stream.close()
        end: dict[str, Any] = self._terminal or {}
        self._terminal = None
        if end.get("type") == "timeout" or self._follow is None or self._follow.status or self._follow.lost:
            return None
        if self._follow.missing:
            self._error = (
                f"No run {self._follow.run_id} on {self.computer_id}: it was cleaned up, or it ran on "
                "another computer. `%miosa runs` lists the runs there."
            )
            return None
        if end.get("type") == "error":
            return str(end.get("message") or "the computer ended the stream with an error")
        self._error = (
            f"The follower of run {self._follow.run_id} on {self.computer_id} ended without its status."
        )
        return None

    def _attach_script(self, follow: Follow) -> str:
        if self._from_end is not None:
            answer = self.client.exec.run(
                self.computer_id,
                command=follow.count_script(),
                timeout=self._control_seconds,
                shell="/bin/sh",
            )
            counts = [int(w) for w in answer.stdout.split() if w.isdigit()]
            if answer.exit_code != 0 or len(counts) != 2:
                follow.missing = True
            else:
                follow.start_from_end((counts[0], counts[1]), self._from_end)
        return follow.follow_script()

    def _kill(self) -> None:
        """Kill a durable run's process group on the computer; its follower then brings the end.

        When the computer can't be told, following stops and the run ends in an error that says
        the command may still be running there (never "cancelled" for a command that may not be).
        """
        assert self._follow is not None
        try:
            answer = self.client.exec.run(
                self.computer_id,
                command=self._follow.cancel_script(),
                timeout=self._control_seconds,
                shell="/bin/sh",
            )
        except MiosaError as exc:
            why = str(exc)
        else:
            if answer.exit_code == 0 and self._read_done.wait(5):
                return
            why = (
                f"the kill exited {answer.exit_code}"
                if answer.exit_code
                else "its end did not come within 5 s"
            )
        self._kill_error = (
            f"Could not stop run {self._follow.run_id} on {self.computer_id} ({why}); it may still be "
            f"running there: `%miosa attach {self._follow.run_id}` shows it."
        )
        if self._stream is not None:
            self._stream.abort()


def _lost(exc: MiosaError, computer: str) -> str:
    """Why following stopped, in a few words (the error's own message speaks of one exec)."""
    if isinstance(exc, APIConnectionError):
        cause = exc.__cause__ or exc.__context__
        return f"{computer}'s API could not be reached" + (f" ({type(cause).__name__})" if cause else "")
    if isinstance(exc, StreamError):
        return f"the stream from {computer} dropped and could not be resumed"
    return first_line(str(exc), 160)


def _refused(exc: MiosaError) -> bool:
    """The POST itself was refused (so nothing started), as opposed to its stream failing."""
    if isinstance(exc, APIConnectionError):
        return exc.started is False
    return isinstance(exc, APIStatusError) and not isinstance(exc, TicketError)


def _retryable(exc: MiosaError) -> bool:
    """A failure that may pass on its own (the network, a busy or restarting server), not one that
    says the run can't be followed (a wrong key, no such computer, a stopped computer)."""
    return not isinstance(
        exc, AuthenticationError | NotFoundError | ComputerNotRunningError | BadRequestError
    )
