"""The app over a backend of our own (``local/_backend.py``): the seam is all it needs to run commands."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx

from miosa_jupyter._wire import OutputChunk
from miosa_jupyter.local import LocalSettings, create_app
from miosa_jupyter.local._backend import Backend, Ending, Events, Execution
from miosa_jupyter.local._queue import OutputQueue

TOKEN = "backend-test-token"  # noqa: S105 (a test's token)
EXIT = Ending("exit", {"exit_code": 0, "duration_ms": 7})


class Canned:
    """An execution that has already run: its output, then its ending, wait in the queue."""

    def __init__(self, chunks: list[OutputChunk], ending: Ending) -> None:
        self.queue: Events = OutputQueue(1 << 20)
        for item in [*chunks, ending]:
            self.queue.put_nowait(item)
        self.finished = asyncio.Event()
        self.finished.set()
        self.claimed = asyncio.Event()
        self.pid: int | None = None
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True

    def abort(self, message: str) -> None:
        self.cancel()

    async def wait_closed(self, timeout: float = 10.0) -> None:
        return None


class Echo:
    """A backend whose commands print themselves and exit 0."""

    def __init__(self, ending: Ending = EXIT) -> None:
        self.ending = ending
        self.started: list[tuple[str, float, str]] = []
        self.executions: list[Canned] = []

    async def start(self, command: str, *, timeout: float, shell: str) -> Execution:
        self.started.append((command, timeout, shell))
        execution = Canned([OutputChunk("stdout", command.split(";"), False)], self.ending)
        self.executions.append(execution)
        return execution

    def python(self, code: str) -> tuple[str, str]:
        return f"python:{code}", "/bin/python-shell"

    def close(self) -> None:
        pass


def request(backend: Backend, method: str, path: str, **kwargs: Any) -> httpx.Response:
    """One request to a fresh app over ``backend``, in process."""
    app = create_app(LocalSettings(token=TOKEN), backend=backend)

    async def send() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        auth = {"Authorization": f"Bearer {TOKEN}"}
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1", headers=auth) as http:
            response = await http.request(method, f"/api/v1/computers/local{path}", **kwargs)
            if response.status_code == 202:  # a stream: read it through its ticket
                return await http.get(response.json()["stream_url"])
            return response

    return asyncio.run(send())


def test_exec_runs_the_command_on_the_backend() -> None:
    backend = Echo()
    response = request(backend, "POST", "/exec", json={"command": "a;b", "timeout": 5, "shell": "/bin/zsh"})
    assert response.status_code == 200
    body = response.json()
    assert (body["stdout"], body["stderr"], body["exit_code"], body["duration_ms"]) == ("a\nb\n", "", 0, 7)
    assert backend.started == [("a;b", 5, "/bin/zsh")]
    assert backend.executions[0].claimed.is_set() and backend.executions[0].cancelled


def test_exec_python_runs_the_backends_python() -> None:
    backend = Echo()
    response = request(backend, "POST", "/exec/python", json={"code": "print(1)"})
    assert response.json()["stdout"] == "python:print(1)\n"
    assert backend.started == [("python:print(1)", 30, "/bin/python-shell")]


def test_an_error_ending_answers_502() -> None:
    backend = Echo(Ending("error", {"message": "The computer was stopped."}))
    response = request(backend, "POST", "/exec", json={"command": "x"})
    assert response.status_code == 502
    assert "The computer was stopped." in response.text


def test_the_event_stream_is_the_backends_queue_then_its_ending() -> None:
    response = request(Echo(), "POST", "/exec/stream", json={"command": "a;b"})
    assert response.headers["content-type"].startswith("text/event-stream")
    frames = [f for f in response.text.split("\n\n") if f.strip()]
    events = [json.loads(line[6:]) for f in frames for line in f.split("\n") if line.startswith("data: ")]
    assert events == [
        {"type": "output", "line": "a\n", "stream": "stdout"},
        {"type": "output", "line": "b\n", "stream": "stdout"},
        {"type": "exit", "exit_code": 0, "duration_ms": 7},
    ]
    assert frames[-1].endswith("id: 3")
