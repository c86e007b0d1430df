"""The run's pulse as a person sees it in JupyterLab: a quiet command's header says for how long it
has printed nothing; one that waits at a prompt gets the banner's hint. Screenshots: ``pulse-*.png``."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from .._support.lab import CELL_MS, Lab, Notebook, opened

pytestmark = [pytest.mark.browser, pytest.mark.slow]

LOAD, QUIET, PROMPT = range(3)
CELLS = [
    ("code", "%load_ext miosa_jupyter"),
    ("code", "%%miosa\necho 'Resolving dependencies...'; sleep 8; echo done"),
    ("code", "%%miosa\nprintf 'Proceed (Y/n)? '; sleep 5; echo; echo answered"),
]


@pytest.fixture
def nb(lab: Lab, browser: Browser) -> Iterator[Notebook]:
    with opened(lab, browser, "miosa-pulse.ipynb", CELLS, height=900) as notebook:
        notebook.run_cell(LOAD)
        yield notebook


def test_a_quiet_command_says_for_how_long_and_a_prompt_gets_a_hint(nb: Notebook, artifacts: Path) -> None:
    before = nb.start_cell(QUIET)
    quiet = nb.output(QUIET).locator(".miosa-quiet")
    expect(quiet).to_have_text(re.compile(r"^ · no output for [5-7] s$"), timeout=CELL_MS)
    expect(nb.output(QUIET).locator(".miosa-banner")).to_have_attribute("data-status", "running")
    nb.output(QUIET).screenshot(path=artifacts / "pulse-quiet.png")
    nb.wait_cell_done(QUIET, before)
    expect(nb.output(QUIET).locator(".miosa-record .miosa-quiet")).to_have_text("")  # the record has none

    before = nb.start_cell(PROMPT)
    banner = nb.output(PROMPT).locator(".miosa-banner")
    expect(banner).to_contain_text("waiting for input? (Proceed (Y/n)?)", timeout=CELL_MS)
    expect(banner).to_contain_text("no stdin")
    nb.output(PROMPT).screenshot(path=artifacts / "pulse-prompt.png")
    nb.wait_cell_done(PROMPT, before)
    expect(nb.output(PROMPT).locator(".miosa-record .miosa-banner-success")).to_be_visible()
