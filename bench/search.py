"""Micro-benchmark of the whole log's search, by kind of text and of query.

    .venv/bin/python bench/search.py             # 100 MB of each text, best of 3

Two texts of 1,000,000 lines and about 100 MB each go through the screen (64 KiB pieces) into the
scrollback (spilled to disk, read back from the page cache) as a run's would: plain ASCII lines, and
lines that each start with a check mark (``✓``, as npm's and pytest's do), which makes the text
non-ASCII. A needle line sits in the middle. Each query must find that line and no other.
``python -m bench --only log`` measures the same through a real run; this isolates the text's kind.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from miosa_jupyter._log import Log, Stamps  # noqa: E402
from miosa_jupyter._runner import SCROLLBACK_MEMORY  # noqa: E402
from miosa_jupyter._screen import Screen  # noqa: E402
from miosa_jupyter._scrollback import Scrollback  # noqa: E402
from miosa_jupyter._transcript import Transcript  # noqa: E402

LINES = 1_000_000
NEEDLE_AT = LINES // 2
QUERIES: list[tuple[str, dict[str, bool]]] = [
    ("needle", {}),
    ("NEEDLE", {"case": True}),
    (r"^(?:✓ )?NEEDLE", {"regex": True}),
    (r"NEEDLE i\w", {"regex": True, "case": True}),
    (r"N.ED.E", {"regex": True}),  # no literal of 3 characters: the decoded scan
]


def text(mark: str) -> str:
    pad = "x" * (92 - len(mark.encode()))
    lines = [f"{mark}{i:07d} {pad}\n" for i in range(LINES)]
    lines[NEEDLE_AT] = f"{mark}NEEDLE in the middle\n"
    return "".join(lines)


def log_of(data: str) -> Log:
    screen = Screen(20, 1000, scrollback=Scrollback(SCROLLBACK_MEMORY))
    raw = data.encode()
    for i in range(0, len(raw), 65536):
        screen.feed(raw[i : i + 65536].decode("utf-8", "ignore"), "stdout")
    return Log(threading.Lock(), screen, Transcript(), Stamps(0.0))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--rounds", type=int, default=3)
    args = p.parse_args()
    print("| text | query | best of", args.rounds, "|")
    print("|---|---|---|")
    for name, mark in (("ASCII", ""), ("a check mark on every line", "✓ ")):
        data = text(mark)
        size = len(data.encode())
        log = log_of(data)
        del data
        for query, options in QUERIES:
            best = float("inf")
            for _ in range(args.rounds):
                t0 = time.perf_counter()
                found = log.search(query, **options)
                best = min(best, time.perf_counter() - t0)
                assert found == [NEEDLE_AT], (query, found[:5])
            shown = ", ".join(f"{k}=True" for k in options) or "plain"
            print(f"| {name}, {size / 1e6:.0f} MB | `{query}` ({shown}) | {best * 1000:.0f} ms |")


if __name__ == "__main__":
    main()
