"""Shared fixtures: a real local computer (uvicorn on loopback), clients, and polling helpers."""

from __future__ import annotations

import atexit
import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import httpx
import psutil
import pytest

from miosa_jupyter import LocalServer, LocalSettings, Miosa

T = TypeVar("T")

# Durable runs keep a directory per run on their computer (~/.miosa/runs by default): the tests'
# runs go to one directory of this session instead (kernels and servers they start inherit it).
os.environ["MIOSA_RUNS"] = tempfile.mkdtemp(prefix="miosa-test-runs-")
atexit.register(shutil.rmtree, os.environ["MIOSA_RUNS"], True)

FAST = {"grace": 0.5, "heartbeat": 0.5, "resume_grace": 0.3}


def wait_until(predicate: Callable[[], T], timeout: float = 5.0, interval: float = 0.01, what: str = "") -> T:
    """Poll ``predicate`` until it returns something truthy (returned), or fail at ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {timeout} s: {what or predicate}")
        time.sleep(interval)


def pid_gone(pid: int) -> bool:
    """True when ``pid`` no longer runs (gone, or a zombie nobody has reaped yet)."""
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def group_gone(pgid: int) -> bool:
    """True when no live process is left in process group ``pgid``."""
    for proc in psutil.process_iter(["pid", "status"]):
        with contextlib.suppress(psutil.Error, ProcessLookupError):
            if os.getpgid(proc.pid) == pgid and proc.info["status"] != psutil.STATUS_ZOMBIE:
                return False
    return True


def kill_pid(pid: int) -> None:
    """SIGKILL ``pid`` and, if it leads one, its process group (commands run in their own session)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        if os.getpgid(pid) == pid:
            os.killpg(pid, signal.SIGKILL)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, signal.SIGKILL)


def kill_tree(pid: int) -> None:
    """SIGKILL a pid, its group if it leads one, and every descendant (teardown of strays)."""
    with contextlib.suppress(psutil.Error):
        for child in psutil.Process(pid).children(recursive=True):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(child.pid, signal.SIGKILL)
    kill_pid(pid)


def read_pid(path: Any, timeout: float = 5.0) -> int:
    """Wait for a pid file written by a command (``echo $$ > file``) and return the pid."""

    def read() -> int | None:
        with contextlib.suppress(FileNotFoundError, ValueError):
            text = path.read_text()
            if text.endswith("\n"):
                return int(text)
        return None

    return wait_until(read, timeout, what=f"pid file {path}")


@pytest.fixture(scope="session")
def server() -> Iterator[LocalServer]:
    """One local computer for the session, with short grace and heartbeat."""
    srv = LocalServer(LocalSettings(**FAST)).start()
    yield srv
    srv.stop()


@pytest.fixture
def make_server() -> Iterator[Callable[..., LocalServer]]:
    """A factory of fresh servers (for tests that change state); all are stopped afterwards."""
    servers: list[LocalServer] = []

    def make(**settings: Any) -> LocalServer:
        srv = LocalServer(LocalSettings(**{**FAST, **settings})).start()
        servers.append(srv)
        return srv

    yield make
    for srv in servers:
        srv.stop()


@pytest.fixture
def client(server: LocalServer) -> Iterator[Miosa]:
    with Miosa(server.token, base_url=server.base_url) as c:
        yield c


def origin(srv: LocalServer) -> str:
    return srv.base_url.removesuffix("/api/v1")


@pytest.fixture
def http(server: LocalServer) -> Iterator[httpx.Client]:
    """Raw HTTP against the session server, as curl would, with the bearer token."""
    with httpx.Client(
        base_url=origin(server),
        headers={"Authorization": f"Bearer {server.token}"},
        timeout=httpx.Timeout(30.0, connect=5.0),
    ) as c:
        yield c


def raw_client(srv: LocalServer) -> httpx.Client:
    return httpx.Client(
        base_url=origin(srv),
        headers={"Authorization": f"Bearer {srv.token}"},
        timeout=httpx.Timeout(30.0, connect=5.0),
    )


@pytest.fixture
def pids() -> Iterator[list[int]]:
    """Pids a test learned about; at the end each, its group and its descendants are killed
    (never leave strays), whatever the test's outcome."""
    found: list[int] = []
    yield found
    for pid in found:
        kill_tree(pid)


TEST_TOKEN = "token-of-the-tests"  # noqa: S105 (a test's token, not a secret)


class Subserver:
    """``python -m miosa_jupyter serve`` in a subprocess; the URL and token parsed from its banner."""

    def __init__(self, *args: str, token: str | None = None) -> None:
        env = dict(os.environ)
        if token is not None:  # the token travels in the environment, never in argv
            env["MIOSA_LOCAL_TOKEN"] = token
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "miosa_jupyter", "serve", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        self.lines: list[str] = []
        self.base_url = ""
        self.token = token or ""
        deadline = time.monotonic() + 20
        while not (self.base_url and self.token):
            line = self.proc.stdout.readline() if self.proc.stdout else ""
            if not line:
                raise AssertionError(f"server exited: {self.proc.wait()} {self.proc.stderr.read()}")
            self.lines.append(line)
            if m := re.search(r"(http://\S+/api/v1)", line):
                self.base_url = m.group(1)
            if m := re.search(r"token:\s+(\S+)", line):
                self.token = m.group(1)
            assert time.monotonic() < deadline, "no banner"

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)
        for f in (self.proc.stdout, self.proc.stderr):
            if f:
                f.close()


@pytest.fixture
def subserver() -> Iterator[Callable[..., Subserver]]:
    made: list[Subserver] = []

    def make(*args: str, token: str | None = None) -> Subserver:
        s = Subserver(*args, token=token)
        made.append(s)
        return s

    yield make
    for s in made:
        s.close()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Browser tests last: Playwright's sync API keeps an event loop running on the main thread for
    the rest of the session, after which ``asyncio.run()`` (the async client tests) can't be used."""
    items.sort(key=lambda item: item.get_closest_marker("browser") is not None)
