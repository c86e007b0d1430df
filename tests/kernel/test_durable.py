"""Durable runs from a real kernel: a run started before a kernel restart is listed and re-attached
after it (``miosa-jupyter serve`` is the computer: it outlives kernels), and the magic's flags."""

from __future__ import annotations

import os
import re
import secrets
import time
from pathlib import Path
from typing import Any

import pytest

from .._support.kernels import Kernel

pytestmark = [pytest.mark.kernel, pytest.mark.slow]


def test_a_run_outlives_a_kernel_restart_and_is_attached_again(
    subserver: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MIOSA_RUNS", str(tmp_path / "runs"))
    serve = subserver("--port", "0", token=secrets.token_urlsafe(16))
    env = {k: v for k, v in os.environ.items() if not k.startswith("MIOSA_") or k == "MIOSA_RUNS"}
    env |= {"MIOSA_API_KEY": serve.token, "MIOSA_BASE_URL": serve.base_url, "MIOSA_COMPUTER_ID": "local"}
    kernel = Kernel(env=env)
    try:
        assert kernel.run("%load_ext miosa_jupyter").reply["status"] == "ok"
        started = kernel.run(
            "h = get_ipython().run_cell_magic('miosa', '--bg', "
            "'for i in $(seq 1 12); do echo step $i; sleep 0.5; done; exit 5')\nprint(h.run_id)"
        )
        run_id = started.stdout.strip().splitlines()[-1]
        assert re.fullmatch(r"r[0-9a-f]{8}", run_id), started.stdout
        time.sleep(1.2)
        kernel.km.restart_kernel(now=True)
        kernel.kc.wait_for_ready(timeout=60)
        assert kernel.run("%load_ext miosa_jupyter").reply["status"] == "ok"

        listing = kernel.run("%miosa runs")
        assert run_id in listing.stdout and "running" in listing.stdout, listing.stdout

        attached = kernel.run(f"%miosa attach {run_id}", timeout=60)
        record = attached.final_record()
        assert record is not None
        text = record["text/plain"]
        # Every line from the start, once, though this kernel was not there for the first ones.
        assert [line for line in text.splitlines() if line.startswith("step")] == [
            f"step {i}" for i in range(1, 13)
        ]
        assert "failed · exit 5" in text
        assert attached.error is not None and "exit 5" in attached.error["evalue"]  # fails like %%bash

        tail = kernel.run(f"%miosa attach {run_id} --tail 2", timeout=60)
        tail_text = tail.final_record()["text/plain"]  # type: ignore[index]
        assert [line for line in tail_text.splitlines() if line.startswith("step")] == ["step 11", "step 12"]
        assert serve.token not in text + listing.stdout + tail_text
    finally:
        kernel.shutdown()


def test_the_magic_refuses_what_an_attached_run_cannot_do(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MIOSA_RUNS", str(tmp_path / "runs"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("MIOSA_") or k == "MIOSA_RUNS"}
    kernel = Kernel(env=env)
    try:
        kernel.run("%load_ext miosa_jupyter")
        too_long = kernel.run("%%miosa --attached --timeout 301\necho hi")
        assert too_long.reply["status"] == "error" and "at most 300 s" in too_long.reply["evalue"]
        unknown = kernel.run("%miosa attach r12345678")
        assert unknown.reply["status"] == "error" and "no run 'r12345678'" in unknown.reply["evalue"]
        bad = kernel.run("%miosa attach")
        assert bad.reply["status"] == "error" and "which run?" in bad.reply["evalue"]
        long_limit = kernel.run("%%miosa --timeout 600 --out r\necho fine")
        assert long_limit.reply["status"] == "ok"  # past 300 s is fine for a durable run
        attached = kernel.run("%%miosa --attached --out a\necho attached; echo e >&2")
        assert attached.reply["status"] == "ok"
        check = kernel.run("print(r.stdout, a.stdout, a.stderr)")
        assert check.stdout.split() == ["fine", "attached", "e"]
    finally:
        kernel.shutdown()


def test_the_kernels_embedded_computer_ends_its_durable_runs_with_the_kernel(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from .._support.processes import pid_gone, read_pid, wait_until

    monkeypatch.setenv("MIOSA_RUNS", str(tmp_path / "runs"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("MIOSA_") or k == "MIOSA_RUNS"}
    kernel = Kernel(env=env)
    pidfile = tmp_path / "pid"
    try:
        kernel.run("%load_ext miosa_jupyter")
        kernel.run(f"h = get_ipython().run_cell_magic('miosa', '--bg', 'echo $$ > {pidfile}; sleep 300')")
        pid = read_pid(pidfile, timeout=20)
        kernel.km.restart_kernel(now=True)
        kernel.kc.wait_for_ready(timeout=60)
        wait_until(lambda: pid_gone(pid), timeout=10, what="the run ended with the kernel's computer")
        kernel.run("%load_ext miosa_jupyter")
        listing = kernel.run("%miosa runs")
        assert "lost" in listing.stdout, listing.stdout
    finally:
        kernel.shutdown()
