"""``MiosaTerminal`` in a real ipykernel: runs in the background, what reaches iopub, stop, errors."""

from __future__ import annotations

import ast
import time
from pathlib import Path
from typing import Any

import psutil
import pytest

from .._support.kernels import Execution, Kernel
from .._support.processes import pid_gone, read_pid, wait_until

pytestmark = [pytest.mark.kernel, pytest.mark.slow]

STILL_RUNNING = "A command is still running: press Stop, or wait for it to finish."


@pytest.fixture(scope="module", autouse=True)
def _imported(kernel: Kernel) -> None:
    assert kernel.run("from miosa_jupyter import MiosaTerminal").reply["status"] == "ok"


def values(ex: Execution) -> dict[str, Any]:
    """The cell's ``user_expressions`` as Python values (each one is a ``repr``)."""
    assert ex.reply["status"] == "ok", ex.reply
    out = {}
    for name, v in ex.reply["user_expressions"].items():
        assert v["status"] == "ok", (name, v)
        out[name] = ast.literal_eval(v["data"]["text/plain"])
    return out


def comm_id(kernel: Kernel, name: str) -> str:
    ex = kernel.run("pass", user_expressions={"id": f"{name}.comm.comm_id"})
    return values(ex)["id"]


def panel_traffic(ex: Execution, cid: str) -> list[dict[str, Any]]:
    """The ``data`` of every comm_msg the panel's comm sent during ``ex``."""
    return [m["content"]["data"] for m in ex.of_type("comm_msg") if m["content"]["comm_id"] == cid]


def test_run_from_code_returns_a_handle_and_keeps_the_result(kernel):
    kernel.run("panel = MiosaTerminal()")
    cid = comm_id(kernel, "panel")
    ex = kernel.run(
        'r = panel.run("echo from-code; exit 3")\nres = r.wait(30)',
        user_expressions={
            "exit": "res.exit_code",
            "stdout": "res.stdout",
            "outcome": "res.outcome",
            "kept": "panel.results == [res]",
            "busy": "panel.busy",
            "history": "panel.history",
            "done": "r.done",
            "same": "r.result is res",
            "status": "panel.status",
            "banner": "panel.banner",
            "run_id": "panel.run_id",
        },
    )
    v = values(ex)
    assert v["exit"] == 3
    assert v["stdout"] == "from-code\n"
    assert v["outcome"] == "failure"
    assert v["kept"] and v["done"] and v["same"]
    assert v["busy"] is False
    assert v["history"] == ["echo from-code; exit 3"]
    assert v["status"] == "failure"
    assert 'data-status="failure"' in v["banner"] and "exit 3" in v["banner"]

    # What reached iopub for the run: the panel's comm messages only (no stream, no display).
    kinds = {m["msg_type"] for m in ex.iopub}
    assert kinds <= {"status", "execute_input", "comm_msg"}, kinds
    traffic = panel_traffic(ex, cid)
    assert traffic, "the run sent nothing to the panel"
    lines = [d["content"] for d in traffic if d.get("method") == "custom"]
    states = [d["state"] for d in traffic if d.get("method") == "update"]
    assert lines and all(c["type"] == "lines" for c in lines), lines
    assert {c["run_id"] for c in lines} == {v["run_id"]}
    seqs = [c["seq"] for c in lines]
    assert seqs == sorted(set(seqs)) and seqs[0] >= 1, seqs
    shown = [html for c in lines for _, htmls in c["spans"] for html in htmls]
    assert "from-code" in shown, lines
    # The state updates: busy first, then the end with status "failure" after the last lines.
    finals = [i for i, d in enumerate(traffic) if d.get("method") == "update" and "status" in d["state"]]
    assert traffic[finals[-1]]["state"]["status"] == "failure"
    last_lines = max(i for i, d in enumerate(traffic) if d.get("method") == "custom")
    assert last_lines < finals[-1], "the final state comes after the lines"
    assert any(s.get("busy") is False for s in states), "busy went back to False"


