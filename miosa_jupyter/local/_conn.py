"""The local computer's HTTP connections: a deadline for each request to arrive, and a cap on open
connections, so half-open sockets can't lock everyone out (slowloris).

uvicorn times out idle keep-alive connections but gives a request that trickles in forever all the
time it wants: 300 sockets each sending a header byte now and then held the server for as long as
the test ran, and with 256 descriptors legitimate requests got "Too many open files". Here a request
must arrive whole (head and body) within ``request_timeout`` of its first byte, or of the connection
opening; past ``max_connections`` new connections are closed at once. No token is needed to open a
socket, so neither may depend on one.
"""

from __future__ import annotations

import asyncio
import contextlib
import resource
import socket
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

__all__ = ["GuardedH11", "raise_fd_limit"]


class GuardedH11(H11Protocol):
    """uvicorn's h11 protocol with a whole-request deadline and a connection cap."""

    request_timeout = 10.0
    max_connections = 512
    send_buffer: int | None = None  # SO_SNDBUF of each connection (None: the kernel's autotuning)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._deadline: asyncio.TimerHandle | None = None

    # asyncio.Protocol's takes a BaseTransport; uvicorn's narrows it to Transport (and ignores the same).
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > self.max_connections:
            transport.abort()
            return
        sock = transport.get_extra_info("socket")
        if self.send_buffer and sock is not None:
            # What a dropped stream loses in the kernel: the replay window must hold more than this.
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, self.send_buffer)
        self._arm()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.conn.their_state is h11.DONE or self.transport.is_closing():
            self._disarm()  # the request is in: the answer may take as long as the command
        elif self._deadline is None:
            self._arm()  # the next request on a kept-alive connection has started to arrive

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        self._deadline = self.loop.call_later(self.request_timeout, self._too_slow)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _too_slow(self) -> None:
        self._deadline = None
        if self.conn.their_state is not h11.DONE and not self.transport.is_closing():
            with contextlib.suppress(Exception):
                self.transport.abort()


def raise_fd_limit(want: int = 8192) -> None:
    """Raise this process's soft limit on open files toward its hard limit (often 1024 of 1M+)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = want if hard == resource.RLIM_INFINITY else min(want, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
