"""What the live view costs the kernel and the browser link: redraw storms, the first run after
``%load_ext``, and many background runs at once (``python -m bench --only views``).

Every figure comes from a real ipykernel whose iopub is read by the lean SUB reader of ``_kernel``:
messages and bytes are all frames received, rates are the maximum over any 3-second window (the
window jupyter_server's rate limit averages over), memory is the kernel's RSS sampled every 10 ms.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

from bench._common import log, mb, median, secs
from bench._kernel import Kernel, Msg
from tests._support.measure import PeakRss

FRAMES = 100_000
# A tqdm-style bar: every frame returns to column 0 and redraws one line.
TQDM = (
    'python3 -u -c "import sys\nfor i in range(1, {n} + 1):\n'
    "    sys.stdout.write('\\r%3d%%|%s| %d/{n}' % (i * 100 // {n}, '#' * (i * 20 // {n}), i))\n"
    'print()"'
)
# A rich-style two-bar display: erase line, draw, newline, twice; then cursor up two lines.
RICH = (
    'python3 -u -c "import sys\nfor i in range(1, {n} + 1):\n'
    "    up = '\\x1b[2A' if i < {n} else ''\n"
    "    sys.stdout.write('\\x1b[2K\\rdownload \\x1b[32m%d\\x1b[0m\\n'"
    " '\\x1b[2K\\rbuild \\x1b[33m%d\\x1b[0m\\n%s' % (i, i, up))\""
)
PLAIN = "seq 1 {n}"
MANY_RUNS = 30
MANY_LINES = 100_000


def _final_states(msgs: list[Msg]) -> dict[str, dict[str, Any]]:
    """comm_id -> the last value of each synced trait that the messages set."""
    states: dict[str, dict[str, Any]] = {}
    for m in msgs:
        c = m.content or {}
        data = c.get("data") or {}
        state = data.get("state")
        if m.msg_type in ("comm_msg", "comm_open") and isinstance(state, dict):
            states.setdefault(c.get("comm_id", ""), {}).update(state)
    return states


def _peak_rates(timeline: list[tuple[float, int, str]], window: float = 3.0) -> tuple[float, float]:
    """The largest messages/s and bytes/s over any ``window`` seconds of (at, bytes) messages."""
    best_m = best_b = 0.0
    j = 0
    total_b = 0
    for i, (at, size, _) in enumerate(timeline):
        total_b += size
        while timeline[j][0] < at - window:
            total_b -= timeline[j][1]
            j += 1
        best_m = max(best_m, (i - j + 1) / window)
        best_b = max(best_b, total_b / window)
    return best_m, best_b


class _Recorder:
    """Keeps every content message with its wire size (approximate: content JSON length)."""

    def __init__(self) -> None:
        self.msgs: list[Msg] = []

    def __call__(self, m: Msg) -> None:
        self.msgs.append(m)


def storms(k: Kernel, rounds: int) -> list[dict[str, Any]]:
    out = []
    for label, template, lines in (
        ("plain seq 100k (reference)", PLAIN, 100_000),
        ("tqdm-style \\r bar, 100k frames", TQDM, 1),
        ("rich-style 2 bars (cursor up), 100k frames", RICH, 2),
    ):
        cmd = template.format(n=FRAMES)
        rows = []
        for _ in range(rounds):
            rss = PeakRss(k.pid, every=0.01)
            rec = _Recorder()
            ex = k.execute(f"%%miosa --timeout 300\n{cmd}", on_msg=rec)
            rss.stop()
            final = [s for s in _final_states(rec.msgs).values() if s.get("status")]
            count = final[-1].get("line_count") if final else None
            rows.append(
                {
                    "seconds": ex.seconds,
                    "msgs": ex.msgs,
                    "nbytes": ex.nbytes,
                    "growth": rss.growth,
                    "ok": ex.status == "ok" and count == lines,
                    "line_count": count,
                }
            )
            log(f"  {label}: {ex.seconds:.2f} s, {ex.msgs} msgs, {mb(ex.nbytes)}, lines {count}")
        out.append({"label": label, "rows": rows, "expect": lines})
    return out


def first_after_load(samples: int) -> dict[str, Any]:
    """A fresh kernel: ``%load_ext``, a second's pause (a person typing), then the first ``%%miosa``;
    then warm runs. Time = request to the first iopub message that carries the line."""
    from bench._notebook import miosa_hi

    k = Kernel()
    try:
        k.execute("%load_ext miosa_jupyter")
        time.sleep(1.0)  # the person types the first cell
        first = k.execute("%%miosa\necho hi", watch=miosa_hi)
        warm = [k.execute("%%miosa\necho hi", watch=miosa_hi).first_hit for _ in range(samples)]
    finally:
        k.shutdown()
    return {"first": first.first_hit, "first_idle": first.seconds, "warm": [w for w in warm if w]}


def many(k: Kernel) -> dict[str, Any]:
    """``MANY_RUNS`` ``%%miosa --bg`` runs at once, each printing ``MANY_LINES`` lines."""
    cell = (
        "_runs = [get_ipython().run_cell_magic('miosa', '--bg --timeout 300', "
        f"'yes 0123456789abcdef | head -n {MANY_LINES}') for _ in range({MANY_RUNS})]\n"
        "_ = [r.wait() for r in _runs]"
    )
    rec = _Recorder()
    ex = k.execute(cell, on_msg=rec)
    states = [s for s in _final_states(rec.msgs).values() if "status" in s]
    done = sum(1 for s in states if s.get("status") == "success" and s.get("line_count") == MANY_LINES)
    peak_m, peak_b = _peak_rates(ex.timeline)
    log(f"  many: {ex.seconds:.2f} s, {ex.msgs} msgs, peak {peak_m:.0f} msg/s {mb(peak_b)}/s, {done} ended")
    return {
        "seconds": ex.seconds,
        "msgs": ex.msgs,
        "nbytes": ex.nbytes,
        "avg_msgs": ex.msgs / ex.seconds,
        "avg_bytes": ex.nbytes / ex.seconds,
        "peak_msgs": peak_m,
        "peak_bytes": peak_b,
        "ended": done,
        "runs": MANY_RUNS,
    }


def bench(rounds: int, ttfl_samples: int) -> dict[str, Any]:
    out: dict[str, Any] = {"first": first_after_load(ttfl_samples)}
    k = Kernel()
    try:
        k.execute("%load_ext miosa_jupyter")
        k.execute("%%miosa\ntrue")
        out["storms"] = storms(k, rounds)
        out["many"] = many(k)
    finally:
        k.shutdown()
    return out


def _many_met(m: dict[str, Any]) -> bool:
    return m["peak_msgs"] < 100 and m["peak_bytes"] < 1e6 and m["ended"] == m["runs"]


def report(v: dict[str, Any]) -> list[str]:
    lines = ["## Live view: redraw storms, first run, many runs", ""]
    lines += [
        "| workload through `%%miosa` | wall | kernel RSS growth | iopub msgs | iopub bytes "
        "| final lines | ok |",
        "|---|---|---|---|---|---|---|",
    ]
    for s in v.get("storms", []):
        rows = s["rows"]
        lines.append(
            f"| {s['label']} | {secs(median([r['seconds'] for r in rows]))} "
            f"| {mb(max(r['growth'] for r in rows))} "
            f"| {statistics.median(r['msgs'] for r in rows):,.0f} "
            f"| {mb(statistics.median(r['nbytes'] for r in rows))} "
            f"| {rows[-1]['line_count']} (expect {s['expect']}) "
            f"| {'yes' if all(r['ok'] for r in rows) else 'NO'} |"
        )
    f = v.get("first")
    if f:
        warm = median(f["warm"])
        ratio = f["first"] / warm if warm else float("nan")
        lines += [
            "",
            "| first `%%miosa` after `%load_ext` (1 s later) | warm (median) | ratio | target |",
            "|---|---|---|---|",
            f"| {secs(f['first'])} | {secs(warm)} | {ratio:.2f}x | within 2x: "
            f"{'met' if ratio <= 2 else 'missed'} |",
        ]
    m = v.get("many")
    if m:
        lines += [
            "",
            f"| {m['runs']} `--bg` runs x {MANY_LINES:,} lines | wall | peak msg/s (3 s) "
            "| peak bytes/s (3 s) | mean msg/s | mean bytes/s | views that reached their end | target |",
            "|---|---|---|---|---|---|---|---|",
            f"| | {secs(m['seconds'])} | {m['peak_msgs']:.0f} | {mb(m['peak_bytes'])}/s | "
            f"{m['avg_msgs']:.0f} | {mb(m['avg_bytes'])}/s | {m['ended']} of {m['runs']} | "
            f"< 100 msg/s and < 1 MB/s: {'met' if _many_met(m) else 'missed'} |",
        ]
    return [*lines, ""]
