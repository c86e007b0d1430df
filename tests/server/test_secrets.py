"""Secrets: the API key/token and stream tickets never reach the server's logs, cell outputs, widget
state, or a saved notebook."""

from __future__ import annotations

import secrets
import signal

import httpx

from .._support.processes import wait_until

CID = "local"


def test_no_token_or_ticket_in_the_server_logs(subserver):
    """A session of requests, errors included, against ``miosa-jupyter serve``; then its whole
    stdout/stderr is read. The start-up banner prints the token on purpose (it's how the user learns
    it, like Jupyter's own URL with ``?token=``), but only a random one it made; nothing else may."""
    token = "tok-" + secrets.token_urlsafe(24)
    srv = subserver("--port", "0", token=token)
    lines = list(srv.lines)
    while "Press Ctrl-C" not in lines[-1]:  # the rest of the start-up banner
        lines.append(srv.proc.stdout.readline())
        assert lines[-1], "server exited during its banner"
    banner = "".join(lines)
    origin = srv.base_url.removesuffix("/api/v1")
    auth = {"Authorization": f"Bearer {token}"}
    stream = f"{srv.base_url}/computers/{CID}/exec/stream"
    tickets: list[str] = []
    # A fresh connection per request: after a 500 uvicorn drops the connection, and the next request
    # on it would fail (ECONNRESET) before reaching the server.
    with httpx.Client(timeout=30, limits=httpx.Limits(max_keepalive_connections=0)) as http:
        for command in ("echo visible", "echo to-err >&2; exit 3", "sleep 5"):
            answer = http.post(stream, json={"command": command}, headers=auth).json()
            tickets.append(answer["ticket"])
            if command != "sleep 5":
                assert "event: exit" in http.get(origin + answer["stream_url"]).text
        # the "sleep 5" ticket is never redeemed; its stream URL is opened with a bad Host instead
        http.get(origin + answer["stream_url"], headers={"Host": "evil.example"})
        http.get(origin + answer["stream_url"].replace("/local/", "/other/"))
        http.get(origin + answer["stream_url"].replace("events?ticket=", "events?ticket=x"))
        http.get(
            origin + f"/api/v1/computers/{CID}/exec/stream/events", params={"ticket": tickets[0]}
        )  # used
        http.get(f"{srv.base_url}/computers", headers={"Authorization": f"Bearer {token[:-1]}"})
        http.get(f"{srv.base_url}/computers", headers={"Authorization": f"Bearer {token}x"})
        http.post(f"{srv.base_url}/computers/{CID}/exec", content=b"{", headers=auth)
        http.post(f"{srv.base_url}/computers/{CID}/exec", content=b"[" * 5000 + b"]" * 5000, headers=auth)
        http.post(
            f"{srv.base_url}/computers/{CID}/exec", content=b'{"command": "echo \\ud800"}', headers=auth
        )
        http.post(f"{srv.base_url}/computers/{CID}/exec", json={"command": "x" * 300_000}, headers=auth)
        http.post(f"{srv.base_url}/computers/{CID}/exec", content=b"x" * (2 << 20), headers=auth)
        http.put(f"{srv.base_url}/computers/{CID}/exec", headers=auth)
        http.get(f"{srv.base_url}/computers/nope", headers=auth)
        http.post(
            f"{srv.base_url}/computers/{CID}/exec",
            json={"command": "true", "shell": "/no/such"},
            headers=auth,
        )
        http.post(f"{srv.base_url}/computers/{CID}/exec", json={"command": f"echo {token}"}, headers=auth)
    srv.proc.send_signal(signal.SIGINT)
    wait_until(lambda: srv.proc.poll() is not None, timeout=15, what="server exits")
    rest = srv.proc.stdout.read() + srv.proc.stderr.read()
    print(f"\nserver banner ({len(banner)} chars) then {len(rest)} chars of logs: {rest[:300]!r}")
    # The user gave this token (in the environment): nothing, the banner included, writes it out.
    assert token[:16] not in banner + rest, "the token (or a near miss of it) was logged"
    for ticket in tickets:
        assert ticket not in banner + rest
        assert ticket.removeprefix("exec_")[:12] not in banner + rest
    assert "exec_" not in banner + rest
    assert "Traceback" not in rest
