"""The Python client against a real local computer: the API page's recipes, errors, config, async."""

from __future__ import annotations

import asyncio
import socket
import time

import httpx
import pytest

from miosa_jupyter import (
    APIConnectionError,
    APIStatusError,
    AsyncMiosa,
    AuthenticationError,
    BadRequestError,
    ComputerNotRunningError,
    Event,
    Miosa,
    NotFoundError,
    RateLimitError,
    ServerError,
    TicketError,
)

from .._support.answers import assert_status_error
from .._support.processes import group_gone, pid_gone, read_pid, wait_until

MONITOR_A_BUILD = """
for event in client.exec.stream(computer_id, command="make build", timeout=300):
    if event.type == "output":
        print(event.data["line"], end="")
    elif event.type == "exit":
        if event.data["exit_code"] != 0:
            raise RuntimeError(f"Build failed with exit code {event.data['exit_code']}")
        print("Build succeeded")
        break
"""

TIMEOUT_HANDLING = """
try:
    for event in client.exec.stream(computer_id, command="long-task", timeout=60):
        if event.type == "timeout":
            print(f"Command killed after {event.data['timeout_seconds']}s")
            break
        elif event.type == "exit":
            break
except Exception as e:
    print(f"Stream error: {e}")
"""


def run_recipe(recipe: str, server, **replace: str) -> None:
    """Run a recipe from the API page as written; only the command and timeout are swapped in."""
    for old, new in replace.items():
        recipe = recipe.replace(old, new)
    namespace = {"client": Miosa(server.token, base_url=server.base_url), "computer_id": "local"}
    try:
        exec(recipe, namespace)  # noqa: S102
    finally:
        namespace["client"].close()


def test_monitor_a_build_recipe_succeeds(server, capsys):
    run_recipe(MONITOR_A_BUILD, server, **{"make build": "echo compiling; echo linking"})
    assert capsys.readouterr().out == "compiling\nlinking\nBuild succeeded\n"


def test_monitor_a_build_recipe_raises_on_failure(server, capsys):
    with pytest.raises(RuntimeError, match="Build failed with exit code 2"):
        run_recipe(MONITOR_A_BUILD, server, **{"make build": "echo compiling; echo oops >&2; exit 2"})
    assert capsys.readouterr().out == "compiling\noops\n"


def test_timeout_handling_recipe(server, capsys):
    run_recipe(TIMEOUT_HANDLING, server, **{"long-task": "echo start; sleep 30", "timeout=60": "timeout=1"})
    assert capsys.readouterr().out == "Command killed after 1s\n"


def test_events_are_small_immutable_values(client):
    events = list(client.exec.stream("local", command="echo hi; exit 4"))
    assert events[0] == Event("output", {"type": "output", "line": "hi\n", "stream": "stdout"})
    assert events[0].line == "hi\n"
    assert events[0].stream == "stdout"
    assert events[-1].exit_code == 4
    assert events[-1].is_terminal
    with pytest.raises(AttributeError):
        events[0].type = "exit"  # type: ignore[misc]


def test_exec_run_and_python(client):
    result = client.exec.run("local", command="echo out; echo err >&2; exit 3", timeout=10)
    assert (result.exit_code, result.stdout, result.stderr) == (3, "out\n", "err\n")
    assert not result.ok
    assert result.outcome == "failure"
    py = client.exec.python("local", code="print(sum(range(10)))")
    assert py.stdout == "45\n"
    assert py.ok
    timed = client.exec.run("local", command="sleep 30", timeout=1)
    assert timed.timed_out
    assert timed.outcome == "timeout"


def test_computers_list_and_get(client):
    assert [c["id"] for c in client.computers.list()] == ["local"]
    assert client.computers.get("local")["status"] == "running"


def test_computers_stop_and_start(make_server):
    srv = make_server()
    with Miosa(srv.token, base_url=srv.base_url) as client:
        client.computers.stop("local")
        assert client.computers.get("local")["status"] == "stopped"
        with pytest.raises(ComputerNotRunningError):
            client.exec.run("local", command="true")
        client.computers.start("local")
        assert client.exec.run("local", command="true").ok


def counting_client(log: list[httpx.Request]) -> httpx.Client:
    return httpx.Client(event_hooks={"request": [log.append]})


@pytest.mark.parametrize("suffix", ["", "/"])
def test_stream_url_is_resolved_with_urljoin(server, suffix):
    log: list[httpx.Request] = []
    with counting_client(log) as http:
        client = Miosa(server.token, base_url=server.base_url + suffix, http_client=http)
        assert server.base_url.endswith("/api/v1")
        events = list(client.exec.stream("local", command="echo joined"))
    assert events[-1].type == "exit"
    get = [r for r in log if r.method == "GET"]
    assert len(get) == 1
    assert get[0].url.path == "/api/v1/computers/local/exec/stream/events"
    assert "Authorization" not in get[0].headers, "the API key must not be sent to the events URL"
    assert get[0].headers["Accept-Encoding"] == "identity", "the stream is read raw: ask for it raw"


