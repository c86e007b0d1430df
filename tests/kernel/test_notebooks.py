"""Every notebook in notebooks/ runs top to bottom, headless, against the local computer."""

from __future__ import annotations

import json
import os
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

pytestmark = [pytest.mark.kernel, pytest.mark.slow]

NOTEBOOKS = sorted((Path(__file__).resolve().parents[2] / "notebooks").glob("*.ipynb"))


@pytest.fixture(autouse=True)
def _offline(monkeypatch):
    for name in list(os.environ):
        if name.startswith("MIOSA_") and name != "MIOSA_RUNS":
            monkeypatch.delenv(name)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_runs_without_error(path: Path, tmp_path: Path):
    nb = nbformat.read(path, as_version=4)
    # A last cell reveals the kernel's local-computer token, to check no other output holds it.
    nb.cells.append(
        nbformat.v4.new_code_cell("print('TOKEN=' + __import__('miosa_jupyter').local_server().token)")
    )
    NotebookClient(
        nb, timeout=180, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    ).execute()
    saved = tmp_path / path.name
    nbformat.write(nb, saved)
    cells = nbformat.read(saved, as_version=4).cells
    token = cells[-1].outputs[0]["text"].strip().removeprefix("TOKEN=")
    outputs = json.dumps([cell.get("outputs", []) for cell in cells[:-1]])
    # Without a widget front end the saved notebook still shows each run: its static record.
    assert "miosa-record" in outputs
    assert len(token) > 20
    assert token not in outputs, "no key in a saved notebook's outputs"
    assert "exec_" not in outputs, "no ticket in a saved notebook's outputs"


def test_quickstart_shows_each_outcome():
    nb = nbformat.read(NOTEBOOKS[0], as_version=4)
    NotebookClient(nb, timeout=180, kernel_name="python3").execute()
    plain = [
        o["data"]["text/plain"]
        for cell in nb.cells
        for o in cell.get("outputs", [])
        if o.get("output_type") == "display_data" and "miosa-record" in o["data"].get("text/html", "")
    ]
    words = "\n".join(plain)
    assert "succeeded · exit 0" in words
    assert "failed · exit 3" in words
    assert "timed out · after 2 s" in words
    assert "step 5" in words
