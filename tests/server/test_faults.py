"""Faults: servers killed or stopped mid-stream, kernels restarted mid-run, daemons, stubborn
commands, a port that is taken. Every wait has a deadline; pids are killed in teardown."""

from __future__ import annotations

import asyncio
import signal
import socket
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from miosa_jupyter import AsyncMiosa, LocalServer, LocalServerError, LocalSettings, Miosa, StreamError

from .._support.processes import alive, group_gone, iterate_in_thread, pid_gone, read_pid, wait_until
from .._support.servers import TEST_TOKEN

CID = "local"


# -- the server dies or is stopped ------------------------------------------------------------------


@pytest.mark.slow
def test_async_client_raises_stream_error_when_the_server_is_killed(subserver, pids):
    srv = subserver("--port", "0", token=TEST_TOKEN)

    async def main() -> tuple[list[Any], BaseException | None, float]:
        seen: list[Any] = []
        async with AsyncMiosa(srv.token, base_url=srv.base_url) as client:
            stream = client.exec.stream(CID, command="echo $$; while true; do echo x; sleep 0.2; done")
            killed = 0.0
            try:
                async for event in stream:
                    seen.append(event)
                    if len(seen) == 1:
                        pids.append(int(event.line))
                        srv.proc.send_signal(signal.SIGKILL)
                        killed = time.monotonic()
            except StreamError as exc:
                return seen, exc, time.monotonic() - killed
        return seen, None, time.monotonic() - killed

    seen, error, took = asyncio.run(asyncio.wait_for(main(), 20))
    assert isinstance(error, StreamError), seen[-3:]
    assert took < 5
    assert all(e.type == "output" for e in seen)


@pytest.mark.slow
def test_sigterm_with_streams_open_exits_promptly_and_leaves_no_process(subserver, pids):
    """SIGTERM to ``miosa-jupyter serve`` with three streams open (a plain one, one that ignores
    SIGTERM, one with a background grandchild): it exits within a few seconds, each stream ends with
    an ``error`` event or a ``StreamError`` (no hang), and no process of any command is left."""
    srv = subserver("--port", "0", token=TEST_TOKEN)
    client = Miosa(srv.token, base_url=srv.base_url)
    commands = [
        "echo $$; sleep 300",
        "trap '' TERM; echo $$; sleep 300",
        "sleep 300 & echo $$ $!; wait",
    ]
    pids: list[int] = []
    rests: list[tuple[threading.Thread, list[Any]]] = []
    for command in commands:
        it = iter(client.exec.stream(CID, command=command, timeout=300))
        first = next(it)
        pids += [int(p) for p in first.line.split()]
        out: list[Any] = []
        rests.append((iterate_in_thread(it, out), out))
    pids.extend(pids)
    srv.proc.send_signal(signal.SIGTERM)
    started = time.monotonic()
    wait_until(lambda: srv.proc.poll() is not None, timeout=15, what="server exits after SIGTERM")
    took = time.monotonic() - started
    for thread, _ in rests:
        thread.join(5)
        assert not thread.is_alive(), "a stream hangs after the server stopped"
    left = [pid for pid in pids if not pid_gone(pid)]
    print(f"\nSIGTERM: exited in {took:.1f} s (code {srv.proc.returncode}); processes left: {left}")
    assert took < 8
    for _, out in rests:
        last = out[-1]
        assert isinstance(last, StreamError) or (
            getattr(last, "type", None) is None and out[-2].type == "error"
        )
    for pid in pids:
        wait_until(lambda pid=pid: pid_gone(pid) and group_gone(pid), timeout=5, what=f"pid {pid} gone")
    client.close()


# -- kernel restarts ----------------------------------------------------------------------------------


# Bounded wait (5 s) inside the command until the daemon has written its pid file.
_AWAIT = "for i in $(seq 500); do [ -s {0} ] && break; sleep 0.01; done; "


# -- commands that escape or resist ------------------------------------------------------------------------


