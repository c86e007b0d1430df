"""The whole log (``_log.py``, ``_scrollback.py``, ``_transcript.py``): every screen line of a run,
read back in pages, searched and copied, against an oracle: the same output on a screen whose tail
holds every line (nothing ever leaves it). Memory caps are tiny here, so the disk paths run too."""

from __future__ import annotations

import re
import threading
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from miosa_jupyter._log import Log, Stamps, finder
from miosa_jupyter._present import line_text
from miosa_jupyter._screen import Screen
from miosa_jupyter._scrollback import Scrollback
from miosa_jupyter._transcript import Transcript

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "tty"
# No cursor-up: a screen edits only the lines its tail holds (a real terminal's 24 rows are far fewer
# than the view's 1,000), so with the tiny tails here the oracle would differ by design. The real
# tools' output below moves the cursor up, through a tail of 30.
_TOKENS = ["ab", "err", "x y", "\n", "\n\n", "\r", "\x1b[K", "\x1b[31m", "\x1b[0m", "\t", "é", "\x1b[2C"]


def make(head: int, tail: int, cap: int) -> tuple[Screen, Log, Transcript]:
    screen = Screen(head, tail, scrollback=Scrollback(cap))
    transcript = Transcript(cap)
    return screen, Log(threading.Lock(), screen, transcript, Stamps(0.0)), transcript


def feed(screen: Screen, transcript: Transcript, log: Log, parts: list[tuple[str, str]]) -> None:
    for stream, text in parts:
        transcript.add(stream, text)
        log.stamps.mark(screen.count)
        screen.feed(text, stream)


def oracle(parts: list[tuple[str, str]], head: int) -> list[tuple[str, str]]:
    """Every line as shown, from a screen that never lets one go (cooked the same way)."""
    screen = Screen(head, 10**9)
    for stream, text in parts:
        screen.feed(text, stream)
    return [(text, stream) for _, lines in screen.window() for text, stream in lines]


parts_strategy = st.lists(
    st.tuples(
        st.sampled_from(["stdout", "stderr"]),
        st.lists(st.sampled_from(_TOKENS), min_size=1, max_size=30).map("".join),
    ),
    min_size=1,
    max_size=40,
)


@given(parts_strategy, st.integers(0, 3), st.integers(1, 6), st.sampled_from([0, 16, 1 << 20]))
@settings(max_examples=300, deadline=None)
def test_every_line_reads_back_as_a_screen_that_keeps_all_of_them_shows_it(parts, head, tail, cap):
    screen, log, transcript = make(head, tail, cap)
    feed(screen, transcript, log, parts)
    want = oracle(parts, head)
    got = log.lines(0, 10**6)
    assert [line.index for line in got] == list(range(len(want)))
    assert [(line.text, line.stream) for line in got] == want
    # a page from anywhere, and one stream only
    if want:
        mid = len(want) // 2
        assert [(x.text, x.stream) for x in log.lines(mid, 3)] == want[mid : mid + 3]
        assert [x.index for x in log.lines(0, 10**6, stream="stderr")] == [
            i for i, (_, s) in enumerate(want) if s == "stderr"
        ]
    picked = list(range(0, len(want), 3))
    assert [(x.index, x.text) for x in log.pick(picked)] == [(i, want[i][0]) for i in picked]
    # copy all: the plain text of every line
    text, after = log.plain(0, 10**9)
    assert text == "".join(line_text(t) + "\n" for t, _ in want) and after == len(want)
    # search: the lines whose plain text holds the query
    for query in ("err", "b", "x y", "é"):
        assert log.search(query) == [i for i, (t, _) in enumerate(want) if query in line_text(t).lower()]
    # the raw output, byte for byte
    raw = "".join(text for _, text in parts).encode()
    assert transcript.read(0, 10**9) == raw and transcript.size == len(raw)
    assert b"".join(transcript.read(i, 7) for i in range(0, len(raw), 7)) == raw


@pytest.mark.parametrize("name", sorted(p.name for p in FIXTURES.glob("*.tty")))
def test_real_tools_output_reads_back_line_for_line(name: str) -> None:
    """pip, npm, rich, tqdm, pytest, git and apt as captured under a pseudo-terminal, fed in 4 KB chunks
    through a 30-line tail and a 1 KB memory cap."""
    data = (FIXTURES / name).read_bytes().decode("utf-8", "replace") * 20  # (past the tail many times)
    parts = [("stdout", data[i : i + 4096]) for i in range(0, len(data), 4096)]
    screen, log, transcript = make(3, 30, 1024)
    feed(screen, transcript, log, parts)
    assert [(x.text, x.stream) for x in log.lines(0, 10**6)] == oracle(parts, 3)
    assert log.plain(0, 10**9)[0] == "".join(line_text(t) + "\n" for t, _ in oracle(parts, 3))