def test_heartbeats_of_the_local_computer_keep_a_quiet_command_alive(server):
    # FAST: a heartbeat every 0.5 s; the command is silent for three times the idle timeout.
    with Miosa(server.token, base_url=server.base_url, idle_timeout=0.6) as client:
        events = list(client.exec.stream("local", command="sleep 1.8; echo woke"))
    assert [(e.type, e.line) for e in events] == [("output", "woke\n"), ("exit", "")]


def test_the_post_is_sent_exactly_once(server):
    log: list[httpx.Request] = []
    with counting_client(log) as http:
        client = Miosa(server.token, base_url=server.base_url, http_client=http)
        list(client.exec.stream("local", command="echo once"))
        with pytest.raises(ServerError):
            client.exec.stream("local", command="ls", shell="/no/such/shell")
    posts = [r for r in log if r.method == "POST"]
    assert [r.url.path for r in posts] == ["/api/v1/computers/local/exec/stream"] * 2


def test_the_post_is_not_retried_when_the_events_connection_fails(server, tmp_path):
    # The POST succeeds, the events GET then can't connect: the command ran once and is not rerun.
    log: list[httpx.Request] = []
    marker = tmp_path / "runs"

    def break_events(request: httpx.Request) -> None:
        log.append(request)
        if request.url.path.endswith("/events"):
            raise httpx.ConnectError("refused", request=request)

    with httpx.Client(event_hooks={"request": [break_events]}) as http:
        client = Miosa(server.token, base_url=server.base_url, http_client=http)
        with pytest.raises(APIConnectionError) as info:
            client.exec.stream("local", command=f"echo run >> {marker}")
    assert [r.method for r in log] == ["POST", "GET"]
    # The POST was answered: the command runs, and the message must not say otherwise.
    assert info.value.started is True
    assert "nothing was started" not in str(info.value)
    assert "started on local and may still be running" in str(info.value)
    wait_until(marker.exists)
    assert marker.read_text() == "run\n"


def test_error_hierarchy_on_the_session_server(server, client):
    cases = [
        (lambda: client.exec.stream("local", command=""), BadRequestError, 422, "VALIDATION_ERROR"),
        (
            lambda: client.exec.run("local", command="ls", timeout=301),
            BadRequestError,
            422,
            "VALIDATION_ERROR",
        ),
        (lambda: client.exec.run("local", command="x" * (1 << 20)), BadRequestError, 413, None),
        (lambda: client.exec.stream("nope", command="ls"), NotFoundError, 404, "NOT_FOUND"),
        (lambda: client.computers.get("nope"), NotFoundError, 404, "NOT_FOUND"),
        (
            lambda: client.exec.run("local", command="ls", shell="/no/such/shell"),
            ServerError,
            502,
            "AGENT_UNAVAILABLE",
        ),
    ]
    for call, cls, status, code in cases:
        with pytest.raises(APIStatusError) as info:
            call()
        assert_status_error(info.value, cls, status, code)
    with Miosa("wrong", base_url=server.base_url) as bad, pytest.raises(AuthenticationError) as info:
        bad.exec.stream("local", command="ls")
    assert_status_error(info.value, AuthenticationError, 401, "invalid_token")


def test_stopped_computer_raises_computer_not_running(make_server):
    srv = make_server()
    with Miosa(srv.token, base_url=srv.base_url) as client:
        client.computers.stop("local")
        with pytest.raises(ComputerNotRunningError) as info:
            list(client.exec.stream("local", command="ls"))
    assert_status_error(info.value, ComputerNotRunningError, 409, "COMPUTER_NOT_RUNNING")


def test_concurrency_limit_raises_rate_limit_error(make_server, tmp_path, pids):
    srv = make_server(max_concurrent=1)
    with Miosa(srv.token, base_url=srv.base_url) as client:
        stream = client.exec.stream("local", command="echo $$; sleep 60")
        # Keep the iterator: a dropped one is closed by the GC, and the command with it.
        events = iter(stream)
        pids.append(int(next(events).line))
        with pytest.raises(RateLimitError) as info:
            client.exec.run("local", command="true")
        stream.close()
    assert_status_error(info.value, RateLimitError, 429, "rate_limit_exceeded")


def test_used_ticket_raises_ticket_error(server):
    # Someone else redeems the ticket between our POST and our GET: 410 TICKET_USED.
    def steal(request: httpx.Request) -> None:
        if request.url.path.endswith("/events"):
            httpx.get(str(request.url)).read()

    with httpx.Client(event_hooks={"request": [steal]}) as http:
        client = Miosa(server.token, base_url=server.base_url, http_client=http)
        with pytest.raises(TicketError) as info:
            client.exec.stream("local", command="echo hi")
    assert_status_error(info.value, TicketError, 410, "TICKET_USED")


def test_forged_ticket_raises_ticket_error_not_authentication_error(server):
    def forge(request: httpx.Request) -> None:
        if request.url.path.endswith("/events"):
            request.url = request.url.copy_set_param("ticket", "exec_forged")

    with httpx.Client(event_hooks={"request": [forge]}) as http:
        client = Miosa(server.token, base_url=server.base_url, http_client=http)
        with pytest.raises(TicketError) as info:
            client.exec.stream("local", command="echo hi")
    assert_status_error(info.value, TicketError, 401, None)


