"""The kernel's traffic budget to the browser, shared by every live view in the process.

jupyter_server drops iopub messages past 1,000 msg/s or 1 MB/s (averaged over 3 s, per kernel), and
the kernel's own iopub queue drops past ~1,000 queued messages. One run keeps well under that (at
most 20 deltas a second of at most 32 KB each), but 30 background runs at once used to reach 5 MB/s
and 451 msg/s. So the budget is per kernel: a token bucket of messages and bytes that every view
draws from. A run that finds it empty keeps its changes and sends them merged at a later flush
(nothing is lost: the screen keeps what changed), and the end of a run always goes out.
"""

from __future__ import annotations

import threading
import time

__all__ = ["Budget", "kernel_budget"]


class Budget:
    """A token bucket of ``messages`` and ``nbytes`` per second, holding ``burst`` seconds' worth."""

    def __init__(self, messages: float = 50.0, nbytes: float = 600_000.0, burst: float = 0.5) -> None:
        self.rates = (messages, nbytes)
        self.caps = (messages * burst, nbytes * burst)
        self._left = list(self.caps)
        self._at = time.monotonic()
        self._lock = threading.Lock()

    def _refill(self) -> None:
        now = time.monotonic()
        dt, self._at = now - self._at, now
        for i in (0, 1):
            self._left[i] = min(self.caps[i], self._left[i] + dt * self.rates[i])

    def ready(self, *, first: bool = False) -> bool:
        """True when a message may go now. A run's ``first`` update may borrow up to one burst of
        bytes, as its start and end do: the first line after a big run must not wait for it."""
        with self._lock:
            self._refill()
            return self._left[0] >= 1 and self._left[1] > (-self.caps[1] if first else 0)

    def wait(self, messages: int, nbytes: int, limit: float = 10.0) -> None:
        """Wait (at most ``limit`` seconds) until a message may go, then count this one: for what
        must go out whatever happens (a run's start and end), but not all at once. It may borrow
        up to one burst of bytes, so one run's end doesn't wait on its own last deltas."""
        deadline = time.monotonic() + limit
        while not self.ready(first=True) and time.monotonic() < deadline:
            time.sleep(0.02)
        self.spend(messages, nbytes)

    def spend(self, messages: int, nbytes: int) -> None:
        """Count what was sent (the bucket may go below zero: the next senders then wait)."""
        with self._lock:
            self._refill()
            self._left[0] -= messages
            self._left[1] -= nbytes


_budget: Budget | None = None
_lock = threading.Lock()


def kernel_budget() -> Budget:
    """This process's budget (one kernel, one budget)."""
    global _budget
    with _lock:
        if _budget is None:
            _budget = Budget()
        return _budget
