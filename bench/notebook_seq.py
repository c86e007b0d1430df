"""`%%miosa seq 1 N` next to `%%bash seq 1 N` and `!seq 1 N` in the same real kernel, to idle.

Usage: python bench/notebook_seq.py [N] [ROUNDS]
Prints, for each path, the median wall time from execute request to kernel idle, the iopub message
count and bytes. The embedded local computer is started once before timing (reported separately).
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent.parent))
from tests.kernel_helpers import Kernel


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    env = {k: v for k, v in os.environ.items() if not k.startswith("MIOSA_")}
    kernel = Kernel(env=env)
    try:
        kernel.run("%load_ext miosa_jupyter")
        first = kernel.run("%%miosa\ntrue")
        print(f"first %%miosa (starts the local computer): {first.seconds * 1000:.0f} ms")
        paths = {
            "%%miosa": f"%%miosa\nseq 1 {n}",
            "%%bash": f"%%bash\nseq 1 {n}",
            "!cmd": f"!seq 1 {n}",
        }
        results: dict[str, list[tuple[float, int, int]]] = {k: [] for k in paths}
        for _ in range(rounds):
            for name, code in paths.items():
                ex = kernel.run(code, timeout=900)
                size = sum(len(json.dumps(m["content"])) for m in ex.iopub)
                results[name].append((ex.seconds, len(ex.iopub), size))
        print(f"\nseq 1 {n}, {rounds} rounds, median wall to idle:")
        med = {}
        for name, rows in results.items():
            med[name] = statistics.median(r[0] for r in rows)
            msgs = statistics.median(r[1] for r in rows)
            mb = statistics.median(r[2] for r in rows) / 1e6
            print(f"  {name:8} {med[name]:7.2f} s   {msgs:8.0f} iopub msgs  {mb:7.1f} MB")
        print(f"  %%miosa / %%bash = {med['%%miosa'] / med['%%bash']:.3f}")
        print(f"  %%miosa / !cmd   = {med['%%miosa'] / med['!cmd']:.3f}")
    finally:
        kernel.shutdown()
    _ = time


if __name__ == "__main__":
    main()
