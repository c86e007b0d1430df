"""The whole log of a run, as the view's tools read it (``python -m bench --only log``): search,
a page from the hidden middle, the download, and what keeping every line costs the hot path.

One real run per round makes the log: ``Run`` (the magic's runner, no kernel, no view) against the
embedded local computer, printing 1,000,000 lines of 100 bytes (100 MB), each with its number, and
one needle line (``NEEDLE in the middle``) at line 500,000. The run is kept alive while it is read:

- search: ``run.log.search`` of ``needle`` (case-insensitive, the default), ``NEEDLE`` with
  ``case=True``, and the regular expression ``^NEEDLE`` (case-insensitive); each must find line
  500,000 and nothing else.
- a page: ``run.log.lines(500_000, 500)`` and the page's command path ``_log_commands._lines`` (HTML),
  both from the middle (spilled to disk: the scrollback keeps only the last 1 MB in memory).
- download: the raw output read in 1 MB pieces (``log.raw``, what the page's ``log_raw`` command
  sends) and ``run.save(path)``, against a plain file of the same bytes read with ``os.read`` in
  1 MB pieces (and copied in 1 MB pieces, for ``save``); all warm in the page cache, the writes
  to tmpfs when there is one. The Python memory of the loop is its tracemalloc peak, in a separate
  pass.
- the finished run's memory: the strings its log keeps (``sys.getsizeof``), and this process's RSS.
- the hot path, in this process without a server: ``Screen.feed`` of the same 100 MB in 64 KB
  chunks, without a scrollback (lines that leave the window are forgotten, as before) and with
  ``Scrollback(SCROLLBACK_MEMORY)`` (the runner's: kept, spilled to disk past 1 MB in memory).
"""

from __future__ import annotations

import gc
import hashlib
import os
import sys
import tempfile
import threading
import tracemalloc
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from miosa_jupyter._runner import SCROLLBACK_MEMORY

from ._common import clock, log, mb, median, rate, secs, spread

LINES = 1_000_000
NEEDLE_AT = 500_000
NEEDLE = "NEEDLE in the middle"
PAD = "x" * 91  # "%07d " + 91 x's + "\n": 100 bytes a line
PIECE = 1 << 20
CHUNK = 65536  # what the runner hands the Screen, about
PAGE = 500
SCROLLBACK_CAP = SCROLLBACK_MEMORY  # the runner's

CMD = (
    'python3 -c "import sys\n'
    "w = sys.stdout.write\n"
    f"pad = '{PAD}'\n"
    f"for i in range({LINES}):\n"
    f"    w('{NEEDLE}'.ljust(99) + '\\n' if i == {NEEDLE_AT} else '%07d %s\\n' % (i, pad))\n"
    '"'
)
SEARCHES: list[tuple[str, str, dict[str, bool]]] = [
    ('`search("needle")` (case-insensitive)', "needle", {}),
    ('`search("NEEDLE", case=True)`', "NEEDLE", {"case": True}),
    ('`search(r"^NEEDLE", regex=True)` (case-insensitive)', r"^NEEDLE", {"regex": True}),
]
# Not targets: why a regular expression costs what it does (the anchor, and IGNORECASE, each take
# away the literal-prefix scan of Python's ``re``).
DIAGNOSTIC: list[tuple[str, str, dict[str, bool]]] = [
    ('`search(r"^NEEDLE", regex=True, case=True)`', r"^NEEDLE", {"regex": True, "case": True}),
    ('`search(r"NEEDLE", regex=True)` (case-insensitive)', r"NEEDLE", {"regex": True}),
    ('`search(r"NEEDLE", regex=True, case=True)`', r"NEEDLE", {"regex": True, "case": True}),
]
PAGES = ("`log.lines(500_000, 500)`", "`_log_commands._lines(log, {start: 500_000, count: 500})` (HTML)")


