"""Load: many concurrent streams, many sequential execs, a huge output, and the concurrency limit.

Figures (server RSS, fds, threads, children) are printed; run with ``-s`` to see them.
"""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import httpx
import pytest

from miosa_jupyter import Miosa
from miosa_jupyter._stream import StreamLines

from .._support.measure import Figures, PeakRss, mib
from .._support.processes import read_pid, wait_until
from .._support.servers import TEST_TOKEN, raw_client

CID = "local"
STREAM = f"/api/v1/computers/{CID}/exec/stream"
LINES = 20_000
STREAMS = 50
# One write per line, stdout and stderr interleaved line by line (PYTHONUNBUFFERED=1 on the computer).
NUMBERED = (
    'python3 -c "import sys\nw = sys.stdout.write; e = sys.stderr.write\n'
    "for i in range({n}): w(f'o {{i}}\\n'); e(f'e {{i}}\\n')\""
)


def drain(client: Miosa, command: str, timeout: int = 120) -> tuple[dict[str, str], dict[str, Any] | None]:
    """All the text of each stream (joined: a line may arrive in pieces) and the terminal event."""
    return collect(client.exec.stream(CID, command=command, timeout=timeout).batches())


def collect(batches: Iterable[Any]) -> tuple[dict[str, str], dict[str, Any] | None]:
    """The text of each stream in ``batches`` and the terminal event."""
    parts: dict[str, list[str]] = {"stdout": [], "stderr": []}
    terminal = None
    for batch in batches:
        for part in batch:
            if type(part) is StreamLines:
                parts[part.stream].extend(part.lines)
            elif part["type"] == "output":
                parts[part["stream"]].append(part["line"])
            else:
                terminal = part
    return {k: "".join(v) for k, v in parts.items()}, terminal


@pytest.mark.slow
def test_fifty_concurrent_streams_deliver_every_line_once_in_order(proc_server):
    srv = proc_server(max_concurrent=64)
    with Miosa(srv.token, base_url=srv.base_url) as warm:  # the loop opens a few fds on first use
        drain(warm, NUMBERED.format(n=10))
    wait_until(lambda: srv.figures().children == 0, timeout=5)
    before = srv.figures()
    expected = {
        "stdout": "".join(f"o {i}\n" for i in range(LINES)),
        "stderr": "".join(f"e {i}\n" for i in range(LINES)),
    }
    results: dict[int, Any] = {}

    def one(i: int) -> None:
        try:
            with Miosa(srv.token, base_url=srv.base_url) as client:
                results[i] = drain(client, NUMBERED.format(n=LINES))
        except Exception as exc:
            results[i] = exc

    threads = [threading.Thread(target=one, args=(i,), daemon=True) for i in range(STREAMS)]
    started = time.monotonic()
    with PeakRss(srv.ps) as rss:
        for t in threads:
            t.start()
        for t in threads:
            t.join(150)
    took = time.monotonic() - started
    assert not any(t.is_alive() for t in threads), "a stream hung"
    wait_until(lambda: srv.figures().children == 0, timeout=10, what="every command reaped")
    after = srv.figures()
    lost = 0
    for i in range(STREAMS):
        result = results[i]
        assert not isinstance(result, Exception), f"stream {i}: {result!r}"
        texts, terminal = result
        for name, want in expected.items():
            got = texts[name].splitlines()
            lost += max(0, LINES - len(got))
            # Exactly once and in order: the whole stream's text equals the expected text.
            assert texts[name] == want, f"stream {i} {name}: {len(got)} lines, first wrong at " + str(
                next(
                    (j for j, (a, b) in enumerate(zip(got, want.splitlines(), strict=False)) if a != b),
                    len(got),
                )
            )
        assert terminal == {"type": "exit", "exit_code": 0, "duration_ms": terminal["duration_ms"]}
    print(
        f"\n{STREAMS} streams x {LINES:,} stdout + {LINES:,} stderr lines in {took:.1f} s; "
        f"lines lost: {lost}; "
        f"server RSS before {mib(before.rss)}, peak {mib(rss.peak)}, after {mib(after.rss)}; "
        f"server before [{before}] after [{after}]"
    )
    # Generous: the queues are bounded (64 chunks per command) and writes wait for the socket.
    assert rss.peak - before.rss < 600 * 2**20, f"server peak RSS grew by {mib(rss.peak - before.rss)}"
    assert after.rss - before.rss < 300 * 2**20, f"server kept {mib(after.rss - before.rss)}"
    assert after.fds <= before.fds + 2, (before, after)


