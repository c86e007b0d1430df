"""``TerminalView``, the anywidget that shows a run live (front end in ``js/terminal.js``), and
``WidgetView``, which drives it from a run's deltas and snapshots.

Durable state lives in traits (status, header, banner, counts, a snapshot of the window); the lines
that arrive between snapshots travel as custom messages with a sequence number. The runner sends a
snapshot at most once a second while output flows and as soon as it goes quiet, so a view that
renders late, a second view, a second tab or a reloaded page shows the same lines.
"""

from __future__ import annotations

import collections
import itertools
from typing import TYPE_CHECKING, Any

import anywidget
import traitlets

from ._budget import Budget, kernel_budget
from ._log_commands import LogCommands
from ._present import STATIC, banner_html, header_html, line_html, log_file_name, running_words
from ._record import Record

if TYPE_CHECKING:
    from ._runner import Run
    from ._screen import Span
    from ._view import Delta, Snapshot

__all__ = ["TerminalView", "WidgetView"]


# Finished views stay open in the kernel for a while, by their run's key (``log_key``): a page
# reloaded during the run (which can't reach the kernel until the cell ends) then finds the model and
# shows how the run ended, and ``%miosa log KEY`` shows the whole log again, tools and all.
_FINISHED: collections.OrderedDict[str, Any] = collections.OrderedDict()
KEEP_FINISHED = 32
KEEP_BYTES = 2 << 30  # and the logs they keep (spill files, mostly) take at most this much
_ATTACHED = itertools.count(1)  # keys of attached runs (durable ones have their run id)


def kept(key: str) -> Any:
    """The finished view of run ``key`` (``last``: the newest) if this kernel still has it, else None."""
    if key == "last":
        return next(reversed(_FINISHED.values()), None)
    return _FINISHED.get(key)


class TerminalView(LogCommands, anywidget.AnyWidget):
    """The live terminal panel of one run. Created by ``%%miosa`` and by ``MiosaTerminal``."""

    _esm = STATIC / "terminal.js"
    _css = STATIC / "terminal.css"

    status = traitlets.Unicode("running", help="running, success, failure, timeout, error, cancelled").tag(
        sync=True
    )
    header = traitlets.Unicode("", help="HTML of the header (escaped command, computer)").tag(sync=True)
    banner = traitlets.Unicode("", help="HTML of the banner").tag(sync=True)
    started_ms = traitlets.Float(0.0, help="when the run started, ms since the epoch").tag(sync=True)
    duration_ms = traitlets.Int(None, allow_none=True, help="how long the run took, once ended").tag(
        sync=True
    )
    line_count = traitlets.Int(0, help="screen lines so far").tag(sync=True)
    quiet_since_ms = traitlets.Float(
        0.0, help="when a running command last printed, if it went quiet; 0: not"
    ).tag(sync=True)
    head_lines = traitlets.Int(20, help="lines kept at the top of the window").tag(sync=True)
    tail_lines = traitlets.Int(1000, help="lines kept at the bottom of the window").tag(sync=True)
    run_id = traitlets.Int(0, help="which run the view shows (a panel runs many)").tag(sync=True)
    window = traitlets.Dict(
        {"seq": -1, "spans": []}, help="snapshot of the window: {seq, line_count, spans: [[start, [html]]]}"
    ).tag(sync=True)
    log_name = traitlets.Unicode("miosa.log", help="the file name a download of the log gets").tag(sync=True)
    notify_after = traitlets.Float(
        0.0, help="seconds: a run at least this long that ends while the tab is hidden notifies; 0: never"
    ).tag(sync=True)

    def close(self) -> None:
        self._log = None  # (its spill files go with it)
        super().close()

    def send_lines(self, seq: int, spans: list[list[Any]], line_count: int) -> None:
        """A delta: lines (as spans) that changed since the previous message."""
        self.send(
            {"type": "lines", "run_id": self.run_id, "seq": seq, "line_count": line_count, "spans": spans}
        )

    def __repr__(self) -> str:
        # What a saved notebook shows where the widget can't render (GitHub, a closed kernel).
        return "miosa live view (a widget; the static record replaces it when the run ends)"


