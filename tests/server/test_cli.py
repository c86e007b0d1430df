"""``miosa-jupyter serve``: the local computer as a command, driven the way the API page drives the API."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from miosa_jupyter import Miosa, StreamError

from .._support.processes import group_gone, wait_until
from .._support.servers import TEST_TOKEN

pytestmark = pytest.mark.skipif(shutil.which("curl") is None, reason="needs curl (apt-get install curl)")


def serve(*args: str, timeout: float = 20) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "miosa_jupyter", "serve", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_serve_prints_its_url_and_token(subserver):
    srv = subserver()
    assert srv.base_url.startswith("http://127.0.0.1:")
    assert srv.base_url.endswith("/api/v1")
    assert len(srv.token) >= 32
    banner = "".join(srv.lines)
    assert f"MIOSA_API_KEY={srv.token}" in banner or srv.token in banner
    with Miosa(srv.token, base_url=srv.base_url) as client:
        assert client.exec.run("local", command="echo up").stdout == "up\n"


def test_serve_takes_its_token_from_the_environment_and_keeps_it_out_of_argv_and_commands(subserver):
    token = "s3cret-token-from-the-env"  # noqa: S105
    srv = subserver("--port", "0", token=token)
    # Every local user can read a process's command line; the environment only its owner.
    cmdline = Path(f"/proc/{srv.proc.pid}/cmdline").read_bytes()
    assert token.encode() not in cmdline
    assert token not in "".join(srv.lines), "the banner echoed a token the user gave"
    with Miosa(token, base_url=srv.base_url) as client:
        env = client.exec.run("local", command="env; cat /proc/$$/cmdline").stdout
    assert token not in env and "MIOSA_LOCAL_TOKEN" not in env


def test_serve_takes_its_token_from_a_file(subserver, tmp_path):
    secret = tmp_path / "token"
    secret.write_text("s3cret-token-from-a-file\n")
    srv = subserver("--port", "0", "--token-file", str(secret))
    with Miosa("s3cret-token-from-a-file", base_url=srv.base_url) as client:
        assert client.exec.run("local", command="true").ok


def test_a_token_on_the_command_line_is_refused_with_what_to_do_instead():
    out = serve("--token", "s3cret-token-in-argv")
    assert out.returncode == 2
    assert "--token-file" in out.stderr and "MIOSA_LOCAL_TOKEN" in out.stderr
    assert "Traceback" not in out.stderr


def test_the_api_pages_curl_flow_works_as_written(subserver):
    srv = subserver(token=TEST_TOKEN)
    # The Quick Start's curl commands, with the URL and key swapped in (and the page's lost
    # line-continuation backslashes restored).
    script = f"""
set -e
MIOSA_API_KEY=token-of-the-tests
TICKET=$(curl -s -X POST {srv.base_url}/computers/local/exec/stream \\
  -H "Authorization: Bearer $MIOSA_API_KEY" \\
  -H "Content-Type: application/json" \\
  -d '{{"command": "echo Collecting torch; echo warn >&2; exit 3", "timeout": 300}}' | jq -r .ticket)

curl -N "{srv.base_url}/computers/local/exec/stream/events?ticket=$TICKET" \\
  -H "Accept: text/event-stream"
