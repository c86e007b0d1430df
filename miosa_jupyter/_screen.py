"""The screen of a run: output text turned into screen lines, a bounded head + tail window of them.

``line`` events are text to append: a chunk without ``\\n`` continues the current screen line, and
``\\r`` returns to its start (``resolve``). Only the window is kept (head: the first lines, tail: the
last ones); every other line is counted, never stored here (the transcript keeps the text). Work is
per chunk, not per line: the tail is a deque of blocks (one ``str.split`` list per chunk), and the
``(text, stream)`` pairs a view needs are made only for the lines it is sent, at most 20 times a second.
"""

from __future__ import annotations

from collections import deque

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
        self.tail_max = tail
        self.head: list[Line] = []
        self._blocks: deque[tuple[str, list[str]]] = deque()  # (stream, lines), oldest first
        self._held = 0  # lines in _blocks (can exceed tail_max by less than one block)
        self.count = 0  # screen lines so far, the open one included
        self.open = False  # the last line has no newline yet
        self._dirty: int | None = None

    @property
    def tail_len(self) -> int:
        return min(self._held, self.tail_max)

    @property
    def tail_start(self) -> int:
        return self.count - self.tail_len

    @property
    def hidden(self) -> int:
        """Lines between the head and the tail that the window doesn't hold."""
        return self.tail_start - len(self.head) if self._held else 0

    def feed(self, text: str, stream: str) -> None:
        """Append output text (any number of lines) from one stream."""
        if not text:
            return
        if self.open:
            first, newline, text = text.partition("\n")
            self._continue(first)
            self._mark(self.count - 1)
            if not newline:
                return
            self.open = False
            if not text:
                return
        self.open = not text.endswith("\n")
        body = text if self.open else text[:-1]
        n = body.count("\n") + 1
        first_index = self.count
        self.count += n
        self._mark(first_index)
        room = self.head_max - len(self.head)
        if room > 0 and not self._held:
            for piece in body.split("\n", room)[:room]:
                self.head.append((piece, stream))
        skip = max(0, self.head_max - first_index)  # lines of this text that went to the head
        keep = min(n - skip, self.tail_max)
        if keep <= 0:
            return
        pieces = body.rsplit("\n", keep)[-keep:] if keep < n - skip else body.split("\n")[skip:]
        self._blocks.append((stream, pieces))
        self._held += len(pieces)
        while self._held - len(self._blocks[0][1]) >= self.tail_max:
            self._held -= len(self._blocks.popleft()[1])

    def _continue(self, more: str) -> None:
        if self._held:
            stream, lines = self._blocks[-1]
            raw = lines[-1] + more
        else:
            raw, stream = self.head[-1]
            raw += more
        if len(raw) > 4096 and "\r" in raw:  # a progress bar redrawn forever: keep it small
            raw = resolve(raw) + ("\r" if raw.endswith("\r") else "")
        if self._held:
            lines[-1] = raw
        else:
            self.head[-1] = (raw, stream)

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
        if self._held:
            begin = max(start, self.tail_start)
            if begin < self.count:
                runs.append((begin, self._tail_lines(self.count - begin)))
        return runs

    def _tail_lines(self, n: int) -> list[Line]:
        """The last ``n`` lines of the tail, oldest first."""
        out: list[Line] = []
        for stream, lines in reversed(self._blocks):
            take = lines[-(n - len(out)) :] if len(lines) > n - len(out) else lines
            out[:0] = [(line, stream) for line in take]
            if len(out) >= n:
                break
        return out