def expected() -> str:
    """The command's output, built here: what the transcript must hold, and what the Screen is fed."""
    body = [f"{i:07d} {PAD}\n" for i in range(LINES)]
    body[NEEDLE_AT] = NEEDLE.ljust(99) + "\n"
    return "".join(body)


def chunks(text: str, size: int = CHUNK) -> list[str]:
    data = text.encode()
    return [data[i : i + size].decode() for i in range(0, len(data), size)]


def _timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    t0 = clock()
    got = fn()
    return clock() - t0, got


def _traced(fn: Callable[[], Any]) -> int:
    """The tracemalloc peak (bytes) of ``fn`` (a pass of its own: tracing slows allocation)."""
    gc.collect()
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def _read_raw(run: Any) -> int:
    offset = 0
    while piece := run.log.raw(offset, PIECE):
        offset += len(piece)
    return offset


def _read_raw_sized(run: Any) -> int:
    """As the page's ``log_raw`` command answers: each piece with the output's size."""
    offset = 0
    while piece := run.log.raw(offset, PIECE):
        offset += len(piece)
        run.log.raw_size()
    return offset


def _read_file(path: Path) -> int:
    fd = os.open(path, os.O_RDONLY)
    total = 0
    try:
        while piece := os.read(fd, PIECE):
            total += len(piece)
    finally:
        os.close(fd)
    return total


def _copy_file(src: Path, dst: Path) -> int:
    total = 0
    with open(src, "rb", buffering=0) as i, open(dst, "wb") as o:
        while piece := i.read(PIECE):
            o.write(piece)
            total += len(piece)
    return total


def _held(run: Any) -> int:
    """Bytes (``sys.getsizeof``) of the strings a finished run's log keeps in memory: the
    transcript's unspilled chunks, the scrollback's unspilled blocks, the window (head and tail)."""
    screen, back, transcript = run._screen, run._screen.scrollback, run._transcript
    size = sum(sys.getsizeof(t) for _, t in transcript._chunks)
    size += sum(sys.getsizeof(m.text) for m in back._memory)
    size += sum(sys.getsizeof(t) for t, _ in screen.head)
    size += sum(sys.getsizeof(t) for _, lines, _ in screen._blocks for t in lines)
    return size


def make_run(client: Any, computer: str) -> tuple[Any, float, Any]:
    """The 100 MB run, ended (its ``result`` is never built: that would join 100 MB strings)."""
    from miosa_jupyter._runner import Run
    from tests._support.measure import PeakRss

    ended = threading.Event()
    rss = PeakRss(os.getpid(), every=0.01)
    t0 = clock()
    run = Run(client, computer, CMD)
    run.add_done_callback(lambda _: ended.set())
    run.start().start_background()
    ended.wait(300)
    took = clock() - t0
    rss.stop()
    return run, took, rss


class _Files:
    """The plain file of the output's bytes, beside the run's spill files (the temporary directory:
    read like with like), and where the writes go: tmpfs (``/dev/shm``) when there is one, so that
    a write measures the writer, not the disk's writeback of whatever else the machine wrote."""

    def __init__(self, data: bytes) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="miosa-bench-log-"))
        shm = Path("/dev/shm")  # noqa: S108 (a directory of our own in it, from mkdtemp)
        self.tmpfs = shm.is_dir() and os.access(shm, os.W_OK)
        self.out = Path(tempfile.mkdtemp(prefix="miosa-bench-log-", dir=shm if self.tmpfs else None))
        self.plain = self.dir / "plain"
        self.saved, self.copied = self.out / "saved", self.out / "copied"
        self.plain.write_bytes(data)
        self.digest = hashlib.sha256(data).digest()

    def fresh(self, path: Path) -> None:
        """No file at ``path``; on a disk, nothing left to write back (``os.sync``) either, so a
        write is not throttled by the writes before it."""
        path.unlink(missing_ok=True)
        if not self.tmpfs:
            os.sync()

    def remove(self) -> None:
        for path in (self.plain, self.saved, self.copied):
            path.unlink(missing_ok=True)
        self.dir.rmdir()
        self.out.rmdir()


