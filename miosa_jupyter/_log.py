"""The whole log of a run as the view's tools and the Python API read it: pages of screen lines,
search, plain text, the raw bytes, and when each line arrived.

A run's screen lines live in three places, in order: the head (``Screen.head``), the scrollback
(``_scrollback.py``: lines that left the window) and the tail (``Screen``'s blocks). ``Log`` takes
a consistent cut of the three under the run's lock (a few list copies, never the lines' text),
then reads outside it: a search over 100 MB does not hold up the reader.

These calls come from the front end on a kernel subshell (JupyterLab >= 4.4 sends comm messages
there), so they run while the cell that drives the run still blocks the main shell.
"""

from __future__ import annotations

import dataclasses
import re
import time
from array import array
from bisect import bisect_right
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, NamedTuple

from ._cells import LINE_CAP, cook, parse
from ._scrollback import Block, Finder, Scrollback, find_lines, plain_of

if TYPE_CHECKING:
    import threading

    from ._screen import Screen
    from ._transcript import Transcript

__all__ = ["Log", "LogLine", "Stamps", "finder"]

_CODEC = ("utf-8", "surrogatepass")
SEARCH_LIMIT = 10_000  # matching lines one search returns; the count says "10,000+" past it


@dataclasses.dataclass(frozen=True, slots=True)
class LogLine:
    """Screen line ``index`` (from 0) as it shows (``text`` with its colours), its stream, and the
    columns past ``LINE_CAP`` it lost."""

    index: int
    text: str
    stream: str
    cut: int = 0

    @property
    def plain(self) -> str:
        return plain_of(self.text)


class Stamps:
    """When lines arrived: one entry per chunk of output that made new lines (never one per line)."""

    def __init__(self, started: float) -> None:
        self.started = started  # time.time() at the run's start
        self._firsts = array("q")
        self._ms = array("d")

    def mark(self, first: int) -> None:
        """Lines from ``first`` on arrive now (until the next mark)."""
        if self._firsts and self._firsts[-1] >= first:
            return
        self._firsts.append(first)
        self._ms.append((time.time() - self.started) * 1000)

    def of(self, index: int) -> float | None:
        """Milliseconds from the run's start to line ``index``'s arrival (None: not ours, a note)."""
        k = bisect_right(self._firsts, index) - 1
        return self._ms[k] if k >= 0 else None


def finder(query: str, *, regex: bool = False, case: bool = False) -> Finder:
    """A search for ``query``: plain text by default, a regular expression (``re`` syntax, one line
    at a time) with ``regex``; case-insensitive unless ``case``. Raises ``re.error`` for a bad one.

    The text is searched as UTF-8 bytes where it can be (a log with "✓" or "é" as fast as an ASCII
    one): ``bytes.find``, and for an ASCII query without case ``bytes.lower`` (ASCII letters only,
    which are all such a query can match). A regular expression's longest literal finds the lines to
    try it on (Python's ``re`` scans fast only for a case-sensitive pattern that starts with one).
    """
    if not regex and case:
        needle = query.encode(*_CODEC)
        return lambda data: lambda pos: data.find(needle, pos)
    if not regex and query.isascii():
        low = query.lower().encode()

        def ascii_fold(data: bytes) -> Callable[[int], int]:
            folded = data.lower()
            return lambda pos: folded.find(low, pos)

        return ascii_fold
    flags = re.MULTILINE | (0 if case else re.IGNORECASE)
    pattern = re.compile(query if regex else re.escape(query), flags)
    literal = _literal(pattern)
    fold = bool(pattern.flags & re.IGNORECASE)  # (a `(?i)` in the pattern folds too)
    if literal is not None and (not fold or literal.isascii()):
        return _by_literal_then_regex(pattern, literal, fold)
    return _by_regex(pattern)


