"""Every endpoint of the API page, spoken to the local computer in raw HTTP (as curl would)."""

from __future__ import annotations

import json
import time

import httpx
import pytest

from .._support.answers import assert_error
from .._support.processes import pid_gone, read_pid, wait_until
from .._support.servers import origin, raw_client

CID = "local"
STREAM = f"/api/v1/computers/{CID}/exec/stream"
EXEC = f"/api/v1/computers/{CID}/exec"


def sse_events(text: str) -> list[tuple[str, dict]]:
    """(event, data) of each frame; every data line must be one JSON object naming its type."""
    out = []
    for frame in text.split("\n\n"):
        fields = dict(line.split(": ", 1) for line in frame.split("\n") if line and not line.startswith(":"))
        if "data" in fields:
            data = json.loads(fields["data"])
            assert data["type"] == fields["event"]
            out.append((fields["event"], data))
    return out


def start(http: httpx.Client, command: str, **body) -> dict:
    r = http.post(STREAM, json={"command": command, **body})
    assert r.status_code == 202, r.text
    return r.json()


def test_post_exec_stream_answers_202_with_a_ticket(http):
    before = time.time()
    r = http.post(STREAM, json={"command": "echo hi", "timeout": 10})
    assert r.status_code == 202
    body = r.json()
    assert set(body) == {"ticket", "expires_at", "stream_url"}
    assert isinstance(body["ticket"], str)
    assert len(body["ticket"]) >= 20
    assert isinstance(body["expires_at"], int)
    assert before + 55 <= body["expires_at"] <= time.time() + 61
    assert body["stream_url"].startswith("/api/v1/computers/local/exec/stream/events?ticket=")
    assert body["stream_url"].endswith(body["ticket"])
    http.get(body["stream_url"]).read()  # redeem it, so the command is not left waiting


def test_events_are_an_event_stream_of_json_frames(http):
    answer = start(http, "echo one; echo two >&2; exit 3")
    # No bearer token on the events URL: the ticket is the credential.
    r = httpx.get(origin_of(http) + answer["stream_url"], headers={"Accept": "text/event-stream"}, timeout=10)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/event-stream")
    assert "event: output\ndata: {" in r.text
    events = sse_events(r.text)
    outputs = [d for e, d in events if e == "output"]
    assert {"type": "output", "line": "one\n", "stream": "stdout"} in outputs
    assert {"type": "output", "line": "two\n", "stream": "stderr"} in outputs
    name, last = events[-1]
    assert name == "exit"
    assert last["exit_code"] == 3
    assert isinstance(last["duration_ms"], int)
    assert r.text.endswith("\n\n")


def origin_of(http: httpx.Client) -> str:
    return str(http.base_url).rstrip("/")


def test_exec_waits_and_answers_the_result_shape(http):
    r = http.post(EXEC, json={"command": "echo out; echo err >&2; exit 2", "timeout": 10})
    assert r.status_code == 200
    body = r.json()
    assert body["stdout"] == "out\n"
    assert body["stderr"] == "err\n"
    assert sorted(body["output"].splitlines()) == ["err", "out"]
    assert body["exit_code"] == 2
    assert body["success"] is False
    assert isinstance(body["duration_ms"], int)
    assert body["timed_out"] is False


def test_exec_success_is_true_for_exit_zero(http):
    body = http.post(EXEC, json={"command": "true"}).json()
    assert body["exit_code"] == 0
    assert body["success"] is True


def test_exec_timeout_is_reported(http):
    body = http.post(EXEC, json={"command": "echo a; sleep 30", "timeout": 1}).json()
    assert body["timed_out"] is True
    assert body["success"] is False
    assert body["stdout"] == "a\n"


def test_exec_python_answers_the_result_shape(http):
    r = http.post(EXEC + "/python", json={"code": "import sys\nprint(6 * 7)\nprint('e', file=sys.stderr)"})
    assert r.status_code == 200
    body = r.json()
    assert body["stdout"] == "42\n"
    assert body["stderr"] == "e\n"
    assert body["exit_code"] == 0
    assert body["success"] is True
    assert body["timed_out"] is False
    assert {"output", "duration_ms"} <= set(body)


