"""``%%miosa`` in a real JupyterLab in headless Chromium: live lines, banners, escaping, save + reload.

One server, one page, one notebook for the module; the tests run its cells in order (each test runs
the cells it checks, so they also pass alone). Screenshots go to ``test-artifacts/``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from playwright.sync_api import Locator, Page, expect

from .._support.lab import CELL_MS, Lab, Notebook

pytestmark = [pytest.mark.browser, pytest.mark.slow]

NAME = "miosa-browser.ipynb"
LOAD, LOOP, FAIL_QUIET, FAIL, TIMEOUT, HOSTILE = range(6)
CELLS = [
    ("code", "%load_ext miosa_jupyter"),
    ("code", "%%miosa\nfor i in $(seq 1 8); do echo line $i; sleep 0.5; done"),
    ("code", "%%miosa --no-raise-error\nexit 1"),
    ("code", "%%miosa\nexit 1"),
    ("code", "%%miosa --timeout 2\nsleep 10"),
    (
        "code",
        "%%miosa\necho '<script>window.__pwned=1</script>'\necho '<img src=x onerror=\"window.__pwned=2\">'",
    ),
    ("markdown", "Shift+Enter on the last code cell lands here instead of adding a cell."),
]
SCRIPT_LINE = "<script>window.__pwned=1</script>"
IMG_LINE = '<img src=x onerror="window.__pwned=2">'
# cell -> (status, outcome word) of its record
EXPECTED = {
    LOOP: ("success", "succeeded"),
    FAIL_QUIET: ("failure", "failed"),
    FAIL: ("failure", "failed"),
    TIMEOUT: ("timeout", "timed out"),
    HOSTILE: ("success", "succeeded"),
}

# The computed border-top colour as [r, g, b], whatever syntax the browser reports it in
# (rgb(), color(srgb ...), oklch ...): paint it on a canvas and read the pixel back.
RGB_JS = """el => {
    const css = getComputedStyle(el).borderTopColor;
    const ctx = document.createElement("canvas").getContext("2d");
    ctx.fillStyle = "#000";
    ctx.fillStyle = css;
    ctx.fillRect(0, 0, 1, 1);
    const [r, g, b] = ctx.getImageData(0, 0, 1, 1).data;
    return [r, g, b];
}"""


def border_rgb(banner: Locator) -> tuple[int, int, int]:
    r, g, b = banner.evaluate(RGB_JS)
    return r, g, b


def assert_green(rgb: tuple[int, int, int]) -> None:
    r, g, b = rgb
    assert g > r and g > b, f"success banner border is not green: rgb{rgb}"


def assert_red(rgb: tuple[int, int, int]) -> None:
    r, g, b = rgb
    assert r > 1.5 * g and r > 1.5 * b, f"failure banner border is not red: rgb{rgb}"


def assert_amber(rgb: tuple[int, int, int]) -> None:
    r, g, b = rgb
    assert r >= 150 and g >= 80 and r >= g and b < 0.5 * g, f"timeout banner border is not amber: rgb{rgb}"


COLOUR = {"success": assert_green, "failure": assert_red, "timeout": assert_amber}


def record(nb: Notebook, index: int) -> Locator:
    return nb.output(index).locator(".miosa-term.miosa-record")


def expect_record(nb: Notebook, index: int, timeout: float = CELL_MS) -> Locator:
    """The cell's static record with its final banner (status class, data-status, icon, word)."""
    status, word = EXPECTED[index]
    rec = record(nb, index)
    expect(rec).to_be_visible(timeout=timeout)
    expect(rec).to_have_class(re.compile(rf"(^|\s)miosa-status-{status}(\s|$)"))
    banner = rec.locator(f".miosa-banner.miosa-banner-{status}")
    expect(banner).to_be_visible()
    expect(banner).to_have_attribute("data-status", status)
    expect(banner.locator(".miosa-icon")).not_to_be_empty()
    expect(banner.locator(".miosa-outcome")).to_have_text(word)
    expect(banner.locator(".miosa-words")).not_to_be_empty()
    COLOUR.get(status, lambda rgb: None)(border_rgb(banner))
    # the live widget is gone: the display was updated in place with the record
    expect(nb.output(index).locator(".miosa-term:not(.miosa-record)")).to_have_count(0)
    return banner


def pwned(page: Page) -> str:
    return page.evaluate("typeof window.__pwned")


@pytest.fixture(scope="module", params=["lab", "notebook"])
def nb(lab: Lab, page: Page, request: pytest.FixtureRequest) -> Notebook:
    """The module's notebook in JupyterLab, then in Notebook 7 (each its own file and kernel)."""
    name = f"{request.param}-{NAME}"
    lab.write_notebook(name, CELLS)
    notebook = Notebook(page, lab, name, front=request.param)
    notebook.open()
    notebook.run_cell(LOAD)
    return notebook


