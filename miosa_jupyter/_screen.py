"""The screen of a run: output text turned into the lines a terminal shows, a bounded head + tail window.

A line's text, as ``changes()`` and ``window()`` give it, is *cooked*: no ``\\r``, ``\\n``, controls or
escape sequences but SGR, and self-contained (it starts in the default style and ends with
``\\x1b[0m`` if one is still on), so one line renders alone. Only the window is kept (head: the first
lines, tail: the last ones); every other line is counted, never stored here (the transcript keeps
the text).

Three paths share the lines, the cheapest that shows the output right:

- plain text (no ``\\x1b``, ``\\r``, ``\\b``) while the terminal is clean (default colour, cursor at
  the end, nothing pending) is appended per chunk, not per line, as it always was: the tail is a
  deque of blocks, one ``str.split`` list per chunk;
- text that only appends with colours (SGR, and the ``\\x1b[K`` grep puts after each) takes the
  same path once every line that inherits a colour opens with its SGR (``_carry``);
- everything else goes through ``Emulator`` (``_emulator.py``), which edits the lines its cursor
  reaches and writes them back cooked.

Lines appended the first two ways are stored as they came (tabs, stray controls, raw SGR, past
``LINE_CAP``) and cooked when read: the ``(text, stream)`` pairs a view needs are made only for the
lines it is sent, at most 20 times a second.
"""

from __future__ import annotations

import re
from collections import deque
from typing import TYPE_CHECKING, Any

from ._cells import LINE_CAP, cook, parse, sgr
from ._emulator import PARTIAL, PENDING_MAX, Emulator

if TYPE_CHECKING:
    from ._scrollback import Scrollback

__all__ = ["LINE_CAP", "Line", "Screen", "Span"]

Line = tuple[str, str]  # (cooked text, stream)
Span = tuple[int, list[Line]]  # (index of the first line, lines)
# [stream, lines, raw]: lines[:raw] are stored as they came, the rest cooked. A list (not a class) that
# ``_tail_lines`` updates in place; its items differ in type, so the element type is Any.
_Block = list[Any]


# An escape that is not an SGR, nor an erase to the end of the line (a no-op at the end of the
# output: grep and gcc follow each SGR with one).
_NOT_APPEND = re.compile("\x1b(?!\\[[0-9;]*m|\\[0?K)")
# A line whose last SGR is not a reset: its colour carries into the next line.
_LEAK = re.compile("\x1b\\[(?!0*m)[0-9;]*m(?:[^\x1b\n]|\x1b\\[0?K)*(?:\n|\\Z)")
_SGR_PARAMS = re.compile("\x1b\\[([0-9;]*)m")
_ONLY_ESCAPES = re.compile("(?:\x1b\\[[0-9;]*m|\x1b\\[0?K)*\\Z")


def _carry(text: str, style: str) -> tuple[str, str]:
    """Open each line that inherits a colour with its SGR (``style`` is the colour at the start);
    and the colour at the end. Lines that start in the default colour are skipped over by
    ``_LEAK``, so the work is per line only where a colour carries across newlines."""
    out: list[str] = []
    pos, n = 0, len(text)
    while pos < n:
        if not style:
            m = _LEAK.search(text, pos)
            if m is None:
                out.append(text[pos:])
                break
            start = max(pos, text.rfind("\n", pos, m.start()) + 1)  # the line that leaks
            out.append(text[pos:start])
            pos = start
        end = text.find("\n", pos)
        end = n if end < 0 else end + 1
        line = text[pos:end]
        if style and line != "\n":  # a continued line too: it may be stored cooked, reset at its end
            out.append(f"\x1b[{style}m")
        out.append(line)
        if "\x1b" in line:
            for params in _SGR_PARAMS.findall(line):
                style = sgr(style, params)
        pos = end
    return "".join(out), style


