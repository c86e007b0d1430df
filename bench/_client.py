"""Client path: ``exec.stream(...)`` against the embedded local computer, started by ``local_server()``
as a kernel starts it (since 53d0e61 a ``miosa_jupyter serve`` process beside this one).

Two ways to read the stream: iterating ``Event``s, the API page's way, and ``batches()``, the fast path
the notebook runner uses (one list of bulk-decoded output runs per network read).
"""

from __future__ import annotations

from typing import Any

from ._common import Series, Workload, clock, median

EVENTS = "exec.stream, iterate Events"
BATCHES = "exec.stream, `batches()`"
TTFL_CMD = "echo hi; sleep 1"


class ClientBench:
    def __init__(self) -> None:
        from miosa_jupyter import Miosa
        from miosa_jupyter.local import local_server

        t0 = clock()
        server = local_server()
        self.server_start = clock() - t0
        self.client = Miosa(server.token, base_url=server.base_url)
        self.computer = server.computer_id
        t0 = clock()
        self.client.exec.run(self.computer, command="true")
        self.first_exec = clock() - t0

    def _stream(self, command: str) -> Any:
        return self.client.exec.stream(self.computer, command=command, timeout=300)

    def events(self, w: Workload) -> tuple[float, bool]:
        t0 = clock()
        lines = size = 0
        exit_code = None
        for event in self._stream(w.command):
            if event.type == "output":
                lines += 1
                size += len(event.data["line"])
            elif event.type == "exit":
                exit_code = event.data["exit_code"]
        return clock() - t0, exit_code == 0 and lines == w.n and size == w.nbytes

    def batches(self, w: Workload) -> tuple[float, bool]:
        from miosa_jupyter._stream import StreamLines

        t0 = clock()
        lines = size = 0
        exit_code = None
        for batch in self._stream(w.command).batches():
            for part in batch:
                if type(part) is StreamLines:
                    lines += len(part.lines)
                    size += sum(map(len, part.lines))
                elif part.get("type") == "output":
                    lines += 1
                    size += len(part["line"])
                elif part.get("type") == "exit":
                    exit_code = part["exit_code"]
        return clock() - t0, exit_code == 0 and lines == w.n and size == w.nbytes

    def first_line(self) -> tuple[float, float]:
        """Seconds from the call to the first output event, warm; and of that, until ``stream()``
        returned (POST answered with a ticket, then the events GET answered with its headers)."""
        t0 = clock()
        first = None
        stream = self._stream(TTFL_CMD)
        opened = clock() - t0
        for event in stream:
            if first is None and event.type == "output" and event.data["line"].startswith("hi"):
                first = clock() - t0
        assert first is not None, "no 'hi' line"
        return first, opened

    def close(self) -> None:
        self.client.close()


def bench(loads: list[Workload], rounds: int, ttfl_samples: int) -> dict[str, Any]:
    b = ClientBench()
    try:
        series = []
        for w in loads:
            ev, ba = Series(EVENTS, w), Series(BATCHES, w)
            for _ in range(rounds):
                ev.add(*b.events(w))
                ba.add(*b.batches(w))
            series += [ev, ba]
        samples = [b.first_line() for _ in range(ttfl_samples)]
    finally:
        b.close()
    return {
        "series": series,
        "ttfl": [first for first, _ in samples],
        "ttfl_opened": median([opened for _, opened in samples]),
        "server_start": b.server_start,
        "first_exec": b.first_exec,
    }