def test_lines_show_live_before_the_banner_then_success(nb: Notebook, artifacts: Path) -> None:
    out = nb.output(LOOP)
    nb.start_cell(LOOP)
    # One atomic look at the DOM: "line 1" is on screen while the banner still says running.
    seen = nb.page.wait_for_function(
        """out => {
            const term = out.querySelector(".miosa-term");
            const banner = term && term.querySelector(".miosa-banner");
            if (!banner || banner.dataset.status !== "running") return false;
            if (term.classList.contains("miosa-record")) return false;
            const lines = [...term.querySelectorAll(".miosa-output .miosa-line")]
                .filter(l => l.getClientRects().length > 0)
                .map(l => l.textContent);
            if (!lines.includes("line 1")) return false;
            return {lines, running: term.classList.contains("miosa-status-running"),
                    outcome: banner.querySelector(".miosa-outcome").textContent};
        }""",
        arg=out.element_handle(),
        timeout=CELL_MS,
        polling="raf",
    ).json_value()
    assert seen["running"], seen
    assert seen["outcome"] == "running", seen
    assert "line 8" not in seen["lines"], f"all lines arrived before the first look: {seen}"

    banner = expect_record(nb, LOOP)
    rec = record(nb, LOOP)
    expect(rec.locator(".miosa-output .miosa-line")).to_have_text([f"line {i}" for i in range(1, 9)])
    expect(rec.locator(".miosa-hidden")).to_have_count(0)
    expect(rec.locator(".miosa-header .miosa-cmd")).to_have_text(
        "for i in $(seq 1 8); do echo line $i; sleep 0.5; done"
    )
    expect(rec.locator(".miosa-header .miosa-count")).to_have_text("8 lines")
    expect(banner.locator(".miosa-words")).to_contain_text("exit 0")
    # a successful run does not fail the cell
    expect(nb.output(LOOP).locator("[data-mime-type='application/vnd.jupyter.stderr']")).to_have_count(0)
    nb.output(LOOP).screenshot(path=artifacts / "banner-success.png")


def test_non_zero_exit_is_a_red_failure(nb: Notebook, artifacts: Path) -> None:
    nb.run_cell(FAIL_QUIET)
    banner = expect_record(nb, FAIL_QUIET)
    expect(banner.locator(".miosa-words")).to_contain_text("exit 1")
    expect(nb.output(FAIL_QUIET).locator("[data-mime-type='application/vnd.jupyter.stderr']")).to_have_count(
        0
    )
    nb.output(FAIL_QUIET).screenshot(path=artifacts / "banner-failure.png")

    nb.run_cell(FAIL)
    expect_record(nb, FAIL)
    error = nb.output(FAIL).locator("[data-mime-type='application/vnd.jupyter.stderr']")
    expect(error).to_be_visible()
    expect(error).to_contain_text("CommandFailedError")


def test_timeout_is_an_amber_banner(nb: Notebook, artifacts: Path) -> None:
    nb.run_cell(TIMEOUT)
    banner = expect_record(nb, TIMEOUT)
    expect(banner.locator(".miosa-words")).to_contain_text("2")
    expect(nb.output(TIMEOUT).locator("[data-mime-type='application/vnd.jupyter.stderr']")).to_contain_text(
        "CommandTimeoutError"
    )
    nb.output(TIMEOUT).screenshot(path=artifacts / "banner-timeout.png")


def test_output_is_shown_as_text_never_run_as_html(nb: Notebook) -> None:
    nb.run_cell(HOSTILE)
    expect_record(nb, HOSTILE)
    lines = record(nb, HOSTILE).locator(".miosa-output .miosa-line")
    expect(lines).to_have_text([SCRIPT_LINE, IMG_LINE])
    expect(nb.output(HOSTILE).locator(".miosa-term script, .miosa-term img")).to_have_count(0)
    assert pwned(nb.page) == "undefined"


def test_records_survive_save_and_reload(nb: Notebook, lab: Lab, artifacts: Path) -> None:
    missing = [i for i in EXPECTED if record(nb, i).count() == 0]
    if missing:  # run alone: produce the records first (Run All stops at the first failing cell)
        nb.run_all(timeout=60_000)
        for i in EXPECTED:
            if record(nb, i).count() == 0:
                nb.run_cell(i)
            expect_record(nb, i)

    nb.save()
    saved = json.loads((lab.root / nb.name).read_text())
    for i in EXPECTED:
        mimes = [m for o in saved["cells"][i]["outputs"] for m in o.get("data", {})]
        html = "".join(
            "".join(o["data"]["text/html"])
            for o in saved["cells"][i]["outputs"]
            if "text/html" in o.get("data", {})
        )
        assert "application/vnd.jupyter.widget-view+json" not in mimes, (i, mimes)
        assert "miosa-record" in html, (i, mimes)

    nb.reload()
    for i in EXPECTED:
        expect_record(nb, i)
    expect(record(nb, LOOP).locator(".miosa-line")).to_have_count(8)
    expect(record(nb, HOSTILE).locator(".miosa-line")).to_have_text([SCRIPT_LINE, IMG_LINE])
    # The saved records are trusted HTML now: anything unescaped would run on this load.
    assert pwned(nb.page) == "undefined"
    nb.page.screenshot(path=artifacts / "notebook.png", full_page=True)
