"""The screen model against a naive one: every line kept, then the head and the tail sliced off."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from miosa_jupyter._screen import Screen, resolve

chunks = st.lists(st.text(alphabet="ab\n\r", min_size=1, max_size=15), min_size=1, max_size=15)


@given(chunks, st.integers(0, 4), st.integers(1, 6), st.lists(st.booleans(), max_size=15))
@settings(max_examples=400, deadline=None)
def test_window_is_head_and_tail_of_all_lines(parts, head, tail, take_changes):
    screen = Screen(head, tail)
    for i, part in enumerate(parts):
        screen.feed(part, "stdout")
        if i < len(take_changes) and take_changes[i]:
            screen.changes()
    text = "".join(parts)
    lines = text.split("\n")
    if text.endswith("\n"):
        lines.pop()
    assert screen.count == len(lines)
    want_head = lines[:head]
    want_tail = lines[head:][-tail:] if len(lines) > head else []
    runs = screen.window()
    got_head = [t for start, run in runs if start < head for t, _ in run]
    got_tail = [t for start, run in runs if start >= head for t, _ in run]
    assert got_head == want_head
    assert [resolve(t) for t in got_tail] == [resolve(t) for t in want_tail]
    assert screen.hidden == (len(lines) - len(want_head) - len(want_tail) if want_tail else 0)


def test_changes_cover_what_changed_and_only_that():
    screen = Screen(2, 3)
    screen.feed("a\nb\nc\n", "stdout")
    assert screen.changes() == [(0, [("a", "stdout"), ("b", "stdout")]), (2, [("c", "stdout")])]
    assert screen.changes() == []
    screen.feed("50%\r", "stderr")
    screen.feed("60%\r", "stderr")
    assert screen.changes() == [(3, [("50%\r60%\r", "stderr")])]
    assert resolve("50%\r60%\r") == "60%"
    assert resolve("abc\rX") == "Xbc"


def test_a_million_lines_keep_only_the_window():
    screen = Screen(20, 1000)
    block = "".join(f"{i}\n" for i in range(10_000))
    for _ in range(100):
        screen.feed(block, "stdout")
    assert screen.count == 1_000_000
    assert screen.hidden == 1_000_000 - 20 - 1000
    assert sum(len(lines) for _, lines in screen._blocks) < 2 * 1000 + 10_000