def _new() -> dict[str, Any]:
    every = SEARCHES + DIAGNOSTIC
    out: dict[str, Any] = {"lines": LINES, "search": {label: [] for label, _, _ in every}}
    out["found"] = {label: True for label, _, _ in every}
    out["page"] = {label: [] for label in PAGES}
    out["feed"] = {False: [], True: []}
    out["e2e"] = {False: [], True: []}
    for key in ("run", "rss_growth", "rss_after", "held", "ok", "raw", "raw_sized", "save"):
        out[key] = []
    out["plain_read"], out["plain_copy"] = [], []
    out["raw_peak"], out["save_peak"] = [], []
    out["tmpfs"] = False
    return out


def _round(run: Any, out: dict[str, Any], files: _Files, check_bytes: bool) -> bool:
    """Everything measured on one finished run; whether every check passed."""
    from miosa_jupyter._log_commands import _lines

    size = out["bytes"]
    the_log = run.log
    ok: bool = run.status == "success" and the_log.line_count == LINES and the_log.raw_size() == size
    for label, query, flags in SEARCHES + DIAGNOSTIC:
        t, found = _timed(partial(the_log.search, query, **flags))
        out["search"][label].append(t)
        out["found"][label] = out["found"][label] and found == [NEEDLE_AT]
    t, page = _timed(partial(the_log.lines, NEEDLE_AT, PAGE))
    out["page"][PAGES[0]].append(t)
    ok = ok and [line.index for line in page] == list(range(NEEDLE_AT, NEEDLE_AT + PAGE))
    ok = ok and page[0].text.startswith(NEEDLE) and page[1].text == f"{NEEDLE_AT + 1:07d} {PAD}"
    t, answer = _timed(partial(_lines, the_log, {"start": NEEDLE_AT, "count": PAGE, "run_id": run.run_id}))
    out["page"][PAGES[1]].append(t)
    ok = ok and len(answer["lines"]) == PAGE and answer["lines"][0][0] == NEEDLE_AT
    # reads, warm: each read once before it is timed
    _read_file(files.plain)
    t, _ = _timed(partial(_read_file, files.plain))
    out["plain_read"].append(t)
    _read_raw(run)
    t, n = _timed(partial(_read_raw, run))
    out["raw"].append(t)
    ok = ok and n == size
    t, n = _timed(partial(_read_raw_sized, run))
    out["raw_sized"].append(t)
    ok = ok and n == size
    # writes: each to a new file (on tmpfs, or after an os.sync)
    files.fresh(files.copied)
    t, _ = _timed(partial(_copy_file, files.plain, files.copied))
    out["plain_copy"].append(t)
    files.fresh(files.saved)
    t, _ = _timed(partial(run.save, files.saved))
    out["save"].append(t)
    ok = ok and files.saved.stat().st_size == size
    if check_bytes:
        ok = ok and hashlib.sha256(files.saved.read_bytes()).digest() == files.digest
    out["raw_peak"].append(_traced(partial(_read_raw, run)))
    out["save_peak"].append(_traced(partial(run.save, files.saved)))
    return ok


def _without_scrollback(client: Any, computer: str) -> float:
    """The same run with the scrollback keeping nothing (what the view did before it kept lines)."""
    from miosa_jupyter._scrollback import Scrollback

    real = Scrollback.add, Scrollback.add_text
    Scrollback.add = Scrollback.add_text = lambda *_: None  # type: ignore[assignment,method-assign]
    try:
        run, took, _ = make_run(client, computer)
        assert run.log.line_count == LINES
        return took
    finally:
        Scrollback.add, Scrollback.add_text = real  # type: ignore[method-assign]
        gc.collect()


def _feed(pieces: list[str], keep: bool) -> float:
    from miosa_jupyter._screen import Screen
    from miosa_jupyter._scrollback import Scrollback

    gc.collect()
    os.sync()  # the scrollback's spill writes start with no dirty pages from the pass before
    screen = Screen(20, 1000, scrollback=Scrollback(SCROLLBACK_CAP) if keep else None)
    t0 = clock()
    for piece in pieces:
        screen.feed(piece, "stdout")
    took = clock() - t0
    assert screen.count == LINES, screen.count
    return took


