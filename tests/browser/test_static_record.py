"""The record where no kernel and no widget code runs: a notebook executed headless (nbclient),
exported to HTML by nbconvert, opened in Chromium: the end of the run is in sight."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbconvert import HTMLExporter
from playwright.sync_api import Browser

pytestmark = [pytest.mark.browser, pytest.mark.slow]

VISIBLE_JS = """() => {
    const box = document.querySelector(".miosa-record .miosa-output");
    const r = box.getBoundingClientRect();
    return [...box.querySelectorAll(".miosa-line")].filter(l => {
        const b = l.getBoundingClientRect();
        return b.height > 0 && b.top >= r.top - 1 && b.bottom <= r.bottom + 1;
    }).map(l => l.textContent);
}"""


def test_nbconvert_html_opens_the_record_at_its_end(browser: Browser, tmp_path: Path, artifacts: Path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("%load_ext miosa_jupyter"),
        nbformat.v4.new_code_cell(
            "%%miosa --no-raise-error\nseq 1 300\necho 'the error at the end' >&2\nexit 2"
        ),
    ]
    NotebookClient(nb, timeout=120, kernel_name="python3").execute()  # the local computer
    html, _ = HTMLExporter().from_notebook_node(nb)
    page_file = tmp_path / "run.html"
    page_file.write_text(html, encoding="utf-8")
    page = browser.new_page(viewport={"width": 1100, "height": 1000})
    try:
        page.goto(page_file.as_uri())
        shown = page.evaluate(VISIBLE_JS)
        page.screenshot(path=artifacts / "nbconvert-record.png", full_page=True)
        assert shown and shown[-1] == "the error at the end", shown[-3:]
        assert page.locator(".miosa-record .miosa-banner-failure").is_visible()
        # the same without any <style> (as GitHub shows a notebook): the inline box still opens at the end
        page.evaluate("() => document.querySelectorAll('style').forEach(s => s.remove())")
        assert page.evaluate(VISIBLE_JS)[-1] == "the error at the end"
    finally:
        page.close()
