"""Run the benchmark suite and print a Markdown report (also written to ``bench/results.md``).

    .venv/bin/python -m bench            # everything, about 10 minutes on 2 cores
    .venv/bin/python -m bench --quick    # N = 100,000 only, one round of %%bash and !cmd
    .venv/bin/python bench/run.py --only client,notebook --rounds 5

Sections: floor, client, notebook (throughput and time to first line in one kernel), memory (a fresh
kernel), views (redraw storms, the first run after %load_ext, 30 runs at once), durable (durable runs
against attached ones), log (the whole log of a 1M-line run: search, a page, the download, the cost of
keeping every line), browser (JupyterLab + headless Chromium). Progress goes to stderr, the report
to stdout.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

if __package__ in (None, ""):  # `python bench/run.py`: make `bench` and `tests` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import _browser, _client, _durable, _floor, _log, _notebook, _report, _views
from bench._common import Workload, load, log, workloads

SECTIONS = ("floor", "client", "notebook", "memory", "views", "durable", "log", "browser")
FULL_SIZES = [100_000, 1_000_000]
QUICK_SIZES = [100_000]
BIG = 1_000_000  # memory and browser workloads (the issue fixes them at 1M)


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="N = 100,000 only; one round of %%bash and !cmd")
    p.add_argument("--rounds", type=int, default=3, help="rounds of every measurement (default 3)")
    p.add_argument("--only", default=",".join(SECTIONS), help=f"comma-separated subset of {SECTIONS}")
    p.add_argument("--ttfl-samples", type=int, default=None, help="time-to-first-line samples (default 5)")
    p.add_argument(
        "--bash-x100-1m", action="store_true", help="also run %%bash on 1M x 100-char lines (about 5 min)"
    )
    p.add_argument(
        "--peer-cap",
        type=float,
        default=120,
        help="interrupt a %%%%bash or !cmd run after this many seconds and report it as a lower bound "
        "(default 120; 0 = no cap)",
    )
    p.add_argument(
        "--bang-x100-1m-rounds",
        action="store_true",
        help="run !cmd on 1M x 100-char lines every round (default: the first round only; it is "
        "quadratic in IPython/pexpect and takes minutes)",
    )
    p.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results.md")
    args = p.parse_args(argv)
    args.only = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = set(args.only) - set(SECTIONS)
    if unknown:
        p.error(f"--only: unknown section(s) {sorted(unknown)}; choose from {SECTIONS}")
    if args.ttfl_samples is None:
        args.ttfl_samples = 3 if args.quick else 5
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse(argv)
    started = time.monotonic()
    sizes = QUICK_SIZES if args.quick else FULL_SIZES
    loads = workloads(sizes)
    peer_rounds = 1 if args.quick else args.rounds
    command = "python -m bench " + " ".join(sys.argv[1:]) if argv is None else "main()"
    meta = _report.machine() | {
        "command": command.strip(),
        "load_start": load(),
        "rounds": args.rounds,
        "peer_rounds": peer_rounds,
        "peer_cap": args.peer_cap,
        "ttfl_samples": args.ttfl_samples,
    }
    r = _report.Results(meta)
    r.loads = loads
    log(f"bench: {', '.join(args.only)}; sizes {sizes}; load {meta['load_start']}")
    if "floor" in args.only:
        log("floor ...")
        r.series += _floor.bench(loads, args.rounds)
    if "client" in args.only:
        log("client ...")
        r.client = _client.bench(loads, args.rounds, args.ttfl_samples)
        r.series += r.client.pop("series")
    if "notebook" in args.only:
        log("notebook ...")
        heavy = Workload("x100", BIG)
        skip = set() if args.bash_x100_1m else {(_notebook.BASH, heavy)}
        once = set() if args.bang_x100_1m_rounds else {(_notebook.BANG, heavy)}
        cap = args.peer_cap or None
        r.notebook = _notebook.bench(loads, args.rounds, peer_rounds, args.ttfl_samples, skip, once, cap)
        r.series += r.notebook.pop("series")
    if "memory" in args.only:
        log("memory ...")
        r.memory = _notebook.memory(Workload("x100", BIG), args.rounds)
    if "views" in args.only:
        log("views ...")
        r.views = _views.bench(1 if args.quick else args.rounds, args.ttfl_samples)
    if "durable" in args.only:
        log("durable ...")
        r.durable = _durable.bench(args.rounds, args.ttfl_samples)
    if "log" in args.only:
        log("log ...")
        r.log = _log.bench(args.rounds)
    if "browser" in args.only:
        log("browser ...")
        r.browser = _browser.bench(BIG, args.rounds)
    meta["load_end"] = load()
    meta["elapsed"] = time.monotonic() - started
    text = _report.render(r)
    print(text)
    args.out.write_text(text)
    log(f"written to {args.out}")


if __name__ == "__main__":
    main()
