"""Every notebook in notebooks/ runs top to bottom, headless, against the local computer."""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

pytestmark = [pytest.mark.kernel, pytest.mark.slow]

NOTEBOOKS = sorted((Path(__file__).parent.parent / "notebooks").glob("*.ipynb"))


@pytest.fixture(autouse=True)
def _offline(monkeypatch):
    for name in list(os.environ):
        if name.startswith("MIOSA_"):
            monkeypatch.delenv(name)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_runs_without_error(path: Path, tmp_path: Path):
    nb = nbformat.read(path, as_version=4)
    NotebookClient(
        nb, timeout=180, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    ).execute()
    saved = tmp_path / path.name
    nbformat.write(nb, saved)
    text = saved.read_text()
    # Without a widget front end the saved notebook still shows each run: its static record.
    assert "miosa-record" in text
    assert "exec_" not in text and "Bearer" not in text, "no ticket or key in a saved notebook"


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
