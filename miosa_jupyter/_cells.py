"""A line as cells, and back: the model the emulator (``_emulator.py``) edits.

``parse`` turns a stored line into a ``Row``: one string per column (``""`` for the right half of a
wide character) and one SGR parameter string per column; ``cook`` turns a row back into text plus
SGR sequences only, self-contained (it starts in the default style and ends with ``\x1b[0m`` if a
style is still on), so any ANSI-to-HTML converter renders one line alone. Widths come from
``unicodedata`` (East Asian wide and full-width: 2 columns; combining and format: 0). A row holds at
most ``LINE_CAP`` columns; the columns written beyond are counted (``Row.cut``), not kept.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from itertools import groupby

__all__ = ["LINE_CAP", "SGR_TEXT", "TOKEN", "Row", "blank", "cook", "parse", "sgr"]

LINE_CAP = 16384  # columns kept per line

# One token: a printable run, a CSI sequence, a string introducer, another ESC sequence, or one
# control (an ESC that starts none of these: a sequence cut at the end of the chunk, or garbage).
TOKEN = re.compile(
    "([^\x00-\x1f\x7f-\x9f\u2028\u2029]+)"
    "|(\x1b\\[[0-?]*[ -/]*[@-~])"
    "|(\x1b[]PX^_])"
    "|(\x1b[ -/]*[0-OQ-WYZ\\\\`-~])"
    "|[\x00-\x1f\x7f-\x9f\u2028\u2029]"
)
SGR_TEXT = re.compile("\x1b\\[[0-9;:]*m")


# -- character width ------------------------------------------------------------------------------


@functools.cache
def _odd_chars() -> re.Pattern[str]:
    """Characters that may not be one column wide (East Asian wide/full-width: 2; combining,
    format: 0), and everything past the BMP (checked one by one: a class with astral ranges makes
    ``re`` test them in turn, 40x slower).

    Built once, from the running Python's ``unicodedata`` (~30 ms), the first time non-ASCII text
    is written.
    """
    eaw, category = unicodedata.east_asian_width, unicodedata.category
    spans: list[list[int]] = []
    for code in range(0x300, 0x10000):
        char = chr(code)
        if eaw(char) in "WF" or category(char) in ("Mn", "Me", "Cf") or 0x1160 <= code <= 0x11FF:
            if spans and spans[-1][1] == code - 1:
                spans[-1][1] = code
            else:
                spans.append([code, code])
    spans.append([0x10000, 0x10FFFF])
    return re.compile("[" + "".join(f"{chr(a)}-{chr(b)}" for a, b in spans) + "]")


@functools.lru_cache(maxsize=4096)
def _width(char: str) -> int:
    code = ord(char)
    if unicodedata.east_asian_width(char) in "WF" or 0x20000 <= code <= 0x3FFFD:
        return 2
    if unicodedata.category(char) in ("Mn", "Me", "Cf") or 0x1160 <= code <= 0x11FF:
        return 0
    return 1


def _cells(run: str) -> list[str]:
    """Cells of a run with wide or zero-width characters; a leading zero-width one stays alone."""
    cells: list[str] = []
    for char in run:
        w = _width(char)
        if w == 1:
            cells.append(char)
        elif w == 2:
            cells += (char, "")
        elif cells:
            cells[-2 if cells[-1] == "" else -1] += char
        else:
            cells.append(char)  # marks: joined to the cell before the run (Row.put)
    return cells


# -- SGR ------------------------------------------------------------------------------------------

# A style is its canonical SGR parameter string: "" (default), "1;31", "4;38;5;208;48;2;0;0;95".
# Attributes in this order: bold 1, dim 2, italic 3, underline 4, inverse 7, strike 9, fg, bg.
_FLAGS = ("1", "2", "3", "4", "7", "9")
_FLAG_ON = {1: 0, 2: 1, 3: 2, 4: 3, 7: 4, 9: 5}
_FLAG_OFF = {22: (0, 1), 23: (2,), 24: (3,), 27: (4,), 29: (5,)}


def _extended(values: list[int], i: int) -> tuple[str | None, int]:
    """The colour after 38/48 at ``values[i:]`` (``5;n`` or ``2;r;g;b``) and the index past it."""
    if i < len(values) and values[i] == 5 and i + 1 < len(values):
        return (f"5;{values[i + 1]}" if values[i + 1] < 256 else None), i + 2
    if i < len(values) and values[i] == 2 and i + 3 < len(values):
        r, g, b = (min(v, 255) for v in values[i + 1 : i + 4])
        return f"2;{r};{g};{b}", i + 4
    return None, len(values)  # malformed: ignore the rest, as xterm does


def _values(params: str) -> list[int]:
    """SGR parameters as numbers; colon sub-parameters (``38:2::r:g:b``, ``4:3``) in the ``;`` form."""
    out: list[int] = []
    for part in params.split(";"):
        if ":" not in part:
            out.append(int(part) if part.isdigit() else 0)
            continue
        sub = [int(p) if p.isdigit() else 0 for p in part.split(":")]
        if sub[0] in (38, 48) and len(sub) > 2 and sub[1] == 5:
            out += sub[:3]
        elif sub[0] in (38, 48) and len(sub) > 4 and sub[1] == 2:
            out += [sub[0], 2, *sub[-3:]]
        elif sub[0] == 4:
            out.append(4 if len(sub) < 2 or sub[1] else 24)
    return out


@functools.lru_cache(maxsize=8192)
def sgr(style: str, params: str) -> str:
    """The style after ``CSI params m`` in ``style`` (both canonical parameter strings)."""
    values = _values(params)
    flags = [False] * 6
    fg = bg = ""
    if style:
        decoded, fg, bg = _decode(style)
        flags = list(decoded)  # the cached tuple is shared
    i = 0
    while i < len(values):
        v = values[i]
        i += 1
        if v == 0:
            flags, fg, bg = [False] * 6, "", ""
        elif v in _FLAG_ON:
            flags[_FLAG_ON[v]] = True
        elif v in _FLAG_OFF:
            for k in _FLAG_OFF[v]:
                flags[k] = False
        elif 30 <= v <= 37 or 90 <= v <= 97:
            fg = str(v)
        elif 40 <= v <= 47 or 100 <= v <= 107:
            bg = str(v)
        elif v == 39:
            fg = ""
        elif v == 49:
            bg = ""
        elif v in (38, 48):
            colour, i = _extended(values, i)
            if colour is not None and v == 38:
                fg = "38;" + colour
            elif colour is not None:
                bg = "48;" + colour
        # others (blink, conceal, fonts, overline, ...) are not shown: dropped
    return ";".join([f for f, on in zip(_FLAGS, flags, strict=True) if on] + [c for c in (fg, bg) if c])


@functools.lru_cache(maxsize=4096)
def _decode(style: str) -> tuple[tuple[bool, ...], str, str]:
    flags = [False] * 6
    fg = bg = ""
    parts = style.split(";")
    i = 0
    while i < len(parts):
        p = parts[i]
        width = 1 if p not in ("38", "48") else (3 if parts[i + 1] == "5" else 5)
        if p in _FLAGS:
            flags[_FLAGS.index(p)] = True
        elif p[0] in "39" and p != "38":
            fg = p
        elif p == "38":
            fg = ";".join(parts[i : i + width])
        else:
            bg = ";".join(parts[i : i + width])
        i += width
    return tuple(flags), fg, bg


@functools.lru_cache(maxsize=4096)
def blank(style: str) -> str:
    """The style of erased cells: the background only (as xterm's background colour erase)."""
    return _decode(style)[2] if style else ""


# -- rows -----------------------------------------------------------------------------------------


class Row:
    """One line as cells: ``chars[x]`` is the text of column x (``""``: right half of a wide char)."""

    __slots__ = ("chars", "cut", "styles")

    def __init__(self) -> None:
        self.chars: list[str] = []
        self.styles: list[str] = []
        self.cut = 0  # columns written past LINE_CAP

    def put(self, x: int, run: str, style: str) -> int:
        """Write a printable run at column ``x``; the cursor's column after it."""
        cells: str | list[str] = run
        if not run.isascii() and _odd_chars().search(run):
            cells = _cells(run)
            if _width(run[0]) == 0:  # combining marks join the character before the cursor
                mark, cells = cells[0], cells[1:]
                prev = x - 1 - (1 if 1 < x <= len(self.chars) and self.chars[x - 1] == "" else 0)
                if 0 <= prev < len(self.chars):
                    self.chars[prev] += mark
        n = len(cells)
        end = x + n
        if end > LINE_CAP:
            self.cut = max(self.cut, end - LINE_CAP)
            cells = cells[: max(0, LINE_CAP - x)]
            if cells and cells[-1] != "" and _width(cells[-1][0]) == 2:
                cells = [*cells[:-1], " "]  # half a wide character does not fit
            if not cells:
                return end
        chars, styles = self.chars, self.styles
        have = len(chars)
        if x > have:
            chars += " " * (x - have)
            styles += [""] * (x - have)
            have = x
        stop = x + len(cells)
        if x < have and chars[x] == "":
            chars[x - 1] = " "  # overwrote the right half of a wide character
        if stop < have and chars[stop] == "":
            chars[stop] = " "  # overwrote the left half of one
        chars[x:stop] = cells
        styles[x:stop] = [style] * len(cells)
        return end

    def pad(self, x: int) -> None:
        """Blank cells up to column ``x`` (a tab past the end of the line writes spaces)."""
        have = len(self.chars)
        if x > have:
            self.chars += " " * (x - have)
            self.styles += [""] * (x - have)

    def erase(self, start: int, stop: int, style: str) -> None:
        """Blank columns ``[start, stop)`` that exist; columns from ``start`` on are dropped when
        ``stop`` reaches the end (trailing blanks are not kept)."""
        chars = self.chars
        have = len(chars)
        stop = min(stop, have)
        if start >= stop:
            return
        if chars[start] == "" and start > 0:
            chars[start - 1] = " "
        if stop < have and chars[stop] == "":
            chars[stop] = " "
        if stop == have and not style:
            del chars[start:], self.styles[start:]
        else:
            chars[start:stop] = " " * (stop - start)
            self.styles[start:stop] = [style] * (stop - start)
        if stop == have:
            self.cut = 0

    def delete(self, x: int, n: int) -> None:
        """DCH: remove ``n`` columns at ``x``; the rest of the line moves left."""
        chars = self.chars
        if x >= len(chars):
            return
        if chars[x] == "" and x > 0:
            chars[x - 1] = " "
        del chars[x : x + n], self.styles[x : x + n]
        if x < len(chars) and chars[x] == "":
            chars[x] = " "
        self.cut = max(0, self.cut - n)

    def insert(self, x: int, n: int, style: str) -> None:
        """ICH: ``n`` blank columns at ``x``; the rest moves right (past LINE_CAP it is lost)."""
        chars = self.chars
        if x >= len(chars):
            return
        if chars[x] == "" and x > 0:
            chars[x - 1] = " "
            chars[x] = " "
        n = min(n, LINE_CAP - x)
        chars[x:x] = " " * n
        self.styles[x:x] = [style] * n
        if len(chars) > LINE_CAP:
            self.cut += len(chars) - LINE_CAP
            del chars[LINE_CAP:], self.styles[LINE_CAP:]
            if chars[-1] != "" and _width(chars[-1][0]) == 2:
                chars[-1] = " "


def cook(row: Row) -> str:
    """The row as a self-contained line of text and SGR sequences."""
    chars, styles = row.chars, row.styles
    if not chars:
        return ""
    if styles.count("") == len(styles):
        return "".join(chars)
    out: list[str] = []
    i = 0
    current = ""
    for style, group in groupby(styles):
        n = len(list(group))
        if style != current:
            out.append("\x1b[0m" if not style else f"\x1b[{style}m" if not current else f"\x1b[0;{style}m")
            current = style
        out.append("".join(chars[i : i + n]))
        i += n
    if current:
        out.append("\x1b[0m")
    return "".join(out)


def parse(text: str, cut: int = 0) -> Row:
    """A stored line back into cells. Takes cooked lines, and plain text with tabs and stray
    controls (what the Screen stored without the emulator)."""
    row = Row()
    row.cut = cut
    if text.isascii() and text.isprintable():
        if len(text) > LINE_CAP:
            row.cut = max(cut, len(text) - LINE_CAP)
            text = text[:LINE_CAP]
        row.chars = list(text)
        row.styles = [""] * len(text)
        return row
    x = 0
    style = ""
    for m in TOKEN.finditer(text):
        if m.lastindex == 1:
            x = row.put(x, m.group(1), style)
        elif m.lastindex == 2 and (tok := m.group(2))[-1] == "m" and SGR_TEXT.fullmatch(tok):
            style = sgr(style, tok[2:-1])
        elif m.group() == "\t":
            x = min((x // 8 + 1) * 8, LINE_CAP)
            row.pad(x)
    return row
