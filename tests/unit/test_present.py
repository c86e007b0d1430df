"""The presentation module: one line of SGR text to HTML, checked against ansi2html (the maintained
converter used before) character by character; the words every view shares."""

from __future__ import annotations

from html.parser import HTMLParser

from ansi2html import Ansi2HTMLConverter
from hypothesis import given, settings
from hypothesis import strategies as st

from miosa_jupyter._models import ExecResult
from miosa_jupyter._present import (
    _xterm256,
    banner_text,
    banner_words,
    count_text,
    hidden_text,
    line_html,
    line_text,
    seconds_text,
)

_NAMES = ("black", "red", "green", "yellow", "blue", "magenta", "cyan", "white")
Style = tuple[object, object, bool, bool, bool, bool, bool]  # fg, bg, bold, dim, italic, underline, strike


class _Chars(HTMLParser):
    """Each character of the text with the classes and styles of the spans around it."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[tuple[list[str], str]] = []
        self.chars: list[tuple[str, list[str], str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        self.stack.append(((a.get("class") or "").split(), a.get("style") or ""))

    def handle_endtag(self, tag: str) -> None:
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        classes = [c for cs, _ in self.stack for c in cs]
        styles = ";".join(s for _, s in self.stack if s)
        self.chars += [(ch, classes, styles) for ch in data]


def _chars(html: str) -> list[tuple[str, list[str], str]]:
    p = _Chars()
    p.feed(html)
    p.close()
    return p.chars


def _ours(classes: list[str], style: str) -> Style:
    fg = bg = None
    for c in classes:
        for i, name in enumerate(_NAMES):
            if c == f"ansi-{name}-fg":
                fg = i
            elif c == f"ansi-{name}-intense-fg":
                fg = i + 8
            elif c == f"ansi-{name}-bg":
                bg = i
            elif c == f"ansi-{name}-intense-bg":
                bg = i + 8
    for decl in filter(None, style.split(";")):
        prop, _, value = decl.partition(":")
        if prop == "color":
            fg = value
        elif prop == "background-color":
            bg = value
    flags = [f"ansi-{f}" in classes for f in ("bold", "dim", "italic", "underline", "strike")]
    return (fg, bg, *flags)  # type: ignore[return-value]


def _theirs(classes: list[str]) -> Style:
    fg = bg = None
    for c in classes:
        code = c.removeprefix("ansi")
        if code.startswith(("38-", "48-")):
            value = code[3:]
            colour: object = (
                (int(value) if int(value) < 16 else _xterm256(int(value)))
                if len(value) < 9
                else "rgb({},{},{})".format(*(int(value[i : i + 3]) for i in (0, 3, 6)))
            )
            if code.startswith("38"):
                fg = colour
            else:
                bg = colour
        elif code.isdigit():
            n = int(code)
            if 30 <= n <= 37 or 90 <= n <= 97:
                fg = n - 30 if n < 90 else n - 82
            elif 40 <= n <= 47 or 100 <= n <= 107:
                bg = n - 40 if n < 100 else n - 92
    flags = [f"ansi{n}" in classes for n in (1, 2, 3, 4, 9)]
    return (fg, bg, *flags)  # type: ignore[return-value]


_sgr = st.sampled_from(
    ["0", "1", "2", "3", "4", "9", "22", "23", "24", "29", "39", "49"]
    + [str(n) for n in (*range(30, 38), *range(40, 48), *range(90, 98), *range(100, 108))]
    + [f"38;5;{n}" for n in (0, 9, 15, 16, 100, 231, 232, 255)]
    + [f"48;5;{n}" for n in (1, 14, 196)]
    + ["38;2;10;200;30", "48;2;255;0;128"]
)
_text = st.text(alphabet=st.sampled_from(list("ab <&>\"'é日")), min_size=0, max_size=6)
_lines = st.lists(st.tuples(_sgr, _text), min_size=1, max_size=8).map(
    lambda parts: "".join(f"\x1b[{p}m{t}" for p, t in parts) + "\x1b[0m"
)


@settings(max_examples=400, deadline=None, database=None)
@given(line=_lines)
def test_sgr_to_html_agrees_with_ansi2html_character_by_character(line: str):
    ours = _chars(line_html(line, "stdout"))
    converter = Ansi2HTMLConverter(inline=False)
    theirs = _chars(converter.convert(line, full=False, ensure_trailing_newline=False))
    assert "".join(c for c, _, _ in ours) == "".join(c for c, _, _ in theirs)
    for (ch, classes, style), (_, their_classes, _) in zip(ours, theirs, strict=True):
        mine, other = _ours(classes, style), _theirs(their_classes)
        # ansi2html keeps one intensity: bold and dim together show as whichever came last
        if mine[2] and mine[3]:
            mine, other = mine[:2] + mine[4:], other[:2] + other[4:]
        assert mine == other, (repr(line), ch, classes, their_classes)


def test_output_is_text_never_markup():
    html = line_html("\x1b[31m<script>alert(1)</script>\x1b[0m & <b>", "stdout")
    assert "<script>" not in html and "&lt;script&gt;" in html and "&amp; &lt;b&gt;" in html


def test_other_escape_sequences_and_controls_are_dropped_not_shown():
    line = "a\x1b]0;title\x07b\x1b[?25lc\x1b(Bd\x07e\x1b]8;;http://x\x1b\\f"
    assert line_text(line) == "abcdef"
    assert line_html(line, "stdout") == "abcdef"


def test_stderr_is_tinted_as_a_whole():
    assert line_html("oops", "stderr") == '<span class="miosa-err">oops</span>'


def test_the_words_the_views_share_say_one_thing_each_way():
    assert count_text(1) == "1 line" and count_text(4000) == "4,000 lines"
    assert hidden_text(1) == "… 1 line hidden …" and hidden_text(3980) == "… 3,980 lines hidden …"
    assert seconds_text(1.2) == "1.20 s" and seconds_text(45.3) == "45.3 s"
    assert seconds_text(125) == "2 min 5 s"
    failed = ExecResult(exit_code=127, duration_ms=1200)
    assert banner_words(failed) == "exit 127 · 1.20 s · command not found"
    assert banner_text("failure", banner_words(failed)) == "✖ failed · exit 127 · 1.20 s · command not found"
    assert banner_words(ExecResult(exit_code=None, timed_out=True), timeout=30) == "after 30 s"
