"""What a running command looks like on the event stream, and that nothing outlives it."""

from __future__ import annotations

import signal
import threading
import time

import httpx
import psutil
import pytest

from miosa_jupyter import Miosa, StreamError

from .._support.processes import group_gone, iterate_in_thread, kill_pid, pid_gone, read_pid, wait_until
from .._support.servers import TEST_TOKEN, raw_client

CID = "local"


def events_of(client: Miosa, command: str, **kw):
    return list(client.exec.stream(CID, command=command, **kw))


def output_text(events, stream: str | None = None) -> str:
    return "".join(
        e.data["line"] for e in events if e.type == "output" and stream in (None, e.data["stream"])
    )


def first_pid(stream) -> int:
    """The first output line of ``echo $$; ...`` commands."""
    for event in stream:
        assert event.type == "output", event
        return int(event.data["line"])
    raise AssertionError("no output")


def test_a_line_arrives_while_the_command_still_runs(client, pids):
    stream = client.exec.stream(CID, command="echo first $$; sleep 2; echo second", timeout=10)
    it = iter(stream)
    first = next(it)
    assert first.type == "output"
    word, pid = first.data["line"].split()
    pids.append(int(pid))
    assert word == "first"
    assert not pid_gone(int(pid)), "first line should arrive before the command ends"
    rest = list(it)
    assert [e.data["line"] for e in rest if e.type == "output"] == ["second\n"]
    assert rest[-1].type == "exit"
    assert rest[-1].data["exit_code"] == 0


def test_a_partial_line_is_flushed_when_the_command_pauses(client):
    stream = client.exec.stream(CID, command="printf 'prompt> '; sleep 1; echo done", timeout=10)
    it = iter(stream)
    first = next(it)
    assert first.type == "output"
    assert first.data["line"] == "prompt> "
    rest = list(it)
    assert [e.data["line"] for e in rest if e.type == "output"] == ["done\n"]
    assert rest[-1].type == "exit"


def test_carriage_return_is_kept_in_the_line(client):
    events = events_of(client, r"printf 'a\rb\n'; printf '10%%\r50%%\r100%%\n'")
    assert output_text(events) == "a\rb\n10%\r50%\r100%\n"


def test_stderr_is_tagged(client):
    events = events_of(client, "echo to-out; echo to-err >&2")
    assert output_text(events, "stdout") == "to-out\n"
    assert output_text(events, "stderr") == "to-err\n"
    assert {e.stream for e in events if e.type == "output"} == {"stdout", "stderr"}


def test_non_zero_exit_code(client):
    events = events_of(client, "echo x; exit 7")
    assert events[-1].type == "exit"
    assert events[-1].exit_code == 7
    assert isinstance(events[-1].duration_ms, int)


@pytest.mark.parametrize(
    ("sig", "code"), [(signal.SIGKILL, 137), (signal.SIGTERM, 143), (signal.SIGINT, 130)]
)
def test_killed_by_signal_is_128_plus_n(client, sig, code):
    events = events_of(client, f"kill -{int(sig)} $$")
    assert events[-1].type == "exit"
    assert events[-1].data["exit_code"] == code


def test_a_10_mb_line_arrives_complete_in_capped_pieces(client):
    code = "import sys; sys.stdout.write(''.join('%09d,' % i for i in range(10**6)) + '\\n')"
    events = events_of(client, f'python3 -c "{code}"', timeout=60)
    assert events[-1].type == "exit"
    assert events[-1].exit_code == 0
    pieces = [e.line for e in events[:-1]]
    assert all(e.type == "output" and e.stream == "stdout" for e in events[:-1])
    assert "".join(pieces) == "".join(f"{i:09d}," for i in range(10**6)) + "\n"
    assert max(map(len, pieces)) <= 65536
    assert len(pieces) >= 10_000_000 // 65536
    assert all("\n" not in p for p in pieces[:-1])


