"""The local computer bounded in bytes, in time and in what it leaves behind (issue 10, items 2-7).

Each test drives a real server in a subprocess (``ProcServer``: its memory and descriptors are its
own) over loopback, and measures what a hostile or careless client could make it hold. The figures
are printed (``-s``) so the suite records them; the bounds asserted are generous multiples of the
settings, not timings.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import time
from pathlib import Path

import httpx
import psutil
import pytest

from .._support.answers import port_of
from .._support.measure import PeakRss, mib
from .._support.processes import alive, group_gone, pid_gone, read_pid, wait_until

pytestmark = pytest.mark.slow
CID = "local"


def _post(srv, path: str, **body) -> httpx.Response:
    return httpx.post(
        f"{srv.base_url}/computers/{CID}/{path}",
        json=body,
        headers={"Authorization": f"Bearer {srv.token}"},
        timeout=30,
    )


def test_output_waiting_for_a_reader_is_bounded_in_bytes_not_chunks(proc_server):
    """Short lines used to inflate a 64-chunk bound 25-30x: one unredeemed `yes ab` held ~98 MB."""
    srv = proc_server(max_pending=2 << 20)
    before = srv.ps.memory_info().rss
    with PeakRss(srv.ps) as rss:
        tickets = [_post(srv, "exec/stream", command="yes ab", timeout=60).json() for _ in range(4)]
        time.sleep(3)  # the commands fill their queues; nobody reads them
    grown = rss.peak - before
    print(f"\n4 unread `yes ab`: server RSS +{mib(grown)} (max_pending 2 MiB each)")
    assert grown < 4 * (2 << 20) * 3, mib(grown)
    # Nothing was lost: a reader that comes now gets lines from the start.
    with httpx.stream("GET", srv.origin + tickets[0]["stream_url"], timeout=30) as r:
        first = next(line for line in r.iter_lines() if line.startswith("data:"))
    assert '"line":"ab\\n"' in first


def test_finished_commands_whose_tickets_are_unread_hold_their_slot(proc_server):
    """64 quick POSTs of `yes ab | head -c 3000000` all got 202 and the server reached 4.5 GB."""
    srv = proc_server(max_concurrent=8, max_pending=1 << 20)
    statuses = []
    with PeakRss(srv.ps) as rss:
        for _ in range(16):
            r = _post(srv, "exec/stream", command="yes ab | head -c 3000000", timeout=60)
            statuses.append(r.status_code)
            time.sleep(0.05)
    grown = rss.peak - rss.before
    accepted, refused = statuses.count(202), statuses.count(429)
    print(f"\n16 POSTs, 8 slots: {accepted} accepted, {refused} refused, +{mib(grown)}")
    assert statuses.count(202) == 8 and statuses.count(429) == 8, statuses
    assert "read (or let expire) the tickets" in r.json()["error"]["message"]
    assert grown < 8 * (1 << 20) * 4, mib(grown)


def test_exec_answers_keep_the_tail_and_say_what_was_cut(proc_server):
    """`POST /exec` of 30 MB of output answered with all of it, twice over (stdout and output)."""
    srv = proc_server(max_result=1 << 20)
    with PeakRss(srv.ps) as rss:
        r = _post(srv, "exec", command="seq 1 3000000; echo the-end", timeout=120)
    body = r.json()
    grown = rss.peak - rss.before
    print(f"\n/exec of 23 MB: answer {len(r.content) / 2**20:.1f} MiB, server +{mib(grown)}")
    assert r.status_code == 200 and body["exit_code"] == 0
    assert len(body["stdout"]) == 1 << 20 and body["stdout"].endswith("2999999\n3000000\nthe-end\n")
    assert body["truncated"]["stdout"] == len("".join(f"{i}\n" for i in range(1, 3000001))) + 8 - (1 << 20)
    assert body["truncated"]["stderr"] == 0
    assert grown < 200 << 20, mib(grown)
    assert _post(srv, "exec", command="echo small").json()["truncated"] is None


def test_exec_stops_the_command_when_the_client_hangs_up(proc_server, tmp_path: Path, pids):
    srv = proc_server()
    pidfile = tmp_path / "pid"
    with contextlib.suppress(httpx.ReadTimeout):
        httpx.post(
            f"{srv.base_url}/computers/{CID}/exec",
            json={"command": f"echo $$ > {pidfile}; sleep 60", "timeout": 120},
            headers={"Authorization": f"Bearer {srv.token}"},
            timeout=httpx.Timeout(5, read=1.0),
        )
    pid = read_pid(pidfile)
    pids.append(pid)
    wait_until(lambda: group_gone(pid), timeout=5, what="the command ends once its client has gone")


def test_a_command_longer_than_one_shell_argument_is_refused_up_front(proc_server):
    srv = proc_server()
    fits = "true " + "x" * (131071 - 5)
    assert _post(srv, "exec", command=fits).json()["exit_code"] == 0
    r = _post(srv, "exec", command=fits + "x")
    assert r.status_code == 422, r.text
    message = r.json()["error"]["message"]
    assert "131,072 bytes" in message and "131,071" in message and "file" in message
    # counted in UTF-8 bytes, as the kernel counts them: 3 bytes each
    assert _post(srv, "exec", command="true " + "€" * 43689).status_code == 422


def test_half_open_connections_time_out_and_dont_lock_requests_out(proc_server):
    """Slowloris: 300 sockets that never finish their headers held the server for good."""
    srv = proc_server(request_timeout=1.0, max_connections=100)
    port = port_of(srv.base_url)
    socks = []
    try:
        for _ in range(300):
            s = socket.create_connection(("127.0.0.1", port), timeout=5)
            s.sendall(b"GET /api/v1/computers HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # and never the end
            socks.append(s)
        # Past the cap, new connections are closed as soon as they are accepted.
        held = wait_until(lambda: (n := len(srv.ps.net_connections())) <= 101 and n, timeout=5, what="cap")
        print(f"\n300 half-open sockets: the server holds {held - 1} connections (cap 100)")
        wait_until(lambda: len(srv.ps.net_connections()) < 20, timeout=10, what="deadlines close them")
        r = httpx.get(f"{srv.base_url}/computers", headers={"Authorization": f"Bearer {srv.token}"})
        assert r.status_code == 200
    finally:
        for s in socks:
            s.close()


def test_a_slow_request_body_times_out_too(proc_server):
    srv = proc_server(request_timeout=1.0)
    port = port_of(srv.base_url)
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(
            b"POST /api/v1/computers/local/exec HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Authorization: Bearer " + srv.token.encode() + b"\r\nContent-Length: 100\r\n\r\n{"
        )
        started = time.monotonic()
        s.settimeout(5)
        with contextlib.suppress(ConnectionResetError):
            assert s.recv(100) == b""  # closed by the server
        assert time.monotonic() - started < 3


def test_the_servers_own_descriptor_limit_is_raised(proc_server):
    srv = proc_server()
    soft, hard = srv.ps.rlimit(psutil.RLIMIT_NOFILE)
    assert soft >= min(8192, hard), (soft, hard)


def test_setsid_daemons_outlive_their_command_but_not_the_local_computer(proc_server, tmp_path, pids):
    """The promise: a command's process group ends with it; what left the group (a server started
    with setsid, a daemon) keeps running until the local computer stops, which ends it."""
    srv = proc_server()
    pidfile = tmp_path / "daemon"
    body = _post(srv, "exec", command=f"setsid sh -c 'echo $$ > {pidfile}; exec sleep 300' & sleep 0.3")
    assert body.json()["exit_code"] == 0
    daemon = read_pid(pidfile)
    pids.append(daemon)
    time.sleep(0.5)
    assert alive(daemon), "a setsid daemon ends with its command (it should outlive it)"
    srv.proc.send_signal(signal.SIGTERM)
    srv.proc.wait(20)
    wait_until(lambda: pid_gone(daemon) or not alive(daemon), timeout=10, what="it ends with the server")


def test_setsid_daemons_end_even_when_the_server_is_killed(proc_server, tmp_path, pids):
    srv = proc_server()
    pidfile = tmp_path / "daemon"
    _post(srv, "exec", command=f"setsid sh -c 'echo $$ > {pidfile}; exec sleep 300' & sleep 0.3")
    daemon = read_pid(pidfile)
    pids.append(daemon)
    os.kill(srv.proc.pid, signal.SIGKILL)
    wait_until(lambda: pid_gone(daemon) or not alive(daemon), timeout=10, what="the watchdog ends it")
