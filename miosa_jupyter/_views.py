"""The two ways a run shows itself: the live widget (notebooks) and plain text (everywhere else)."""

from __future__ import annotations

import sys
import time
from typing import Any

from ._record import Record
from ._render import _CONTROL, banner_html, header_html, line_html
from ._runner import Run
from ._screen import Line, resolve
from ._screen import Run as LineRun

__all__ = ["TextView", "WidgetView"]


class WidgetView:
    """Shows a run in a ``TerminalView``; at the end, optionally replaces it with a static ``Record``.

    Each update is one custom message of at most ``budget`` characters and ``max_lines`` lines of
    HTML (the newest lines win when a burst is bigger: the snapshot fills the rest within
    ``snapshot_every`` seconds).
    """

    def __init__(
        self,
        *,
        head: int = 20,
        tail: int = 1000,
        budget: int = 32768,
        max_lines: int = 250,
        snapshot_every: float = 1.0,
        record_on_end: bool = True,
        display: bool = True,
        widget: Any = None,
    ) -> None:
        self.head, self.tail, self.budget = head, tail, budget
        # A delta carries at most this many lines (more than anyone reads in 1/20 s); the
        # browser then rebuilds at most that many nodes per update.
        self.max_lines = max_lines
        self.snapshot_every = snapshot_every
        self.record_on_end = record_on_end
        self.display = display
        self.widget: Any = widget  # given: a panel that shows run after run; else one per run
        self.handle: Any = None
        self.seq = 0
        self._snapshot_at = 0.0

    def begin(self, run: Run) -> None:
        from ._widget import TerminalView

        state = {
            "status": "running",
            "header": header_html(run.command, run.computer_id),
            "banner": banner_html("running", f"on {run.computer_id}"),
            "started_ms": run.started * 1000,
            "duration_ms": None,
            "line_count": 0,
            "head_lines": self.head,
            "tail_lines": self.tail,
            "window": {"seq": -1, "runs": []},
        }
        if self.widget is None:
            self.widget = TerminalView(**state)
        else:
            with self.widget.hold_sync():
                self.widget.run_id += 1
                for name, value in state.items():
                    setattr(self.widget, name, value)
        if self.display:
            from IPython.display import display

            self.handle = display(self.widget, display_id=True)
        self._snapshot_at = time.monotonic()

    def update(self, run: Run, changes: list[LineRun], texts: list[tuple[str, str]]) -> None:
        if not changes:
            return
        self.seq += 1
        self.widget.send_lines(self.seq, self._render(changes, self.budget), run.screen.count)
        if time.monotonic() - self._snapshot_at >= self.snapshot_every:
            self._snapshot(run)

    def _snapshot(self, run: Run) -> None:
        window, count = run.window()
        with self.widget.hold_sync():
            self.widget.window = {"seq": self.seq, "runs": self._render(window, None)}
            self.widget.line_count = count
        self._snapshot_at = time.monotonic()

    def _render(self, runs: list[LineRun], budget: int | None) -> list[list[Any]]:
        out: list[list[Any]] = []
        left = budget if budget is not None else -1
        for start, lines in runs:
            if start < self.head:  # the head is small and fixed: always whole
                out.append([start, [_html(line) for line in lines]])
                continue
            picked: list[str] = []
            for line in reversed(lines):  # newest first, until the budget is spent
                if budget is not None and len(picked) >= self.max_lines:
                    break
                h = _html(line)
                if budget is not None and picked and left - len(h) < 0:
                    break
                left -= len(h)
                picked.append(h)
            picked.reverse()
            out.append([start + len(lines) - len(picked), picked])
        return out

    def end(self, run: Run) -> None:
        assert run.summary is not None
        status = run.summary.outcome
        words = run.words
        window, count = run.window()
        rendered = self._render(window, None)
        with self.widget.hold_sync():
            self.widget.window = {"seq": self.seq + 1, "runs": rendered}
            self.widget.line_count = count
            self.widget.duration_ms = run.summary.duration_ms
            self.widget.status = status
            self.widget.banner = banner_html(status, words)
        if self.record_on_end and self.handle is not None:
            self.handle.update(record(run, words, window, count, rendered, self.widget))
            self.widget.close()


# A screen line is shown up to this many characters (the transcript keeps it whole): one 10 MB line
# must not become a 10 MB update, nor 100,000 colour codes 4 MB of HTML.
LINE_SHOWN = 16384


def _shown(raw: str) -> tuple[str, int]:
    text = resolve(raw)
    return (text, 0) if len(text) <= LINE_SHOWN else (text[:LINE_SHOWN], len(text) - LINE_SHOWN)


def _html(line: Line) -> str:
    text, cut = _shown(line[0])
    body = line_html(text, line[1])
    return body + f'<span class="miosa-cut"> … {cut:,} more characters</span>' if cut else body


def record(
    run: Run, words: str, window: list[LineRun], count: int, rendered: list[list[Any]], widget: Any
) -> Record:
    """The static record of a finished run, from the same window and HTML as the live view."""
    assert run.summary is not None
    head: list[str] = []
    tail: list[str] = []
    head_text: list[str] = []
    tail_text: list[str] = []
    tail_start = count
    for (start, lines), (_, htmls) in zip(window, rendered, strict=True):
        if start < widget.head_lines:  # the tail never starts inside the head
            head, head_text = htmls, [_plain(t) for t, _ in lines]
        else:
            tail, tail_text, tail_start = htmls, [_plain(t) for t, _ in lines], start
    hidden = tail_start - len(head) if tail else 0
    marker = [f"… {hidden:,} lines hidden …"] if hidden > 0 else []
    return Record(
        status=run.summary.outcome,
        header=widget.header,
        banner=widget.banner,
        head=head,
        tail=tail,
        hidden=hidden,
        line_count=count,
        duration_ms=run.summary.duration_ms,
        text_lines=head_text + marker + tail_text,
        command=run.command,
        computer=run.computer_id,
        words=words,
    )


def _plain(raw: str) -> str:
    text, cut = _shown(raw)
    return _CONTROL.sub("", text) + (f" … {cut:,} more characters" if cut else "")


class TextView:
    """Plain streams and a one-line banner, for terminal IPython, nbconvert, papermill, scripts."""

    wants_text = True

    def __init__(self, out: Any = None, err: Any = None) -> None:
        self.out = out
        self.err = err

    def begin(self, run: Run) -> None:
        pass

    def update(self, run: Run, changes: list[LineRun], texts: list[tuple[str, str]]) -> None:
        out = self.out or sys.stdout
        err = self.err or sys.stderr
        for stream, text in texts:
            (err if stream == "stderr" else out).write(text)
        out.flush()
        err.flush()

    def end(self, run: Run) -> None:
        from ._render import ICONS, LABELS

        assert run.summary is not None
        out = self.out or sys.stdout
        status = run.summary.outcome
        if run.screen.open:
            out.write("\n")
        out.write(f"{ICONS[status]} {LABELS[status]} · {run.words}\n")
        out.flush()
