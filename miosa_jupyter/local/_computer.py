"""The state of a local computer: its settings, its status, the commands it runs, its tickets.

What runs the commands is its backend (``_backend.py``; ``_subprocess.py`` by default).
"""

from __future__ import annotations

import asyncio
import os
import secrets
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ._subprocess import SubprocessBackend
from ._tickets import TicketBook

if TYPE_CHECKING:
    from ._backend import Backend, Execution
    from ._replay import Feed

__all__ = ["ApiError", "LocalComputer", "LocalSettings"]

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
TOKEN_ENV = "MIOSA_LOCAL_TOKEN"  # noqa: S105 (where `serve` reads a token from: a name, not a secret)


class ApiError(Exception):
    """An error answer: ``status``, ``code`` and a message that says what to do."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


@dataclass
class LocalSettings:
    """Knobs of the local computer; the defaults match the Miosa API's documented limits."""

    token: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    computer_id: str = "local"
    cwd: str | None = None
    ticket_ttl: float = 60.0
    heartbeat: float = 15.0
    # Resuming a dropped stream (Last-Event-ID): the bytes of the last writes kept per command, and
    # how long a command whose reader went away waits for it to come back before it is killed (and
    # how long a finished command's stream stays resumable).
    replay_bytes: int = 4 << 20
    # Short: a hang-up can't be told from a cut, and a user's Stop closes the stream (a reconnection
    # after a cut comes within milliseconds: bench/_resume.py measured 4 ms from cut to next line).
    resume_grace: float = 1.0
    # The kernel's send buffer per connection (Linux doubles it): what a dropped stream had handed
    # to the kernel is lost with it, so it must stay well under replay_bytes. Autotuned it grows to
    # net.ipv4.tcp_wmem's max (4 MiB), the whole window. None: leave it to the kernel.
    send_buffer: int | None = 512 << 10
    grace: float = 2.0  # SIGTERM to SIGKILL
    flush_after: float = 0.1  # a partial line is sent after this long without more output
    max_line: int = 65536  # longer lines are cut into pieces
    max_pending: int = 4 << 20  # bytes of output waiting for the reader, per command
    max_concurrent: int = 32
    max_connections: int = 512  # open HTTP connections; more are closed at once
    request_timeout: float = 10.0  # seconds for a request (head and body) to arrive whole
    max_body: int = 1 << 20
    max_command: int = 131071  # bytes: one argument of the shell (Linux MAX_ARG_STRLEN, less its NUL)
    max_result: int = 4 << 20  # characters of each field of an /exec answer (the tail is kept)
    max_timeout: int = 300
    default_timeout: int = 30
    default_shell: str = "/bin/bash"
    allowed_hosts: frozenset[str] = LOOPBACK_HOSTS
    cors_origin: str | None = None
    # Durable runs (``MIOSA_RUN=...``, ``_durable.py``) outlive this server: `miosa-jupyter serve` on
    # its own is a computer, whose runs survive its restarts; the kernel's embedded one ends them.
    keep_runs: bool = False


class LocalComputer:
    """One process-wide registry of running commands, shared by the app's endpoints."""

    def __init__(self, settings: LocalSettings, backend: Backend | None = None) -> None:
        self.settings = settings
        self.status: dict[str, str] = {settings.computer_id: "running"}
        self.running: set[Execution] = set()
        self._starting = 0  # slots taken by commands whose backend has not returned them yet
        self.tickets: TicketBook[Execution] = TicketBook(settings.ticket_ttl, on_expire=self._expired)
        self.feeds: dict[str, Feed] = {}  # redeemed ticket -> its stream, while it can be resumed
        # Commands get this process's environment, less any secret of the local computer's own.
        environ = {k: v for k, v in os.environ.items() if k != TOKEN_ENV}
        self.backend: Backend = backend or SubprocessBackend(settings, environ=environ)

    def describe(self, computer_id: str) -> dict[str, str]:
        return {"id": computer_id, "name": "Local computer", "status": self.status[computer_id]}

    def check(self, computer_id: str, *, running: bool = True) -> None:
        if computer_id not in self.status:
            raise ApiError(
                404,
                "NOT_FOUND",
                f"Computer {computer_id!r} not found; this local computer is {self.settings.computer_id!r}.",
            )
        if running and self.status[computer_id] != "running":
            raise ApiError(
                409,
                "COMPUTER_NOT_RUNNING",
                f"Computer {computer_id!r} is {self.status[computer_id]}; start it first.",
            )

    async def start(self, command: str, *, timeout: float, shell: str) -> Execution:
        """Start a command now; 429 past the concurrency limit, 502 if the shell can't start."""
        limit = self.settings.max_concurrent
        if len(self.running) + self._starting >= limit:
            raise ApiError(
                429,
                "rate_limit_exceeded",
                f"{limit} commands are already running or waiting for their stream to be read on this "
                "computer; wait for one to finish, or read (or let expire) the tickets already issued.",
            )
        # Take the slot before the first await: requests arriving together must not all pass the check.
        self._starting += 1
        try:
            execution = await self.backend.start(command, timeout=timeout, shell=shell)
        except OSError as exc:
            raise ApiError(
                502, "AGENT_UNAVAILABLE", f"Could not start {shell!r}: {exc.strerror or exc}."
            ) from None
        finally:
            self._starting -= 1
        self.running.add(execution)
        asyncio.get_running_loop().create_task(self._forget(execution))
        return execution

    async def _forget(self, execution: Execution) -> None:
        # A finished command whose ticket is not redeemed yet keeps its slot: its output still
        # waits in memory (64 quick POSTs used to hold 4.5 GB between them).
        await execution.finished.wait()
        await execution.claimed.wait()
        self.running.discard(execution)

    def _expired(self, execution: Execution) -> None:
        # A ticket never redeemed: no one will ever read this command's output.
        execution.claimed.set()
        execution.cancel()

    def stop(self, computer_id: str) -> None:
        self.status[computer_id] = "stopped"
        self.abort_all("The computer was stopped.")

    def abort_all(self, message: str) -> None:
        """End every command with an ``error`` event (server shutdown, computer stopped)."""
        for execution in list(self.running):
            execution.abort(message)

    async def wait_idle(self, timeout: float = 10.0) -> None:
        await asyncio.gather(*(e.wait_closed(timeout) for e in list(self.running)))

    def close(self) -> None:
        """The server is stopping: its backend lets go (the watchdog kills what is left)."""
        self.backend.close()