def test_search_plain_regex_case_and_limits() -> None:
    screen, log, transcript = make(2, 3, 64)
    lines = [f"line {i} {'ERROR disk' if i % 100 == 7 else 'ok'}" for i in range(2000)]
    feed(
        screen, transcript, log, [("stdout", "\n".join(lines[i : i + 37]) + "\n") for i in range(0, 2000, 37)]
    )
    errors = [i for i in range(2000) if i % 100 == 7]
    assert log.search("error") == errors  # case-insensitive by default
    assert log.search("error", case=True) == []
    assert log.search(r"^line \d*7 ERROR", regex=True) == errors
    assert log.search("ERROR", start=1000) == [i for i in errors if i >= 1000]
    assert log.search("ok", limit=5) == [0, 1, 2, 3, 4]
    assert log.search("$", regex=True, limit=10**6) == list(range(2000))  # no phantom line at the end
    with pytest.raises(re.error):
        log.search("(", regex=True)


def lines_found(query: str, text: str, **options: bool) -> list[int]:
    from miosa_jupyter._scrollback import find_lines

    out: list[int] = []
    find_lines(text.encode(), 0, finder(query, **options), 0, 100, out)
    return out


def test_search_folds_case_beyond_ascii_and_keeps_offsets() -> None:
    assert lines_found("ÉTÉ", "un\nun été chaud\n") == [1]
    assert lines_found("ete", "un ÉTÉ\n") == []  # folds case, not accents
    text = "✓ built\nİstanbul ERROR\nok\n✓ error again\n"  # "İ" lowers to two characters
    for options in ({}, {"regex": True}, {"case": True}, {"regex": True, "case": True}):
        want = [1] if options.get("case") else [1, 3]
        query = "ERROR" if options.get("case") else "error"
        assert lines_found(query, text, **options) == want, options
    assert lines_found("built", "x\n✓ Built\n") == [1]
    assert lines_found(r"b\w+t", "x\n✓ Built\n", regex=True) == [1]  # no literal: the decoded scan
    assert lines_found(r"é\s", "a é\nb\nc é x\n", regex=True) == [2]  # one line at a time


def test_a_chunk_longer_than_the_tail_goes_to_the_scrollback_in_order() -> None:
    screen, log, transcript = make(1, 2, 0)
    feed(screen, transcript, log, [("stdout", "a\nb\n"), ("stderr", "".join(f"{i}\n" for i in range(10)))])
    assert [(x.text, x.stream) for x in log.lines(0, 100)] == [("a", "stdout"), ("b", "stdout")] + [
        (str(i), "stderr") for i in range(10)
    ]


def test_stamps_say_when_each_line_arrived() -> None:
    stamps = Stamps(started=0.0)
    stamps.mark(0)
    stamps.mark(0)  # no new line: no new entry
    stamps.mark(5)
    assert stamps.of(3) == stamps.of(0) and stamps.of(5) is not None and stamps.of(5) >= stamps.of(0)


def test_a_finished_log_settles_on_disk_and_reads_the_same() -> None:
    screen, log, transcript = make(2, 3, 16 << 20)
    parts = [("stdout", "".join(f"{i:>7}\n" for i in range(j, j + 1000))) for j in range(0, 300_000, 1000)]
    feed(screen, transcript, log, parts)
    before = [x.text for x in log.lines(0, 10**6)], transcript.read(0, 10**9)
    assert transcript._in_memory > 1 << 20 and screen.scrollback is not None
    log.settle()
    assert transcript._in_memory == 0 and screen.scrollback._in_memory == 0
    assert ([x.text for x in log.lines(0, 10**6)], transcript.read(0, 10**9)) == before
    assert log.footprint >= 2 * len(before[1]) - 10_000  # the transcript and the plain lines, on disk


LINES = [
    "NEEDLE 1",
    "a needle",
    "needles and pins",
    "xNEEDLE",
    "ÉTÉ needle",
    "",
    "word wordy",
    "bar foobar",
    "fooobar",
    "abbbc",
    "aaabcd 12xxx",
    "ERRS",
    "ERRORS",
]


@pytest.mark.parametrize(
    "query",
    [
        *(r"^NEEDLE", r"needle\b", r"(?i)NEEDLE$", r"nee+dle", r"\bword\b", r"(foo)bar", r"^$", r"ÉTÉ"),
        *(r"e\s", r"fo+bar", r"ab+c", r"a{2,5}bcd", r"\d+x{3}", r"ERR(OR)?S", r"x*yz"),
    ],
)
@pytest.mark.parametrize("case", [False, True])
def test_a_regex_with_a_literal_finds_what_re_finds_line_by_line(query: str, case: bool) -> None:
    """The literal shortcut (find the lines that hold the pattern's literal, then match each) against
    ``re`` itself, one line at a time."""
    flags = 0 if case else re.IGNORECASE
    want = [i for i, line in enumerate(LINES) if re.search(query, line, flags)]
    text = "".join(line + "\n" for line in LINES)
    assert lines_found(query, text, regex=True, case=case) == want
