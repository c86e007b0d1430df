"""The subprocess backend (``_backend.py``): each command a shell on this host, in its own session.

The command starts when the POST arrives; its output waits in a queue bounded in bytes
(``_queue.py``) until the event stream connects (past the bound the pipe fills and the command
blocks: back-pressure, not loss).
It ends in exactly one terminal event, and ends with nothing left running: on exit the rest of its
process group is killed too, on timeout or cancel the whole group gets SIGTERM, then SIGKILL.

What is host-specific lives here: the new session per command, the watchdog that kills the groups
if the server dies (``_watchdog.py``), the environment commands inherit (its ``MIOSA_LOCAL_RUN``
marker, ``PATH`` starting with the directory of the Python that runs the server), and ``keep_runs``.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import os
import secrets
import shlex
import signal
import sys
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING

from .._wire import OutputChunk
from ._backend import Ending, Events
from ._queue import OutputQueue
from ._watchdog import MARKER_ENV, Watchdog

if TYPE_CHECKING:
    from ._computer import LocalSettings

__all__ = ["SubprocessBackend", "SubprocessExecution"]

READ_SIZE = 65536


class SubprocessBackend:
    """Runs each command as ``shell -c command`` in a new session, with the settings' limits."""

    def __init__(self, settings: LocalSettings, *, environ: Mapping[str, str]) -> None:
        self.settings = settings
        env = dict(environ)  # what of the server's environment commands may see (``LocalComputer``)
        env["PYTHONUNBUFFERED"] = "1"
        # Every process a command starts inherits this: the watchdog ends them with the server.
        marker = secrets.token_hex(8)
        env[MARKER_ENV] = marker
        # `python3` on the local computer is the Python that runs it.
        env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", os.defpath)
        self.env = env
        # Kills the commands' groups if this server process dies without doing it (SIGKILL).
        self.watchdog = Watchdog(marker, keep_runs=settings.keep_runs)

    async def start(self, command: str, *, timeout: float, shell: str) -> SubprocessExecution:
        """Spawn the command now. Raises ``OSError`` if the shell can't start."""
        s = self.settings
        execution = SubprocessExecution(
            command,
            shell=shell,
            timeout=timeout,
            cwd=s.cwd,
            env=self.env,
            grace=s.grace,
            flush_after=s.flush_after,
            max_line=s.max_line,
            max_pending=s.max_pending,
            watchdog=self.watchdog,
        )
        await execution.start()
        return execution

    def python(self, code: str) -> tuple[str, str]:
        """``exec`` this server's Python on ``code``, unbuffered."""
        return f"exec {shlex.quote(sys.executable)} -u -c {shlex.quote(code)}", "/bin/sh"

    def close(self) -> None:
        """The watchdog ends, killing the groups still registered."""
        self.watchdog.close()