def _literal(pattern: re.Pattern[str]) -> str | None:
    """The longest run of plain characters every match of ``pattern`` contains (at least 3), if
    there is one: ``^NEEDLE\\d+`` has ``NEEDLE``."""
    try:
        import re._parser as parser  # type: ignore[import-not-found]  # (Python >= 3.11)
    except ImportError:  # pragma: no cover (Python 3.10)
        import sre_parse as parser
    try:
        items = list(parser.parse(pattern.pattern, pattern.flags & ~re.IGNORECASE))
    except Exception:  # (the private parser changed: no shortcut, the whole scan)
        return None
    best, run = "", ""
    for op, arg in items:
        if str(op) == "LITERAL":
            run += chr(arg)
        elif str(op) in ("MAX_REPEAT", "MIN_REPEAT") and _one_literal(arg[2]) is not None and arg[0] >= 1:
            run += chr(_one_literal(arg[2]) or 0) * min(arg[0], 64)  # x{50}, a+: at least arg[0] of it
            best = max(best, run, key=len)
            if arg[1] != arg[0]:  # more may come: what follows comes after its last one
                run = chr(_one_literal(arg[2]) or 0)
        elif str(op) != "AT":  # (an anchor takes no character: the run goes on)
            run = ""
        best = max(best, run, key=len)
    return best if len(best) >= 3 and "\n" not in best else None


def _one_literal(items: object) -> int | None:
    """The character of a repeat's body when it is one literal character."""
    body = list(items)  # type: ignore[call-overload]
    if len(body) == 1 and str(body[0][0]) == "LITERAL":
        return int(body[0][1])
    return None


def _by_literal_then_regex(pattern: re.Pattern[str], literal: str, fold: bool) -> Finder:
    """Find the lines that hold ``literal`` (in ASCII lower case with ``fold``), then match
    ``pattern`` on each such line alone."""
    needle = (literal.lower() if fold else literal).encode(*_CODEC)

    def find(data: bytes) -> Callable[[int], int]:
        hay = data.lower() if fold else data

        def at(pos: int) -> int:
            while (k := hay.find(needle, pos)) >= 0:
                start = data.rfind(b"\n", 0, k) + 1
                end = data.find(b"\n", k)
                end = len(data) if end < 0 else end
                if pattern.search(data[start:end].decode(*_CODEC)) is not None:
                    return k
                pos = end + 1
            return -1

        return at

    return find


def _by_regex(pattern: re.Pattern[str]) -> Finder:
    """``pattern`` scanned over the decoded text, a line at a time: a match that runs over a newline
    counts only if the pattern also matches within its first line."""

    def find(data: bytes) -> Callable[[int], int]:
        text = data.decode(*_CODEC)
        offsets = _Offsets(data, text)

        def at(pos: int) -> int:
            spos = offsets.text_at(pos)
            while (m := pattern.search(text, spos)) is not None:
                end = text.find("\n", m.start())
                if end < 0 or m.end() <= end:
                    return offsets.data_at(m.start())
                inside = pattern.search(text, m.start(), end)
                if inside is not None:
                    return offsets.data_at(inside.start())
                spos = end + 1
            return -1

        return at

    return find


class _Offsets:
    """Byte offsets in UTF-8 ``data`` and character offsets in ``text`` (the same, decoded), each
    from the other, for offsets that only grow (a scan): the work is linear, not per lookup."""

    def __init__(self, data: bytes, text: str) -> None:
        self._data, self._text = data, text
        self._b = self._c = 0
        self._ascii = len(data) == len(text)

    def text_at(self, b: int) -> int:
        if self._ascii:
            return b
        self._c += len(self._data[self._b : b].decode(*_CODEC))
        self._b = b
        return self._c

    def data_at(self, c: int) -> int:
        if self._ascii:
            return c
        self._b += len(self._text[self._c : c].encode(*_CODEC))
        self._c = c
        return self._b


class _Cut(NamedTuple):
    head: list[tuple[str, str]]
    back: Scrollback.Cut
    tail_first: int
    tail: list[Block]
    line_count: int