def bench(rounds: int) -> dict[str, Any]:
    from miosa_jupyter import Miosa
    from miosa_jupyter.local import local_server

    text = expected()
    out = _new()
    data = text.encode()
    out["bytes"] = len(data)
    files = _Files(data)
    out["tmpfs"] = files.tmpfs
    del data
    server = local_server()
    client = Miosa(server.token, base_url=server.base_url)
    try:
        for k in range(rounds):
            run, took, rss = make_run(client, server.computer_id)
            out["run"].append(took)
            out["rss_growth"].append(rss.growth)
            out["rss_after"].append(rss.after - rss.before)
            out["held"].append(_held(run))
            log(f"  round {k + 1}: run {secs(took)}, {run.log.line_count:,} lines, {mb(run.log.raw_size())}")
            out["ok"].append(_round(run, out, files, check_bytes=k == 0))
            out["e2e"][True].append(took)
            del run
            gc.collect()
            out["e2e"][False].append(_without_scrollback(client, server.computer_id))
            log(f"  the same run without the scrollback: {secs(out['e2e'][False][-1])}")
        pieces = chunks(text)
        del text
        for _ in range(rounds):
            for keep in (False, True):
                out["feed"][keep].append(_feed(pieces, keep))
            without, with_ = out["feed"][False][-1], out["feed"][True][-1]
            log(f"  feed: {secs(without)} without, {secs(with_)} with the scrollback")
    finally:
        client.close()
        files.remove()
    return out


# -- the report -----------------------------------------------------------------------------------


def _mbs(seconds: list[float], nbytes: int) -> str:
    speeds = [nbytes / t / 1e6 for t in seconds]
    if len(speeds) == 1:
        return f"{speeds[0]:,.0f} MB/s"
    return f"{median(speeds):,.0f} MB/s [{min(speeds):,.0f}–{max(speeds):,.0f}]"


def _ratios(a: list[float], b: list[float]) -> list[float]:
    return [x / y for x, y in zip(a, b, strict=True)]


def _spread_of(xs: list[float], fmt: Callable[[float], str]) -> str:
    if len(xs) == 1:
        return fmt(xs[0])
    return f"{fmt(median(xs))} [{fmt(min(xs))}–{fmt(max(xs))}]"


def _x(xs: list[float]) -> str:
    return _spread_of(xs, lambda x: f"{x:.2f}×")


def figures(d: dict[str, Any]) -> dict[str, float]:
    """The figures the targets read (medians)."""
    return {
        "search": max(median(d["search"][label]) for label, _, _ in SEARCHES),
        "page": max(median(xs) for xs in d["page"].values()),
        "raw_vs_plain": median(_ratios(d["raw"], d["plain_read"])),
        "save_vs_copy": median(_ratios(d["save"], d["plain_copy"])),
        "peak": max(max(d["raw_peak"]), max(d["save_peak"])),
        "feed": median(_ratios(d["feed"][False], d["feed"][True])),
        "e2e": median(_ratios(d["e2e"][True], d["e2e"][False])),
    }


