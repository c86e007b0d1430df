"""The scrollback of a run: the screen lines that left the window, kept for the view's tools.

A line leaves the window (``Screen``) when the tail moves past it; no cursor reaches it after that,
so it never changes again. ``Screen`` hands such lines here a block at a time (the lines of one
chunk of output, one stream), never one by one: the per-line path stays as it was.

Blocks are held in memory up to ``memory_cap`` characters, then written to two unlinked temporary
files: the *plain* text of every block (escape sequences and controls dropped: what search and
"copy all" read), and the stored text of the blocks whose plain text differs (colours: what a page
renders). Reading a page, or searching, is a positional read (``os.pread``) that never moves a file
pointer, so it runs on another thread while the reader appends.
"""

from __future__ import annotations

import re
from array import array
from bisect import bisect_right
from collections.abc import Callable, Iterator
from typing import IO, NamedTuple

from ._spill import read_at, spill_file, write_all

__all__ = ["Block", "Finder", "Scrollback", "find_lines", "plain_of"]

# Escape sequences and controls but tab and newline: what a line's plain text drops (as ``line_text``).
_NOT_PLAIN = re.compile(
    r"\x1b\[[0-9;:]*m"
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"
    r"|\x1b[P^_X][^\x1b]*(?:\x1b\\)?"
    r"|\x1b\[[0-?]*[ -/]*[@-~]?"
    r"|\x1b[ -/]*[0-~]?"
    r"|[\x00-\x08\x0b-\x1a\x1c-\x1f\x7f]"
)
_CONTROL = re.compile("[\x00-\x09\x0b-\x1f\x7f]")
_CODEC = ("utf-8", "surrogatepass")

# Given UTF-8 text (whole lines, each ending in a newline), a function that gives the byte offset of
# a match at or after a byte offset (-1: none), in a line that matches.
Finder = Callable[[bytes], Callable[[int], int]]


class Block(NamedTuple):
    """Lines ``first`` .. ``first + len(lines) - 1``, all of one stream."""

    first: int
    stream: str
    lines: list[str]


class _Memory(NamedTuple):
    first: int
    stream: str
    text: str  # the lines as the screen stored them, joined with "\n"
    lines: int  # how many

    def plain(self) -> str:
        """The lines joined with "\\n" (and one at the end), plain (as ``_spill`` writes them)."""
        return _plain_block(self.text + "\n")


def _plain_block(text: str) -> str:
    """A block's lines without colours: only blocks with ESC or TAB differ (raw lines come from the
    screen's plain path, cooked ones hold text and SGR only), a cheap ``in`` test on the hot path.
    Other C0 controls in raw output (a NUL, a BEL) stay: the page drops them when it shows a line."""
    return plain_of(text) if "\x1b" in text or "\t" in text else text


def plain_of(text: str) -> str:
    """``text`` (lines joined with "\\n") as a terminal shows it, without colours: escape sequences
    and controls dropped, tabs expanded to the next multiple of 8 columns."""
    return _NOT_PLAIN.sub("", text).expandtabs() if _CONTROL.search(text) else text


