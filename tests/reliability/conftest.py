"""Fixtures for the reliability and security suite: servers in subprocesses, process figures, raw HTTP.

Everything is real: uvicorn on loopback (in a thread or a subprocess), real commands, real kernels.
Waits poll with deadlines (``wait_until``); the only sleeps are load shaping (a slow reader).
"""

from __future__ import annotations

import contextlib
import json
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest

from ..conftest import kill_pid, wait_until

HERE = Path(__file__).parent
SERVE = HERE / "_serve.py"


# -- a local computer in a subprocess, with any settings -----------------------------------------


class ProcServer:
    """``LocalServer(LocalSettings(**settings)).serve_forever()`` in a subprocess (see ``_serve.py``).

    The CLI fixes the concurrency limit at 32; this runs the same server code with a chosen limit,
    so its memory, fds, threads and children can be measured apart from the test process.
    """

    def __init__(self, **settings: Any) -> None:
        settings.setdefault("token", "token-of-the-reliability-tests")
        self.token: str = settings["token"]
        self.proc = subprocess.Popen(
            [sys.executable, str(SERVE), json.dumps(settings)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        line = self.proc.stdout.readline() if self.proc.stdout else ""
        if not line.startswith("URL "):
            self.proc.kill()
            raise AssertionError(f"server did not start: {line!r} {self.proc.stderr.read()}")
        self.base_url = line.split()[1]
        self.ps = psutil.Process(self.proc.pid)

    @property
    def origin(self) -> str:
        return self.base_url.removesuffix("/api/v1")

    def figures(self) -> Figures:
        return Figures.of(self.ps)

    def close(self) -> None:
        for child in _children(self.ps):
            kill_pid(child)
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)
        for f in (self.proc.stdout, self.proc.stderr):
            if f:
                f.close()


def _children(ps: psutil.Process) -> list[int]:
    with contextlib.suppress(psutil.Error):
        return [c.pid for c in ps.children(recursive=True)]
    return []


@pytest.fixture
def proc_server() -> Iterator[Callable[..., ProcServer]]:
    made: list[ProcServer] = []

    def make(**settings: Any) -> ProcServer:
        srv = ProcServer(**settings)
        made.append(srv)
        return srv

    yield make
    for srv in made:
        srv.close()


# -- process figures ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Figures:
    """What a process holds: open fds, threads, live descendants, resident memory."""

    fds: int
    threads: int
    children: int
    rss: int

    @classmethod
    def of(cls, ps: psutil.Process) -> Figures:
        # The server's one watchdog (it kills the commands' groups if the server dies) is not a command.
        live = [c for c in ps.children(recursive=True) if _alive(c) and not _is_watchdog(c)]
        return cls(ps.num_fds(), ps.num_threads(), len(live), ps.memory_info().rss)

    def __str__(self) -> str:
        return (
            f"fds={self.fds} threads={self.threads} children={self.children} rss={self.rss / 2**20:.1f} MiB"
        )


def _is_watchdog(p: psutil.Process) -> bool:
    try:
        return any(arg.endswith("_watchdog.py") for arg in p.cmdline())
    except psutil.Error:
        return False


def _alive(p: psutil.Process) -> bool:
    try:
        return p.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


class PeakRss:
    """Samples a process's RSS in a thread (measurement, not waiting) and keeps the peak."""

    def __init__(self, ps: psutil.Process, every: float = 0.02) -> None:
        self.ps = ps
        self.every = every
        self.before = ps.memory_info().rss
        self.peak = self.before
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(self.every):
            with contextlib.suppress(psutil.Error):
                self.peak = max(self.peak, self.ps.memory_info().rss)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)


def mib(n: int) -> str:
    return f"{n / 2**20:.1f} MiB"


# -- pids a test learns about -------------------------------------------------------------------------


def wait_pidfile(path: Path, timeout: float = 10.0) -> int:
    """The pid a command wrote with ``echo $$ > file``."""

    def read() -> int | None:
        with contextlib.suppress(FileNotFoundError, ValueError):
            text = path.read_text()
            if text.endswith("\n"):
                return int(text.split()[0])
        return None

    return wait_until(read, timeout, what=f"pid file {path}")


def alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


# -- raw HTTP ------------------------------------------------------------------------------------------