def report(d: dict[str, Any]) -> list[str]:
    if not d:
        return []
    n, size = d["lines"], d["bytes"]

    def ms(xs: list[float]) -> str:
        return _spread_of(xs, lambda s: f"{s * 1000:.1f} ms")

    def mbytes(xs: list[float]) -> str:
        return _spread_of(xs, lambda b: f"{b / 1e6:.2f} MB")

    checked = "all checked" if all(d["ok"]) else "CHECK FAILED"
    rows = [
        "## The whole log: search, a page, the download (1M lines, 100 MB, one run per round)",
        "",
        f"The run: `Run` of a `python3 -c` loop printing {n:,} numbered lines of 100 bytes with "
        f"`{NEEDLE}` at line {NEEDLE_AT:,}, against the embedded local computer (no kernel, no view): "
        f"{spread(d['run'])} to its end ({rate(n / median(d['run']))} lines/s; {checked}: status, "
        "line count, raw size, the page's lines, the saved bytes' SHA-256).",
        "",
        "| measure | median [min–max] | target |",
        "|---|---|---|",
    ]
    diagnostic = {label for label, _, _ in DIAGNOSTIC}
    for label, xs in d["search"].items():
        found = "line 500,000 only" if d["found"][label] else "WRONG LINES"
        target = "(not a target)" if label in diagnostic else "< 300 ms"
        rows.append(f"| {label} → {found} | {ms(xs)} | {target} |")
    for label, xs in d["page"].items():
        rows.append(f"| {label} | {ms(xs)} | < 50 ms |")
    rows += [
        f"| `log.raw(offset, 1 MB)` loop, whole output | {ms(d['raw'])} = {_mbs(d['raw'], size)} | "
        "within 2× of the plain read |",
        f"| the same, with `log.raw_size()` after each piece (the `log_raw` command's answer) | "
        f"{ms(d['raw_sized'])} = {_mbs(d['raw_sized'], size)} | (not a target) |",
        f"| plain file of the same bytes, `os.read` 1 MB pieces (warm) | {ms(d['plain_read'])} = "
        f"{_mbs(d['plain_read'], size)} | |",
        f"| raw loop / plain read (time) | {_x(_ratios(d['raw'], d['plain_read']))} | < 2× |",
        f"| `run.save(path)` | {ms(d['save'])} = {_mbs(d['save'], size)} | |",
        f"| plain file copied in 1 MB pieces (read + write) | {ms(d['plain_copy'])} = "
        f"{_mbs(d['plain_copy'], size)} | |",
        f"| `save` / plain copy (time) | {_x(_ratios(d['save'], d['plain_copy']))} | < 2× |",
        f"| tracemalloc peak of the raw loop | {mbytes(d['raw_peak'])} | < 8 MB |",
        f"| tracemalloc peak of `save` | {mbytes(d['save_peak'])} | < 8 MB |",
        f"| `Screen.feed`, 64 KB chunks, `scrollback=None` | {ms(d['feed'][False])} = "
        f"{_spread_of([n / t for t in d['feed'][False]], rate)} lines/s | |",
        f"| `Screen.feed`, `scrollback=Scrollback(1 MB)` (the runner's) | {ms(d['feed'][True])} = "
        f"{_spread_of([n / t for t in d['feed'][True]], rate)} lines/s | |",
        f"| speed with scrollback / without, in process | "
        f"{_x(_ratios(d['feed'][False], d['feed'][True]))} | |",
        f"| the 100 MB run end to end, without the scrollback | {ms(d['e2e'][False])} | |",
        f"| the 100 MB run end to end, time with / without the scrollback | "
        f"{_x(_ratios(d['e2e'][True], d['e2e'][False]))} | ≤ 1.10× |",
        f"| the finished run: strings its log keeps in memory (`sys.getsizeof`) | {mbytes(d['held'])} | |",
        f"| the finished run: this process's RSS, peak growth during the run / after it | "
        f"{mbytes(d['rss_growth'])} / {mbytes(d['rss_after'])} | |",
        "",
        f"Cells are the median [min–max] of {len(d['run'])} round(s), one call per round on that "
        "round's run, warm (the run's output and the plain file each read once before). "
        + (
            "The writes (`save`, the copy) go to a new file on tmpfs (`/dev/shm`): they measure the "
            "writer, not the disk. "
            if d["tmpfs"]
            else "The writes (`save`, the copy) go to a new file after an `os.sync()`. "
        )
        + "What the log keeps in memory: the transcript's and the scrollback's unspilled parts "
        "and the window (head and tail). RSS is sampled every "
        "10 ms; after the first round the process reuses memory the previous run freed.",
    ]
    return rows