def test_a_setsid_daemon_that_closes_its_pipes_does_not_delay_the_exit(client, tmp_path: Path, pids):
    """``(setsid CMD >/dev/null 2>&1 &); echo ok``: the exit arrives at once.

    The daemon SURVIVES the command: ``setsid`` puts it in a new session and process group, so the
    group kill at exit can't reach it (by design of setsid; the design notes say so). It is killed
    here in teardown. (The command waits, bounded, for the daemon's pid file: a daemon that has not
    yet called setsid when the command exits is still in the group and dies with it.)
    """
    pidfile = tmp_path / "daemon"
    started = time.monotonic()
    events = list(
        client.exec.stream(
            CID,
            command=f"(setsid sh -c 'echo $$ > {pidfile}; exec sleep 300' >/dev/null 2>&1 &); "
            + _AWAIT.format(pidfile)
            + "echo ok",
        )
    )
    took = time.monotonic() - started
    daemon = read_pid(pidfile)
    pids.append(daemon)
    print(f"\nsetsid daemon, pipes closed: exit after {took:.2f} s; daemon survives: {alive(daemon)}")
    assert [e.type for e in events] == ["output", "exit"]
    assert events[0].line == "ok\n"
    assert events[-1].exit_code == 0
    assert took < 3
    assert alive(daemon), "documented: a setsid daemon escapes the process group and survives"


def test_a_setsid_daemon_that_keeps_the_pipes_ends_within_the_grace(client, server, tmp_path: Path, pids):
    """The daemon holds stdout/stderr open, so EOF never comes: the exit still arrives after at most
    the server's ``grace`` (0.5 s here). The daemon survives (setsid), killed in teardown."""
    pidfile = tmp_path / "daemon"
    started = time.monotonic()
    events = list(
        client.exec.stream(
            CID,
            command=f"(setsid sh -c 'echo $$ > {pidfile}; exec sleep 300' &); "
            + _AWAIT.format(pidfile)
            + "echo ok",
        )
    )
    took = time.monotonic() - started
    daemon = read_pid(pidfile)
    pids.append(daemon)
    print(f"\nsetsid daemon holding the pipes: exit after {took:.2f} s (grace {server.settings.grace} s)")
    assert events[-1].type == "exit" and events[-1].exit_code == 0
    assert "".join(e.line for e in events if e.type == "output") == "ok\n"
    assert took < server.settings.grace + 3


def test_a_disconnect_kills_a_command_and_grandchild_that_ignore_sigterm(client, server, pids):
    """Cancel (the client goes away) escalates to SIGKILL after the grace, for the whole group."""
    stream = client.exec.stream(CID, command="trap '' TERM; sleep 300 & echo $$ $!; wait", timeout=300)
    it = iter(stream)
    pids = [int(p) for p in next(it).line.split()]
    pids.extend(pids)
    stream.close()
    closed = time.monotonic()
    for pid in pids:
        wait_until(lambda pid=pid: pid_gone(pid), timeout=server.settings.grace + 5, what=f"{pid} killed")
    wait_until(lambda: group_gone(pids[0]), timeout=5)
    print(f"\nSIGTERM-ignoring group killed {time.monotonic() - closed:.2f} s after the disconnect")


def test_a_waiting_exec_that_ignores_sigterm_ends_at_its_timeout(http, tmp_path: Path, pids):
    pidfile = tmp_path / "pid"
    started = time.monotonic()
    r = http.post(
        f"/api/v1/computers/{CID}/exec",
        json={"command": f"trap '' TERM; echo $$ > {pidfile}; echo up; sleep 300", "timeout": 1},
    )
    took = time.monotonic() - started
    pid = read_pid(pidfile)
    pids.append(pid)
    body = r.json()
    assert r.status_code == 200, body
    assert body["timed_out"] is True and body["success"] is False
    assert body["stdout"] == "up\n"
    assert took < 1 + 0.5 + 3
    wait_until(lambda: group_gone(pid), timeout=5, what="group killed at the timeout")


# -- the embedded server can't start -------------------------------------------------------------


def test_embedded_server_on_a_taken_port_raises_a_clear_error_at_once():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        started = time.monotonic()
        with pytest.raises(LocalServerError) as info:
            LocalServer(LocalSettings(), port=port).start(timeout=5)
        took = time.monotonic() - started
    message = str(info.value)
    assert took < 2, "a taken port must fail at once, not at a start timeout"
    assert f"127.0.0.1:{port}" in message
    assert "in use" in message.lower()
    assert "port" in message.lower() and "0" in message  # says how to get a free one