def test_invalid_utf8_becomes_replacement_and_the_stream_continues(client):
    events = events_of(client, r"printf 'a\377\376b\n'; printf '\200\n'; printf '\303(\n'; echo after")
    assert output_text(events) == "a\ufffd\ufffdb\n\ufffd\n\ufffd(\nafter\n"
    assert events[-1].type == "exit"
    assert events[-1].exit_code == 0


def test_binary_output_does_not_break_the_stream(client):
    events = events_of(client, "head -c 200000 /dev/urandom; echo; echo tail-marker")
    assert events[-1].type == "exit"
    assert events[-1].exit_code == 0
    assert output_text(events).endswith("\ntail-marker\n")


def test_nul_bytes_survive(client):
    events = events_of(client, r"printf 'a\0b\n'")
    assert output_text(events) == "a\x00b\n"


def test_a_multibyte_character_split_across_reads_is_whole(client):
    events = events_of(
        client, r"printf '\342\202'; sleep 0.5; printf '\254 \360\237'; sleep 0.3; printf '\230\200\n'"
    )
    assert output_text(events) == "€ 😀\n"


def test_timeout_ends_the_stream_and_the_process_group(client, pids):
    stream = client.exec.stream(CID, command="echo $$; sleep 100 & while true; do sleep 1; done", timeout=1)
    it = iter(stream)
    pid = first_pid(it)
    pids.append(pid)
    rest = list(it)
    assert rest[-1].type == "timeout"
    assert rest[-1].data["timeout_seconds"] == 1
    assert rest[-1].timeout_seconds == 1
    wait_until(lambda: group_gone(pid), timeout=5, what="process group gone after timeout")


def test_a_command_that_ignores_sigterm_still_ends_at_timeout(client, pids):
    stream = client.exec.stream(CID, command="trap '' TERM; echo $$; sleep 100", timeout=1)
    it = iter(stream)
    pid = first_pid(it)
    pids.append(pid)
    rest = list(it)
    assert rest[-1].type == "timeout"
    wait_until(lambda: group_gone(pid), timeout=5, what="SIGKILL after the grace")


def test_timeout_kills_grandchildren(client, tmp_path, pids):
    pidfile = tmp_path / "grandchild"
    stream = client.exec.stream(
        CID, command=f"(sleep 300 & echo $! > {pidfile}; wait) & sleep 100", timeout=1
    )
    events = list(stream)
    assert events[-1].type == "timeout"
    grandchild = read_pid(pidfile)
    pids.append(grandchild)
    wait_until(lambda: pid_gone(grandchild), timeout=5, what="grandchild killed")


def test_exit_is_prompt_when_a_background_job_holds_the_pipes(client, pids):
    started = time.monotonic()
    stream = client.exec.stream(CID, command="sleep 300 & echo $!; echo started", timeout=30)
    events = list(stream)
    assert time.monotonic() - started < 10, "the exit must not wait for the background job"
    grandchild = int(events[0].data["line"])
    pids.append(grandchild)
    assert output_text(events) == f"{grandchild}\nstarted\n"
    assert events[-1].type == "exit"
    assert events[-1].exit_code == 0
    wait_until(lambda: pid_gone(grandchild), timeout=5, what="background job killed with the command")


def test_client_disconnect_kills_the_command(client, pids):
    stream = client.exec.stream(CID, command="echo $$; while true; do echo x; sleep 0.1; done", timeout=60)
    it = iter(stream)
    pid = first_pid(it)
    pids.append(pid)
    stream.close()
    wait_until(lambda: group_gone(pid), timeout=1.0, what="command killed within 1 s of the disconnect")


def test_break_out_of_the_loop_kills_the_command(client, pids):
    pid = None
    for event in client.exec.stream(
        CID, command="echo $$; while true; do echo x; sleep 0.1; done", timeout=60
    ):
        pid = int(event.data["line"])
        break
    assert pid is not None
    pids.append(pid)
    wait_until(lambda: group_gone(pid), timeout=1.0, what="command killed after break")


