"""Serving a local computer with uvicorn: in a daemon thread (kernels, tests) or in the foreground.

uvicorn's ``run()`` calls ``asyncio.run``, which a kernel's main thread can't do, and its signal
handling would hijack the kernel's Interrupt; so the embedded server runs ``Server.serve`` on its own
loop in a daemon thread, on a socket bound before the thread starts (the port is known at once and a
bind failure is an exception here, not a ``sys.exit`` inside the thread).
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import logging
import socket
import threading
import time

import uvicorn

from .._errors import LocalServerError
from ._app import create_app
from ._computer import LOOPBACK_HOSTS, LocalComputer, LocalSettings
from ._conn import GuardedH11, raise_fd_limit
from ._process import LocalProcess

__all__ = ["LocalServer", "local_server"]


class _Server(uvicorn.Server):
    """Ends every command (an ``error`` event, then the group is killed) before closing connections,
    so open event streams don't hold the graceful shutdown."""

    computer: LocalComputer

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        self.computer.abort_all("The local computer is shutting down.")
        await asyncio.sleep(0.05)  # let the streams write their last event
        await super().shutdown(sockets)
        await self.computer.wait_idle(self.computer.settings.grace + 3)
        self.computer.close()


class LocalServer:
    """A local computer on ``host:port`` (port 0: the OS picks one).

    >>> server = LocalServer().start()
    >>> server.base_url, server.token
    >>> server.stop()
    """

    def __init__(
        self, settings: LocalSettings | None = None, *, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        self.settings = settings or LocalSettings()
        if host not in LOOPBACK_HOSTS:
            self.settings.allowed_hosts = self.settings.allowed_hosts | {host}
        self.host = host
        self.app = create_app(self.settings)
        self.computer: LocalComputer = self.app.state.computer
        self._sock = _bind(host, port)
        self.port: int = self._sock.getsockname()[1]
        protocol = type(
            "Protocol",
            (GuardedH11,),
            {
                "request_timeout": self.settings.request_timeout,
                "max_connections": self.settings.max_connections,
                "send_buffer": self.settings.send_buffer,
            },
        )
        config = uvicorn.Config(
            self.app,
            loop="asyncio",
            http=protocol,
            lifespan="off",
            log_config=None,  # don't reconfigure the kernel's logging
            access_log=False,  # access lines would carry ?ticket=
            log_level="warning",
            timeout_graceful_shutdown=3,
        )
        self._server = _Server(config)
        self._server.computer = self.computer
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        """The API base, e.g. ``http://127.0.0.1:40123/api/v1``."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/api/v1"

    @property
    def token(self) -> str:
        return self.settings.token

    @property
    def computer_id(self) -> str:
        return self.settings.computer_id

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive() and not self._server.should_exit

    def start(self, timeout: float = 10.0) -> LocalServer:
        """Serve in a daemon thread; returns once it accepts connections (already running: no-op)."""
        if self.running:
            return self
        self._thread = threading.Thread(target=self._serve, name="miosa-local-computer", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise LocalServerError(f"The local computer did not start on {self.host}:{self.port}.")
            time.sleep(0.005)
        return self

    def serve_forever(self) -> None:
        """Serve on this thread until SIGINT/SIGTERM (uvicorn's own signal handling)."""
        self._serve()

    def request_stop(self) -> None:
        """Ask the server to stop (from any thread); it ends every command, then returns."""
        self._server.should_exit = True

    def stop(self, timeout: float = 10.0) -> None:
        """Stop serving: commands get an ``error`` event and are killed, then the thread ends."""
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                self._server.force_exit = True
                self._thread.join(5)
        with contextlib.suppress(OSError):
            self._sock.close()

    def _serve(self) -> None:
        _quiet_uvicorn()
        raise_fd_limit()
        self._server.run(sockets=[self._sock])

    def __enter__(self) -> LocalServer:
        return self.start() if self._thread is None else self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY only on sockets that say they are TCP, and
    # without it the first small write of a stream waits ~40 ms for Nagle's algorithm.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise LocalServerError(
            f"Can't serve the local computer on {host}:{port}: {exc.strerror or exc}. "
            "Pick another --port (0 lets the OS choose)."
        ) from None
    sock.listen(128)
    sock.set_inheritable(False)
    return sock


def _quiet_uvicorn() -> None:
    # With log_config=None uvicorn's loggers propagate to the root logger, whose last-resort handler
    # would print into whatever notebook cell is running. Keep them to themselves.
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        log = logging.getLogger(name)
        if not log.handlers:
            log.addHandler(logging.NullHandler())
        log.propagate = False


_lock = threading.Lock()
_embedded: LocalProcess | None = None


def local_server() -> LocalProcess:
    """This process's local computer, started on first use and reused after (once per kernel).

    It runs beside this process (``LocalProcess``), not in a thread of it: see ``_process.py`` for
    why. ``LocalServer(...).start()`` serves one in a thread instead.
    """
    global _embedded
    with _lock:
        if _embedded is None or not _embedded.running:
            _embedded = LocalProcess().start()
            atexit.register(_embedded.stop, 5.0)
        return _embedded
