"""The local computer in a subprocess, and raw HTTP to one: what the server and kernel tiers start.

``Subserver`` is the CLI (``python -m miosa_jupyter serve``) as a user runs it; ``ProcServer`` runs the
same server code with any settings (the CLI fixes some, e.g. the concurrency limit), so its memory,
fds, threads and children can be measured apart from the test process. In-process servers are the
package's own ``LocalServer`` (the ``server``/``make_server`` fixtures of ``tests/server/``).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import psutil

from miosa_jupyter import LocalServer

from .measure import Figures
from .processes import kill_pid

FAST = {"grace": 0.5, "heartbeat": 0.5, "resume_grace": 0.3}  # settings of the tests' servers
TEST_TOKEN = "token-of-the-tests"  # noqa: S105 (a test's token, not a secret)
SERVE = Path(__file__).with_name("serve.py")


def origin(srv: LocalServer) -> str:
    return srv.base_url.removesuffix("/api/v1")


def raw_client(srv: LocalServer) -> httpx.Client:
    """Raw HTTP to ``srv``, as curl would, with the bearer token."""
    return httpx.Client(
        base_url=origin(srv),
        headers={"Authorization": f"Bearer {srv.token}"},
        timeout=httpx.Timeout(30.0, connect=5.0),
    )


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
        _reap(self.proc)


class ProcServer:
    """``LocalServer(LocalSettings(**settings)).serve_forever()`` in a subprocess (see ``serve.py``)."""

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
        children: list[int] = []
        with contextlib.suppress(psutil.Error):
            children = [c.pid for c in self.ps.children(recursive=True)]
        for child in children:
            kill_pid(child)
        _reap(self.proc)


def _reap(proc: subprocess.Popen[str]) -> None:
    """Kill ``proc`` if it still runs, wait for it, and close its pipes."""
    if proc.poll() is None:
        proc.kill()
    proc.wait(10)
    for f in (proc.stdout, proc.stderr):
        if f:
            f.close()
