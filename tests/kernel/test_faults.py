"""Faults under a real kernel: the local computer killed mid-run, the kernel restarted mid-run.
(The same faults seen by the client alone are ``tests/server/test_faults.py``.)"""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import pytest

from .._support.kernels import Kernel, offline_env
from .._support.processes import alive, pid_gone, read_pid
from .._support.servers import TEST_TOKEN


@pytest.mark.kernel
@pytest.mark.slow
def test_magic_shows_an_error_banner_when_the_server_is_killed_mid_run(subserver, tmp_path: Path, pids):
    """``%%miosa`` against a server that is SIGKILLed after the first line: the cell ends within
    seconds with the error banner and the output so far (no hang).

    The command does not outlive its server: the server's watchdog process (``local/_watchdog.py``)
    sees its pipe close and SIGKILLs every group the server had registered.
    """
    srv = subserver("--port", "0", token=TEST_TOKEN)
    kernel = Kernel(env=offline_env(MIOSA_API_KEY=TEST_TOKEN, MIOSA_BASE_URL=srv.base_url))
    try:
        assert kernel.run("%load_ext miosa_jupyter").reply["status"] == "ok"
        pidfile = tmp_path / "pid"
        msg_id = kernel.send(
            f"%%miosa local --no-raise-error --attached\necho before; echo $$ > {pidfile}; sleep 30"
        )
        kernel.wait_for_iopub(
            lambda m: m["msg_type"] == "comm_msg" and "before" in json.dumps(m["content"]), timeout=20
        )
        pid = read_pid(pidfile)
        pids.append(pid)
        srv.proc.send_signal(signal.SIGKILL)
        killed = time.monotonic()
        ex = kernel.collect(msg_id, timeout=30)
        took = time.monotonic() - killed
        record = ex.final_record()
        print(
            f"\nserver SIGKILLed mid-run: cell ended {took:.1f} s later; command left running: {alive(pid)}"
        )
        assert took < 10, "the cell hung after the server died"
        assert ex.reply["status"] == "ok", ex.reply  # --no-raise-error
        assert record is not None, "no final record"
        plain = record["text/plain"]
        assert "before" in plain
        assert "error" in plain.splitlines()[-1], plain
        assert 'data-status="error"' in record["text/html"]
        assert kernel.run("1 + 1").reply["status"] == "ok", "kernel still answers"
        deadline = time.monotonic() + 5
        while alive(pid):
            assert time.monotonic() < deadline, "the command outlived its SIGKILLed server"
            time.sleep(0.05)
    finally:
        kernel.shutdown()


@pytest.mark.kernel
@pytest.mark.slow
@pytest.mark.parametrize("now", [False, True], ids=["graceful", "hard"])
@pytest.mark.parametrize("how", ["bg", "panel"])
def test_kernel_restart_during_a_run_leaves_no_orphan(how: str, now: bool, tmp_path: Path, pids):
    """A kernel restarted while a ``%%miosa --bg`` run or a panel run is going: the command's
    process must not outlive the kernel.

    graceful (``restart_kernel(now=False)``): the kernel exits normally; its atexit hook stops the
    local computer, which kills every command's process group.
    hard (``now=True``): jupyter_client SIGKILLs the kernel's process group, so no atexit runs, and
    each command runs in its own session (so that Interrupt reaches only the kernel). With the local
    computer in a thread of the kernel (before 53d0e61) the command was orphaned (reparented
    to init, still running: measured). Since 53d0e61 it runs as a child process that stops when its
    stdin (a pipe from the kernel) closes, which a SIGKILL of the kernel does too: no orphan.
    """
    pidfile = tmp_path / "pid"
    kernel = Kernel(env=offline_env())
    try:
        if how == "bg":
            assert kernel.run("%load_ext miosa_jupyter").reply["status"] == "ok"
            ex = kernel.run(f"%%miosa --bg\necho $$ > {pidfile}; sleep 60")
        else:
            ex = kernel.run(
                "from miosa_jupyter import MiosaTerminal\npanel = MiosaTerminal()\n"
                f"run = panel.run('echo $$ > {pidfile}; sleep 60')"
            )
        assert ex.reply["status"] == "ok", ex.reply
        pid = read_pid(pidfile)
        pids.append(pid)
        started = time.monotonic()
        kernel.km.restart_kernel(now=now)
        deadline = time.monotonic() + 6
        while not pid_gone(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        gone = pid_gone(pid)
        print(
            f"\nrestart_kernel(now={now}) during a {how} run: command "
            + (
                f"gone after {time.monotonic() - started:.1f} s"
                if gone
                else "ORPHANED (still running after 6 s)"
            )
        )
        assert gone, f"the command (pid {pid}) outlived the kernel restart(now={now}): orphaned"
    finally:
        kernel.shutdown()
