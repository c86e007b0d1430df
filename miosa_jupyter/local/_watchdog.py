"""A watchdog for the local computer's commands: what they started ends when the server ends.

Each command runs in its own session (so timeouts and cancels can kill its whole group), which also
means nothing else kills it when the server process is SIGKILLed. So the server starts one small
watchdog process and tells it, over a pipe, each group it starts (``+PGID``) and ends (``-PGID``).
When the pipe closes (the server stopped or died, however it ended) the watchdog SIGKILLs the groups
still registered, then every process that carries the server's marker in its environment
(``=MARKER``: ``MIOSA_LOCAL_RUN=<id>``, which every command and its descendants inherit): the daemons
a command started with ``setsid`` outlive the command, as a person starting a server wants, but not
the local computer (Jenkins' ProcessTreeKiller finds a build's strays the same way). Told ``k``
(``serve``: a computer that keeps its runs across its own restarts), it spares durable runs
(``MIOSA_RUN=<id>`` in the environment, ``_durable.py``). A process that
clears its environment escapes this. Run as ``python -m miosa_jupyter.local._watchdog``; it imports
nothing else.
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

    def __init__(self, marker: str = "", *, keep_runs: bool = False) -> None:
        self.marker = marker  # MIOSA_LOCAL_RUN's value in the commands' environment
        self.keep_runs = keep_runs  # spare durable runs (MIOSA_RUN=...): a computer that outlives us
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
                if self.marker and self._proc.stdin is not None:
                    self._proc.stdin.write(f"={self.marker}\n".encode())
                    if self.keep_runs:
                        self._proc.stdin.write(b"k\n")
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


MARKER_ENV = "MIOSA_LOCAL_RUN"
RUN_ENV = "MIOSA_RUN"  # a durable run's id (``_durable.py``), in its whole process tree


def _watch() -> None:
    groups: set[int] = set()
    marker = b""
    keep = False
    with contextlib.suppress(OSError, KeyboardInterrupt):
        for raw in sys.stdin.buffer:
            line = raw.strip()
            if line[:1] == b"+":
                groups.add(int(line[1:]))
            elif line[:1] == b"-":
                groups.discard(int(line[1:]))
            elif line[:1] == b"=":
                marker = line[1:]
            elif line == b"k":
                keep = True
    for pgid in groups:
        with contextlib.suppress(OSError):
            os.killpg(pgid, signal.SIGKILL)
    if marker:
        kill_marked(MARKER_ENV.encode() + b"=" + marker, spare=RUN_ENV.encode() + b"=" if keep else None)


def kill_marked(entry: bytes, spare: bytes | None = None) -> list[int]:
    """SIGKILL every process (of ours to read) whose environment holds ``entry`` (and no variable
    starting with ``spare``: a durable run, when the computer keeps them); their pids."""
    killed = []
    me = os.getpid()
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) == me:
            continue
        try:
            with open(f"/proc/{name}/environ", "rb") as f:
                env = f.read()
        except OSError:  # gone, or not ours
            continue
        entries = env.split(b"\0")
        if entry in entries and not (spare and any(e.startswith(spare) for e in entries)):
            with contextlib.suppress(OSError):
                os.kill(int(name), signal.SIGKILL)
                killed.append(int(name))
    return killed


if __name__ == "__main__":
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # only the pipe ends the watchdog
    _watch()
