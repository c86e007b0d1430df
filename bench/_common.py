"""Workloads, samples and small formatting helpers shared by every section of the suite."""

from __future__ import annotations

import os
import statistics
import time
from dataclasses import dataclass, field
from functools import cache
from typing import Any

X99 = "x" * 99  # + "\n" = a 100-byte line; spelled out so /bin/sh (the `!` path) needs no brace expansion


@dataclass(frozen=True)
class Workload:
    """``seq 1 N`` (about 7 B/line) or N lines of 100 bytes (``yes x…x | head -n N``)."""

    kind: str  # "seq" | "x100"
    n: int

    @property
    def command(self) -> str:
        return f"seq 1 {self.n}" if self.kind == "seq" else f"yes {X99} | head -n {self.n}"

    @property
    def label(self) -> str:
        return f"{'seq' if self.kind == 'seq' else 'x100'} {short(self.n)}"

    @property
    def nbytes(self) -> int:
        return seq_bytes(self.n) if self.kind == "seq" else 100 * self.n


@cache
def seq_bytes(n: int) -> int:
    total, digits, low = 0, 1, 1
    while low <= n:
        high = min(n, 10**digits - 1)
        total += (high - low + 1) * (digits + 1)
        digits, low = digits + 1, 10**digits
    return total


def workloads(sizes: list[int]) -> list[Workload]:
    return [Workload(kind, n) for kind in ("seq", "x100") for n in sizes]


@dataclass
class Series:
    """The rounds of one path on one workload: wall seconds, and per-round extras."""

    path: str
    workload: Workload
    seconds: list[float] = field(default_factory=list)
    msgs: list[int] = field(default_factory=list)
    nbytes: list[int] = field(default_factory=list)
    verified: list[bool] = field(default_factory=list)
    capped: list[bool] = field(default_factory=list)  # interrupted at the cap: a lower bound
    note: str = ""

    def add(
        self,
        seconds: float,
        ok: bool,
        msgs: int | None = None,
        nbytes: int | None = None,
        capped: bool = False,
    ) -> None:
        self.seconds.append(seconds)
        self.verified.append(ok)
        self.capped.append(capped)
        if msgs is not None:
            self.msgs.append(msgs)
        if nbytes is not None:
            self.nbytes.append(nbytes)

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)

    @property
    def bound(self) -> bool:
        """True when the median is only a lower bound (half or more of the runs hit the cap)."""
        return sum(self.capped) * 2 >= len(self.capped) > 0

    @property
    def ok(self) -> str:
        if self.bound:
            return "– (interrupted)"
        if not self.verified:
            return "–"
        bad = self.verified.count(False)
        return "✔" if not bad else f"✘ {bad}/{len(self.verified)}"


def median(xs: list[float]) -> float:
    return statistics.median(xs)


def short(n: float) -> str:
    """100000 -> 100k, 1000000 -> 1M."""
    if n >= 1_000_000 and n % 1_000_000 == 0:
        return f"{n // 1_000_000:.0f}M"
    if n >= 1000 and n % 1000 == 0:
        return f"{n // 1000:.0f}k"
    return f"{n:g}"


def secs(s: float) -> str:
    if s < 0.01:
        return f"{s * 1000:.1f} ms"
    if s < 1:
        return f"{s * 1000:.0f} ms"
    if s < 10:
        return f"{s:.2f} s"
    return f"{s:.1f} s"


def spread(xs: list[float]) -> str:
    """``median [min–max]`` of seconds."""
    if len(xs) == 1:
        return secs(xs[0])
    return f"{secs(median(xs))} [{secs(min(xs))}–{secs(max(xs))}]"


def rate(x: float, unit: str = "") -> str:
    for div, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if x >= div:
            return f"{x / div:.3g}{suffix}{unit}"
    return f"{x:.3g}{unit}"


def mb(n: float) -> str:
    return f"{n / 1e6:.3g} MB" if n >= 1e5 else f"{n / 1e3:.3g} kB"


def clock() -> float:
    return time.perf_counter()


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f}, {five:.2f}, {fifteen:.2f}"


def log(*parts: Any) -> None:
    """Progress on stderr, so stdout carries only the final table."""
    import sys

    print(*parts, file=sys.stderr, flush=True)