def test_env_vars_configure_the_client(server, monkeypatch):
    monkeypatch.setenv("MIOSA_API_KEY", server.token)
    monkeypatch.setenv("MIOSA_BASE_URL", server.base_url)
    monkeypatch.setenv("MIOSA_TENANT", "acme")
    log: list[httpx.Request] = []
    with counting_client(log) as http:
        client = Miosa(http_client=http)
        assert client.base_url == server.base_url
        assert client.exec.run("local", command="echo env").stdout == "env\n"
    assert log[0].headers["authorization"] == f"Bearer {server.token}"
    assert log[0].headers["x-miosa-tenant"] == "acme"


def test_arguments_override_env_vars(server, monkeypatch):
    monkeypatch.setenv("MIOSA_API_KEY", "wrong")
    monkeypatch.setenv("MIOSA_BASE_URL", "http://127.0.0.1:9/api/v1")
    with Miosa(server.token, base_url=server.base_url) as client:
        assert client.exec.run("local", command="true").ok


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_closed_port_raises_api_connection_error_quickly():
    port = closed_port()
    started = time.monotonic()
    with Miosa("k", base_url=f"http://127.0.0.1:{port}/api/v1") as client:
        with pytest.raises(APIConnectionError) as info:
            client.exec.stream("local", command="ls")
        with pytest.raises(APIConnectionError):
            client.computers.list()
    assert time.monotonic() - started < 5
    assert f"127.0.0.1:{port}" in str(info.value)
    assert "nothing was started" in str(info.value)  # a refused connect sent nothing
    assert info.value.started is False


# -- AsyncMiosa --------------------------------------------------------------------------------


async def await_until(predicate, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"not true within {timeout} s"
        await asyncio.sleep(0.01)


def test_async_stream_run_and_python(server):
    async def main():
        async with AsyncMiosa(server.token, base_url=server.base_url) as client:
            events = [e async for e in client.exec.stream("local", command="echo a; echo b >&2; exit 5")]
            result = await client.exec.run("local", command="echo ran")
            py = await client.exec.python("local", code="print('py')")
            computers = await client.computers.list()
            one = await client.computers.get("local")
        return events, result, py, computers, one

    events, result, py, computers, one = asyncio.run(main())
    outputs = {(e.stream, e.line) for e in events if e.type == "output"}
    assert outputs == {("stdout", "a\n"), ("stderr", "b\n")}
    assert events[-1].type == "exit"
    assert events[-1].exit_code == 5
    assert result.stdout == "ran\n"
    assert py.stdout == "py\n"
    assert [c["id"] for c in computers] == ["local"]
    assert one["id"] == "local"


def test_async_monitor_a_build(server):
    async def main():
        lines = []
        async with AsyncMiosa(server.token, base_url=server.base_url) as client:
            async for event in client.exec.stream("local", command="echo step1; echo step2", timeout=300):
                if event.type == "output":
                    lines.append(event.data["line"])
                elif event.type == "exit":
                    return lines, event.data["exit_code"]
        return lines, None

    assert asyncio.run(main()) == (["step1\n", "step2\n"], 0)


def test_async_break_closes_the_connection_and_kills_the_command(server, tmp_path, pids):
    pidfile = tmp_path / "pid"

    async def main():
        async with AsyncMiosa(server.token, base_url=server.base_url) as client:
            command = f"echo $$ > {pidfile}; while true; do echo x; sleep 0.1; done"
            async for event in client.exec.stream("local", command=command, timeout=60):
                assert event.type == "output"
                break
            pid = read_pid(pidfile)
            pids.append(pid)
            # Still inside the loop: the connection was closed by the break itself, not by shutdown.
            await await_until(lambda: group_gone(pid), timeout=2)

    asyncio.run(main())


def test_async_errors_and_connection_errors(server):
    async def main():
        async with AsyncMiosa(server.token, base_url=server.base_url) as client:
            with pytest.raises(NotFoundError):
                async for _ in client.exec.stream("nope", command="ls"):
                    pass
            with pytest.raises(BadRequestError):
                await client.exec.run("local", command="")
        async with AsyncMiosa("k", base_url=f"http://127.0.0.1:{closed_port()}/api/v1") as client:
            with pytest.raises(APIConnectionError):
                await client.exec.run("local", command="ls")

    asyncio.run(main())


def test_async_post_is_sent_once(server, tmp_path):
    log: list[httpx.Request] = []
    pidfile = tmp_path / "pid"

    async def record(request: httpx.Request) -> None:
        log.append(request)

    async def main():
        async with httpx.AsyncClient(event_hooks={"request": [record]}) as http:
            client = AsyncMiosa(server.token, base_url=server.base_url, http_client=http)
            async for _ in client.exec.stream("local", command=f"echo $$ > {pidfile}"):
                pass

    asyncio.run(main())
    assert [(r.method, r.url.path) for r in log] == [
        ("POST", "/api/v1/computers/local/exec/stream"),
        ("GET", "/api/v1/computers/local/exec/stream/events"),
    ]
    wait_until(lambda: pid_gone(read_pid(pidfile)))