def test_exec_python_without_code_is_422(http):
    assert_error(http.post(EXEC + "/python", json={"code": ""}), 422, "VALIDATION_ERROR")


def test_list_and_get_computers(http):
    r = http.get("/api/v1/computers")
    assert r.status_code == 200
    body = r.json()
    items = body["data"] if isinstance(body, dict) else body
    assert {"id": "local", "name": "Local computer", "status": "running"} in items
    one = http.get("/api/v1/computers/local").json()
    assert one["id"] == "local"
    assert one["status"] in ("running", "active")
    assert one["name"]


@pytest.mark.parametrize(
    "body",
    [
        {"command": ""},
        {"command": "   "},
        {},
        {"command": 5},
        {"command": "ls", "timeout": 0},
        {"command": "ls", "timeout": 301},
        {"command": "ls", "timeout": "abc"},
        {"command": "ls", "timeout": 1.5},
        {"command": "ls", "shell": "bash"},
        [],
    ],
    ids=[
        "empty",
        "blank",
        "missing",
        "not-a-string",
        "timeout-0",
        "timeout-301",
        "timeout-abc",
        "timeout-fraction",
        "relative-shell",
        "not-an-object",
    ],
)
def test_invalid_exec_body_is_422(http, body):
    err = assert_error(http.post(STREAM, json=body), 422, "VALIDATION_ERROR")
    assert err["message"]


def test_body_over_1_mib_is_413(http):
    body = json.dumps({"command": "echo " + "x" * (1 << 20)})
    assert_error(http.post(STREAM, content=body, headers={"Content-Type": "application/json"}), 413)


def test_body_over_1_mib_without_content_length_is_413(http):
    def chunks():
        yield b'{"command": "echo '
        for _ in range(20):
            yield b"x" * 65536
        yield b'"}'

    assert_error(http.post(STREAM, content=chunks(), headers={"Content-Type": "application/json"}), 413)


def test_unknown_computer_is_404(http):
    assert_error(http.post("/api/v1/computers/nope/exec/stream", json={"command": "ls"}), 404, "NOT_FOUND")
    assert_error(http.get("/api/v1/computers/nope"), 404, "NOT_FOUND")


def test_stopped_computer_is_409_and_start_brings_it_back(make_server):
    srv = make_server()
    with raw_client(srv) as http:
        r = http.post("/api/v1/computers/local/stop")
        assert r.status_code == 200
        assert http.get("/api/v1/computers/local").json()["status"] == "stopped"
        assert_error(http.post(STREAM, json={"command": "ls"}), 409, "COMPUTER_NOT_RUNNING")
        assert_error(http.post(EXEC, json={"command": "ls"}), 409, "COMPUTER_NOT_RUNNING")
        assert http.post("/api/v1/computers/local/start").status_code == 200
        assert http.post(EXEC, json={"command": "true"}).json()["exit_code"] == 0


@pytest.mark.parametrize("auth", [None, "Bearer wrong", "Basic abc", "Bearer"])
def test_missing_or_wrong_token_is_401(server, auth):
    headers = {"Authorization": auth} if auth else {}
    for method, path in [("POST", STREAM), ("POST", EXEC), ("GET", "/api/v1/computers")]:
        r = httpx.request(method, origin(server) + path, json={"command": "ls"}, headers=headers)
        assert_error(r, 401, "invalid_token")


def test_reused_ticket_is_410(http):
    answer = start(http, "echo once")
    assert "event: exit" in http.get(answer["stream_url"]).text
    err = assert_error(http.get(answer["stream_url"]), 410, "TICKET_USED")
    assert "POST" in err["message"]


