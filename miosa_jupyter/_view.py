"""The seam between a run and its views: what the runner hands a view, and what a view is.

The runner (``_runner.py``) calls a ``View`` from the thread that drives it: ``begin`` once,
``update`` with a ``Delta`` at most ``1 / interval`` times a second, ``end`` with the final
``Snapshot``. Both are immutable values: a view never reaches into the run.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Protocol

from ._models import ExecResult
from ._screen import Span

if TYPE_CHECKING:
    from ._runner import Run

__all__ = ["Delta", "Snapshot", "View"]


@dataclasses.dataclass(frozen=True)
class Snapshot:
    """The run's whole window at one moment; at the end also how it ended (``summary``, ``words``)."""

    spans: list[Span]  # [(0, head lines), (tail_start, tail lines)]
    line_count: int
    open: bool  # the last line has no newline yet
    summary: ExecResult | None = None  # None while running
    words: str = ""  # the banner's words once it has ended
    cuts: dict[int, int] = dataclasses.field(default_factory=dict)  # line -> columns past LINE_CAP

    @property
    def hidden(self) -> int:
        """Lines between the head and the tail that the window doesn't hold."""
        if len(self.spans) < 2:
            return 0
        (_, head), (tail_start, _) = self.spans[0], self.spans[-1]
        return tail_start - len(head)


@dataclasses.dataclass(frozen=True)
class Delta:
    """What changed since the previous update: screen lines, and the output text itself."""

    spans: list[Span]  # changed screen lines
    texts: list[tuple[str, str]]  # (stream, text) as it arrived, for views that print streams
    line_count: int
    snapshot: Snapshot | None = None  # the whole window, now and then (see the module docstring)
    cuts: dict[int, int] = dataclasses.field(default_factory=dict)  # line -> columns past LINE_CAP


class View(Protocol):
    """Where a run shows itself: the widget, or plain text. Called on the driving thread only.

    ``ready()`` says whether the view takes an update now; when it says no, the changes wait and
    go out merged with later ones (the live view uses it to keep the kernel's traffic budget).
    ``note(words)`` gives the running banner new words (``reconnecting to local…``); ``pulse(since)``
    says the command has printed nothing since ``since`` (Unix seconds), or ``None`` once it prints again.
    """

    def begin(self, run: Run) -> None: ...
    def ready(self) -> bool: ...
    def update(self, delta: Delta) -> None: ...
    def note(self, words: str) -> None: ...
    def pulse(self, quiet_since: float | None) -> None: ...
    def end(self, final: Snapshot) -> None: ...
