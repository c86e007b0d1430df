"""The screen of a run: output text turned into screen lines, a bounded head + tail window of them.

``line`` events are text to append: a chunk without ``\\n`` continues the current screen line, and
``\\r`` returns to its start (``resolve``). Only the window is kept (head: the first lines, tail: the
last ones); every other line is counted, never stored here (the transcript keeps the text). Work is
per chunk, not per line: counting and slicing are ``str.count``/``split``/``rsplit`` with a maxsplit.
"""

from __future__ import annotations

from collections import deque
from itertools import islice

__all__ = ["Line", "Screen", "resolve"]

Line = tuple[str, str]  # (raw text, possibly with \r, no \n; stream)
Run = tuple[int, list[Line]]  # (index of the first line, lines)


def resolve(raw: str) -> str:
    """Apply carriage returns the way a terminal does: each ``\\r`` segment overwrites from column 0."""
    if "\r" not in raw:
        return raw
    shown = ""
    for segment in raw.split("\r"):
        shown = segment + shown[len(segment) :]
    return shown


class Screen:
    """Screen lines of one run; ``changes()`` gives what changed since the last call, as runs."""

    def __init__(self, head: int = 20, tail: int = 1000) -> None:
        self.head_max = head
        self.head: list[Line] = []
        self.tail: deque[Line] = deque(maxlen=tail)
        self.count = 0  # screen lines so far, the open one included
        self.open = False  # the last line has no newline yet
        self._dirty: int | None = None

    @property
    def tail_start(self) -> int:
        return self.count - len(self.tail)

    def feed(self, text: str, stream: str) -> None:
        """Append output text (any number of lines) from one stream."""
        if not text:
            return
        if self.open:
            first, newline, text = text.partition("\n")
            raw, first_stream = self._last()
            raw += first
            if len(raw) > 4096 and "\r" in raw:  # a progress bar redrawn forever: keep it small
                raw = resolve(raw) + ("\r" if raw.endswith("\r") else "")
            self._set_last((raw, first_stream))
            self._mark(self.count - 1)
            if not newline:
                return
            self.open = False
            if not text:
                return
        self.open = not text.endswith("\n")
        body = text if self.open else text[:-1]
        n = body.count("\n") + 1
        first = self.count
        self.count += n
        self._mark(first)
        room = self.head_max - len(self.head)
        if room > 0 and not self.tail:
            for piece in body.split("\n", room)[:room]:
                self.head.append((piece, stream))
        skip = max(0, self.head_max - first)  # lines of this text that went to the head
        keep = min(n - skip, self.tail.maxlen or 0)
        if keep > 0:
            pieces = body.rsplit("\n", keep)[-keep:] if keep < n else body.split("\n")[skip:]
            self.tail.extend((piece, stream) for piece in pieces)

    def _last(self) -> Line:
        return self.tail[-1] if self.tail else self.head[-1]

    def _set_last(self, line: Line) -> None:
        if self.tail:
            self.tail[-1] = line
        else:
            self.head[-1] = line

    def _mark(self, index: int) -> None:
        if self._dirty is None or index < self._dirty:
            self._dirty = index

    def changes(self) -> list[Run]:
        """Runs of lines changed since the last call (head part, tail part); resets the tracking."""
        dirty, self._dirty = self._dirty, None
        if dirty is None:
            return []
        return self._runs(dirty)

    def window(self) -> list[Run]:
        """The whole window as runs: ``[(0, head), (tail_start, tail)]``."""
        return self._runs(0)

    def _runs(self, start: int) -> list[Run]:
        runs: list[Run] = []
        if start < len(self.head):
            runs.append((start, self.head[start:]))
        if self.tail:
            tail_start = self.tail_start
            begin = max(start, tail_start)
            if begin < self.count:
                runs.append((begin, list(islice(self.tail, begin - tail_start, None))))
        return runs

    @property
    def hidden(self) -> int:
        """Lines between the head and the tail that the window doesn't hold."""
        return self.tail_start - len(self.head) if self.tail else 0
