"""The Markdown report: machine, throughput, ratios, time to first line, memory, views, durable runs,
the whole log, browser, targets."""

from __future__ import annotations

import contextlib
import os
import platform
import subprocess
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

import psutil

from . import _client, _floor, _notebook
from ._common import Series, Workload, mb, median, rate, secs, short, spread

PACKAGES = (
    "miosa-jupyter", "ipykernel", "jupyter_client", "ipython", "anywidget", "ipywidgets", "pyzmq",
    "httpx", "uvicorn", "starlette", "jupyterlab", "jupyter_server", "playwright",
)  # fmt: skip
REPO = Path(__file__).resolve().parent.parent


def machine() -> dict[str, str]:
    versions = []
    for name in PACKAGES:
        with contextlib.suppress(metadata.PackageNotFoundError):
            versions.append(f"{name} {metadata.version(name)}")
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True, check=False
        ).stdout.strip()
    except OSError:
        commit = ""
    return {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "cpus": str(len(os.sched_getaffinity(0))),
        "ram": f"{psutil.virtual_memory().total / 2**30:.1f} GiB",
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "versions": ", ".join(versions),
        "commit": commit,
    }


class Results:
    def __init__(self, meta: dict[str, Any]) -> None:
        self.meta = meta
        self.series: list[Series] = []
        self.client: dict[str, Any] = {}
        self.notebook: dict[str, Any] = {}
        self.memory: dict[str, Any] = {}
        self.browser: dict[str, Any] = {}
        self.views: dict[str, Any] = {}
        self.durable: dict[str, Any] = {}
        self.log: dict[str, Any] = {}  # the whole log (bench/_log.py)
        self.loads: list[Workload] = []

    def find(self, path: str, w: Workload) -> Series | None:
        for s in self.series:
            if s.path == path and s.workload == w and s.seconds:
                return s
        return None

    def ratio(self, a: str, b: str, w: Workload) -> tuple[list[float], str] | None:
        """Per round when both ran round by round in the same section; else the ratio of medians.

        The mark is ``<`` when B was interrupted at the cap (the ratio is an upper bound), ``>`` when A was.
        """
        sa, sb = self.find(a, w), self.find(b, w)
        if sa is None or sb is None:
            return None
        mark = "<" if sb.bound else ">" if sa.bound else ""
        paired = len(sa.seconds) == len(sb.seconds) and _section(a) == _section(b)
        if paired:
            return [x / y for x, y in zip(sa.seconds, sb.seconds, strict=True)], mark
        return [sa.median / sb.median], mark


def _section(path: str) -> str:
    if path in (_floor.SHELL, _floor.ASYNCIO):
        return "floor"
    if path in (_client.EVENTS, _client.BATCHES):
        return "client"
    return "notebook"


def _ratio_text(got: tuple[list[float], str] | None) -> str:
    if not got:
        return "–"
    xs, mark = got
    if len(xs) == 1:
        return f"{mark}{xs[0]:.3g}"
    return f"{mark}{median(xs):.3g} [{min(xs):.3g}–{max(xs):.3g}]"


# -- tables ---------------------------------------------------------------------------------------


def header(r: Results) -> list[str]:
    m = r.meta
    return [
        "# miosa-jupyter benchmark",
        "",
        f"- **Date:** {m['date']} · **command:** `{m['command']}`",
        f"- **Machine:** {m['cpus']} CPUs (nproc), {m['ram']} RAM, {m['os']}, Python {m['python']}"
        + (f", Chromium {r.browser['chromium']}" if r.browser.get("chromium") else ""),
        f"- **Packages:** {m['versions']} (commit {m['commit'] or '?'}, working tree as found)",
        f"- **Load average** (1/5/15 min): {m['load_start']} at the start, {m['load_end']} at the end "
        f"(shared 2-core VM; other suites may run). Total time {secs(m['elapsed'])}.",
        f"- **Rounds:** {m['rounds']} (`%%bash` and `!cmd`: {m['peer_rounds']}); time to first line: "
        f"{m['ttfl_samples']} samples; slow peers interrupted after {m['peer_cap']:g} s. Cells are "
        "**median [min–max]**; ratios are per round, then the median.",
    ]


