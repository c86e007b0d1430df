"""A watchdog for the local computer's commands: it kills their process groups if the server dies.

Each command runs in its own session (so timeouts and cancels can kill its whole group), which also
means nothing else kills it when the server process is SIGKILLed. So the server starts one small
watchdog process and tells it, over a pipe, each group it starts (``+PGID``) and ends (``-PGID``).
When the pipe closes (the server exited, however it exited) the watchdog SIGKILLs the groups still
registered, then exits. Run as ``python -m miosa_jupyter.local._watchdog``; it imports nothing else.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys

__all__ = ["Watchdog"]


class Watchdog:
    """The server's side: start the watchdog once, then report groups as they start and end."""

    def __init__(self) -> None:
        self._proc: subprocess.Popen[bytes] | None = None

    def _pipe(self) -> subprocess.Popen[bytes] | None:
        if self._proc is None:
            with contextlib.suppress(OSError):
                self._proc = subprocess.Popen(
                    [sys.executable, "-S", __file__],  # -S: no site, a fast start; the file alone
                    stdin=subprocess.PIPE,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    start_new_session=True,  # not in the server's group: it must outlive it
                    close_fds=True,
                )
        return self._proc

    def _say(self, line: str) -> None:
        proc = self._pipe()
        if proc is not None and proc.stdin is not None:
            with contextlib.suppress(OSError, ValueError):
                proc.stdin.write(line.encode())
                proc.stdin.flush()

    def started(self, pgid: int) -> None:
        self._say(f"+{pgid}\n")

    def ended(self, pgid: int) -> None:
        self._say(f"-{pgid}\n")

    def close(self) -> None:
        """The server is stopping cleanly: the watchdog ends too (killing whatever is left)."""
        if self._proc is not None and self._proc.stdin is not None:
            with contextlib.suppress(OSError):
                self._proc.stdin.close()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._proc.wait(5)


def _watch() -> None:
    groups: set[int] = set()
    with contextlib.suppress(OSError, KeyboardInterrupt):
        for raw in sys.stdin.buffer:
            line = raw.strip()
            if line[:1] == b"+":
                groups.add(int(line[1:]))
            elif line[:1] == b"-":
                groups.discard(int(line[1:]))
    for pgid in groups:
        with contextlib.suppress(OSError):
            os.killpg(pgid, signal.SIGKILL)


if __name__ == "__main__":
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # only the pipe ends the watchdog
    _watch()