def test_expired_ticket_is_410_and_its_command_was_killed(make_server, tmp_path):
    srv = make_server(ticket_ttl=0.5)
    pidfile = tmp_path / "pid"
    with raw_client(srv) as http:
        answer = start(http, f"echo $$ > {pidfile}; sleep 60")
        pid = read_pid(pidfile)
        wait_until(lambda: pid_gone(pid), timeout=5, what="command killed after its ticket expired")
        wait_until(lambda: http.get(answer["stream_url"]).status_code == 410, timeout=5)
        assert_error(http.get(answer["stream_url"]), 410, "TICKET_EXPIRED")


@pytest.mark.parametrize("ticket", ["exec_forged", "", "x" * 500])
def test_forged_ticket_is_401(http, ticket):
    assert_error(http.get(STREAM + "/events", params={"ticket": ticket}), 401)


def test_events_without_ticket_is_401(http):
    assert_error(http.get(STREAM + "/events"), 401)


def test_ticket_on_an_unknown_computer_is_refused_and_still_usable(http):
    answer = start(http, "echo mine")
    r = http.get("/api/v1/computers/other/exec/stream/events", params={"ticket": answer["ticket"]})
    assert_error(r, r.status_code)
    assert r.status_code in (401, 404)
    assert "event: exit" in http.get(answer["stream_url"]).text


def test_ticket_for_another_computer_is_401_and_still_usable(make_server):
    srv = make_server(computer_id="alpha")
    with raw_client(srv) as http:
        r = http.post("/api/v1/computers/alpha/exec/stream", json={"command": "echo a"})
        answer = r.json()
        # Same server, same ticket, a different computer path: the stored ticket is not for it.
        srv.computer.status["beta"] = "running"
        bad = http.get("/api/v1/computers/beta/exec/stream/events", params={"ticket": answer["ticket"]})
        assert_error(bad, 401)
        good = http.get(answer["stream_url"])
        assert good.status_code == 200
        assert sse_events(good.text)[-1][0] == "exit"


def test_nonexistent_shell_is_502(http):
    assert_error(
        http.post(STREAM, json={"command": "ls", "shell": "/no/such/shell"}), 502, "AGENT_UNAVAILABLE"
    )
    assert_error(http.post(EXEC, json={"command": "ls", "shell": "/no/such/shell"}), 502, "AGENT_UNAVAILABLE")


def test_unknown_path_is_404(http):
    assert_error(http.get("/api/v1/nothing"), 404, "NOT_FOUND")
    assert_error(http.get("/"), 404)


def test_concurrency_limit_is_429(make_server, tmp_path, pids):
    srv = make_server(max_concurrent=2)
    with raw_client(srv) as http:
        answers = []
        for i in range(2):
            answers.append(start(http, f"echo $$ > {tmp_path / str(i)}; sleep 60"))
            pids.append(read_pid(tmp_path / str(i)))
        assert_error(http.post(STREAM, json={"command": "echo three"}), 429, "rate_limit_exceeded")
        assert_error(http.post(EXEC, json={"command": "echo three"}), 429, "rate_limit_exceeded")


def test_httpx_sse_reads_a_quiet_command_with_ids_and_heartbeats_as_the_page_defines(make_server):
    """A foreign reader, the maintained SSE parser the page's Python recipe uses: every event it
    yields is one of the page's, with JSON data, through heartbeats after an ``id:``. (A heartbeat
    ending in a blank line became an empty event there: httpx-sse keeps the last id and dispatches.)"""
    from httpx_sse import connect_sse

    srv = make_server(heartbeat=0.1)
    with raw_client(srv) as http:
        answer = http.post(
            "/api/v1/computers/local/exec/stream", json={"command": "echo a; sleep 0.7; echo b"}
        )
        seen = []
        with connect_sse(http, "GET", answer.json()["stream_url"]) as source:
            for sse in source.iter_sse():
                seen.append((sse.event, sse.json()))
    assert [event for event, _ in seen] == ["output", "output", "exit"]
    assert [data.get("line") for _, data in seen[:2]] == ["a\n", "b\n"]