class WidgetView:
    """Shows a run in a ``TerminalView``; at the end, optionally replaces it with a static ``Record``.

    Each delta is one custom message of at most ``budget`` characters and ``max_lines`` lines of
    HTML (the newest lines win when a burst is bigger: the next snapshot fills in the rest).
    """

    def __init__(
        self,
        *,
        head: int = 20,
        tail: int = 1000,
        budget: int = 32768,
        max_lines: int = 250,
        record_on_end: bool = True,
        display: bool = True,
        widget: Any = None,
        traffic: Budget | None = None,
        notify_after: float = 0.0,
    ) -> None:
        self.notify_after = notify_after  # (see TerminalView.notify_after)
        self.head, self.tail, self.budget = head, tail, budget
        self.traffic = traffic or kernel_budget()  # shared by every view of the kernel
        # A delta carries at most this many lines (more than anyone reads in 1/20 s); the
        # browser then rebuilds at most that many nodes per update.
        self.max_lines = max_lines
        self.record_on_end = record_on_end
        self.display = display
        self.widget: Any = widget  # given: a panel that shows run after run; else one per run
        self.handle: Any = None
        self.seq = 0
        self._command = self._computer = ""
        self.log_key = ""  # what ``%miosa log`` calls the run: its durable id, else ``aN`` (attached)

    def begin(self, run: Run) -> None:
        self._command, self._computer = run.command, run.computer_id
        self.log_key = run.run_id or f"a{next(_ATTACHED)}"
        state = {
            "status": "running",
            "header": header_html(run.command, run.computer_id),
            "banner": banner_html("running", running_words(run.computer_id, run.run_id)),
            "started_ms": run.started * 1000,
            "duration_ms": None,
            "line_count": 0,
            "quiet_since_ms": 0.0,
            "head_lines": self.head,
            "tail_lines": self.tail,
            "window": {"seq": -1, "spans": []},
            "log_name": log_file_name(run.command, run.started),
            "notify_after": self.notify_after,
        }
        # A new view sends its front end (~12 KB) and a display message: count them, and when many
        # runs start at once, let them start a little apart.
        self.traffic.wait(2, 20_000)
        if self.widget is None:
            self.widget = TerminalView(**state)
        else:
            with self.widget.hold_sync():
                self.widget.run_id += 1
                for name, value in state.items():
                    setattr(self.widget, name, value)
        self.widget._log = run.log
        if self.display:
            from IPython.display import display

            # IPython's display() has no annotations.
            self.handle = display(self.widget, display_id=True)  # type: ignore[no-untyped-call]

    def ready(self) -> bool:
        return self.traffic.ready(first=self.seq == 0)

    def update(self, delta: Delta) -> None:
        if delta.spans:
            self.seq += 1
            spans = self._render(delta.spans, self.budget, delta.cuts)
            self.widget.send_lines(self.seq, spans, delta.line_count)
            self.traffic.spend(1, _size(spans))
        if delta.snapshot is not None:
            spans = self._render(delta.snapshot.spans, None, delta.snapshot.cuts)
            with self.widget.hold_sync():
                count = delta.snapshot.line_count
                self.widget.window = {"seq": self.seq, "spans": spans, "line_count": count}
                self.widget.line_count = count
            self.traffic.spend(1, _size(spans))

    def note(self, words: str) -> None:
        self.widget.banner = banner_html("running", words)

    def pulse(self, quiet_since: float | None) -> None:
        self.widget.quiet_since_ms = quiet_since * 1000 if quiet_since is not None else 0.0

    def _render(self, spans: list[Span], budget: int | None, cuts: dict[int, int]) -> list[list[Any]]:
        out: list[list[Any]] = []
        left = budget if budget is not None else -1
        for start, lines in spans:
            if start < self.head:  # the head is small and fixed: always whole
                out.append(
                    [start, [line_html(*line, cuts.get(start + i, 0)) for i, line in enumerate(lines)]]
                )
                continue
            picked: list[str] = []
            for back, line in enumerate(reversed(lines)):  # newest first, until the budget is spent
                if budget is not None and len(picked) >= self.max_lines:
                    break
                h = line_html(*line, cuts.get(start + len(lines) - 1 - back, 0))
                if budget is not None and picked and left - len(h) < 0:
                    break
                left -= len(h)
                picked.append(h)
            picked.reverse()
            out.append([start + len(lines) - len(picked), picked])
        return out

    def end(self, final: Snapshot) -> None:
        assert final.summary is not None
        status = final.summary.outcome
        rendered = self._render(final.spans, None, final.cuts)
        # The end always goes out, in turn: the window, then the record (its HTML with the
        # stylesheet, and its text): about three times the window.
        self.traffic.wait(2, 3 * _size(rendered) + 10_000)
        with self.widget.hold_sync():
            self.widget.window = {"seq": self.seq + 1, "spans": rendered, "line_count": final.line_count}
            self.widget.line_count = final.line_count
            self.widget.duration_ms = final.summary.duration_ms
            self.widget.status = status
            self.widget.banner = banner_html(status, final.words)
        if self.record_on_end and self.handle is not None:
            self.handle.update(Record(self._command, self._computer, final, rendered, self.log_key))
            _keep(self.log_key, self.widget)


def _size(spans: list[list[Any]]) -> int:
    """About what a message with these spans weighs on the wire: the HTML, JSON quoting, and the
    message's own frames (header, parent header, signature: ~800 bytes)."""
    return sum(sum(map(len, lines)) + 12 * len(lines) for _, lines in spans) + 800


def _keep(key: str, widget: Any) -> None:
    _FINISHED[key] = widget
    _FINISHED.move_to_end(key)

    def kept_bytes() -> int:
        return sum(w._log.footprint for w in _FINISHED.values() if w._log is not None)

    while len(_FINISHED) > KEEP_FINISHED or (len(_FINISHED) > 1 and kept_bytes() > KEEP_BYTES):
        _FINISHED.popitem(last=False)[1].close()
