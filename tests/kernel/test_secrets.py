"""Secrets in a saved notebook: the API key and stream tickets never reach cell outputs, widget state or
the file. (The server's logs are ``tests/server/test_secrets.py``.)"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

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
