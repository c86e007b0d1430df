"""The local computer's resumable stream over plain HTTP: Last-Event-ID replays exactly what came
after that event, the 410s say why a resume can't be done, a reconnection supersedes the older
connection, and a command nobody comes back for is killed after the grace."""

from __future__ import annotations

import re
import threading

import httpx
import pytest

from .._support.processes import group_gone, read_pid, wait_until
from .._support.servers import raw_client

EVENTS = "/api/v1/computers/local/exec/stream"


def start(http: httpx.Client, command: str) -> str:
    answer = http.post(EVENTS, json={"command": command, "timeout": 60})
    assert answer.status_code == 202, answer.text
    return answer.json()["stream_url"]


def read_all(http: httpx.Client, url: str, last: str | None = None) -> bytes:
    headers = {"Last-Event-ID": last} if last is not None else {}
    with http.stream("GET", url, headers=headers) as response:
        assert response.status_code == 200, response.read()
        return b"".join(response.iter_raw())


def ids(wire: bytes) -> list[int]:
    return [int(n) for n in re.findall(rb"\nid: (\d+)\n\n", wire)]


@pytest.fixture
def srv(make_server):
    return make_server(resume_grace=5.0)


def test_last_event_id_replays_exactly_the_events_after_it(srv):
    with raw_client(srv) as http:
        url = start(http, "seq 1 30000; echo done >&2")
        wire = read_all(http, url)
        assert wire.split(b"\n\n")[0].endswith(b"\nid: 1"), "the first event has an id"
        marks = ids(wire)
        assert len(marks) > 2, "several writes, each ending with an id"
        assert marks == sorted(marks) and marks[-1] == 30002  # 30001 lines and the exit
        assert wire.count(b"\ndata: ") == 30002 == marks[-1]
        for n in [0, marks[0], marks[len(marks) // 2], marks[-2], marks[-1]]:
            after = wire.index(b"id: %d\n\n" % n) + len(b"id: %d\n\n" % n) if n else 0
            assert read_all(http, url, str(n)) == wire[after:], n


def test_a_used_ticket_without_last_event_id_is_still_ticket_used(srv):
    with raw_client(srv) as http:
        url = start(http, "echo hi")
        read_all(http, url)
        answer = http.get(url)
        assert answer.status_code == 410
        assert answer.json()["error"]["code"] == "TICKET_USED"


@pytest.mark.parametrize(("last", "why"), [("999999", "never sent"), ("abc", "not an event id")])
def test_a_resume_from_an_event_not_kept_is_a_clear_410(srv, last, why):
    with raw_client(srv) as http:
        url = start(http, "seq 1 10")
        read_all(http, url)
        answer = http.get(url, headers={"Last-Event-ID": last})
        assert answer.status_code == 410
        error = answer.json()["error"]
        assert error["code"] == "RESUME_UNAVAILABLE"
        assert why in error["message"] and "POST the exec again" in error["message"]


def test_a_resume_older_than_the_window_is_a_clear_410(make_server):
    srv = make_server(resume_grace=5.0, replay_bytes=64 << 10)
    with raw_client(srv) as http:
        url = start(http, "seq 1 100000")
        wire = read_all(http, url)
        answer = http.get(url, headers={"Last-Event-ID": str(ids(wire)[0])})
        assert answer.status_code == 410
        assert "older than the replay window" in answer.json()["error"]["message"]


def test_after_the_grace_a_finished_stream_cannot_be_resumed(make_server):
    srv = make_server(resume_grace=0.2)
    with raw_client(srv) as http:
        url = start(http, "echo hi")
        last = str(ids(read_all(http, url))[-1])

        def refused() -> bool:
            answer = http.get(url, headers={"Last-Event-ID": last})
            return answer.status_code == 410 and "can't be resumed any more" in answer.text

        # Each resume that succeeds is a reader again: poll less often than the grace.
        wait_until(refused, timeout=5, interval=0.5, what="the stream forgotten after its grace")


def test_a_reconnection_supersedes_the_connection_still_open(srv, tmp_path, pids):
    pidfile = tmp_path / "pid"
    with raw_client(srv) as http, raw_client(srv) as other:
        url = start(http, f"echo $$ > {pidfile}; echo a; sleep 30; echo b")
        pids.append(read_pid(pidfile))
        ended = threading.Event()
        got: list[bytes] = []

        def first() -> None:
            with http.stream("GET", url) as response:
                for chunk in response.iter_raw():
                    got.append(chunk)
            ended.set()

        thread = threading.Thread(target=first, daemon=True)
        thread.start()
        wait_until(lambda: b"a\\n" in b"".join(got), what="the first connection got 'a'")
        last = str(ids(b"".join(got))[-1])
        with other.stream("GET", url, headers={"Last-Event-ID": last}) as response:
            assert response.status_code == 200
            assert ended.wait(5), "the older connection was not closed"
        assert not group_gone(pids[0]), "a reconnection must not kill the command"


def test_a_command_nobody_comes_back_for_is_killed_after_the_grace(make_server, tmp_path, pids):
    srv = make_server(resume_grace=1.0)
    pidfile = tmp_path / "pid"
    with raw_client(srv) as http:
        url = start(http, f"echo $$ > {pidfile}; echo a; sleep 30")
        pid = read_pid(pidfile)
        pids.append(pid)
        with http.stream("GET", url) as response:
            wire = b""
            for chunk in response.iter_raw():
                wire += chunk
                if b"a\\n" in wire:
                    break
        # Hung up: the command waits for a reconnection, which continues the stream.
        assert not group_gone(pid)
        with http.stream("GET", url, headers={"Last-Event-ID": str(ids(wire)[-1])}) as response:
            assert response.status_code == 200
            next(response.iter_raw())  # a heartbeat: the stream is live again
        wait_until(lambda: group_gone(pid), timeout=6, what="the command killed after the grace")
