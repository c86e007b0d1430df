"""The page's requests for the whole log (``TerminalView``'s anywidget commands), as the page sends
them and as a hostile or stale page might: every answer is a bounded value or an error in words."""

from __future__ import annotations

from typing import Any

import pytest

from miosa_jupyter._log_commands import PAGE_MAX, RAW_PIECE
from miosa_jupyter._widget import TerminalView


class FakeLog:
    line_count = 10

    def lines(self, start: int, count: int, *, stream: str | None = None) -> list[Any]:
        from miosa_jupyter._log import LogLine

        return [LogLine(i, f"<b>{i}</b>", "stderr") for i in range(start, min(start + count, 10))]

    def search(self, query: str, **options: Any) -> list[int]:
        import re

        if options.get("regex"):
            re.compile(query)
        return [3]

    def plain(self, start: int, max_chars: int) -> tuple[str, int]:
        return "x\n", 10

    def raw(self, offset: int, size: int) -> bytes:
        return b"y" * min(size, 5)

    def raw_size(self) -> int:
        return 5


@pytest.fixture
def view() -> TerminalView:
    v = TerminalView()
    v._log = FakeLog()  # type: ignore[assignment]
    return v


def test_lines_come_escaped_and_bounded(view: TerminalView) -> None:
    answer, buffers = view.log_lines({"run_id": 0, "start": -5, "count": 10**9}, [])
    assert [i for i, _ in answer["lines"]] == list(range(10)) and buffers == []
    assert answer["lines"][0][1] == '<span class="miosa-err">&lt;b&gt;0&lt;/b&gt;</span>'
    assert PAGE_MAX == 500


def test_bad_and_stale_requests_get_words(view: TerminalView) -> None:
    assert view.log_lines({"run_id": 7}, [])[0] == {"error": "This view shows another run now."}
    assert "can't read" in view.log_lines({"run_id": 0, "start": "x"}, [])[0]["error"]
    assert view.log_search({"run_id": 0, "query": "(", "regex": True}, [])[0]["error"].startswith(
        "not a regular expression"
    )
    assert view.log_search({"run_id": 0, "query": ""}, [])[0] == {"lines": [], "more": False}
    assert "error" in view.log_raw({"run_id": 0, "offset": "nope"}, [])[0]
    assert "error" in view.log_times({"run_id": 0, "indexes": [{}]}, [])[0]
    assert view.log_lines("not a dict", [])[0] == {"error": "This view shows another run now."}


def test_a_download_piece_is_a_binary_buffer(view: TerminalView) -> None:
    answer, buffers = view.log_raw({"run_id": 0, "offset": 0}, [])
    assert answer == {"size": 5, "total": 5} and buffers == [b"yyyyy"] and RAW_PIECE == 1 << 20


def test_finished_views_are_kept_by_count_and_by_the_bytes_of_their_logs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import collections
    import types

    from miosa_jupyter import _widget

    monkeypatch.setattr(_widget, "_FINISHED", collections.OrderedDict())
    monkeypatch.setattr(_widget, "KEEP_BYTES", 100)
    closed: list[str] = []

    def fake(name: str, size: int) -> Any:
        w = types.SimpleNamespace(_log=types.SimpleNamespace(footprint=size))
        w.close = lambda: closed.append(name)
        return w

    _widget._keep("r1", fake("r1", 60))
    _widget._keep("r2", fake("r2", 30))
    assert closed == [] and _widget.kept("last") is _widget._FINISHED["r2"]
    _widget._keep("r3", fake("r3", 50))  # 140 bytes: the oldest goes
    assert closed == ["r1"] and list(_widget._FINISHED) == ["r2", "r3"]
    _widget._keep("r4", fake("r4", 500))  # alone over the budget: still the newest is kept
    assert closed == ["r1", "r2", "r3"] and list(_widget._FINISHED) == ["r4"]
    assert _widget.kept("r9") is None
