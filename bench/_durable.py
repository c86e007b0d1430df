"""Durable runs against attached ones, through the runner the magic uses (no kernel): time to the
first line, 1M-line throughput, and how long output stops when a connection is cut: an events
connection resumed by the client (``_resume.py``), or a durable run's follower aborted (the runner
follows on with a new exec from the line it has).

Both paths run against the embedded local computer, interleaved round by round.
"""

from __future__ import annotations

import time
from typing import Any

from ._common import clock, median

TTFL_CMD = "echo hi; sleep 0.3"
BIG_CMD = "seq 1 1000000"


class _FirstLine:
    """A view that notes when the first line reaches it, and the end."""

    def __init__(self) -> None:
        self.t0 = clock()
        self.first: float | None = None
        self.ended: float | None = None

    def begin(self, run: Any) -> None:
        pass

    def ready(self) -> bool:
        return True

    def update(self, delta: Any) -> None:
        if self.first is None and delta.texts:
            self.first = clock() - self.t0

    def note(self, words: str) -> None:
        pass

    def pulse(self, quiet_since: float | None) -> None:
        pass

    def end(self, final: Any) -> None:
        self.ended = clock() - self.t0


def bench(rounds: int, samples: int) -> dict[str, Any]:
    from miosa_jupyter import Miosa
    from miosa_jupyter._runner import Run
    from miosa_jupyter.local import local_server

    server = local_server()
    client = Miosa(server.token, base_url=server.base_url)
    computer = server.computer_id
    Run(client, computer, "true", durable=True).start().wait()  # warm both paths
    Run(client, computer, "true").start().wait()
    out: dict[str, Any] = {"ttfl": {}, "end": {}, "big": {}, "big_ok": {}, "refollow": []}
    try:
        for durable in (False, True):
            out["ttfl"][durable], out["end"][durable] = [], []
            out["big"][durable], out["big_ok"][durable] = [], True
        for _ in range(samples):
            for durable in (False, True):
                view = _FirstLine()
                Run(client, computer, TTFL_CMD, durable=durable, view=view).start().wait()
                out["ttfl"][durable].append(view.first)
                out["end"][durable].append((view.ended or 0) - 0.3)
        for _ in range(rounds):
            for durable in (False, True):
                t0 = clock()
                result = Run(client, computer, BIG_CMD, durable=durable).start().wait()
                out["big"][durable].append(clock() - t0)
                ok = result is not None and result.ok and result.stdout.count("\n") == 1_000_000
                out["big_ok"][durable] = out["big_ok"][durable] and ok
        for _ in range(samples):
            out["refollow"].append(_refollow(client, computer))
    finally:
        client.close()
    from ._resume import _cut_to_next_line

    out["resume"] = _cut_to_next_line(max(samples, 5))
    return out


def _refollow(client: Any, computer: str) -> float:
    """Seconds from cutting a durable run's follower to its next line shown."""
    from miosa_jupyter._runner import Run

    view = _Lines()
    run = Run(
        client, computer, "for i in $(seq 1 400); do echo $i; sleep 0.005; done", durable=True, view=view
    )
    run.start()
    run.start_background()
    while view.count < 50:
        time.sleep(0.005)
    stream = run._stream
    assert stream is not None
    stream.abort()
    cut_at, seen = clock(), view.count
    while view.count == seen:
        time.sleep(0.001)
    took = clock() - cut_at
    run.wait(30)
    return took


class _Lines(_FirstLine):
    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def update(self, delta: Any) -> None:
        self.count += sum(text.count("\n") for _, text in delta.texts)


def report(d: dict[str, Any]) -> list[str]:
    if not d:
        return []

    def ms(values: list[float]) -> str:
        return f"{median(values) * 1000:.1f} ms [{min(values) * 1000:.1f}–{max(values) * 1000:.1f}]"

    rows = ["## Durable runs vs attached (the runner, no kernel)", ""]
    rows += ["| measure | attached | durable | durable / attached |", "|---|---|---|---|"]
    for label, key in (("time to first line", "ttfl"), ("banner after the command ends", "end")):
        a, b = d[key][False], d[key][True]
        rows.append(f"| {label} | {ms(a)} | {ms(b)} | {median(b) / median(a):.2f}x |")
    a, b = d["big"][False], d["big"][True]
    ok = "all lines" if d["big_ok"][False] and d["big_ok"][True] else "LINES MISSING"
    rows.append(f"| `{BIG_CMD}` wall ({ok}) | {ms(a)} | {ms(b)} | {median(b) / median(a):.2f}x |")
    rows.append(
        f"| events connection cut → next line (the client resumes, `Last-Event-ID`) | {ms(d['resume'])} | | |"
    )
    rows.append(
        f"| follower's stream cut → next line shown (a new exec follows on) | | {ms(d['refollow'])} | |"
    )
    return rows