@pytest.mark.slow
def test_a_thousand_sequential_execs_leak_nothing(proc_server):
    """1,000 ``exec.run("true")`` then 200 streams, each on a fresh connection (so accept/close is
    exercised too; keep-alive requests stall ~40 ms each, see the Nagle test below)."""
    import psutil

    srv = proc_server(grace=0.5)
    me = psutil.Process()
    http = httpx.Client(limits=httpx.Limits(max_keepalive_connections=0), timeout=30)
    with Miosa(srv.token, base_url=srv.base_url, http_client=http) as client:
        for _ in range(50):  # warm up: imports, caches, the child watcher, the allocator
            client.exec.run(CID, command="true")
        for _ in range(20):
            list(client.exec.stream(CID, command="echo warm"))
        wait_until(lambda: srv.figures().children == 0, timeout=5)
        before, me_before = srv.figures(), Figures.of(me)
        started = time.monotonic()
        for i in range(1000):
            result = client.exec.run(CID, command="true")
            assert result.exit_code == 0, (i, result)
        runs_took = time.monotonic() - started
        for i in range(200):
            events = list(client.exec.stream(CID, command="echo x"))
            assert [e.type for e in events] == ["output", "exit"], (i, events)
        took = time.monotonic() - started
    http.close()
    wait_until(lambda: srv.figures().children == 0, timeout=5, what="no child left")
    wait_until(lambda: srv.figures().fds <= before.fds, timeout=5, what=f"server fds back to {before.fds}")
    after, me_after = srv.figures(), Figures.of(me)
    print(
        f"\n1,000 execs in {runs_took:.1f} s, + 200 streams: {took:.1f} s in all\n"
        f"  server before [{before}]\n  server after  [{after}]\n"
        f"  client before [{me_before}]\n  client after  [{me_after}]"
    )
    assert after.fds <= before.fds  # (a warm-up connection still closing may be counted before)
    assert after.threads <= before.threads
    assert after.children == 0
    assert after.rss - before.rss < 8 * 2**20, f"server memory grew by {mib(after.rss - before.rss)}"
    assert me_after.fds <= me_before.fds + 1, "the client leaks sockets"


def test_keep_alive_requests_are_not_stalled_by_delayed_acks(server):
    """Sequential requests on one keep-alive connection (what ``Miosa`` does) answer in a few ms.

    Measured as shipped: ~44 ms each after the first (~5 ms), i.e. Nagle + the peer's delayed ACK:
    the answer's head and body are two writes and the server's sockets lack TCP_NODELAY.
    """
    with httpx.Client(headers={"Authorization": f"Bearer {server.token}"}, timeout=10) as http:
        url = server.base_url + "/computers"
        times = []
        for _ in range(21):
            t = time.perf_counter()
            assert http.get(url).status_code == 200
            times.append(time.perf_counter() - t)
    median = statistics.median(times[1:])
    print(f"\nkeep-alive GET /computers: first {times[0] * 1000:.1f} ms, median after {median * 1000:.1f} ms")
    assert median < 0.02, f"median {median * 1000:.1f} ms per request on a keep-alive connection"


@pytest.mark.slow
def test_200_mb_of_stdout_is_drained_with_bounded_server_memory(subserver):
    """A command writing 200 MB to stdout, read by a slow client: every byte arrives and the server
    doesn't buffer it (the pipe, the bounded queue and the socket push back on the command)."""
    import psutil

    srv = subserver("--port", "0", token=TEST_TOKEN)
    ps = psutil.Process(srv.proc.pid)
    command = "yes \"$(printf '%0999d' 0)\" | head -c 200000000"
    chars = lines = batches = 0
    terminal = None
    started = time.monotonic()
    with PeakRss(ps) as rss, Miosa(srv.token, base_url=srv.base_url) as client:
        for batch in client.exec.stream(CID, command=command, timeout=300).batches():
            batches += 1
            for part in batch:
                if type(part) is StreamLines:
                    chars += sum(map(len, part.lines))
                    lines += sum(line.endswith("\n") for line in part.lines)
                elif part["type"] == "output":
                    chars += len(part["line"])
                    lines += part["line"].endswith("\n")
                else:
                    terminal = part
            if batches % 5 == 0:
                time.sleep(0.002)  # load shaping: a reader slower than `yes`
    took = time.monotonic() - started
    print(
        f"\n200 MB stdout: {chars:,} chars, {lines:,} lines, {batches:,} reads in {took:.1f} s; "
        f"server RSS before {mib(rss.before)}, peak {mib(rss.peak)}, after {mib(ps.memory_info().rss)}"
    )
    assert terminal is not None and terminal["type"] == "exit" and terminal["exit_code"] == 0, terminal
    assert chars == 200_000_000
    assert lines == 200_000
    assert rss.peak - rss.before < 100 * 2**20, f"server RSS grew by {mib(rss.peak - rss.before)}"


