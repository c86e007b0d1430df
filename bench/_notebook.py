"""Notebook path: one real ipykernel runs ``%%miosa <cmd>``, ``%%bash <cmd>`` and ``!<cmd>`` in turn,
round after round; each is timed from the execute request to the kernel's idle status, with its iopub
message count and bytes. Also time to first line, and the kernel's memory while streaming.
"""

from __future__ import annotations

import contextlib
import re
from typing import Any

import psutil

from tests._support.measure import PeakRss

from ._common import Series, Workload, clock, log
from ._kernel import Kernel, Msg

MIOSA, BASH, BANG = "%%miosa", "%%bash", "!cmd"
SLOW_PEERS = (BASH, BANG)
TTFL_CMD = "echo hi; sleep 1"
_TAGS = re.compile(r"<[^>]*>")


def cell(path: str, command: str) -> str:
    if path == MIOSA:
        return f"%%miosa --timeout 300\n{command}"
    if path == BASH:
        return f"%%bash\n{command}"
    return f"!{command}"


class Lines:
    """Counts what a path delivered: stream lines (``%%bash``, ``!``), or the widget's final
    ``line_count`` and ``status`` (``%%miosa``: the view holds a bounded window, the count is exact)."""

    def __init__(self) -> None:
        self.newlines = 0
        self.broken_pipe = 0
        self.line_count = 0
        self.status = ""

    def __call__(self, m: Msg) -> None:
        c = m.content or {}
        if m.msg_type == "stream":
            text = c.get("text", "")
            self.newlines += text.count("\n")
            self.broken_pipe += text.count("Broken pipe")  # `yes`'s stderr, merged into `!`'s pty
        elif m.msg_type == "comm_msg":
            data = c.get("data", {})
            state = data.get("state") or data.get("content") or {}
            if "line_count" in state:
                self.line_count = max(self.line_count, state["line_count"])
            if state.get("status"):
                self.status = state["status"]

    def ok(self, path: str, n: int) -> bool:
        if path == MIOSA:
            return self.line_count == n and self.status == "success"
        return self.newlines - self.broken_pipe == n


def miosa_hi(m: Msg) -> bool:
    """A comm message whose lines (a delta or a window snapshot) carry the line ``hi``."""
    if m.msg_type != "comm_msg":
        return False
    data = (m.content or {}).get("data", {})
    payload = data.get("content") if data.get("method") == "custom" else data.get("state", {}).get("window")
    runs = (payload or {}).get("spans", [])
    return any(_TAGS.sub("", h).strip() == "hi" for _, htmls in runs for h in htmls)


def stream_hi(m: Msg) -> bool:
    return m.msg_type == "stream" and "hi" in (m.content or {}).get("text", "")


def _run(k: Kernel, path: str, w: Workload, cap: float | None) -> tuple[float, bool, int, int, bool]:
    lines = Lines()
    ex = k.execute(cell(path, w.command), on_msg=lines, cap=cap if path in SLOW_PEERS else None)
    ok = ex.status == "ok" and lines.ok(path, w.n)
    return ex.seconds, ok, ex.msgs, ex.nbytes, ex.capped


def _ttfl(k: Kernel, path: str) -> float:
    ex = k.execute(cell(path, TTFL_CMD), watch=miosa_hi if path == MIOSA else stream_hi)
    assert ex.first_hit is not None, f"{path}: no 'hi' seen"
    return ex.first_hit


def bench(
    loads: list[Workload],
    rounds: int,
    peer_rounds: int,
    ttfl_samples: int,
    skip: set[tuple[str, Workload]],
    once: set[tuple[str, Workload]],
    cap: float | None,
) -> dict[str, Any]:
    """``skip``: (path, workload) pairs not run; ``once``: run in the first round only; a slow peer's
    run longer than ``cap`` seconds is interrupted and reported as a lower bound."""
    t0 = clock()
    k = Kernel()
    out: dict[str, Any] = {"kernel_start": clock() - t0}
    try:
        out["load_ext"] = k.execute("%load_ext miosa_jupyter").seconds
        # The first %%miosa of the kernel starts the embedded server: reported on its own.
        out["ttfl_cold"] = _ttfl(k, MIOSA)
        out["ttfl"] = {p: [_ttfl(k, p) for _ in range(ttfl_samples)] for p in (MIOSA, BASH, BANG)}
        series = {(p, w): Series(p, w) for w in loads for p in (MIOSA, BASH, BANG)}
        for (p, w), s in series.items():
            if (p, w) in skip:
                s.note = "skipped"
            elif (p, w) in once:
                s.note = "1 round"
        for r in range(rounds):
            for w in loads:
                for p in (MIOSA, BASH, BANG):
                    if (p, w) in skip or (p in SLOW_PEERS and r >= peer_rounds) or ((p, w) in once and r):
                        continue
                    seconds, ok, msgs, nbytes, capped = _run(k, p, w, cap)
                    series[p, w].add(seconds, ok, msgs, nbytes, capped)
                    log(
                        f"  round {r + 1} {w.label:9} {p:8} {seconds:7.2f} s  {msgs:7} msgs  ok={ok}"
                        + ("  (interrupted at the cap)" if capped else "")
                    )
        out["series"] = list(series.values())
    finally:
        k.shutdown()
    return out


def _server_pid(kernel_pid: int) -> int | None:
    """The embedded local computer when it runs as a child of the kernel (``miosa_jupyter serve``)."""
    for child in psutil.Process(kernel_pid).children():
        with contextlib.suppress(psutil.Error):
            cmd = child.cmdline()
            if "miosa_jupyter" in cmd and "serve" in cmd:
                return child.pid
    return None


def memory(w: Workload, rounds: int) -> dict[str, Any]:
    """Kernel RSS while ``%%miosa`` streams ``w``, in a fresh kernel (its embedded server started
    first): peak minus the RSS just before each run, sampled every 10 ms."""
    k = Kernel()
    try:
        k.execute("%load_ext miosa_jupyter")
        k.execute(cell(MIOSA, "true"))
        start = PeakRss(k.pid, every=0.01).stop().after
        server = _server_pid(k.pid)
        runs = []
        for _ in range(rounds):
            rss = PeakRss(k.pid, every=0.01)
            srv = PeakRss(server, every=0.01) if server else None
            lines = Lines()
            ex = k.execute(cell(MIOSA, w.command), on_msg=lines)
            rss.stop()
            ok = ex.status == "ok" and lines.ok(MIOSA, w.n)
            runs.append({"growth": rss.growth, "before": rss.before, "after": rss.after, "ok": ok})
            runs[-1] |= {"seconds": ex.seconds, "peak_at": rss.peak_at}
            if srv is not None:
                runs[-1] |= {"server_growth": srv.stop().growth, "server_before": srv.before}
            log(f"  memory {w.label}: +{rss.growth / 2**20:.1f} MiB peak, ok={ok}")
        return {"workload": w, "start": start, "runs": runs}
    finally:
        k.shutdown()
