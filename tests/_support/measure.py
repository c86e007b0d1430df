"""What a process holds, measured from outside: fds, threads, live children, resident memory."""

from __future__ import annotations

import contextlib
import threading
import time
from dataclasses import dataclass

import psutil


def mib(n: int) -> str:
    return f"{n / 2**20:.1f} MiB"


@dataclass(frozen=True)
class Figures:
    """What a process holds: open fds, threads, live descendants, resident memory."""

    fds: int
    threads: int
    children: int
    rss: int

    @classmethod
    def of(cls, ps: psutil.Process) -> Figures:
        # The server's one watchdog (it kills the commands' groups if the server dies) is not a command.
        live = [c for c in ps.children(recursive=True) if _alive(c) and not _is_watchdog(c)]
        return cls(ps.num_fds(), ps.num_threads(), len(live), ps.memory_info().rss)

    def __str__(self) -> str:
        return (
            f"fds={self.fds} threads={self.threads} children={self.children} rss={self.rss / 2**20:.1f} MiB"
        )


def _is_watchdog(p: psutil.Process) -> bool:
    try:
        return any(arg.endswith("_watchdog.py") for arg in p.cmdline())
    except psutil.Error:
        return False


def _alive(p: psutil.Process) -> bool:
    try:
        return p.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


class PeakRss:
    """Samples a process's RSS every ``every`` seconds in a thread (measurement, not waiting).

    Sampling starts at once; ``stop()`` (or leaving the ``with`` block) ends it and reads ``after``.
    ``peak`` and ``peak_at`` (seconds after the start) are the highest sample, ``growth`` is
    ``peak - before``.
    """

    def __init__(self, process: psutil.Process | int, every: float = 0.02) -> None:
        self.ps = process if isinstance(process, psutil.Process) else psutil.Process(process)
        self.every = every
        self.before = self.ps.memory_info().rss
        self.after = self.before
        self.peak = self.before
        self.peak_at = 0.0
        self.samples = 0
        self._t0 = time.monotonic()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._stop.wait(self.every):
            with contextlib.suppress(psutil.Error):
                rss = self.ps.memory_info().rss
                self.samples += 1
                if rss > self.peak:
                    self.peak, self.peak_at = rss, time.monotonic() - self._t0

    def stop(self) -> PeakRss:
        self._stop.set()
        self._thread.join(5)
        with contextlib.suppress(psutil.Error):
            self.after = self.ps.memory_info().rss
            self.peak = max(self.peak, self.after)
        return self

    @property
    def growth(self) -> int:
        return self.peak - self.before

    def __enter__(self) -> PeakRss:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
