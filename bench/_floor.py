"""Floor: what the machine itself costs. ``cmd > /dev/null`` in bash, and an asyncio subprocess whose
stdout is read with a ``readline()`` loop (how a Python server reading a pipe line by line would)."""

from __future__ import annotations

import asyncio
import subprocess

from ._common import Series, Workload, clock

SHELL = "shell `cmd > /dev/null`"
ASYNCIO = "asyncio `readline()` loop"


def run_shell(w: Workload) -> tuple[float, bool]:
    t0 = clock()
    done = subprocess.run(["bash", "-c", f"{w.command} > /dev/null"], check=False)
    return clock() - t0, done.returncode == 0


async def _readlines(w: Workload) -> tuple[float, bool]:
    t0 = clock()
    proc = await asyncio.create_subprocess_exec("bash", "-c", w.command, stdout=asyncio.subprocess.PIPE)
    assert proc.stdout is not None
    lines = size = 0
    readline = proc.stdout.readline
    while line := await readline():
        lines += 1
        size += len(line)
    code = await proc.wait()
    return clock() - t0, code == 0 and lines == w.n and size == w.nbytes


def run_asyncio(w: Workload) -> tuple[float, bool]:
    return asyncio.run(_readlines(w))


def bench(loads: list[Workload], rounds: int) -> list[Series]:
    out = []
    for w in loads:
        shell, aio = Series(SHELL, w), Series(ASYNCIO, w)
        for _ in range(rounds):
            shell.add(*run_shell(w))
            aio.add(*run_asyncio(w))
        out += [shell, aio]
    return out