def test_a_burst_of_posts_cannot_exceed_the_concurrency_limit(make_server, tmp_path: Path, pids):
    """24 POSTs at once against a limit of 4: at most 4 commands start, the rest get a prompt 429.

    As shipped all 24 start: ``LocalComputer.start`` checks ``len(self.running)`` and only adds the
    execution after ``await execution.start()`` (the spawn), so concurrent requests all pass the check.
    """
    srv = make_server(max_concurrent=4)
    n = 24
    barrier = threading.Barrier(n)
    answers: dict[int, httpx.Response] = {}

    def post(i: int) -> None:
        with raw_client(srv) as http:
            barrier.wait(10)
            answers[i] = http.post(STREAM, json={"command": f"echo $$ > {tmp_path / str(i)}; sleep 30"})

    threads = [threading.Thread(target=post, args=(i,), daemon=True) for i in range(n)]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    took = time.monotonic() - started
    accepted = [i for i, r in answers.items() if r.status_code == 202]
    for i in accepted:
        pids.append(read_pid(tmp_path / str(i)))
    refused = [r for r in answers.values() if r.status_code == 429]
    print(f"\nburst of {n} POSTs, limit 4: {len(accepted)} started, {len(refused)} got 429, in {took:.2f} s")
    assert len(answers) == n and took < 10, "a POST hung"
    assert len(accepted) + len(refused) == n, {r.status_code for r in answers.values()}
    for r in refused:
        err = r.json()["error"]
        assert err["code"] == "rate_limit_exceeded"
        assert "4" in err["message"] and "wait" in err["message"]
    assert len(accepted) <= 4, f"{len(accepted)} commands running with max_concurrent=4"


def test_slots_come_back_when_streams_close(make_server, tmp_path: Path, pids):
    """The 429 is never a hang, and closing the streams frees their slots at once."""
    srv = make_server(max_concurrent=2)
    client = Miosa(srv.token, base_url=srv.base_url)
    streams = []
    for i in range(2):
        stream = client.exec.stream(CID, command=f"echo $$ > {tmp_path / str(i)}; sleep 60", timeout=120)
        pids.append(read_pid(tmp_path / str(i)))
        streams.append(stream)
    with raw_client(srv) as http:
        t = time.monotonic()
        r = http.post(f"/api/v1/computers/{CID}/exec", json={"command": "true"}, timeout=5)
        assert r.status_code == 429
        assert time.monotonic() - t < 2, "429 must answer at once, not wait for a slot"
        for stream in streams:
            stream.close()
        wait_until(
            lambda: http.post(f"/api/v1/computers/{CID}/exec", json={"command": "true"}).status_code == 200,
            timeout=5,
            what="a slot is free again",
        )
    wait_until(lambda: not srv.computer.running, timeout=5, what="nothing left running")
    client.close()


# Writes numbered lines without blocking until the pipe stays full for 1 s (the reader has stopped),
# then says on stderr which line was last and exits: its last lines are then still in the pipe.
_FILL_THEN_EXIT = """
import os, sys, time
os.set_blocking(1, False)
i, stuck = 0, None
while True:
    try:
        os.write(1, b"%09d\\n" % i)
        i, stuck = i + 1, None
    except BlockingIOError:
        stuck = stuck or time.monotonic()
        if time.monotonic() - stuck > 1.0:
            break
        time.sleep(0.01)
sys.stderr.write("last %d\\n" % (i - 1))
sys.stderr.flush()
open(sys.argv[1], "w").close()
"""


def test_output_still_in_the_pipe_at_exit_reaches_a_slow_reader(make_server, tmp_path: Path):
    """Back-pressure, not loss: what a command wrote before exiting arrives even if the reader is
    slower than the server's ``grace`` (0.5 s here; 2 s by default) at that moment.

    As shipped, ``Execution._run`` waits at most ``grace`` for the pumps after the shell exits, then
    cancels them: a pump blocked on the full queue (slow reader) loses what is still in the pipe.
    """
    srv = make_server(grace=0.5)
    script = tmp_path / "fill.py"
    script.write_text(_FILL_THEN_EXIT)
    done = tmp_path / "done"
    with Miosa(srv.token, base_url=srv.base_url) as client:
        batches = client.exec.stream(CID, command=f"python3 {script} {done}", timeout=60).batches()
        first = next(batches)
        wait_until(done.exists, timeout=30, what="the command filled every buffer and exited")
        time.sleep(2.0)  # load shaping: the reader is busy for longer than the server's grace
        texts, terminal = collect([first, *batches])
    stdout, stderr = texts["stdout"], texts["stderr"]
    got = stdout.count("\n")
    print(f"\nslow reader at exit: {got:,} stdout lines arrived, stderr {stderr!r}, then {terminal}")
    assert terminal is not None and terminal["type"] == "exit", terminal
    assert stderr.startswith("last "), f"the command's last words were lost: stderr={stderr!r}"
    last = int(stderr.split()[1])
    print(f"{last + 1 - got:,} stdout lines lost")
    assert stdout == "".join(f"{i:09d}\n" for i in range(last + 1))
