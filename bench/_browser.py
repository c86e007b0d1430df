"""Browser: JupyterLab in headless Chromium runs ``%%miosa seq 1 N`` (driven like a person: click the
cell, Shift+Enter), started the way the browser tests start it (``tests/_support/lab.py``).

Per run: time from the Shift+Enter keydown to the success banner (and to the static record), the
largest gap between animation frames (a requestAnimationFrame loop injected before the run), long
tasks, the output's DOM node count at the end (and its peak), the websocket traffic to the page
(Playwright ``framereceived`` on the kernel's socket: frames and bytes), and whether jupyter_server
stopped forwarding iopub (its rate-limit notice, in the log, the frames or the page).
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from ._common import clock, log

RATE_LIMIT = ("IOPub message rate exceeded", "IOPub data rate exceeded", "iopub messages resumed")
NAME = "bench.ipynb"
LOAD, WARM, RUN = range(3)

# Installed before each run: rAF gaps, long tasks, and a MutationObserver on the cell's output that
# notes when the success banner and the record appear (only after the old output was cleared).
PROBE_JS = """out => {
    if (window.__bench) window.__bench.stop();
    const s = {t0: null, cleared: false, banner: null, record: null, maxGap: 0, long50: 0, frames: 0,
               last: null, gapAt: null, peakNodes: 0, longTasks: 0, longTaskMs: 0, running: true};
    window.__bench = s;
    const onKey = e => { if (e.key === "Enter" && e.shiftKey && s.t0 === null) s.t0 = performance.now(); };
    document.addEventListener("keydown", onKey, {capture: true});
    const tick = t => {
        if (!s.running) return;
        if (s.t0 !== null && s.last !== null && t > s.t0) {
            const gap = t - Math.max(s.last, s.t0);
            if (gap > s.maxGap) { s.maxGap = gap; s.gapAt = t - s.t0; }
            if (gap > 50) s.long50++;
            s.frames++;
        }
        s.last = t;
        requestAnimationFrame(tick);
    };
    requestAnimationFrame(tick);
    const look = () => {
        if (s.t0 === null) return;
        const now = performance.now();
        if (!out.querySelector(".miosa-banner[data-status=success]")) s.cleared = true;
        if (s.cleared && s.banner === null && out.querySelector(".miosa-banner[data-status=success]"))
            s.banner = now;
        if (s.cleared && s.record === null
            && out.querySelector(".miosa-record .miosa-banner[data-status=success]")) s.record = now;
        s.peakNodes = Math.max(s.peakNodes, out.getElementsByTagName("*").length);
    };
    const obs = new MutationObserver(look);
    obs.observe(out, {childList: true, subtree: true, attributes: true, characterData: true});
    let po = null;
    try {
        po = new PerformanceObserver(list => {
            for (const e of list.getEntries())
                if (s.t0 !== null && s.record === null) { s.longTasks++; s.longTaskMs += e.duration; }
        });
        po.observe({entryTypes: ["longtask"]});
    } catch (e) {}
    s.stop = () => {
        s.running = false; obs.disconnect(); if (po) po.disconnect();
        document.removeEventListener("keydown", onKey, {capture: true});
    };
}"""

RESULT_JS = """out => {
    const s = window.__bench;
    s.stop();
    const count = out.querySelector(".miosa-record .miosa-count");
    return {t0: s.t0, banner: s.banner, record: s.record, maxGap: s.maxGap, gapAt: s.gapAt, long50: s.long50,
            frames: s.frames, peakNodes: s.peakNodes, longTasks: s.longTasks, longTaskMs: s.longTaskMs,
            nodes: out.getElementsByTagName("*").length,
            pageNodes: document.getElementsByTagName("*").length,
            count: count ? count.textContent : null,
            limited: /IOPub (message|data) rate exceeded/.test(out.textContent)};
}"""


class Frames:
    """Websocket frames the page receives on its kernel connection(s), counted while ``on``."""

    def __init__(self) -> None:
        self.on = False
        self.count = self.nbytes = 0
        self.limited = False

    def attach(self, ws: Any) -> None:
        if "/api/kernels/" in ws.url:
            ws.on("framereceived", self._frame)

    def _frame(self, payload: str | bytes) -> None:
        if not self.on:
            return
        data = payload.encode() if isinstance(payload, str) else payload
        self.count += 1
        self.nbytes += len(data)
        if b"rate exceeded" in data:
            self.limited = True

    def reset(self) -> None:
        self.count = self.nbytes = 0
        self.limited = False
        self.on = True


def bench(n: int, rounds: int) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    from tests._support.lab import CHROMIUM, CHROMIUM_ARGS, Notebook, start_lab, stop_lab

    if not Path(CHROMIUM).exists():
        return {"skipped": f"{CHROMIUM} is missing"}
    with tempfile.TemporaryDirectory(prefix="miosa-bench-") as tmp:
        t0 = clock()
        lab = start_lab(Path(tmp), ready_timeout=90)
        out: dict[str, Any] = {"n": n, "lab_start": clock() - t0, "runs": []}
        try:
            command = f"seq 1 {n}"
            lab.write_notebook(
                NAME,
                [
                    ("code", "%load_ext miosa_jupyter"),
                    ("code", "%%miosa\ntrue"),
                    ("code", f"%%miosa --timeout 300\n{command}"),
                    ("markdown", "Shift+Enter on the last code cell lands here."),
                ],
            )
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
                out["chromium"] = browser.version
                try:
                    out["runs"] = _runs(browser, lab, Notebook, n, rounds, out)
                finally:
                    browser.close()
        finally:
            log_text = lab.log.read_text(errors="replace")
            out["log_limited"] = [
                line for line in log_text.splitlines() if any(s in line for s in RATE_LIMIT)
            ]
            stop_lab(lab)
    return out


def _runs(browser: Any, lab: Any, notebook_cls: Any, n: int, rounds: int, out: dict[str, Any]) -> list[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 1400})
    page = context.new_page()
    page.set_default_timeout(30_000)
    frames = Frames()
    page.on("websocket", frames.attach)
    nb = notebook_cls(page, lab, NAME)
    t0 = clock()
    nb.open()
    out["notebook_open"] = clock() - t0
    nb.run_cell(LOAD)
    nb.run_cell(WARM)  # starts the embedded local computer in the kernel
    runs = []
    for r in range(rounds):
        output = nb.output(RUN).element_handle()
        page.evaluate(PROBE_JS, output)
        frames.reset()
        t_press = clock()
        before = nb.start_cell(RUN)
        nb.wait_cell_done(RUN, before, timeout=300_000)
        nb.output(RUN).locator(".miosa-record .miosa-banner[data-status=success]").wait_for()
        wall = clock() - t_press
        page.evaluate("1")  # let pending frame events reach Python
        frames.on = False
        s = nb.output(RUN).evaluate(RESULT_JS)
        run = {
            "wall": wall,
            "banner": (s["banner"] - s["t0"]) / 1000 if s["banner"] and s["t0"] else None,
            "record": (s["record"] - s["t0"]) / 1000 if s["record"] and s["t0"] else None,
            "max_gap": s["maxGap"] / 1000,
            "gap_at": s["gapAt"] / 1000 if s["gapAt"] is not None else None,
            "gaps_over_50ms": s["long50"],
            "frames": s["frames"],
            "long_tasks": s["longTasks"],
            "long_task_s": s["longTaskMs"] / 1000,
            "nodes": s["nodes"],
            "peak_nodes": s["peakNodes"],
            "page_nodes": s["pageNodes"],
            "count": s["count"],
            "ws_msgs": frames.count,
            "ws_bytes": frames.nbytes,
            "limited": frames.limited or s["limited"],
        }
        run["ok"] = run["count"] == f"{n:,} lines" and run["banner"] is not None and not run["limited"]
        runs.append(run)
        log(
            f"  browser round {r + 1}: banner {run['banner']}, max gap {run['max_gap'] * 1000:.0f} ms, "
            f"{run['nodes']} nodes, {frames.count} frames {frames.nbytes / 1e6:.2f} MB, ok={run['ok']}"
        )
    context.close()
    return runs
