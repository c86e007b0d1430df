"""A durable run watched in JupyterLab when its computer goes away: the running banner names the
run, says "reconnecting…" while the computer can't be reached, then ends in the "detached" banner
with the line that re-attaches; ``%miosa runs`` lists it. Screenshots: ``durable-*.png``."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from .._support.lab import CELL_MS, Lab, Notebook, opened

pytestmark = [pytest.mark.browser, pytest.mark.slow]

LOAD, CONFIG, RUN, KILL, RUNS = range(5)
CELLS = [
    ("code", "%load_ext miosa_jupyter"),
    ("code", "%config MiosaMagics.reconnect_seconds = 4"),
    ("code", "%%miosa --bg\nfor i in $(seq 1 80); do echo tick $i; sleep 0.25; done"),
    # The computer goes away mid-run (the embedded one: its process is killed outright).
    ("code", "from miosa_jupyter.local import local_server\nlocal_server()._proc.kill()"),
    ("code", "%miosa runs"),
]


@pytest.fixture
def nb(lab: Lab, browser: Browser) -> Iterator[Notebook]:
    with opened(lab, browser, "miosa-durable.ipynb", CELLS, height=1200) as notebook:
        yield notebook


def test_a_durable_run_says_reconnecting_then_detached_with_the_line_that_reattaches(
    nb: Notebook, artifacts: Path
) -> None:
    for cell in (LOAD, CONFIG, RUN):
        nb.run_cell(cell)
    banner = nb.output(RUN).locator(".miosa-banner")
    expect(banner).to_have_attribute("data-status", "running", timeout=CELL_MS)
    expect(banner).to_contain_text(re.compile(r"on local · run r[0-9a-f]{8}"))
    run_id = re.search(r"r[0-9a-f]{8}", banner.inner_text()).group(0)  # type: ignore[union-attr]
    expect(nb.output(RUN).locator(".miosa-line", has_text="tick 4")).to_be_visible(timeout=CELL_MS)
    nb.output(RUN).screenshot(path=artifacts / "durable-running.png")

    nb.run_cell(KILL)
    expect(banner).to_contain_text("reconnecting to local…", timeout=CELL_MS)
    assert banner.get_attribute("data-status") == "running"
    nb.output(RUN).screenshot(path=artifacts / "durable-reconnecting.png")

    end = nb.output(RUN).locator(".miosa-banner-error")
    expect(end).to_be_visible(timeout=CELL_MS)
    expect(end).to_contain_text("detached: still running on local")
    expect(end).to_contain_text(f"%miosa attach {run_id}")
    nb.output(RUN).screenshot(path=artifacts / "durable-detached.png")

    nb.run_cell(RUNS)
    listing = nb.output(RUNS)
    expect(listing).to_contain_text(run_id)
    expect(listing).to_contain_text("lost")  # the embedded computer ended it with itself
    listing.screenshot(path=artifacts / "durable-runs.png")
