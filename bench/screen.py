"""Micro-benchmark of ``Screen.feed``: the plain-text fast path, the terminal emulator, a redraw storm.

    .venv/bin/python bench/screen.py                 # this checkout
    .venv/bin/python bench/screen.py --against HEAD  # and side by side with a git revision's Screen

Plain text is ``seq 1 1000000`` and 1,000,000 lines of 100 bytes, fed in 64 KiB chunks (what the
runner hands the Screen). The emulator runs on the captured fixtures (tests/fixtures/tty, each fed
whole and in 4 KiB chunks, repeated), on 200,000 coloured log lines, and on a storm of 100,000
frames of a two-line progress bar (cursor up, erase line, colours), one frame per feed and in 64 KiB
chunks; the storm's peak Python memory is measured with tracemalloc (in a separate pass). Best of
``--rounds``.
"""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from miosa_jupyter._screen import Screen  # noqa: E402

CHUNK = 65536
FIXTURES = REPO / "tests" / "fixtures" / "tty"


def chunks(text: str, size: int = CHUNK) -> list[str]:
    """The text cut as a reader would hand it over: UTF-8 bytes in pieces, decoded."""
    data = text.encode()
    return [data[i : i + size].decode("utf-8", "ignore") for i in range(0, len(data), size)]


def best(rounds: int, run: Callable[[], Any]) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def feeder(screen_class: type, pieces: list[str], stream: str = "stdout") -> Callable[[], Any]:
    def run() -> Any:
        screen = screen_class(20, 1000)
        for piece in pieces:
            screen.feed(piece, stream)
        return screen

    return run


def old_screen(rev: str) -> type:
    """``Screen`` as it was at a git revision (a module on its own: the old one needs no package)."""
    source = subprocess.run(
        ["git", "-C", str(REPO), "show", f"{rev}:miosa_jupyter/_screen.py"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    if "._emulator" in source or "._cells" in source:
        raise SystemExit(f"{rev} already has the emulator; pass the revision before it")
    path = Path(tempfile.mkdtemp()) / "old_screen.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("old_screen", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.Screen


def storm_frames(n: int) -> list[str]:
    frames = []
    for i in range(n):
        done = i * 40 // n
        bar = f"\x1b[38;5;197m{'━' * done}\x1b[0m\x1b[38;5;237m{'━' * (40 - done)}\x1b[0m"
        frames.append(
            f"\x1b[2A\x1b[2K\r\x1b[31mDownloading\x1b[0m {bar} \x1b[35m{i * 100 // n:3d}%\x1b[0m\n"
            f"\x1b[2K\r\x1b[32mProcessing \x1b[0m {bar} \x1b[36m0:00:{i % 60:02d}\x1b[0m\n"
        )
    return frames


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--against", metavar="REV", help="also time the Screen of this git revision")
    p.add_argument("--rounds", type=int, default=7)
    args = p.parse_args(argv)
    screens: dict[str, type] = {"now": Screen}
    if args.against:
        screens[args.against] = old_screen(args.against)

    print("| workload | screen | time | MB/s | lines/s |")
    print("|---|---|---:|---:|---:|")
    plain = {
        "seq 1 1000000": "".join(f"{i}\n" for i in range(1, 1_000_001)),
        "1M x 100-char lines": ("x" * 99 + "\n") * 1_000_000,
        "200k coloured log lines": "".join(
            f"\x1b[2m12:00:{i % 60:02d}\x1b[0m \x1b[32mINFO\x1b[0m request {i} served in 3 ms\n"
            for i in range(200_000)
        ),
    }
    for name, text in plain.items():
        pieces = chunks(text)
        mb, lines = len(text.encode()) / 1e6, text.count("\n")
        for label, screen_class in screens.items():
            t = best(args.rounds, feeder(screen_class, pieces))
            print(f"| {name} | {label} | {t * 1e3:.1f} ms | {mb / t:,.0f} | {lines / t:,.0f} |")

    for name in sorted(path.stem for path in FIXTURES.glob("*.tty")):
        text = (FIXTURES / f"{name}.tty").read_bytes().decode("utf-8", "replace")
        repeat = max(1, 200_000 // len(text))
        for size, label in ((CHUNK, "whole"), (4096, "4 KiB chunks")):
            pieces = chunks(text, size) * repeat
            t = best(args.rounds, feeder(Screen, pieces))
            mb = len(text.encode()) * repeat / 1e6
            print(f"| fixture {name} x{repeat}, {label} | now | {t * 1e3:.1f} ms | {mb / t:,.1f} | |")

    frames = storm_frames(100_000)
    mb = sum(len(f.encode()) for f in frames) / 1e6
    for label, pieces in (("one frame per feed", frames), ("64 KiB chunks", chunks("".join(frames)))):
        sizes: list[int] = []

        def storm(pieces: list[str] = pieces, sizes: list[int] = sizes) -> Screen:
            screen = Screen(20, 1000)
            for i, piece in enumerate(pieces):
                screen.feed(piece, "stderr")
                if i % 50 == 0:  # the driver asks at most 20 times a second; here every 50 feeds
                    sizes.append(sum(len(run) for _, run in screen.changes()))
            return screen

        t = best(args.rounds, storm)
        tracemalloc.start()  # a separate pass: tracing slows allocation several-fold
        screen = storm()
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        print(
            f"| storm 100,000 frames, {label} | now | {t * 1e3:.0f} ms | {mb / t:,.1f} | "
            f"{100_000 / t:,.0f} frames/s; {screen.count} lines; changes() <= {max(sizes)} lines; "
            f"peak {peak / 1e6:.2f} MB traced |"
        )


if __name__ == "__main__":
    main()
