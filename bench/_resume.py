"""Resume: how long a cut of the events connection costs, and what the ids cost the fast path.

``resume_after_cut()`` runs a command printing a line every millisecond through a loopback proxy
that cuts the events connection on demand, and times each cut to the next line delivered (the
client notices, reconnects with Last-Event-ID, the local computer replays). Then ``seq 1 1000000``
through ``exec.stream(...).batches()``, here and, if ``old`` names a checkout of the code before ids
(``git worktree add /tmp/old <commit>``), there too, interleaved, in subprocesses.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from typing import Any

from tests._support.proxy import Proxy

from ._common import median

_THROUGHPUT = r"""
import json, sys, time
from miosa_jupyter import Miosa
from miosa_jupyter.local import local_server
from miosa_jupyter._stream import StreamLines
srv = local_server()
c = Miosa(srv.token, base_url=srv.base_url)
c.exec.run(srv.computer_id, command="true")
out = []
for _ in range(int(sys.argv[1])):
    t0 = time.perf_counter(); n = 0
    for batch in c.exec.stream(srv.computer_id, command="seq 1 1000000", timeout=300).batches():
        for p in batch:
            n += len(p.lines) if type(p) is StreamLines else p.get("type") == "output"
    out.append(time.perf_counter() - t0)
    assert n == 1000000, n
print(json.dumps(out))
"""


def _cut_to_next_line(cuts: int) -> list[float]:
    from miosa_jupyter import Miosa
    from miosa_jupyter.local import local_server

    srv = local_server()
    proxy, through = Proxy.to(srv.base_url)
    gaps: list[float] = []
    command = "i=0; while [ $i -lt 100000 ]; do echo $i; i=$((i+1)); sleep 0.001; done"
    try:
        with Miosa(srv.token, base_url=through) as client:
            stream = client.exec.stream(srv.computer_id, command=command, timeout=300)
            seen = 0
            next_cut = time.perf_counter() + 0.3
            for event in stream:
                if event.type != "output":
                    break
                now = time.perf_counter()
                if stream.reconnects > seen:
                    seen = stream.reconnects
                    gaps.append(now - proxy.cut_at)
                    if len(gaps) == cuts:
                        stream.close()
                        break
                    next_cut = now + 0.2
                elif now > next_cut and stream.reconnects == len(gaps):
                    proxy.cut()
                    next_cut = now + 3600
    finally:
        proxy.close()
    return gaps


def _throughput(rounds: int, pythonpath: str | None) -> list[float]:
    env = dict(os.environ)
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    out = subprocess.run(
        [sys.executable, "-c", _THROUGHPUT, str(rounds)], env=env, capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout)


def resume_after_cut(
    cuts: int = 9, rounds: int = 7, old: str | None = os.environ.get("BENCH_OLD")
) -> dict[str, Any]:
    """Seconds from a cut to the next line (median of ``cuts``), and ``seq 1M`` ``batches()`` seconds
    with ids (and without, from the checkout at ``old``), medians of ``rounds`` each, interleaved."""
    gaps = _cut_to_next_line(cuts)
    now: list[float] = []
    before: list[float] = []
    for _ in range(2):
        now += _throughput(rounds, None)
        if old:
            before += _throughput(rounds, old)
    result: dict[str, Any] = {
        "cut_to_next_line_s": median(gaps),
        "cut_to_next_line_all_s": gaps,
        "seq_1M_batches_s": median(now),
    }
    if before:
        result["seq_1M_batches_before_s"] = median(before)
        result["ids_cost"] = median(now) / median(before) - 1
    return result


if __name__ == "__main__":
    print(json.dumps(resume_after_cut(), indent=1))