def test_a_ticket_never_redeemed_kills_its_command(make_server, tmp_path, pids):
    srv = make_server(ticket_ttl=0.5)
    pidfile = tmp_path / "pid"
    with raw_client(srv) as http:
        r = http.post(
            f"/api/v1/computers/{CID}/exec/stream", json={"command": f"echo $$ > {pidfile}; sleep 100"}
        )
        assert r.status_code == 202
        pid = read_pid(pidfile)
        pids.append(pid)
        wait_until(lambda: group_gone(pid), timeout=5, what="unredeemed command killed after expiry")


def test_output_before_the_stream_connects_is_kept(http):
    r = http.post(f"/api/v1/computers/{CID}/exec/stream", json={"command": "seq 1 2000"})
    text = http.get(r.json()["stream_url"]).text
    assert text.count("event: output") == 2000
    assert "event: exit" in text


@pytest.mark.slow
def test_stopping_the_server_ends_open_streams(make_server, pids):
    srv = make_server()
    client = Miosa(srv.token, base_url=srv.base_url)
    shells = []
    streams = []
    for _ in range(2):
        stream = client.exec.stream(CID, command="echo $$; sleep 100 & sleep 100", timeout=120)
        it = iter(stream)
        pid = first_pid(it)
        pids.append(pid)
        shells.append(pid)
        streams.append(it)
    stopper = threading.Thread(target=srv.stop)
    started = time.monotonic()
    stopper.start()
    for it in streams:
        try:
            rest = list(it)
        except StreamError:
            continue
        assert rest[-1].type == "error"
        assert rest[-1].data["message"]
    stopper.join(15)
    assert not stopper.is_alive()
    assert time.monotonic() - started < 10, "stop() must not hang on open streams"
    for pid in shells:
        wait_until(lambda pid=pid: group_gone(pid), timeout=5, what="every command gone after stop")
    client.close()


@pytest.mark.slow
def test_server_dying_mid_stream_raises_stream_error(subserver, pids):
    srv = subserver("--port", "0", token=TEST_TOKEN)
    with Miosa(srv.token, base_url=srv.base_url) as client:
        stream = client.exec.stream(
            CID, command="echo $$; while true; do echo x; sleep 0.2; done", timeout=120
        )
        it = iter(stream)
        pid = first_pid(it)
        pids.append(pid)
        srv.proc.send_signal(signal.SIGKILL)
        out: list = []
        thread = iterate_in_thread(it, out)
        thread.join(5)
        assert not thread.is_alive(), "the client hangs after the server died"
        assert isinstance(out[-1], StreamError), out[-1]
        assert all(getattr(e, "type", None) == "output" for e in out[:-1])
    kill_pid(pid)
    wait_until(lambda: group_gone(pid), timeout=5)


def test_raw_stream_delivers_incrementally(http, pids):
    r = http.post(f"/api/v1/computers/{CID}/exec/stream", json={"command": "echo $$; sleep 2; echo late"})
    with http.stream("GET", r.json()["stream_url"]) as response:
        text = ""
        chunks = response.iter_text()
        for chunk in chunks:
            text += chunk
            if "\n\n" in text:
                break
        assert '"line":"' in text
        pid = int(text.split('"line":"')[1].split("\\n")[0])
        pids.append(pid)
        alive = psutil.pid_exists(pid) and not pid_gone(pid)
        if not alive:  # say what the stream carried, to tell a kill from an early exit
            text += "".join(chunks)
        assert alive, text


def test_read_timeout_is_unbounded_for_quiet_commands(client):
    # Quiet for longer than a small client read timeout would allow: heartbeats keep it open.
    with Miosa(client._api_key, base_url=client.base_url, timeout=httpx.Timeout(0.5, connect=5)) as c:
        events = events_of(c, "sleep 1.5; echo woke")
    assert output_text(events) == "woke\n"