"""
    out = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    frames = [f for f in out.stdout.split("\n\n") if f.strip()]
    assert frames[0].endswith("\nid: 1"), "the first event is resumable"
    assert frames[-1].endswith(f"\nid: {len(frames)}"), "the terminal event carries its ordinal"
    # The last frame of each write carries an id (events counted from 1): resume points.
    frames = [f.rpartition("\nid: ")[0] or f for f in frames]
    assert 'event: output\ndata: {"type":"output","line":"Collecting torch\\n","stream":"stdout"}' in frames
    assert 'event: output\ndata: {"type":"output","line":"warn\\n","stream":"stderr"}' in frames
    name, data = frames[-1].split("\n")
    assert name == "event: exit"
    assert json.loads(data.removeprefix("data: "))["exit_code"] == 3


def test_the_api_pages_post_curl_answers_a_ticket(subserver):
    srv = subserver(token=TEST_TOKEN)
    out = subprocess.run(
        [
            "curl",
            "-s",
            "-X",
            "POST",
            f"{srv.base_url}/computers/local/exec/stream",
            "-H",
            "Authorization: Bearer token-of-the-tests",
            "-H",
            "Content-Type: application/json",
            "-d",
            '{"command": "npm --version || true", "timeout": 120}',
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    body = json.loads(out.stdout)
    assert set(body) == {"ticket", "expires_at", "stream_url"}
    assert body["stream_url"].startswith("/api/v1/")


def test_public_host_without_token_exits_2():
    out = serve("--host", "0.0.0.0")
    assert out.returncode == 2
    assert "--token-file" in out.stderr
    assert "0.0.0.0" in out.stderr
    assert "Traceback" not in out.stderr


def test_taken_port_exits_1_with_a_clear_message():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        out = serve("--port", str(port))
    assert out.returncode == 1
    assert str(port) in out.stderr
    assert "--port" in out.stderr
    assert "Traceback" not in out.stderr


@pytest.mark.slow
def test_sigint_stops_the_server_and_its_commands(subserver, pids):
    srv = subserver(token=TEST_TOKEN)
    with Miosa(TEST_TOKEN, base_url=srv.base_url) as client:
        stream = client.exec.stream("local", command="echo $$; sleep 100 & sleep 100", timeout=300)
        it = iter(stream)
        pid = int(next(it).line)
        pids.append(pid)
        srv.proc.send_signal(signal.SIGINT)
        started = time.monotonic()
        wait_until(lambda: srv.proc.poll() is not None, timeout=10, what="server exits after SIGINT")
        assert time.monotonic() - started < 10
        # The stream ends with an error event, or drops (StreamError); it must not hang.
        rest: list = []
        with contextlib.suppress(StreamError):
            rest = list(it)
        assert not rest or rest[-1].type == "error"
    wait_until(lambda: group_gone(pid), timeout=5, what="the command's process group is gone")
    # Ctrl-C is how the banner says to stop it: a clean exit with its goodbye line, no traceback.
    assert srv.proc.returncode in (0, 130)
    assert "Stopped" in srv.proc.stdout.read()
    assert "Traceback" not in srv.proc.stderr.read()


@pytest.mark.slow
def test_demo_opens_the_quickstart_in_jupyterlab_as_root_too(tmp_path):
    """The README's first command ends in `miosa-jupyter demo`: on a fresh machine that runs as
    root (Jupyter refuses root without --allow-root), it must still serve the notebook."""
    repo = Path(__file__).resolve().parents[2]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MIOSA_", "JUPYTER", "JPY_"))}
    env.update(JUPYTER_CONFIG_DIR=str(tmp_path / "c"), JUPYTER_DATA_DIR=str(tmp_path / "d"),
               JUPYTER_RUNTIME_DIR=str(tmp_path / "r"))  # fmt: skip
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "miosa_jupyter",
            "demo",
            "--no-browser",
            f"--port={port}",
            "--ServerApp.token=",
            "--LabApp.news_url=None",
        ],
        cwd=repo,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        # `jupyter lab FILE` serves FILE's folder and opens FILE
        url = f"http://127.0.0.1:{port}/api/contents/01-quickstart.ipynb?content=0"
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(url, timeout=2).status_code == 200:
                    break
            assert time.monotonic() < deadline, "JupyterLab did not serve the quickstart"
            time.sleep(0.2)  # polling a readiness check, not waiting for state
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def test_demo_outside_the_project_says_where_to_run_it(tmp_path):
    out = subprocess.run(
        [sys.executable, "-m", "miosa_jupyter", "demo"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert out.returncode == 2
    assert "notebooks/01-quickstart.ipynb not found" in out.stderr and "Traceback" not in out.stderr
