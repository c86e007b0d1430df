"""A small terminal: output with escape sequences turned into the lines a terminal would show.

``Emulator`` edits the lines of a ``Screen`` (``_screen.py``) the way a terminal edits its rows:
``\\r``, backspace, tabs, cursor moves, erases and SGR colour that carries from line to line. It
writes lines *cooked* (``cook``): text plus SGR sequences only, each line self-contained (it starts
in the default style and ends with ``\\x1b[0m`` if a style is still on), so any ANSI-to-HTML
converter can render one line alone. Everything else a terminal does not show (titles, hyperlinks,
private modes, bells) is dropped.

The rows the cursor reaches are parsed into cells (``parse``: one string per column, ``""`` for the
right half of a wide character, and one SGR parameter string per column) and written back at the
end of each ``feed``. Work is per text run and per escape sequence, with slice assignment, not per
character. Output is infinitely wide (no wrapping, as a notebook shows it); a row holds at most
``LINE_CAP`` columns, and the columns written beyond are counted (``Row.cut``), not kept. Widths
come from ``unicodedata`` (East Asian wide and full-width: 2 columns; combining and format: 0).
"""

from __future__ import annotations

import re
from typing import Protocol

from ._cells import LINE_CAP, TOKEN, Row, blank, cook, parse, sgr

__all__ = ["PARTIAL", "PENDING_MAX", "Emulator", "Lines"]

PENDING_MAX = 256  # a CSI or ESC sequence cut by a chunk boundary is held this long, then dropped
_STRING_MAX = 1 << 20  # an OSC/DCS/APC/PM/SOS string not ended after this many characters is abandoned
_ROWS_KEPT = 64  # parsed rows held between write-backs

PARTIAL = re.compile("\x1b(?:\\[[0-?]*[ -/]*|[ -/]*)")  # what may still become a CSI/ESC sequence
# A string (OSC, DCS, ...) ends at ST (ESC \\ or C1 ST) or BEL; CAN/SUB abort it, and so does an ESC
# that starts another sequence.
_STRING_END = re.compile("\x1b\\\\|[\x07\x9c\x18\x1a]|\x1b(?=[^\\\\])")


class Lines(Protocol):
    """The line store an ``Emulator`` edits (``Screen``): a window of the output's lines by index."""

    count: int
    open: bool

    def _reach(self, count: int) -> int: ...
    def _line(self, index: int) -> tuple[str, int]: ...
    def _put(self, index: int, text: str, cut: int) -> None: ...
    def _extend(self, texts: list[str], cuts: dict[int, int], stream: str) -> None: ...


# -- the terminal ---------------------------------------------------------------------------------