def test_updates_are_coalesced(kernel):
    cid = comm_id(kernel, "panel")
    ex = kernel.run(
        'r = panel.run("seq 1 100000")\nres = r.wait(120)',
        timeout=150,
        user_expressions={"exit": "res.exit_code", "ms": "res.duration_ms"},
    )
    v = values(ex)
    assert v["exit"] == 0
    traffic = panel_traffic(ex, cid)
    seconds = max(ex.seconds, v["ms"] / 1000, 1.0)
    # At most ~20 line updates a second (one per 50 ms tick) plus a snapshot a second, plus the start
    # and end states: far fewer than the 100,000 lines.
    assert len(traffic) <= 25 * seconds + 10, (len(traffic), seconds)
    assert all(len(str(d)) < 80_000 for d in traffic), "each update is bounded in bytes"
    final = [d["state"] for d in traffic if d.get("method") == "update" and "line_count" in d["state"]]
    assert final[-1]["line_count"] == 100_000


def test_second_run_while_one_runs_is_refused(kernel, tmp_path: Path):
    pidfile = tmp_path / "pid"
    ex = kernel.run(
        f'first = panel.run("echo $$ > {pidfile}; sleep 5")\nsecond = panel.run("echo nope")',
        user_expressions={
            "second": "second",
            "message": "panel.message",
            "busy": "panel.busy",
            "history": "panel.history[-1]",
        },
    )
    v = values(ex)
    pid = read_pid(pidfile)
    try:
        assert v["second"] is None
        assert v["message"] == STILL_RUNNING
        assert v["busy"] is True
        assert v["history"] == f"echo $$ > {pidfile}; sleep 5", "the refused command is not in history"
    finally:
        done = kernel.run("panel.stop()\nres = first.wait(10)", user_expressions={"o": "res.outcome"})
    assert values(done)["o"] == "cancelled"
    wait_until(lambda: pid_gone(pid), 3, what="the first command is gone")
    # A new run clears the message.
    again = kernel.run(
        'res = panel.run("echo ok").wait(30)',
        user_expressions={"o": "res.outcome", "message": "panel.message"},
    )
    assert values(again) == {"o": "success", "message": ""}


def test_stop_cancels_and_kills_the_process(kernel, tmp_path: Path):
    pidfile = tmp_path / "pid"
    ex = kernel.run(f'r = panel.run("echo $$ > {pidfile}; sleep 30")', user_expressions={"b": "panel.busy"})
    assert values(ex)["b"] is True
    assert ex.seconds < 5, "panel.run returns at once"
    pid = read_pid(pidfile)
    assert psutil.pid_exists(pid)
    started = time.monotonic()
    stopped = kernel.run(
        "panel.stop()\nres = r.wait(10)",
        user_expressions={
            "o": "res.outcome",
            "cancelled": "res.cancelled",
            "busy": "panel.busy",
            "status": "panel.status",
            "banner": "panel.banner",
            "last": "panel.results[-1] is res",
        },
    )
    v = values(stopped)
    assert v["o"] == "cancelled" and v["cancelled"] is True
    assert v["busy"] is False and v["last"] is True
    assert v["status"] == "cancelled"
    assert 'data-status="cancelled"' in v["banner"]
    wait_until(lambda: pid_gone(pid), 3, what=f"sleep 30 (pid {pid}) gone after stop")
    assert time.monotonic() - started < 5


def test_unknown_computer_is_an_error_banner(kernel):
    ex = kernel.run(
        'r = panel.run("ls", computer="nosuch")\nres = r.wait(10) if r else None',
        user_expressions={
            "o": "res.outcome",
            "error": "res.error",
            "status": "panel.status",
            "banner": "panel.banner",
            "busy": "panel.busy",
            "done": "r.done",
        },
    )
    v = values(ex)
    assert v["o"] == "error"
    assert "nosuch" in v["error"]
    assert v["status"] == "error"
    assert 'data-status="error"' in v["banner"]
    assert "nosuch" in v["banner"], v["banner"]
    assert v["busy"] is False and v["done"] is True
    # and the panel still works afterwards
    ok = kernel.run('res = panel.run("echo after").wait(30)', user_expressions={"o": "res.stdout"})
    assert values(ok)["o"] == "after\n"
