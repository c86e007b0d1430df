"""A dropped event stream resumes (Last-Event-ID): the real client, the real local computer, and a
loopback TCP proxy between them that cuts the events connection at random points, mid-frame and
mid-character, many times over one command. Every line arrives exactly once, in order, and the
command ran once."""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
import threading
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from miosa_jupyter import AsyncMiosa, LocalServer, Miosa
from miosa_jupyter._stream import StreamLines

N = 200_000
CUTS = 12
# Odd lines carry 2-, 3- and 4-byte characters, so cuts land inside them too.
WIDE = " é€😀"
SEQ = f"seq 1 {N} | awk '{{ if ($1 % 2) print $1 \"{WIDE}\"; else print $1 }}'"


def expected() -> list[str]:
    return [f"{i}{WIDE}\n" if i % 2 else f"{i}\n" for i in range(1, N + 1)]


class CuttingProxy:
    """127.0.0.1:port -> the server. On a connection that sent the events GET, the answer is cut
    (both sockets closed) after a random number of bytes, ``cuts`` times in all; then it passes.

    Half the cuts fall inside a UTF-8 character when the bytes at hand hold one."""

    def __init__(self, upstream: tuple[str, int], cuts: int, seed: int) -> None:
        self.upstream = upstream
        self.left = cuts
        self.done = 0
        self.mid_char = 0
        self.rng = random.Random(seed)  # noqa: S311 (where to cut, not a secret)
        self.lock = threading.Lock()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self.closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            # A middlebox holding little (what it holds when cut is lost: the replay window covers
            # that and the server's send buffer, not a 32 MiB autotuned receive buffer).
            server = socket.socket()
            server.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 256 << 10)
            server.connect(self.upstream)
            for s in (client, server):
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            armed = threading.Event()
            threading.Thread(target=self._up, args=(client, server, armed), daemon=True).start()
            threading.Thread(target=self._down, args=(server, client, armed), daemon=True).start()

    def _up(self, src: socket.socket, dst: socket.socket, armed: threading.Event) -> None:
        with _closing(src, dst), contextlib.suppress(OSError):  # OSError: the other side cut
            while data := src.recv(65536):
                if b"/exec/stream/events" in data:
                    armed.set()
                dst.sendall(data)

    def _down(self, src: socket.socket, dst: socket.socket, armed: threading.Event) -> None:
        budget: int | None = None
        with _closing(src, dst), contextlib.suppress(OSError):
            while data := src.recv(65536):
                if budget is None and armed.is_set():
                    with self.lock:
                        if self.left:
                            self.left -= 1
                            # A reconnection first gets what it had since the last id again (up to
                            # one 256 KiB write, skipped): cut one only past that, or five cuts in a
                            # row can land before anything new, which the client rightly gives up on.
                            low = 1 if self.done == 0 else 320 << 10
                            budget = self.rng.randint(low, 1 << 20)
                if budget is not None and len(data) >= budget:
                    at = self._cut_at(data, budget)
                    dst.sendall(data[:at])
                    return  # both sockets close: the client sees the stream end mid-way
                if budget is not None:
                    budget -= len(data)
                dst.sendall(data)

    def _cut_at(self, data: bytes, budget: int) -> int:
        with self.lock:
            self.done += 1
            if self.rng.random() < 0.5:
                for at in range(budget, min(len(data), budget + 4096)):
                    if 0x80 <= data[at] < 0xC0:  # a continuation byte: inside a character
                        self.mid_char += 1
                        return at
        return budget

    def close(self) -> None:
        self.closed = True
        self.listener.close()


class _closing:
    def __init__(self, *socks: socket.socket) -> None:
        self.socks = socks

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        for s in self.socks:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()


@pytest.fixture
def resumable(make_server) -> LocalServer:
    return make_server(resume_grace=10.0)


@pytest.fixture
def proxy(resumable: LocalServer, request) -> Iterator[CuttingProxy]:
    host, _, port = resumable.base_url.removeprefix("http://").partition("/")[0].rpartition(":")
    p = CuttingProxy((host, int(port)), CUTS, seed=zlib.crc32(request.node.name.encode()))
    yield p
    p.close()


def _command(tmp_path: Path) -> tuple[str, Path]:
    runs = tmp_path / "runs"
    return f"echo run >> {runs}; {SEQ}", runs


def _check(lines: list[str], ending: dict, runs: Path, proxy: CuttingProxy, reconnects: int) -> None:
    assert proxy.done == CUTS, "the proxy did not cut as often as asked"
    assert ending.get("type") == "exit" and ending["exit_code"] == 0, ending
    assert len(lines) == N and lines == expected()
    assert runs.read_text() == "run\n", "the command ran more than once"
    assert reconnects == CUTS
    assert proxy.mid_char > 0, "no cut fell inside a character"


def test_a_cut_stream_resumes_every_line_once_iterating_events(resumable, proxy, tmp_path):
    command, runs = _command(tmp_path)
    lines: list[str] = []
    ending: dict = {}
    with Miosa(resumable.token, base_url=f"http://127.0.0.1:{proxy.port}/api/v1") as client:
        stream = client.exec.stream("local", command=command, timeout=120)
        for event in stream:
            if event.type == "output":
                lines.append(event.line)
            else:
                ending = event.data
    _check(lines, ending, runs, proxy, stream.reconnects)


def test_a_cut_stream_resumes_every_line_once_in_batches(resumable, proxy, tmp_path):
    command, runs = _command(tmp_path)
    lines: list[str] = []
    ending: dict = {}
    with Miosa(resumable.token, base_url=f"http://127.0.0.1:{proxy.port}/api/v1") as client:
        stream = client.exec.stream("local", command=command, timeout=120)
        for batch in stream.batches():
            for part in batch:
                if type(part) is StreamLines:
                    lines += part.lines
                elif part["type"] == "output":
                    lines.append(part["line"])
                else:
                    ending = part
    _check(lines, ending, runs, proxy, stream.reconnects)


def test_a_cut_stream_resumes_every_line_once_async(resumable, proxy, tmp_path):
    command, runs = _command(tmp_path)

    async def main() -> tuple[list[str], dict, int]:
        lines: list[str] = []
        ending: dict = {}
        async with AsyncMiosa(resumable.token, base_url=f"http://127.0.0.1:{proxy.port}/api/v1") as client:
            stream = client.exec.stream("local", command=command, timeout=120)
            async for event in stream:
                if event.type == "output":
                    lines.append(event.line)
                else:
                    ending = event.data
        return lines, ending, stream.reconnects

    lines, ending, reconnects = asyncio.run(main())
    _check(lines, ending, runs, proxy, reconnects)
