"""The durable runs' listing, parsed in process (the runs themselves: ``tests/server/test_durable.py``)."""

from __future__ import annotations

from miosa_jupyter._durable import parse_runs


def test_parse_runs_skips_what_it_does_not_understand() -> None:
    text = "r0000000a\t1700000000.5\t0 exit 1700000002.5\techo a\nnot a row\nr0000000b\t\tlost\tb\x1esecond\n"
    runs = parse_runs(text)
    assert [(r.id, r.status, r.duration, r.command) for r in runs] == [
        ("r0000000a", "success", 2.0, "echo a"),
        ("r0000000b", "lost", None, "b"),
    ]