class Emulator:
    """Cursor, SGR state and parser of one output; edits the lines of ``lines`` (a ``Screen``).

    ``rows`` is the terminal's height: absolute moves (CUP, VPA) and ED address the last ``rows``
    lines, as on a real terminal. Relative moves reach any line the Screen still holds.
    """

    def __init__(self, lines: Lines, rows: int = 24) -> None:
        self.lines = lines
        self.height = max(1, rows)
        self.y = 0  # cursor line (index into the output's lines), may be past the last line
        self.x = 0  # cursor column, may be past LINE_CAP (the writes there are counted)
        self.style = ""
        self.top = 0  # first line of the terminal's screen (the bottom scrolls it)
        self.saved: tuple[int, int, str] | None = None  # DECSC: screen row, column, style
        self.rows: dict[int, Row] = {}  # parsed rows, written back at the end of each feed
        self.dirty: set[int] = set()
        self.count = 0  # lines, as this feed has made them so far
        self.stream = "stdout"  # the stream of the feed: new lines are its
        self.pending = ""  # a sequence cut by the chunk boundary
        self.in_string = 0  # inside an OSC/DCS/... string: characters swallowed so far, + 1
        self.at_end = True  # the cursor is where plain text would be appended (x, y to derive)
        self.clean = True  # at_end, default style, nothing pending: plain text may bypass us

    # -- feeding ----------------------------------------------------------------------------

    def feed(self, text: str, stream: str) -> None:
        """Interpret ``text`` and write the lines it changed back to the Screen."""
        lines = self.lines
        self.stream = stream
        self.count = lines.count
        if self.at_end:
            self.y = lines.count - 1 if lines.open else lines.count
            # an open line is written back cooked: stored as it came it may end in a colour that
            # this feed's SGRs change without writing there (plain text then joins it)
            row = self._row(self.y, write=True) if lines.open else None
            self.x = len(row.chars) + row.cut if row is not None else 0
            self.top = max(self.top, self.y - self.height + 1)
            self.at_end = False
        if self.pending:
            text, self.pending = self.pending + text, ""
        pos = self._string(text, 0) if self.in_string else 0
        n = len(text)
        match = TOKEN.match
        while pos < n:
            m = match(text, pos)
            assert m is not None  # the last alternative takes any character
            pos = m.end()
            kind = m.lastindex
            if kind == 1:
                self.x = self._row(self.y, write=True).put(self.x, m.group(1), self.style)
            elif kind == 2:
                self._csi(m.group(2))
            elif kind == 3:
                self.in_string = 1
                pos = self._string(text, pos)
            elif kind == 4:
                self._esc(m.group(4))
            else:
                char = m.group()
                if char == "\n":
                    self._linefeed()
                elif char == "\r":
                    self.x = 0
                elif char == "\b":
                    self.x = max(0, min(self.x, LINE_CAP) - 1)
                elif char == "\t":
                    self.x = min((self.x // 8 + 1) * 8, LINE_CAP)
                    self._row(self.y, write=True).pad(self.x)
                elif char == "\x1b" and (p := PARTIAL.match(text, pos - 1)) and p.end() == n:
                    if n - pos < PENDING_MAX:
                        self.pending = text[pos - 1 :]
                    break  # else a runaway: dropped
                else:  # other controls (BEL, SO/SI, NUL, ...) show nothing, but like any plain
                    self._row(self.y, write=True)  # text they make the line exist (as plain chunks do)
        self._write_back()
        self._settle()

    def _string(self, text: str, pos: int) -> int:
        """Swallow an OSC/DCS/APC/PM/SOS string from ``pos``; where the output resumes."""
        m = _STRING_END.search(text, pos)
        if m is not None:
            self.in_string = 0
            return m.start() if m.group() == "\x1b" else m.end()  # an ESC aborts it, and starts anew
        self.in_string += len(text) - pos
        if self.in_string > _STRING_MAX:
            self.in_string = 0  # runaway: give up on it, show what follows
        elif text.endswith("\x1b"):
            self.pending = "\x1b"  # maybe half of ST
        return len(text)

    def _write_back(self) -> None:
        """Write the changed rows back to the Screen, cooked; new lines join it from this feed's
        stream. Then forget parsed rows far from the cursor."""
        lines = self.lines
        old = lines.count
        rows = self.rows
        for i in self.dirty:
            if i < old:
                row = rows[i]
                lines._put(i, cook(row), row.cut)
        self.dirty.clear()
        if self.count > old:
            texts = []
            cuts = {}
            for i in range(old, self.count):
                kept = rows.get(i)
                texts.append(cook(kept) if kept is not None else "")
                if kept is not None and kept.cut:
                    cuts[i] = kept.cut
            lines._extend(texts, cuts, self.stream)
        if len(rows) > _ROWS_KEPT:
            keep = range(self.y - self.height, self.y + 2)
            self.rows = {i: r for i, r in rows.items() if i in keep}

    def _settle(self) -> None:
        """After a feed: is the cursor where plain text would simply be appended?"""
        y, count = self.y, self.count
        self.lines.open = y < count
        if self.in_string:
            self.at_end = False
        elif y == count:
            self.at_end = self.x == 0
        elif y == count - 1:
            row = self._row(y)
            self.at_end = self.x == len(row.chars) and not row.cut
        else:
            self.at_end = False
        self.clean = self.at_end and not self.style and not self.pending

    # -- rows -------------------------------------------------------------------------------

    def _row(self, y: int, write: bool = False) -> Row:
        row = self.rows.get(y)
        if row is None:
            row = Row() if y >= self.lines.count else parse(*self.lines._line(y))
            self.rows[y] = row
        if write:
            self.dirty.add(y)
            if y >= self.count:
                self.count = y + 1
        return row

    def _here(self) -> Row | None:
        """The cursor's row for an edit that changes nothing on a line not written yet."""
        return self._row(self.y, write=True) if self.y < self.count else None

    def _linefeed(self) -> None:
        y = self.y
        if y >= self.count:
            self.count = y + 1  # the line the cursor leaves exists, even if empty
        if len(self.rows) > _ROWS_KEPT:
            self._write_back()
        self.y = y + 1
        self.x = 0
        if self.y - self.height + 1 > self.top:
            self.top = self.y - self.height + 1

    # -- cursor -----------------------------------------------------------------------------

    def _lo(self) -> int:
        return self.lines._reach(self.count)

    def _bottom(self) -> int:
        return self.top + self.height - 1

    def _goto(self, y: int) -> None:
        self.y = max(self._lo(), min(y, self._bottom()))

    def _csi(self, seq: str) -> None:
        final = seq[-1]
        params = seq[2:-1]
        if params and params[0] in "<=>?":
            return  # private: modes, key reporting
        if final == "m":
            if not params.strip("0123456789;:"):  # no intermediates (CSI > 4 m and the like)
                self.style = sgr(self.style, params)
            return
        if params.strip("0123456789;") or seq[-2] in " !\"#$%&'()*+,-./":
            return  # intermediates or sub-parameters: nothing shown
        args = [int(p) if p else 0 for p in params.split(";")] if params else [0]
        n = max(1, args[0])
        if final in "AF":
            self._goto(self.y - n)
            if final == "F":
                self.x = 0
        elif final in "BEe":
            self._goto(self.y + n)
            if final == "E":
                self.x = 0
        elif final in "Ca":
            self.x = min(self.x + n, LINE_CAP)
        elif final == "D":
            self.x = max(0, min(self.x, LINE_CAP) - n)
        elif final in "G`":
            self.x = min(n - 1, LINE_CAP)
        elif final in "Hf":
            self._goto(self.top + n - 1)
            self.x = min(max(1, args[1]) - 1, LINE_CAP) if len(args) > 1 else 0
        elif final == "d":
            self._goto(self.top + n - 1)
        elif final == "K":
            self._erase_line(args[0])
        elif final == "J":
            self._erase_display(args[0])
        elif final in "XP@":
            row = self._here()
            if row is None:
                return
            if final == "X":
                row.erase(self.x, self.x + min(n, LINE_CAP), blank(self.style))
            elif final == "P":
                row.delete(self.x, min(n, LINE_CAP))
            else:
                row.insert(self.x, min(n, LINE_CAP), blank(self.style))
        elif final == "s":
            self._save()
        elif final == "u":
            self._restore()
        # other finals (scroll regions, insert/delete lines, reports) are not emulated

    def _esc(self, seq: str) -> None:
        final = seq[-1]
        if len(seq) > 2:
            return  # charset selection ESC ( B, ESC # 8, ...
        if final == "7":
            self._save()
        elif final == "8":
            self._restore()
        elif final == "M":  # reverse index (at the top a terminal would scroll down: we stop)
            self._goto(self.y - 1)
        elif final == "D":  # index
            x = self.x
            self._linefeed()
            self.x = x
        elif final == "E":  # next line
            self._linefeed()
        elif final == "c":  # full reset: the screen is cleared, the lines above stay
            self._erase_display(2)
            self.style = ""
            self.saved = None
            self._goto(self.top)
            self.x = 0
        # keypad modes (ESC = / ESC >) and the rest: nothing shown

    def _save(self) -> None:
        self.saved = (self.y - self.top, self.x, self.style)  # a row of the screen, as a terminal

    def _restore(self) -> None:
        if self.saved is None:  # nothing saved: home
            self._goto(self.top)
            self.x = 0
            return
        row, self.x, self.style = self.saved
        self._goto(self.top + row)

    # -- erasing ----------------------------------------------------------------------------

    def _erase_line(self, how: int) -> None:
        row = self._here()
        if row is None:
            return
        if how == 0:  # to the end: trailing blanks are not kept, even with a background colour
            row.erase(self.x, len(row.chars), "")
            row.cut = min(row.cut, max(0, self.x - LINE_CAP))
        elif how == 1:
            row.erase(0, self.x + 1, blank(self.style))
        elif how == 2:
            row.erase(0, len(row.chars), "")
            row.cut = 0

    def _erase_display(self, how: int) -> None:
        top, bottom = max(self.top, self._lo()), min(self._bottom(), self.count - 1)
        if how == 0:
            self._erase_line(0)
            span = range(self.y + 1, bottom + 1)
        elif how == 1:
            self._erase_line(1)
            span = range(top, min(self.y, bottom + 1))
        elif how in (2, 3):  # 3 also clears a terminal's scrollback; here the lines above stay
            span = range(top, bottom + 1)
        else:
            return
        for i in span:
            row = self._row(i, write=True)
            row.erase(0, len(row.chars), "")
            row.cut = 0
