"""Secrets: the API key/token and stream tickets never reach the server's logs, cell outputs, widget
state, or a saved notebook."""

from __future__ import annotations

import json
import os
import re
import secrets
import signal
from pathlib import Path

import httpx
import nbformat
import pytest
from nbclient import NotebookClient

from ..conftest import wait_until

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


CELLS = [
    "%load_ext miosa_jupyter",
    "%%miosa\necho hello; echo warn >&2",
    "%%miosa --no-raise-error\necho failing; exit 3",
    "%%miosa --out res\necho captured",
    "res",
    "%%miosa\nexit 4",  # fails the cell (allow_errors)
    "%%miosa nosuch\nls",  # NotFoundError
    "%%miosa --timeout 1 --no-raise-error\nsleep 5",
    "bg = get_ipython().run_cell_magic('miosa', '--bg', 'echo in-background')\nbg.wait(30)",
    "from miosa_jupyter import Miosa, MiosaTerminal\npanel = MiosaTerminal()\n"
    "r = panel.run('echo from-panel')\nr.wait(30)\npanel",
    "client = Miosa.local()\n"
    "print(repr(client), [e.type for e in client.exec.stream('local', command='echo s')])",
    "import miosa_jupyter as m\ntry:\n    m.Miosa.local().exec.stream('local', command='')\n"
    "except m.MiosaError as e:\n    print(repr(e))",
    "%config MiosaMagics.view = 'text'",
    "%%miosa\necho text-view",
]


@pytest.mark.kernel
@pytest.mark.slow
def test_no_token_or_ticket_in_a_saved_notebook(tmp_path: Path, monkeypatch):
    """A few ``%%miosa`` cells (success, failure, timeout, --out, --bg, the panel, errors, text view)
    under nbclient with widget state stored; the saved file is scanned whole, except a last cell that
    reveals the kernel's local token to know what to look for."""
    for name in list(os.environ):
        if name.startswith("MIOSA_") and name != "MIOSA_RUNS":
            monkeypatch.delenv(name)
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(src) for src in CELLS]
    nb.cells.append(
        nbformat.v4.new_code_cell("print('TOKEN=' + __import__('miosa_jupyter').local_server().token)")
    )
    NotebookClient(
        nb,
        timeout=120,
        kernel_name="python3",
        allow_errors=True,
        store_widget_state=True,
        resources={"metadata": {"path": str(tmp_path)}},
    ).execute()
    saved = tmp_path / "saved.ipynb"
    nbformat.write(nb, saved)
    reloaded = nbformat.read(saved, as_version=4)
    token = reloaded.cells[-1].outputs[0]["text"].strip().removeprefix("TOKEN=")
    assert len(token) > 20
    reloaded.cells = reloaded.cells[:-1]
    text = nbformat.writes(reloaded)
    widgets = json.dumps(reloaded.metadata.get("widgets", {}))
    outputs = json.dumps([c.get("outputs", []) for c in reloaded.cells])
    print(f"\nsaved notebook: {len(text):,} chars, widget state {len(widgets):,} chars")
    assert "miosa-record" in outputs and "from-panel" in text  # the cells did run
    assert "NotFoundError" in outputs and "CommandFailedError" in outputs
    assert token not in text and token[:16] not in text, "the local token is in the saved notebook"
    assert not re.search(r"exec_[A-Za-z0-9_-]{8}", text), "a stream ticket is in the saved notebook"
    assert "ticket=" not in text
