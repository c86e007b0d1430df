"""A loopback TCP proxy to a server: ``cut()`` closes the connections open now, ``down`` refuses
new ones (a network that is gone), ``cut_at`` says when the last cut was (for figures).

The tests of durable runs and the resume benchmark both use it; ``tests/server/test_resume.py``
has its own, which cuts by byte counts."""

from __future__ import annotations

import contextlib
import socket
import threading
import time

__all__ = ["Proxy"]


class Proxy:
    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self.listener.getsockname()[1]
        self.down = False
        self.cut_at = 0.0
        self._open: list[socket.socket] = []
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    @classmethod
    def to(cls, base_url: str) -> tuple[Proxy, str]:
        """A proxy to the server at ``base_url`` (``http://host:port/api/v1``), and the URL through it."""
        host, _, port = base_url.removeprefix("http://").partition("/")[0].rpartition(":")
        proxy = cls((host, int(port)))
        return proxy, base_url.replace(f":{port}/", f":{proxy.port}/", 1)

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if self.down:
                client.close()
                continue
            upstream = socket.create_connection(self.upstream)
            with self._lock:
                self._open += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(a: socket.socket, b: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := a.recv(65536):
                b.sendall(data)
        for s in (a, b):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        self.cut_at = time.perf_counter()
        with self._lock:
            open_now, self._open = self._open, []
        for s in open_now:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self.listener.close()
        self.cut()
