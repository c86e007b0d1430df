"""Processes the tests start or learn about: poll with a deadline, check they ended, kill strays."""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

import psutil

T = TypeVar("T")


def wait_until(predicate: Callable[[], T], timeout: float = 5.0, interval: float = 0.01, what: str = "") -> T:
    """Poll ``predicate`` until it returns something truthy (returned), or fail at ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {timeout} s: {what or predicate}")
        time.sleep(interval)


def pid_gone(pid: int) -> bool:
    """True when ``pid`` no longer runs (gone, or a zombie nobody has reaped yet)."""
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie does not)."""
    return not pid_gone(pid)


def group_gone(pgid: int) -> bool:
    """True when no live process is left in process group ``pgid``."""
    for proc in psutil.process_iter(["pid", "status"]):
        with contextlib.suppress(psutil.Error, ProcessLookupError):
            if os.getpgid(proc.pid) == pgid and proc.info["status"] != psutil.STATUS_ZOMBIE:
                return False
    return True


def kill_pid(pid: int) -> None:
    """SIGKILL ``pid`` and, if it leads one, its process group (commands run in their own session)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        if os.getpgid(pid) == pid:
            os.killpg(pid, signal.SIGKILL)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, signal.SIGKILL)


def kill_tree(pid: int) -> None:
    """SIGKILL a pid, its group if it leads one, and every descendant (teardown of strays)."""
    with contextlib.suppress(psutil.Error):
        for child in psutil.Process(pid).children(recursive=True):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(child.pid, signal.SIGKILL)
    kill_pid(pid)


def read_pid(path: Path, timeout: float = 10.0) -> int:
    """Wait for a pid file written by a command (``echo $$ > file``) and return the pid (its first word)."""

    def read() -> int | None:
        with contextlib.suppress(FileNotFoundError, ValueError, IndexError):
            text = path.read_text()
            if text.endswith("\n"):
                return int(text.split()[0])
        return None

    return wait_until(read, timeout, what=f"pid file {path}")


def iterate_in_thread(it: Iterable[Any], out: list[Any]) -> threading.Thread:
    """Consume ``it`` into ``out`` in a daemon thread; the last item is ``"ended"`` or what it raised."""

    def run() -> None:
        try:
            out.extend(it)
            out.append("ended")
        except Exception as exc:
            out.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread
