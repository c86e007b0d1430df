"""The local computer in a child process: what a notebook kernel uses by default.

Beside the kernel rather than inside it (``LocalServer`` in a thread), because:
- it has its own GIL, so framing output runs in parallel with the kernel decoding and showing it
  (1,000,000 lines of 100 characters through ``%%miosa``: about 3.3 s in a thread, 2.3 s beside);
- it ends with the kernel, however the kernel ends: it watches its stdin, a pipe from the kernel,
  and shuts down (killing every command's process group) when that pipe closes, even after a
  ``SIGKILL`` of the kernel, where a thread's ``atexit`` never runs;
- it runs in its own session, so the kernel's Interrupt (SIGINT to the kernel's process group)
  reaches the cell, not the server.
The token travels over the child's stdout pipe, never on its command line (which ``ps`` shows).
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import threading
from typing import IO

from .._errors import LocalServerError

__all__ = ["LocalProcess"]


class LocalProcess:
    """A local computer served by ``python -m miosa_jupyter serve`` in a child process."""

    def __init__(self, *, cwd: str | None = None) -> None:
        self.cwd = cwd
        self.base_url = ""
        self.token = ""
        self.computer_id = "local"
        self._proc: subprocess.Popen[str] | None = None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self, timeout: float = 30.0) -> LocalProcess:
        """Start the child and wait until it serves; returns self (already running: no-op)."""
        if self.running:
            return self
        args = [sys.executable, "-m", "miosa_jupyter", "serve", "--port", "0", "--exit-with-stdin"]
        if self.cwd:
            args += ["--cwd", self.cwd]
        proc = subprocess.Popen(
            args,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        ready: dict[str, str] = {}
        reader = threading.Thread(target=_read_ready, args=(proc.stdout, ready), daemon=True)
        reader.start()
        reader.join(timeout)
        if not ready:
            proc.kill()
            err = proc.stderr.read()[-2000:] if proc.stderr and proc.poll() is not None else ""
            raise LocalServerError(
                "The local computer did not start" + (f": {err.strip()}" if err.strip() else ".")
            )
        self.base_url, self.token = ready["base_url"], ready["token"]
        self.computer_id = ready.get("computer_id", "local")
        self._proc = proc
        # Keep draining the child's output so it never blocks on a full pipe.
        for stream in (proc.stdout, proc.stderr):
            threading.Thread(target=_drain, args=(stream,), daemon=True).start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Close the child's stdin (it then ends every command and exits); kill it if it lingers."""
        proc = self._proc
        if proc is None:
            return
        with contextlib.suppress(OSError):
            assert proc.stdin is not None
            proc.stdin.close()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)

    def __repr__(self) -> str:
        return f"LocalProcess(base_url={self.base_url!r}, running={self.running})"


def _read_ready(stream: IO[str] | None, ready: dict[str, str]) -> None:
    assert stream is not None
    for line in stream:
        if line.startswith("{"):
            with contextlib.suppress(ValueError):
                ready.update(json.loads(line))
                return


def _drain(stream: IO[str] | None) -> None:
    if stream is not None:
        with contextlib.suppress(OSError, ValueError):
            for _ in stream:
                pass
