"""Server-tier fixtures: the local computer on loopback, in this process (uvicorn in a thread) or in a
subprocess, and clients of it. (``subserver`` and ``pids`` are the root conftest's.)"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from miosa_jupyter import LocalServer, LocalSettings, Miosa

from .._support.servers import FAST, ProcServer, raw_client


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


@pytest.fixture
def http(server: LocalServer) -> Iterator[httpx.Client]:
    """Raw HTTP against the session server, as curl would, with the bearer token."""
    with raw_client(server) as c:
        yield c


@pytest.fixture
def proc_server() -> Iterator[Callable[..., ProcServer]]:
    """A factory of local computers in subprocesses with any settings, all closed afterwards."""
    made: list[ProcServer] = []

    def make(**settings: Any) -> ProcServer:
        srv = ProcServer(**settings)
        made.append(srv)
        return srv

    yield make
    for srv in made:
        srv.close()