def throughput(r: Results) -> list[str]:
    rows = [
        "## Throughput (wall time of the whole path; notebook rows: execute request → kernel idle)",
        "",
        "| workload | path | wall | lines/s | MB/s | iopub msgs | iopub MB | all lines |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for w in r.loads:
        for s in r.series:
            if s.workload != w:
                continue
            if not s.seconds:
                rows.append(f"| {w.label} | {s.path} | {s.note} | | | | | |")
                continue
            t = s.median
            msgs = f"{median(s.msgs):,.0f}" if s.msgs else ""
            size = f"{median(s.nbytes) / 1e6:.3g}" if s.nbytes else ""
            wall, lt = spread(s.seconds), ""
            if s.bound:
                wall, lt, msgs, size = f"> {secs(t)} (interrupted at the cap)", "< ", f"≥ {msgs}", f"≥ {size}"
            if s.note:
                wall += f" ({s.note})"
            rows.append(
                f"| {w.label} | {s.path} | {wall} | {lt}{rate(w.n / t)} | "
                f"{lt}{w.nbytes / t / 1e6:.3g} | {msgs} | {size} | {s.ok} |"
            )
    rows += [
        "",
        "*all lines*: each run checked what arrived (floor and client: line count and bytes; `%%bash`, `!`: "
        "newlines in the stream messages; `%%miosa`: the widget's final `line_count` and `success`).",
    ]
    if any(s.note == "skipped" for s in r.series):
        rows.append(
            "`%%bash` on 1M × 100-char lines is skipped by default (`--bash-x100-1m` runs it): "
            "it takes about 5 minutes alone (291 s, `/work/shared/notes/perf-baseline.md` §2)."
        )
    if any(s.note == "1 round" for s in r.series):
        rows.append(
            "`!cmd` on 1M × 100-char lines runs in the first round only (`--bang-x100-1m-rounds` runs it "
            "every round): IPython's `!` is quadratic in the output size (pexpect keeps everything in "
            "`child.before`, and IPython slices it after every read), minutes at 100 MB."
        )
    if any(s.bound for s in r.series):
        rows.append(
            f"Interrupted at the cap: a `%%bash` / `!cmd` run still going after {r.meta['peer_cap']:g} s "
            "was interrupted (`--peer-cap`); its wall is a lower bound, and ratios against it are "
            "upper bounds (`<`)."
        )
    return rows


RATIOS = [
    ("%%miosa / %%bash", _notebook.MIOSA, _notebook.BASH),
    ("%%miosa / !cmd", _notebook.MIOSA, _notebook.BANG),
    ("%%miosa / asyncio floor", _notebook.MIOSA, _floor.ASYNCIO),
    ("%%miosa / exec.stream Events (cost of the kernel hop)", _notebook.MIOSA, _client.EVENTS),
    ("exec.stream Events / asyncio floor", _client.EVENTS, _floor.ASYNCIO),
    ("exec.stream `batches()` / asyncio floor", _client.BATCHES, _floor.ASYNCIO),
    ("!cmd / asyncio floor", _notebook.BANG, _floor.ASYNCIO),
]


def ratios(r: Results) -> list[str]:
    rows = [
        "## Ratios (wall A / wall B; below 1 means A is faster)",
        "",
        "| A / B | " + " | ".join(w.label for w in r.loads) + " |",
        "|---|" + "---|" * len(r.loads),
    ]
    for name, a, b in RATIOS:
        cells = [_ratio_text(r.ratio(a, b, w)) for w in r.loads]
        if any(c != "–" for c in cells):
            rows.append(f"| {name} | " + " | ".join(cells) + " |")
    rows += ["", "Across sections (floor, client, notebook) the ratio is of medians; within one, per round."]
    return rows


def first_line(r: Results) -> list[str]:
    c, nb = r.client, r.notebook
    rows = [
        "## Time to first line (`echo hi; sleep 1`, warm)",
        "",
        "| path | first line | measured until |",
        "|---|---|---|",
    ]
    if c.get("ttfl"):
        rows.append(
            f"| exec.stream (client) | {spread(c['ttfl'])} | the first `output` Event; "
            f"`stream()` itself (POST + events GET) returned after {secs(c['ttfl_opened'])} |"
        )
    labels = {
        _notebook.MIOSA: "the first comm message whose lines carry `hi`",
        _notebook.BASH: "the first stream message with `hi`",
        _notebook.BANG: "the first stream message with `hi`",
    }
    for path, xs in nb.get("ttfl", {}).items():
        rows.append(f"| {path} | {spread(xs)} | {labels[path]} (from the execute request) |")
    cold = []
    if c.get("server_start") is not None:
        cold.append(
            f"embedded local computer start (`local_server()`) {secs(c['server_start'])}, "
            f"then first `exec.run('true')` {secs(c['first_exec'])}"
        )
    if nb.get("ttfl_cold") is not None:
        cold.append(
            f"first-ever `%%miosa` of a fresh kernel (starts the embedded server), to its `hi`: "
            f"{secs(nb['ttfl_cold'])} (kernel start {secs(nb['kernel_start'])}, "
            f"`%load_ext miosa_jupyter` {secs(nb['load_ext'])})"
        )
    if cold:
        rows += ["", "Excluded above, reported once: " + "; ".join(cold) + "."]
    return rows


def memory(r: Results) -> list[str]:
    m = r.memory
    if not m:
        return []
    runs = m["runs"]
    growth = [x["growth"] for x in runs]
    return [
        f"## Kernel memory while `%%miosa` streams {m['workload'].label} lines",
        "",
        "| RSS before (fresh kernel, server started) | peak growth per run | RSS after the last run | "
        "wall | all lines |",
        "|---|---|---|---|---|",
        f"| {m['start'] / 1e6:.0f} MB | {median(growth) / 1e6:.1f} MB [{min(growth) / 1e6:.1f}–"
        f"{max(growth) / 1e6:.1f}] (by run: {', '.join(f'{g / 1e6:.1f}' for g in growth)}) | "
        f"{runs[-1]['after'] / 1e6:.0f} MB | {spread([x['seconds'] for x in runs])} | "
        f"{'✔' if all(x['ok'] for x in runs) else '✘'} |",
        "",
        *(
            [
                f"The local computer's own process (beside the kernel, `miosa_jupyter serve`): RSS "
                f"{runs[0]['server_before'] / 1e6:.0f} MB before, peak growth by run: "
                + ", ".join(f"{x['server_growth'] / 1e6:.1f}" for x in runs)
                + " MB.",
                "",
            ]
            if "server_growth" in runs[0]
            else []
        ),
        "psutil RSS of the kernel pid every 10 ms; growth = peak during the run − RSS just before it. "
        "The peak came at "
        + ", ".join(f"{x['peak_at']:.2f} s of {x['seconds']:.2f} s" for x in runs)
        + " (run by run).",
    ]


def browser(r: Results) -> list[str]:
    b = r.browser
    if not b:
        return []
    if b.get("skipped"):
        return ["## Browser", "", f"Skipped: {b['skipped']}."]
    runs = b["runs"]

    def col(key: str) -> list[float]:
        return [x[key] for x in runs if x[key] is not None]

    walls = col("wall")
    msgs_s = [x["ws_msgs"] / x["wall"] for x in runs]
    bytes_s = [x["ws_bytes"] / x["wall"] for x in runs]

    def ints(key: str) -> str:
        xs = col(key)
        return f"{median(xs):,.0f} [{min(xs):,.0f}–{max(xs):,.0f}]"

    limited = sum(x["limited"] for x in runs) + len(b["log_limited"])
    return [
        f"## Browser: JupyterLab + headless Chromium, `%%miosa seq 1 {short(b['n'])}`",
        "",
        "| metric | median [min–max] |",
        "|---|---|",
        f"| Shift+Enter → success banner | {spread(col('banner'))} |",
        f"| Shift+Enter → static record | {spread(col('record'))} |",
        f"| Shift+Enter → cell done (Python side) | {spread(walls)} |",
        f"| largest gap between animation frames | {spread(col('max_gap'))} |",
        f"| … it came at (Shift+Enter → gap end) | {spread(col('gap_at'))} |",
        f"| frame gaps over 50 ms | {ints('gaps_over_50ms')} |",
        f"| long tasks (> 50 ms) until the record: count / total | {ints('long_tasks')} / "
        f"{spread(col('long_task_s'))} |",
        f"| DOM nodes in the output at the end (peak during the run) | {ints('nodes')} "
        f"({ints('peak_nodes')}); whole page {ints('page_nodes')} |",
        f"| websocket frames to the page (kernel channel) | {ints('ws_msgs')} "
        f"= {median(msgs_s):.3g} msgs/s |",
        f"| websocket bytes to the page | {mb(median(col('ws_bytes')))} = {mb(median(bytes_s))}/s |",
        f"| iopub rate-limit notices (server log, frames, page) | {limited} |",
        f"| lines counted by the record | {', '.join(sorted({str(x['count']) for x in runs}))} |",
        "",
        f"{len(runs)} runs; JupyterLab started in {secs(b['lab_start'])}, notebook opened in "
        f"{secs(b['notebook_open'])}. Rates are over Shift+Enter → cell done.",
    ]


# -- targets --------------------------------------------------------------------------------------


@dataclass
class Target:
    name: str
    measured: str
    value: float | None
    limit: float
    below: bool = True  # met when value < limit (else when value >= limit)
    bound: str = ""  # "<": value is an upper bound; ">": a lower bound

    def verdict(self) -> str:
        if self.value is None:
            return "not measured"
        met = self.value < self.limit if self.below else self.value >= self.limit
        if self.bound == ">" and self.below and not met:
            return f"✘ missed by more than {self.value / self.limit:.2f}×"
        if self.bound and (self.bound == "<") != met:
            return "? unknown (the peer was interrupted at the cap)"
        if met:
            return "✔ met"
        if self.below:
            return f"✘ missed by {self.value / self.limit:.2f}× (+{self.value - self.limit:.3g})"
        return f"✘ missed: {self.value / self.limit:.0%} of the target"


def targets(r: Results) -> list[Target]:
    nb, m, b = r.notebook, r.memory, r.browser
    sizes = sorted({w.n for w in r.loads})
    big = sizes[-1] if sizes else 1_000_000
    seq, x100 = Workload("seq", big), Workload("x100", big)
    at = "" if big == 1_000_000 else f" (at {short(big)}: --quick)"
    out: list[Target] = []

    def rat(name: str, a: str, b_: str, w: Workload, limit: float) -> None:
        got = r.ratio(a, b_, w)
        v = median(got[0]) if got else None
        mark = got[1] if got else ""
        t = Target(name + at, f"{mark}{v:.3g}" if v is not None else "–", v, limit)
        t.bound = mark
        out.append(t)

    rat("%%miosa seq 1M to idle faster than !seq (ratio < 1)", _notebook.MIOSA, _notebook.BANG, seq, 1)
    rat("%%miosa seq 1M within 2× the asyncio floor", _notebook.MIOSA, _floor.ASYNCIO, seq, 2.0001)
    rat("%%miosa 1M × 100 chars ≤ 1/20 of !cmd", _notebook.MIOSA, _notebook.BANG, x100, 0.05001)
    rat("%%miosa 1M × 100 chars within 3× the asyncio floor", _notebook.MIOSA, _floor.ASYNCIO, x100, 3.0001)
    for path in (_client.EVENTS, _client.BATCHES):
        s = r.find(path, seq)
        v = seq.n / s.median if s else None
        out.append(
            Target(f"{path}: ≥ 1M lines/s for seq 1M{at}", rate(v) + " lines/s" if v else "–", v, 1e6, False)
        )
    tt = nb.get("ttfl", {}).get(_notebook.MIOSA)
    v = median(tt) if tt else None
    out.append(Target("time to first line via %%miosa (warm) < 15 ms", secs(v) if v else "–", v, 0.015))
    if m:
        g = max(x["growth"] for x in m["runs"]) / 1e6
        out.append(Target("kernel memory growth < 64 MB (worst run)", f"{g:.1f} MB", g, 64))
    if b.get("runs"):
        runs = b["runs"]
        gap = max(x["max_gap"] for x in runs)
        nodes = max(x["peak_nodes"] for x in runs)
        limited = sum(x["limited"] for x in runs) + len(b["log_limited"])
        bps = median([x["ws_bytes"] / x["wall"] for x in runs])
        mps = median([x["ws_msgs"] / x["wall"] for x in runs])
        out += [
            Target("browser: no frame gap over 200 ms (worst run)", f"{gap * 1000:.0f} ms", gap, 0.2001),
            Target("browser: DOM bounded, ≤ 5,000 output nodes (peak)", f"{nodes:,}", nodes, 5001),
            Target("browser: zero iopub messages dropped by the server", str(limited), limited, 1),
            Target("browser: < 1 MB/s to the browser", f"{mb(bps)}/s", bps, 1e6),
            Target("browser: < 100 msgs/s to the browser", f"{mps:.3g}/s", mps, 100),
        ]
    if r.log:
        out += log_targets(r.log)
    return out


def log_targets(d: dict[str, Any]) -> list[Target]:
    from bench import _log

    f = _log.figures(d)
    out = [
        Target(f"log: {label} over 1M lines / 100 MB < 300 ms", secs(v), v, 0.3)
        for label, _, _ in _log.SEARCHES
        for v in [median(d["search"][label])]
    ]
    out += [
        Target(f"log: 500 lines from line 500,000, {label} < 50 ms", secs(v), v, 0.05)
        for label in _log.PAGES
        for v in [median(d["page"][label])]
    ]
    out += [
        Target(
            "log: download (`log.raw` in 1 MB pieces) within 2× the time of a plain 1 MB `os.read`",
            f"{f['raw_vs_plain']:.2f}×",
            f["raw_vs_plain"],
            2.0001,
        ),
        Target(
            "log: `run.save` within 2× the time of a plain copy in 1 MB pieces",
            f"{f['save_vs_copy']:.2f}×",
            f["save_vs_copy"],
            2.0001,
        ),
        Target("log: download's tracemalloc peak < 8 MB (worst)", mb(f["peak"]), f["peak"], 8e6),
        Target(
            "log: the 100 MB run end to end takes ≤ 1.10× the time it takes without the scrollback",
            f"{f['e2e']:.2f}×",
            f["e2e"],
            1.1001,
        ),
    ]
    return out


def targets_table(r: Results) -> list[str]:
    rows = ["## Targets", "", "| target | measured | verdict |", "|---|---|---|"]
    rows += [f"| {t.name} | {t.measured} | {t.verdict()} |" for t in targets(r)]
    return rows


def render(r: Results) -> str:
    from bench._durable import report as durable
    from bench._log import report as whole_log
    from bench._views import report as views

    live = views(r.views) if r.views else []
    parts = [
        header(r),
        throughput(r),
        ratios(r),
        first_line(r),
        memory(r),
        live,
        durable(r.durable),
        whole_log(r.log),
        browser(r),
    ]
    parts.append(targets_table(r))
    return "\n\n".join("\n".join(p) for p in parts if p) + "\n"