class Screen:
    """Screen lines of one run; ``changes()`` gives what changed since the last call, as spans.

    ``rows`` is the terminal's height: cursor addressing (CUP, VPA, ED) works on the last ``rows``
    lines. ``cut(index)`` is how many columns of a line were written past ``LINE_CAP`` and dropped.
    """

    def __init__(
        self, head: int = 20, tail: int = 1000, *, rows: int = 24, scrollback: Scrollback | None = None
    ) -> None:
        self.head_max = head
        self.tail_max = tail
        self.head: list[Line] = []
        self._blocks: deque[_Block] = deque()  # oldest first
        self._held = 0  # lines in _blocks (can exceed tail_max by less than one block)
        self.count = 0  # screen lines so far, the open one included
        self.open = False  # the cursor is on a line that exists (the last one: it has no newline yet)
        self._dirty: int | None = None  # lines from here to the end changed
        self._spot: tuple[int, int] | None = None  # and these head lines (first, last)
        self._cuts: dict[int, int] = {}
        self._term = Emulator(self, rows)
        self.scrollback = scrollback  # where lines that leave the window go (None: forgotten)

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

    def cut(self, index: int) -> int:
        """Columns of line ``index`` written past ``LINE_CAP`` (not kept; the view can say so)."""
        return self._cuts.get(index, 0)

    def cuts(self, spans: list[Span]) -> dict[int, int]:
        """``cut`` of every line in ``spans`` that lost columns (usually none: an empty dict)."""
        if not self._cuts:
            return {}
        return {i: c for i, c in self._cuts.items() if any(s <= i < s + len(lines) for s, lines in spans)}

    def feed(self, text: str, stream: str) -> None:
        """Output text (any number of lines) from one stream, as a terminal would show it."""
        if not text:
            return
        term = self._term
        if not term.clean or "\x1b" in text or "\r" in text or "\b" in text or self._too_long(text):
            appended = self._appendable(text)
            if appended is None:
                term.feed(text, stream)
                return
            text, term.style, term.pending = appended
            term.clean = not term.style and not term.pending
            if not text:
                return
        if self.open:
            self._term.rows.pop(self.count - 1, None)  # the terminal's parsed copy gets stale
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
            for i, piece in enumerate(body.split("\n", room)[:room]):
                self.head.append((self._cooked(first_index + i, piece), stream))
        skip = max(0, self.head_max - first_index)  # lines of this text that went to the head
        keep = min(n - skip, self.tail_max)
        if keep <= 0:
            return
        if keep == n - skip:
            pieces = body.split("\n")[skip:]
        else:
            pieces = body.rsplit("\n", keep)
            if self.scrollback is not None:  # the lines before the last ``keep`` go to the scrollback whole
                front = pieces[0].split("\n", skip)[-1] if skip else pieces[0]
                self._overflow(first_index + skip, stream, front, n - skip - keep)
            pieces = pieces[1:]
        self._blocks.append([stream, pieces, len(pieces)])
        self._trim(len(pieces))

    def _too_long(self, text: str) -> bool:
        """Whether appending makes the open line longer than LINE_CAP (the terminal then cuts it).

        Lines inside one chunk are bounded by the chunk; they are cut when read (``_cooked``).
        """
        if not self.open:
            return False
        end = text.find("\n")
        return len(self._last()) + (len(text) if end < 0 else end) > LINE_CAP

    def _appendable(self, text: str) -> tuple[str, str, str] | None:
        """Text that only appends (colours, no cursor motion) at the end of the output, as plain text
        each of whose lines opens with the colour it inherits; the colour at its end; and a sequence
        cut at its end, to complete with the next chunk. ``None``: the terminal must interpret it."""
        term = self._term
        if not term.at_end or "\r" in text or "\b" in text:
            return None
        text = term.pending + text
        cut = ""
        esc = text.rfind("\x1b", max(0, len(text) - PENDING_MAX))
        if esc >= 0 and (m := PARTIAL.match(text, esc)) and m.end() == len(text):
            text, cut = text[:esc], text[esc:]
        if self._too_long(text) or ("\x1b" in text and _NOT_APPEND.search(text)):
            return None
        tail = ""
        last = text.rfind("\n") + 1
        if (last or not self.open) and _ONLY_ESCAPES.match(text, last):
            text, tail = text[:last], text[last:]  # colours after the last newline make no line
        text, style = _carry(text, term.style)
        for params in _SGR_PARAMS.findall(tail):
            style = sgr(style, params)
        return text, style, cut

    def _last(self) -> str:
        """The stored text of the last line ("" when the window does not hold it)."""
        if self._held:
            lines: list[str] = self._blocks[-1][1]
            return lines[-1]
        return self.head[-1][0] if self.count == len(self.head) and self.head else ""

    def _trim(self, added: int) -> None:
        self._held += added
        while self._held - len(self._blocks[0][1]) >= self.tail_max:
            stream, lines, _ = self._blocks.popleft()
            if self.scrollback is not None:
                self.scrollback.add(self.count - self._held, stream, lines)
            self._held -= len(lines)

    def _overflow(self, first: int, stream: str, text: str, count: int) -> None:
        """``count`` lines of one text (joined) that the tail can't hold, as the text has more: every
        block held goes first, in order, then these (the scrollback takes lines in order)."""
        assert self.scrollback is not None
        while self._blocks:
            held_stream, held, _ = self._blocks.popleft()
            self.scrollback.add(first - self._held, held_stream, held)
            self._held -= len(held)
        self.scrollback.add_text(first, stream, text, count)

    def _continue(self, more: str) -> None:
        if self._held:
            block = self._blocks[-1]
            lines = block[1]
            if block[2] < len(lines):  # already cooked (read, or the terminal's): keep it so
                lines[-1] = self._cooked(self.count - 1, lines[-1] + more)
            else:
                lines[-1] += more
        elif self.count == len(self.head):
            text, stream = self.head[-1]
            self.head[-1] = (self._cooked(self.count - 1, text + more), stream)

    # -- the terminal's access to the lines (see _emulator.Lines) ----------------------------

    def _reach(self, count: int) -> int:
        """The first line the cursor can reach when there are ``count`` lines: the window's top."""
        return 0 if count <= self.head_max + self.tail_max else count - self.tail_max

    def _line(self, index: int) -> tuple[str, int]:
        """Stored text and cut of a line in the window (a line it no longer holds reads empty)."""
        if index < len(self.head):
            return self.head[index][0], self._cuts.get(index, 0)
        back = self.count - index  # 1 = the last line
        if back > self.tail_len:
            return "", 0
        for _, lines, _ in reversed(self._blocks):
            if back <= len(lines):
                return lines[-back], self._cuts.get(index, 0)
            back -= len(lines)
        return "", 0

    def _put(self, index: int, text: str, cut: int) -> None:
        """Replace the text of a line in the window (its stream stays the one that created it)."""
        self._set_cut(index, cut)
        if index < len(self.head):  # the head and the tail never share a line
            self.head[index] = (text, self.head[index][1])
            spot = self._spot
            self._spot = (index, index) if spot is None else (min(spot[0], index), max(spot[1], index))
            return
        back = self.count - index
        if back > self.tail_len:
            return
        self._mark(index)
        for _, lines, _ in reversed(self._blocks):
            if back <= len(lines):
                lines[-back] = text
                return
            back -= len(lines)

    def _extend(self, texts: list[str], cuts: dict[int, int], stream: str) -> None:
        """Append cooked lines."""
        first_index = self.count
        n = len(texts)
        self.count += n
        self._mark(first_index)
        room = self.head_max - len(self.head)
        if room > 0 and not self._held:
            self.head += [(text, stream) for text in texts[:room]]
        skip = max(0, self.head_max - first_index)
        keep = min(n - skip, self.tail_max)
        if keep > 0:
            if keep < n - skip and self.scrollback is not None:
                self._overflow(first_index + skip, stream, "\n".join(texts[skip : n - keep]), n - skip - keep)
            self._blocks.append([stream, texts[n - keep :], 0])
            self._trim(keep)
        for index, cut in cuts.items():
            self._set_cut(index, cut)

    def _cooked(self, index: int, text: str) -> str:
        """A line stored as it came (plain text, SGR, tabs, controls, any length) as it shows."""
        if len(text) <= LINE_CAP and text.isprintable():
            return text
        row = parse(text, self._cuts.get(index, 0))
        self._set_cut(index, row.cut)
        return cook(row)

    def _set_cut(self, index: int, cut: int) -> None:
        if cut:
            self._cuts[index] = cut
            if len(self._cuts) > 2 * (self.head_max + 64):  # forget lines that left the window
                low = self.tail_start
                self._cuts = {i: c for i, c in self._cuts.items() if i < len(self.head) or i >= low}
        else:
            self._cuts.pop(index, None)

    # -- what a view reads -------------------------------------------------------------------

    def _mark(self, index: int) -> None:
        if self._dirty is None or index < self._dirty:
            self._dirty = index

    def changes(self) -> list[Span]:
        """Spans of lines changed since the last call (head part, tail part); resets the tracking."""
        dirty, self._dirty = self._dirty, None
        spot, self._spot = self._spot, None
        runs: list[Span] = []
        if spot is not None:
            first, last = spot
            if dirty is not None and dirty <= last + 1:
                dirty = min(dirty, first)
            else:
                runs.append((first, self.head[first : last + 1]))
        if dirty is None:
            return runs
        return runs + self._runs(dirty)

    def window(self) -> list[Span]:
        """The whole window as spans: ``[(0, head), (tail_start, tail)]``."""
        return self._runs(0)

    def _runs(self, start: int) -> list[Span]:
        runs: list[Span] = []
        if start < len(self.head):
            runs.append((start, self.head[start:]))
        if self._held:
            begin = max(start, self.tail_start)
            if begin < self.count:
                runs.append((begin, self._tail_lines(self.count - begin)))
        return runs

    def last_line(self) -> str:
        """The last line as stored (its escape sequences in), "" when there is none."""
        if self._blocks:
            return self._tail_lines(1)[-1][0]
        return self.head[-1][0] if self.head else ""

    def _tail_lines(self, n: int) -> list[Line]:
        """The last ``n`` lines of the tail, oldest first."""
        out: list[Line] = []
        for block in reversed(self._blocks):
            stream, lines, raw = block
            start = max(0, len(lines) - (n - len(out)))
            if raw > start:  # cook what is read, once
                first = self.count - len(out) - len(lines)  # the index of lines[0]
                for j in range(start, raw):
                    lines[j] = self._cooked(first + j, lines[j])
                block[2] = start
            out[:0] = [(line, stream) for line in lines[start:]]
            if len(out) >= n:
                break
        return out
