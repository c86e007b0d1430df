"""``TextView``: a run as plain streams and a one-line banner, for terminal IPython, nbconvert,
papermill and scripts: where no widget can render."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from ._present import banner_text

if TYPE_CHECKING:
    from ._runner import Run
    from ._view import Delta, Snapshot

__all__ = ["TextView"]


class TextView:
    """Writes every byte of output as it arrives (stdout and stderr apart), then the banner."""

    def __init__(self, out: Any = None, err: Any = None) -> None:
        self.out = out
        self.err = err

    def begin(self, run: Run) -> None:
        pass

    def ready(self) -> bool:
        return True

    def update(self, delta: Delta) -> None:
        out = self.out or sys.stdout
        err = self.err or sys.stderr
        for stream, text in delta.texts:
            (err if stream == "stderr" else out).write(text)
        out.flush()
        err.flush()

    def pulse(self, quiet_since: float | None) -> None:
        pass  # a terminal shows the silence itself

    def note(self, words: str) -> None:
        out = self.out or sys.stdout
        out.write(f"[{words}]\n")
        out.flush()

    def end(self, final: Snapshot) -> None:
        assert final.summary is not None
        out = self.out or sys.stdout
        if final.open:
            out.write("\n")
        out.write(banner_text(final.summary.outcome, final.words) + "\n")
        out.flush()
