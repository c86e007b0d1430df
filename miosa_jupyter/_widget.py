"""``TerminalView``: the anywidget that shows a run live (front end in ``js/terminal.js``).

Durable state lives in traits (status, header, banner, counts, a snapshot of the window); the lines
that arrive between snapshots travel as custom messages with a sequence number. The snapshot is
refreshed at most once a second, so a view that renders late, a second view, or a re-render shows
the same transcript, and traffic stays bounded.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anywidget
import traitlets

__all__ = ["TerminalView"]

STATIC = Path(__file__).parent / "static"


class TerminalView(anywidget.AnyWidget):
    """The live terminal panel of one run. Created by ``%%miosa`` and by ``MiosaTerminal``."""

    _esm = STATIC / "terminal.js"
    _css = STATIC / "terminal.css"

    status = traitlets.Unicode("running", help="running, success, failure, timeout, error, cancelled").tag(
        sync=True
    )
    header = traitlets.Unicode("", help="HTML of the header (escaped command, computer)").tag(sync=True)
    banner = traitlets.Unicode("", help="HTML of the banner").tag(sync=True)
    started_ms = traitlets.Float(0.0, help="when the run started, ms since the epoch").tag(sync=True)
    duration_ms = traitlets.Int(None, allow_none=True).tag(sync=True)
    line_count = traitlets.Int(0).tag(sync=True)
    head_lines = traitlets.Int(20).tag(sync=True)
    tail_lines = traitlets.Int(1000).tag(sync=True)
    run_id = traitlets.Int(0, help="which run the view shows (a panel runs many)").tag(sync=True)
    window = traitlets.Dict({"seq": -1, "runs": []}, help="snapshot: {seq, runs: [[start, [html]]]}").tag(
        sync=True
    )

    def send_lines(self, seq: int, runs: list[list[Any]], line_count: int) -> None:
        """A delta: lines (as runs) that changed since the previous message."""
        self.send(
            {"type": "lines", "run_id": self.run_id, "seq": seq, "line_count": line_count, "runs": runs}
        )
