"""``POST /exec``: a command run to its end, answered whole (stdout, stderr, exit code...).

Bounded like the stream: each field keeps its last ``max_result`` characters (where errors are) and
``truncated`` says how many were cut; a client that hangs up stops the command at once.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
from typing import Any

from starlette.requests import Request

from .._wire import OutputChunk
from ._computer import ApiError, LocalComputer

__all__ = ["collect_unless_gone"]


async def collect_unless_gone(
    request: Request, computer: LocalComputer, command: str, timeout: int, shell: str
) -> dict[str, Any]:
    """``_collect``, but a client that hangs up (Ctrl-C in ``exec.run``) ends the command at once,
    as the stream path does, instead of letting it run to its timeout holding a slot."""
    collect = asyncio.ensure_future(_collect(computer, command, timeout, shell))
    gone = asyncio.ensure_future(_disconnected(request))
    try:
        await asyncio.wait({collect, gone}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        gone.cancel()
    if not collect.done():  # the client left: _collect's cleanup kills the command
        collect.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await collect
        raise ApiError(499, "CLIENT_CLOSED_REQUEST", "The client went away; the command was stopped.")
    return collect.result()


async def _disconnected(request: Request) -> None:
    while (await request.receive())["type"] != "http.disconnect":
        pass


class _Tail:
    """The last ``cap`` characters of a text built from chunks, and how many were cut before."""

    def __init__(self, cap: int) -> None:
        self.cap, self.cut, self.size = cap, 0, 0
        self.parts: collections.deque[str] = collections.deque()

    def add(self, text: str) -> None:
        self.parts.append(text)
        self.size += len(text)
        while self.size - len(self.parts[0]) >= self.cap:
            dropped = self.parts.popleft()
            self.size -= len(dropped)
            self.cut += len(dropped)
        if self.size > self.cap:  # cut inside the oldest part
            extra = self.size - self.cap
            self.parts[0] = self.parts[0][extra:]
            self.size -= extra
            self.cut += extra

    def text(self) -> str:
        return "".join(self.parts)


async def _collect(computer: LocalComputer, command: str, timeout: int, shell: str) -> dict[str, Any]:
    """Run a command to its end and answer with its output: at most ``max_result`` characters of
    each field, the tail kept (where errors are), and ``truncated`` saying how much was cut."""
    execution = await computer.start(command, timeout=timeout, shell=shell)
    execution.claimed.set()  # read here, no ticket
    cap = computer.settings.max_result
    out, err, both = _Tail(cap), _Tail(cap), _Tail(cap)
    try:
        # Output chunks, then one ending (``_backend.py``).
        while isinstance(item := await execution.queue.get(), OutputChunk):
            text = "\n".join(item.lines) + ("" if item.partial else "\n")
            (out if item.stream == "stdout" else err).add(text)
            both.add(text)
        kind, data = item
    finally:
        execution.cancel()
    if kind == "error":
        raise ApiError(502, "AGENT_UNAVAILABLE", data["message"])
    timed_out = kind == "timeout"
    cut = {"stdout": out.cut, "stderr": err.cut, "output": both.cut}
    return {
        "stdout": out.text(),
        "stderr": err.text(),
        "output": both.text(),
        "exit_code": 124 if timed_out else data["exit_code"],
        "success": not timed_out and data["exit_code"] == 0,
        "duration_ms": timeout * 1000 if timed_out else data["duration_ms"],
        "timed_out": timed_out,
        # Characters cut from the start of each field (its tail is kept); all 0: nothing was cut.
        "truncated": cut if any(cut.values()) else None,
    }