class Scrollback:
    """Append-only screen lines by index, in memory up to ``memory_cap`` characters, then on disk."""

    def __init__(self, memory_cap: int = 16 << 20) -> None:
        self.memory_cap = memory_cap
        self.end = 0  # one past the last line held (lines before the first block are not ours)
        self.start: int | None = None  # the first line held
        self._memory: list[_Memory] = []
        self._in_memory = 0
        self._plain: IO[bytes] | None = None
        self._stored: IO[bytes] | None = None
        self._plain_size = 0
        self._stored_size = 0
        # One entry per spilled block: its first line, where its plain (and stored) text begins.
        self._firsts = array("q")
        self._plain_at = array("q")
        self._stored_at = array("q")  # -1: the stored text is the plain text
        self._stored_len = array("q")
        self._streams: list[str] = []

    # -- writing (the reader thread, under the run's lock) ---------------------------------------

    def add(self, first: int, stream: str, lines: list[str]) -> None:
        """Lines ``first ..`` that left the window; ``first`` is where the previous block ended."""
        if lines:
            self.add_text(first, stream, "\n".join(lines), len(lines))

    def add_text(self, first: int, stream: str, text: str, count: int) -> None:
        """``count`` lines joined with "\\n" (a piece of output too long for the tail: it is never
        split into lines here). What a line shows without colours is worked out when it is spilled
        or read, not now: this is on the reader's path."""
        if self.start is None:
            self.start = first
        self._memory.append(_Memory(first, stream, text, count))
        self.end = first + count
        self._in_memory += len(text) + 1
        if self._in_memory > self.memory_cap:
            self._spill()

    def settle(self, keep: int = 1 << 20) -> None:
        """A finished run's lines go to disk if more than ``keep`` characters of them are in memory."""
        if self._in_memory > keep:
            self._spill()

    @property
    def footprint(self) -> int:
        """Bytes on disk and characters in memory."""
        return self._plain_size + self._stored_size + self._in_memory

    def _spill(self) -> None:
        if self._plain is None:
            self._plain = spill_file("miosa-scrollback-")
            self._stored = spill_file("miosa-scrollback-")
        assert self._stored is not None
        texts: list[bytes] = []
        stored: list[bytes] = []
        for block in self._memory:
            text = _plain_block(block.text)
            stored.append(b"" if text is block.text else block.text.encode(*_CODEC) + b"\n")
            texts.append(text.encode(*_CODEC))
            texts.append(b"\n")
        plain = b"".join(texts)
        texts = texts[::2]
        for block, data, st in zip(self._memory, texts, stored, strict=True):
            self._firsts.append(block.first)
            self._streams.append(block.stream)
            self._plain_at.append(self._plain_size)
            self._plain_size += len(data) + 1
            self._stored_at.append(self._stored_size if st else -1)
            self._stored_len.append(len(st))
            self._stored_size += len(st)
        write_all(self._plain, plain)
        if any(stored):
            write_all(self._stored, b"".join(stored))
        self._memory = []
        self._in_memory = 0

    # -- reading (any thread) ------------------------------------------------------------------

    def cut(self) -> Scrollback.Cut:
        """What is held now, readable while more is added (call under the run's lock)."""
        return Scrollback.Cut(self, len(self._firsts), self._plain_size, list(self._memory), self.end)

    class Cut:
        """The scrollback as it was at one moment: its blocks, read from disk or memory."""

        def __init__(
            self, back: Scrollback, spilled: int, plain_size: int, memory: list[_Memory], end: int
        ) -> None:
            self._back, self._spilled, self._plain_size = back, spilled, plain_size
            self._memory, self.end = memory, end
            self.start = back.start if back.start is not None else end

        def blocks(self, start: int = 0, *, plain: bool = False) -> Iterator[Block]:
            """The blocks that hold lines ``start`` and after, in order (whole blocks)."""
            back = self._back
            i = max(0, bisect_right(back._firsts, start, 0, self._spilled) - 1)
            for j in range(i, self._spilled):
                yield Block(back._firsts[j], back._streams[j], self._read(j, plain).split("\n"))
            for block in self._memory:
                if block.first + block.lines <= start:
                    continue
                lines = (block.plain()[:-1] if plain else block.text).split("\n")
                yield Block(block.first, block.stream, lines)

        def _read(self, j: int, plain: bool) -> str:
            back = self._back
            begin = back._plain_at[j]
            end = back._plain_at[j + 1] if j + 1 < self._spilled else self._plain_size
            if not plain and back._stored_at[j] >= 0:
                assert back._stored is not None
                at = back._stored_at[j]
                return read_at(back._stored, at, back._stored_len[j])[:-1].decode(*_CODEC)
            assert back._plain is not None
            return read_at(back._plain, begin, end - begin)[:-1].decode(*_CODEC)

        def find(self, finder: Finder, start: int, limit: int) -> list[int]:
            """Lines at ``start`` and after whose plain text ``finder`` finds (at most ``limit``).

            The spilled text is read in windows of whole blocks, about 8 MB each.
            """
            found: list[int] = []
            back = self._back
            i = max(0, bisect_right(back._firsts, start, 0, self._spilled) - 1)
            while i < self._spilled and len(found) < limit:
                j, size = i, 0
                while j < self._spilled and size < _WINDOW:  # whole blocks, up to ~8 MB
                    end = back._plain_at[j + 1] if j + 1 < self._spilled else self._plain_size
                    size = end - back._plain_at[i]
                    j += 1
                assert back._plain is not None
                data = read_at(back._plain, back._plain_at[i], size)  # (searched as bytes: no decode)
                find_lines(data, back._firsts[i], finder, start, limit, found)
                i = j
            for block in self._memory:
                if len(found) >= limit:
                    break
                find_lines(block.plain().encode(*_CODEC), block.first, finder, start, limit, found)
            return found


_WINDOW = 8 << 20


def find_lines(data: bytes, first: int, finder: Finder, start: int, limit: int, out: list[int]) -> None:
    """Append to ``out`` the lines of ``data`` (UTF-8; line ``first`` first, each ending in a newline)
    that hold a match, from line ``start``: one entry per line, and one search per line that matches."""
    line, pos = first, 0
    if start > first:  # skip to line ``start``
        for _ in range(start - first):
            pos = data.find(b"\n", pos) + 1
            if pos == 0:
                return
        line = start
    search = finder(data)
    counted = pos  # ``line`` is the line that starts at ``counted``
    while 0 <= (at := search(counted)) < len(data):  # (an empty match at the very end is no line)
        line += data.count(b"\n", counted, at)
        out.append(line)
        if len(out) >= limit:
            return
        nl = data.find(b"\n", at)
        if nl < 0:
            return
        counted = nl + 1
        line += 1