@dataclass
class RawResponse:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def raw_request(port: int, head: bytes, body: bytes = b"", timeout: float = 10.0) -> RawResponse:
    """Send exactly ``head`` + ``body`` (no client-side normalisation) and read one answer.

    Used for request targets an HTTP client would clean up (``..%2f``, ``//``, absolute-form).
    """
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(head + body)
        data = b""
        deadline = time.monotonic() + timeout
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
            assert time.monotonic() < deadline, "no answer head"
        head_bytes, _, rest = data.partition(b"\r\n\r\n")
        lines = head_bytes.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        chunked = headers.get("transfer-encoding", "").lower() == "chunked"
        length = int(headers.get("content-length", "-1"))
        while True:
            if chunked and (rest.endswith(b"0\r\n\r\n") or rest == b"0\r\n\r\n"):
                break
            if not chunked and 0 <= length <= len(rest):
                break
            chunk = sock.recv(65536)
            if not chunk:
                break
            rest += chunk
            assert time.monotonic() < deadline, "body never ended"
        if chunked:
            rest = _dechunk(rest)
        elif length >= 0:
            rest = rest[:length]
        return RawResponse(status, headers, rest)


def _dechunk(data: bytes) -> bytes:
    out = b""
    while data:
        size_line, _, data = data.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            break
        out += data[:size]
        data = data[size + 2 :]
    return out


def port_of(url: str) -> int:
    return httpx.URL(url).port or 80


TRACEBACK = re.compile(r"Traceback|File \"|line \d+, in |Exception:|Error\(", re.IGNORECASE)


def assert_error_shape(status: int, headers: Any, body: bytes | str) -> dict[str, Any]:
    """An error answer: not a 500, no traceback, the documented ``{"error": {...}}`` body and header."""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    assert status != 500, f"500 for a client's mistake: {text[:300]}"
    assert not TRACEBACK.search(text), f"traceback-looking body: {text[:300]}"
    assert "json" in headers.get("content-type", ""), (status, headers.get("content-type"), text[:200])
    payload = json.loads(text)
    assert isinstance(payload, dict), text[:200]
    err = payload["error"]
    assert set(err) >= {"code", "message", "request_id"}, err
    assert isinstance(err["code"], str) and err["code"]
    assert isinstance(err["message"], str) and err["message"]
    assert headers.get("x-request-id") == err["request_id"]
    return err


# -- HTML the product emits ------------------------------------------------------------------------------

PRODUCT_TAGS = {"div", "span", "code", "style"}
PRODUCT_ATTRS = {"class", "role", "title", "aria-hidden", "aria-label", "data-status", "style", "tabindex"}
SAFE_STYLE = re.compile(r"^(?:\s*[a-z-]+\s*:\s*[#\w\s.,%()-]+;?)*\s*$")


class TagCollector(HTMLParser):
    """Every tag, attribute and text piece of an HTML string, as a browser's tokenizer sees them."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []
        self.text: list[str] = []
        self.style_text: list[str] = []
        self.other: list[str] = []
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))
        self._in_style = tag == "style"

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))

    def handle_endtag(self, tag: str) -> None:
        self._in_style = False

    def handle_data(self, data: str) -> None:
        (self.style_text if self._in_style else self.text).append(data)

    def handle_comment(self, data: str) -> None:
        self.other.append(f"comment:{data}")

    def handle_decl(self, decl: str) -> None:
        self.other.append(f"decl:{decl}")

    def handle_pi(self, data: str) -> None:
        self.other.append(f"pi:{data}")

    def unknown_decl(self, data: str) -> None:
        self.other.append(f"unknown:{data}")


def check_html(
    markup: str, *, tags: set[str] = PRODUCT_TAGS, attrs: set[str] = PRODUCT_ATTRS
) -> TagCollector:
    """Parse ``markup``; fail on any tag, attribute, style value or markup the product doesn't emit."""
    parser = TagCollector()
    parser.feed(markup)
    parser.close()
    for tag, tag_attrs in parser.tags:
        assert tag in tags, f"unexpected tag <{tag}> {tag_attrs}"
        for name, value in tag_attrs:
            assert name in attrs, f"unexpected attribute {name}={value!r} on <{tag}>"
            if name == "style":
                assert value is not None and SAFE_STYLE.match(value), f"unexpected style {value!r}"
                assert "url" not in value.lower() and "expression" not in value.lower(), value
    assert not parser.other, f"comments/declarations from output: {parser.other[:3]}"
    return parser