class SubprocessExecution:
    """A command started with ``start()``; read its events from ``queue`` until its ``Ending``."""

    def __init__(
        self,
        command: str,
        *,
        shell: str,
        timeout: float,
        cwd: str | None = None,
        env: dict[str, str] | None = None,
        grace: float = 2.0,
        flush_after: float = 0.1,
        max_line: int = 65536,
        max_pending: int = 4 << 20,
        watchdog: Watchdog | None = None,
    ) -> None:
        self.command = command
        self.shell = shell
        self.timeout = timeout
        self.cwd = cwd
        self.env = env
        self.grace = grace
        self.flush_after = flush_after
        self.max_line = max_line
        self.queue: Events = OutputQueue(max_pending)
        self.finished = asyncio.Event()
        # Set once a reader has taken the output (ticket redeemed) or none ever will (expired):
        # until then a finished command's output still holds memory, and its slot.
        self.claimed = asyncio.Event()
        self.proc: asyncio.subprocess.Process | None = None
        self.watchdog = watchdog
        self._task: asyncio.Task[None] | None = None
        self._started = 0.0
        self._cancelled = False
        self._waiting_since: list[float | None] = [None, None]  # per pump: reading an empty pipe since

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    async def start(self) -> None:
        """Spawn the shell in a new session (its own process group). Raises ``OSError`` if it can't."""
        self._started = time.monotonic()
        self.proc = await asyncio.create_subprocess_exec(
            self.shell,
            "-c",
            self.command,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,
            cwd=self.cwd,
            env=self.env,
        )
        if self.watchdog is not None:
            self.watchdog.started(self.proc.pid)  # the group id is the shell's pid
        self._task = asyncio.create_task(self._run())

    def cancel(self) -> None:
        """Kill the command now (no one will read its events). Safe to call more than once."""
        if self.finished.is_set() or self._cancelled:
            return
        self._cancelled = True
        self._signal_group(signal.SIGTERM)
        if self._task is not None:
            self._task.cancel()

    def abort(self, message: str) -> None:
        """Kill the command and end its stream with an ``error`` event carrying ``message``."""
        if self.finished.is_set():
            return
        self.cancel()
        self.queue.put_nowait(Ending("error", {"message": message}))  # the ending always fits

    async def wait_closed(self, timeout: float = 10.0) -> None:
        """Wait until the process group is gone (bounded)."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.finished.wait(), timeout)

    # -- inside ----------------------------------------------------------------------------

    async def _run(self) -> None:
        assert self.proc is not None and self.proc.stdout and self.proc.stderr
        pumps = [
            asyncio.create_task(self._pump(self.proc.stdout, "stdout", 0)),
            asyncio.create_task(self._pump(self.proc.stderr, "stderr", 1)),
        ]
        timed_out = False
        try:
            timed_out = not await self._wait_exit(self.timeout)
            if timed_out:
                await self._kill_group()
            else:
                # Background jobs the command left behind end with it.
                self._signal_group(signal.SIGKILL)
            await self._drain(pumps)
            if timed_out:
                ending = Ending("timeout", {"timeout_seconds": _whole(self.timeout)})
            else:
                code = self.proc.returncode
                assert code is not None
                duration = round((time.monotonic() - self._started) * 1000)
                ending = Ending(
                    "exit", {"exit_code": 128 - code if code < 0 else code, "duration_ms": duration}
                )
            await self.queue.put(ending)
        except asyncio.CancelledError:
            for task in pumps:
                task.cancel()
            await asyncio.shield(self._reap_after_cancel())
        finally:
            with contextlib.suppress(ProcessLookupError, AttributeError):
                # Close our pipe ends (asyncio.subprocess.Process has no public close).
                self.proc._transport.close()  # type: ignore[attr-defined]  # private, not in typeshed
            if self.watchdog is not None:
                self.watchdog.ended(self.proc.pid)  # its group is killed: nothing left to watch
            self.finished.set()

    async def _drain(self, pumps: list[asyncio.Task[None]]) -> None:
        """Let the pumps read what is left in the pipes, however slowly the client takes it.

        A pump waiting for the client (a full queue) is never cut short: that would lose output. A pump
        waiting on an empty pipe for ``grace`` is: a daemon that escaped the group may hold the pipe open.
        """
        while True:
            _, pending = await asyncio.wait(pumps, timeout=0.05)
            if not pending:
                return
            now = time.monotonic()
            for task, since in zip(pumps, self._waiting_since, strict=True):
                if not task.done() and since is not None and now - since > self.grace:
                    task.cancel()

    async def _reap_after_cancel(self) -> None:
        if not await self._wait_exit(self.grace):
            self._signal_group(signal.SIGKILL)
            await self._wait_exit(5.0)
        self._signal_group(signal.SIGKILL)

    async def _wait_exit(self, timeout: float) -> bool:
        """True once the shell has exited, False at the timeout.

        Polls ``returncode`` beside ``wait()``: asyncio's ``wait()`` only returns once the pipes
        close too, which never happens while a grandchild holds them (cpython#119710).
        """
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        waiter = asyncio.ensure_future(self.proc.wait())
        try:
            while self.proc.returncode is None:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                await asyncio.wait({waiter}, timeout=min(left, 0.05))
            return True
        finally:
            waiter.cancel()

    async def _kill_group(self) -> None:
        self._signal_group(signal.SIGTERM)
        if not await self._wait_exit(self.grace):
            self._signal_group(signal.SIGKILL)
            await self._wait_exit(5.0)
        self._signal_group(signal.SIGKILL)

    def _signal_group(self, sig: int) -> None:
        if self.proc is None:
            return
        # The group id is the shell's pid (start_new_session); never our own group.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, sig)

    async def _pump(self, reader: asyncio.StreamReader, stream: str, slot: int) -> None:
        """Read a pipe in large chunks, decode incrementally, hand on whole lines in bulk."""
        decode = codecs.getincrementaldecoder("utf-8")(errors="replace").decode
        put = self.queue.put
        cap = self.max_line
        waiting = self._waiting_since
        pending = ""
        while True:
            waiting[slot] = time.monotonic()  # waiting on the pipe (not on the client) from now
            if pending:
                try:
                    data = await asyncio.wait_for(reader.read(READ_SIZE), self.flush_after)
                except TimeoutError:
                    # Paused mid-line (a prompt, a progress bar): show what there is.
                    waiting[slot] = None
                    await put(OutputChunk(stream, [pending], True))
                    pending = ""
                    continue
            else:
                data = await reader.read(READ_SIZE)
            waiting[slot] = None
            if not data:
                break
            lines = (pending + decode(data)).split("\n")
            pending = lines.pop()
            if lines:
                if len(lines[0]) > cap or (len(lines) > 1 and max(map(len, lines)) > cap):
                    for chunk in _cut(stream, lines, cap):
                        await put(chunk)
                else:
                    await put(OutputChunk(stream, lines, False))
            while len(pending) >= cap:
                await put(OutputChunk(stream, [pending[:cap]], True))
                pending = pending[cap:]
        pending += decode(b"", final=True)
        if pending:
            await put(OutputChunk(stream, [pending], True))


def _cut(stream: str, lines: list[str], cap: int) -> list[OutputChunk]:
    """Split lines longer than ``cap`` into partial pieces (rare: only when one is that long)."""
    out: list[OutputChunk] = []
    run: list[str] = []
    for line in lines:
        if len(line) <= cap:
            run.append(line)
            continue
        if run:
            out.append(OutputChunk(stream, run, False))
            run = []
        for i in range(0, len(line) - cap, cap):
            out.append(OutputChunk(stream, [line[i : i + cap]], True))
        run.append(line[(len(line) - 1) // cap * cap :])
    if run:
        out.append(OutputChunk(stream, run, False))
    return out


def _whole(seconds: float) -> int | float:
    return int(seconds) if float(seconds).is_integer() else seconds
