"""The screen model against a naive terminal: every line kept, then the head and the tail sliced off."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from miosa_jupyter._screen import Screen

chunks = st.lists(st.text(alphabet="ab\n\r\b\t", min_size=1, max_size=15), min_size=1, max_size=15)


def naive(text: str) -> list[str]:
    """Every line a terminal shows for text of letters, LF (CR+LF), CR, backspace and tab."""
    lines: list[list[str]] = []
    y = x = 0
    for char in text:
        if char == "\n":
            lines += [[] for _ in range(y + 1 - len(lines))]
            y, x = y + 1, 0
        elif char == "\r":
            x = 0
        elif char == "\b":
            x = max(0, x - 1)
        else:
            lines += [[] for _ in range(y + 1 - len(lines))]
            line = lines[y]
            stop = (x // 8 + 1) * 8 if char == "\t" else x + 1
            line += " " * (stop - len(line))
            if char != "\t":
                line[x] = char
            x = stop
    return ["".join(line) for line in lines]


@given(chunks, st.integers(0, 4), st.integers(1, 6), st.lists(st.booleans(), max_size=15))
@settings(max_examples=400, deadline=None)
def test_window_is_head_and_tail_of_all_lines(parts, head, tail, take_changes):
    screen = Screen(head, tail)
    for i, part in enumerate(parts):
        screen.feed(part, "stdout")
        if i < len(take_changes) and take_changes[i]:
            screen.changes()
    lines = naive("".join(parts))
    assert screen.count == len(lines)
    want_head = lines[:head]
    want_tail = lines[head:][-tail:] if len(lines) > head else []
    runs = screen.window()
    assert [t for start, run in runs if start < head for t, _ in run] == want_head
    assert [t for start, run in runs if start >= head for t, _ in run] == want_tail
    assert screen.hidden == (len(lines) - len(want_head) - len(want_tail) if want_tail else 0)


_TOKENS = ["x", "yz", "\n", "\n\n", "\r", "\x1b[A", "\x1b[3A", "\x1b[B", "\x1b[K", "\x1b[31m", "\x1b[0m"]


@given(
    st.lists(st.lists(st.sampled_from(_TOKENS), min_size=1, max_size=6), min_size=1, max_size=25),
    st.integers(0, 4),
    st.integers(1, 8),
)
@settings(max_examples=400, deadline=None)
def test_changes_applied_in_order_rebuild_the_window(parts, head, tail):
    """What the widget does: place each run of ``changes()`` by index; it then shows ``window()``."""
    screen = Screen(head, tail)
    shown: dict[int, str] = {}
    for part in parts:
        screen.feed("".join(part), "stdout")
        for start, run in screen.changes():
            for i, (text, _) in enumerate(run):
                shown[start + i] = text
    window = {start + i: text for start, run in screen.window() for i, (text, _) in enumerate(run)}
    assert {i: shown.get(i) for i in window} == window


def test_changes_cover_what_changed_and_only_that():
    screen = Screen(2, 3)
    screen.feed("a\nb\nc\n", "stdout")
    assert screen.changes() == [(0, [("a", "stdout"), ("b", "stdout")]), (2, [("c", "stdout")])]
    assert screen.changes() == []
    screen.feed("50%\r", "stderr")
    screen.feed("60%\r", "stderr")
    assert screen.changes() == [(3, [("60%", "stderr")])]


def test_an_edit_in_the_head_sends_that_line_not_the_whole_tail():
    screen = Screen(20, 1000)
    screen.feed("".join(f"{i}\n" for i in range(500)), "stdout")
    screen.changes()
    screen.feed("\x1b[497AX\x1b[497B\r", "stdout")  # line 3 is in the head
    assert screen.changes() == [(3, [("X", "stdout")])]
    screen.feed("\x1b[2AY\x1b[2B\r", "stdout")  # line 498 is in the tail
    assert screen.changes() == [(498, [("Y98", "stdout"), ("499", "stdout")])]


def test_a_million_lines_keep_only_the_window():
    screen = Screen(20, 1000)
    block = "".join(f"{i}\n" for i in range(10_000))
    for _ in range(100):
        screen.feed(block, "stdout")
    assert screen.count == 1_000_000
    assert screen.hidden == 1_000_000 - 20 - 1000
    assert sum(len(lines) for _, lines, _ in screen._blocks) < 2 * 1000 + 10_000


def test_a_million_coloured_lines_keep_only_the_window():
    screen = Screen(20, 1000)
    block = "".join(f"\x1b[32m{i}\x1b[0m\n" for i in range(10_000))
    for _ in range(20):
        screen.feed(block, "stdout")
    assert screen.count == 200_000
    assert sum(len(lines) for _, lines, _ in screen._blocks) < 2 * 1000 + 100
    assert [t for _, run in screen.window() for t, _ in run][-1] == "\x1b[32m9999\x1b[0m"