class Log:
    """The lines of one run, readable from any thread while it runs and after it ends."""

    def __init__(self, lock: threading.Lock, screen: Screen, transcript: Transcript, stamps: Stamps) -> None:
        self._lock, self._screen, self._transcript, self.stamps = lock, screen, transcript, stamps
        assert screen.scrollback is not None
        self._scrollback = screen.scrollback

    def _cut(self) -> _Cut:
        screen = self._screen
        with self._lock:
            head = list(screen.head)
            back = self._scrollback.cut()
            tail = [Block(0, stream, list(lines)) for stream, lines, _ in screen._blocks]
            count = screen.count
            held = sum(len(b.lines) for b in tail)
        first = count - held
        blocks, at = [], first
        for b in tail:
            blocks.append(b._replace(first=at))
            at += len(b.lines)
        return _Cut(head, back, max(first, back.end), blocks, count)

    def settle(self) -> None:
        """The run has ended: what it holds in memory past 1 MB goes to its spill files."""
        with self._lock:
            self._transcript.settle()
            self._scrollback.settle()

    @property
    def footprint(self) -> int:
        """About how much the log holds, on disk and in memory (bytes)."""
        return self._transcript.footprint + self._scrollback.footprint

    @property
    def line_count(self) -> int:
        return self._screen.count

    def _blocks(self, cut: _Cut, start: int, *, plain: bool) -> Iterator[Block]:
        """Every line from ``start`` on, in blocks of one stream, in order."""
        head = cut.head
        if start < len(head):
            for i in range(start, len(head)):
                yield Block(i, head[i][1], [head[i][0]])
        if start < cut.back.end:
            yield from cut.back.blocks(start, plain=plain)
        for b in cut.tail:
            first = max(b.first, cut.tail_first)  # (the scrollback may hold a block's front too)
            if b.first + len(b.lines) > max(start, first):
                yield Block(first, b.stream, b.lines[first - b.first :])

    def lines(self, start: int, count: int, *, stream: str | None = None) -> list[LogLine]:
        """Up to ``count`` lines from ``start`` on (of one stream, if given), as they show."""
        out: list[LogLine] = []
        for block in self._blocks(self._cut(), max(0, start), plain=False):
            if stream is not None and block.stream != stream:
                continue
            for i, text in enumerate(block.lines):
                index = block.first + i
                if index < start:
                    continue
                out.append(_shown(index, text, block.stream))
                if len(out) >= count:
                    return out
        return out

    def pick(self, indexes: list[int]) -> list[LogLine]:
        """The lines at ``indexes`` (ascending), read in one pass."""
        out: list[LogLine] = []
        if not indexes:
            return out
        k = 0
        for block in self._blocks(self._cut(), indexes[0], plain=False):
            end = block.first + len(block.lines)
            while k < len(indexes) and indexes[k] < end:
                i = indexes[k]
                if i >= block.first:
                    out.append(_shown(i, block.lines[i - block.first], block.stream))
                k += 1
            if k >= len(indexes):
                break
        return out

    def search(
        self,
        query: str,
        *,
        regex: bool = False,
        case: bool = False,
        start: int = 0,
        limit: int = SEARCH_LIMIT,
    ) -> list[int]:
        """Indexes of the lines from ``start`` on whose plain text holds ``query`` (at most ``limit``).

        Raises ``re.error`` for a bad regular expression.
        """
        find = finder(query, regex=regex, case=case)
        cut = self._cut()
        found: list[int] = []
        if start < len(cut.head):
            text = "".join(plain_of(t) + "\n" for t, _ in cut.head)
            find_lines(text.encode(*_CODEC), 0, find, start, limit, found)
        if len(found) < limit and start < cut.back.end:
            found += cut.back.find(find, start, limit - len(found))
        for b in cut.tail:
            if len(found) >= limit:
                break
            first = max(b.first, cut.tail_first)
            lines = b.lines[first - b.first :]
            if lines and first + len(lines) > start:
                text = "".join(plain_of(t) + "\n" for t in lines)
                find_lines(text.encode(*_CODEC), first, find, start, limit, found)
        return found[:limit]

    def plain(self, start: int, max_chars: int) -> tuple[str, int]:
        """Plain text (no colours, one "\\n" per line) of the lines from ``start``, about
        ``max_chars`` of it in whole lines; and the line to go on from (``line_count``: the end)."""
        parts: list[str] = []
        size, at = 0, start
        for block in self._blocks(self._cut(), start, plain=True):
            lines = block.lines[max(0, at - block.first) :]
            if not lines:
                continue
            text = "\n".join(lines) + "\n"
            parts.append(plain_of(text))
            size += len(parts[-1])
            at += len(lines)
            if size >= max_chars:
                break
        return "".join(parts), at

    def raw(self, offset: int, size: int) -> bytes:
        """The output's bytes as they arrived (escape codes in, both streams in order)."""
        with self._lock:
            return self._transcript.read(offset, size)

    def raw_size(self) -> int:
        with self._lock:
            return self._transcript.size


def _shown(index: int, text: str, stream: str) -> LogLine:
    """A stored line (as it came, or cooked) as it shows: cooked, at most LINE_CAP columns."""
    if len(text) <= LINE_CAP and text.isprintable():
        return LogLine(index, text, stream)
    row = parse(text, 0)
    return LogLine(index, cook(row), stream, row.cut)
