"""The whole log at hand, as a person uses it in JupyterLab on a run of a million lines: search finds
a line in the hidden middle and shows it, the hidden part expands in pages, "copy all" puts every
line on the clipboard, the download is the command's output byte for byte, timestamps and the
stderr filter show, and it all works while the cell that runs still blocks the kernel's main shell.
Screenshots: ``log-*.png``."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Locator, expect

from .._support.lab import CELL_MS, Lab, Notebook, opened

pytestmark = [pytest.mark.browser, pytest.mark.slow]

# A million lines (6.9 MB), a needle and a stderr line in the hidden middle.
BIG = "seq 1 500000; echo 'NEEDLE in the middle'; echo 'ERR from the middle' >&2; seq 500001 1000000"
LOAD, RUN, LOG, LIVE, SMALL, BLOCK = range(6)
CELLS = [
    ("code", "%load_ext miosa_jupyter"),
    ("code", f"%%miosa --attached\n{BIG}"),
    ("code", "%miosa log"),
    ("code", "%%miosa\nseq 1 300000; echo 'NEEDLE while it runs'; seq 1 1000; sleep 12"),
    ("code", "%%miosa --bg\nseq 1 3000; echo 'NEEDLE in the bg'; seq 1 1000; sleep 20"),
    ("code", "import time; time.sleep(6)"),
]
SETTINGS = "/lab/api/settings/@jupyterlab/apputils-extension:kernels-settings"
TOOLS_MS = 30_000


@pytest.fixture(params=["lab", "notebook"])
def nb(request: pytest.FixtureRequest, lab: Lab, browser: Browser) -> Iterator[Notebook]:
    with opened(
        lab,
        browser,
        f"miosa-log-tools-{request.param}.ipynb",
        CELLS,
        height=1000,
        front=request.param,
        permissions=["clipboard-read", "clipboard-write"],
        accept_downloads=True,
    ) as notebook:
        notebook.run_cell(LOAD)
        yield notebook
    lab.shut_down(f"miosa-log-tools-{request.param}.ipynb")  # (its 1M-line logs, its sleeping runs)


def search(view: Locator, query: str) -> Locator:
    view.locator(".miosa-tool[aria-label^='search the whole log']").click()
    box = view.locator(".miosa-search-input")
    expect(box).to_be_focused()
    box.fill(query)
    box.press("Enter")
    return view.locator(".miosa-search-count")


def test_a_million_lines_search_expand_copy_download_times_and_stderr(
    nb: Notebook, artifacts: Path, tmp_path: Path
) -> None:
    nb.run_cell(RUN, timeout=120_000)
    record = nb.output(RUN).locator(".miosa-record")
    expect(record.locator(".miosa-banner-success")).to_be_visible()
    marker = record.locator(".miosa-hidden")
    expect(marker).to_contain_text(
        re.compile(r"998,982 lines not shown · `%miosa log a\d+` shows them all while this kernel runs")
    )

    nb.run_cell(LOG)
    view = nb.output(LOG).locator(".miosa-term")
    expect(view.locator(".miosa-banner-success")).to_be_visible()

    # search: the needle is in the hidden middle; it is loaded, brought into sight and marked
    count = search(view, "needle")
    # (line 500,001, or 500,002 when the stderr line came through its pipe ahead of it)
    expect(count).to_have_text(re.compile(r"^1 of 1 · line 500,00[12]$"), timeout=TOOLS_MS)
    current = view.locator(".miosa-current")
    expect(current).to_have_text("NEEDLE in the middle")
    expect(current).to_be_in_viewport()
    expect(view.locator(".miosa-search-input")).to_be_focused()  # focus stays in the box
    loaded = view.locator(".miosa-loaded .miosa-line")
    assert loaded.count() == 200 and loaded.first.text_content() in ("499900", "499901")
    view.screenshot(path=artifacts / f"log-{nb.front}-search.png")
    box = view.locator(".miosa-search-input")
    box.fill("^99999[0-9]$")
    view.locator(".miosa-search input[type=checkbox]").nth(1).check()  # regex
    expect(count).to_have_text(re.compile(r"^1 of 10 · line 999,99[12]$"), timeout=TOOLS_MS)
    expect(view.locator(".miosa-current")).to_have_text("999990")
    box.press("Shift+Enter")  # back from the first: the last
    expect(count).to_have_text(re.compile(r"^10 of 10 · line 1,000,00[01]$"), timeout=TOOLS_MS)
    expect(view.locator(".miosa-current")).to_have_text("999999")
    box.press("Escape")
    expect(view.locator(".miosa-search")).to_be_hidden()

    # expand: a page of 500 lines after the head, then 500 more; the DOM stays bounded
    view.locator(".miosa-loaded .miosa-line").first.wait_for()
    view.locator(".miosa-hidden button", has_text="hide").click()
    expect(view.locator(".miosa-loaded .miosa-line")).to_have_count(0)
    view.locator(".miosa-hidden button", has_text="↓ show 500").click()
    expect(loaded).to_have_count(500, timeout=TOOLS_MS)
    assert loaded.first.text_content() == "21" and loaded.last.text_content() == "520"
    view.locator(".miosa-hidden button", has_text="↓ 500 more").click()
    expect(loaded).to_have_count(1000, timeout=TOOLS_MS)
    assert loaded.last.text_content() == "1020"
    expect(view.locator(".miosa-hidden").last).to_contain_text(
        "… 997,982 lines hidden …"
    )  # what is still hidden
    view.screenshot(path=artifacts / f"log-{nb.front}-expand.png")
    for last in (1520, 2020, 2520):  # on to 2,500 lines asked for: the page keeps the newest 2,000
        view.locator(".miosa-hidden button", has_text="↓ 500 more").click()
        expect(loaded.last).to_have_text(str(last), timeout=TOOLS_MS)
    expect(loaded).to_have_count(2000)
    assert loaded.first.text_content() == "521" and loaded.last.text_content() == "2520"
    expect(view.locator(".miosa-hidden").first).to_contain_text("… 500 lines hidden …")

    # timestamps and stderr only
    view.locator(".miosa-tool[aria-label^='show when each line arrived']").click()
    expect(view.locator(".miosa-loaded .miosa-line").first).to_have_attribute(
        "data-t", re.compile(r"^\d\d:\d\d\.\d$"), timeout=TOOLS_MS
    )
    view.screenshot(path=artifacts / f"log-{nb.front}-times.png")
    view.locator(".miosa-tool[aria-label^='show only the lines written to stderr']").click()
    expect(view.locator(".miosa-loaded .miosa-line")).to_have_text(["ERR from the middle"], timeout=TOOLS_MS)
    tail_shown = view.locator(".miosa-line:visible")
    assert all("ERR" in t for t in tail_shown.all_text_contents())
    view.screenshot(path=artifacts / f"log-{nb.front}-stderr.png")
    view.locator(".miosa-tool[aria-label^='show only the lines written to stderr']").click()

    # copy all: every line, as plain text
    view.locator(".miosa-tool[aria-label^='copy every line']").click()
    expect(view.locator(".miosa-toolstatus")).to_contain_text("copied", timeout=TOOLS_MS)
    copied = nb.page.evaluate("navigator.clipboard.readText()")
    expected = subprocess.run(["bash", "-c", BIG], capture_output=True, text=True, check=True)
    lines = copied.split("\n")
    assert len(lines) == 1_000_003 and lines[-1] == ""  # 1,000,002 lines, each ending in "\n"
    assert sorted(lines[:-1]) == sorted((expected.stdout + expected.stderr).split("\n")[:-1])
    assert lines[:3] == ["1", "2", "3"] and lines[-2] == "1000000"

    # download: the command's output byte for byte (stdout here: stderr's place between the two
    # streams is as close as two pipes give, so the test compares stdout and stderr apart)
    with nb.page.expect_download(timeout=TOOLS_MS) as info:
        view.locator(".miosa-tool[aria-label^='download the whole log']").click()
    download = info.value
    assert re.fullmatch(r"seq-\d{8}-\d{6}\.log", download.suggested_filename)
    path = tmp_path / download.suggested_filename
    download.save_as(path)
    got = path.read_bytes()
    assert len(got) == len(expected.stdout) + len(expected.stderr)
    assert got.replace(b"ERR from the middle\n", b"", 1) == expected.stdout.encode()
    expect(view.locator(".miosa-toolstatus")).to_contain_text("downloaded")
    view.screenshot(path=artifacts / f"log-{nb.front}-download.png")


def test_search_answers_while_the_cell_that_runs_blocks_the_main_shell(nb: Notebook, artifacts: Path) -> None:
    before = nb.start_cell(LIVE)
    view = nb.output(LIVE).locator(".miosa-term")
    expect(view.locator(".miosa-count")).to_have_text("301,001 lines", timeout=CELL_MS)
    expect(view.locator(".miosa-banner")).to_have_attribute("data-status", "running")
    count = search(view, "NEEDLE while")
    expect(count).to_have_text("1 of 1 · line 300,001", timeout=TOOLS_MS)
    expect(view.locator(".miosa-current")).to_have_text("NEEDLE while it runs")
    expect(view.locator(".miosa-banner")).to_have_attribute("data-status", "running")  # still running
    view.screenshot(path=artifacts / f"log-{nb.front}-search-running.png")
    nb.wait_cell_done(LIVE, before, timeout=60_000)


def test_the_tools_work_from_the_keyboard_alone(nb: Notebook, artifacts: Path) -> None:
    nb.run_cell(SMALL)
    view = nb.output(SMALL).locator(".miosa-term")
    expect(view.locator(".miosa-count")).to_have_text("4,001 lines", timeout=CELL_MS)
    view.locator(".miosa-output").focus()
    nb.page.keyboard.press("Control+f")  # the view's search, not the page's
    box = view.locator(".miosa-search-input")
    expect(box).to_be_focused()
    nb.page.keyboard.type("needle in")
    nb.page.keyboard.press("Enter")
    count = view.locator(".miosa-search-count")
    expect(count).to_have_attribute("role", "status")  # a screen reader hears the count
    expect(count).to_have_attribute("aria-live", "polite")
    expect(count).to_have_text("1 of 1 · line 3,001", timeout=TOOLS_MS)
    expect(view.locator(".miosa-current")).to_have_text("NEEDLE in the bg")
    expect(box).to_be_focused()
    nb.page.keyboard.press("Escape")
    search_button = view.locator(".miosa-tool[aria-label^='search the whole log']")
    expect(search_button).to_be_focused()  # focus goes back where the search came from
    nb.page.keyboard.press("Tab")
    expect(view.locator(".miosa-tool[aria-label^='copy every line']")).to_be_focused()
    nb.page.keyboard.press("Tab")
    nb.page.keyboard.press("Tab")
    nb.page.keyboard.press("Enter")  # times
    expect(view.locator(".miosa-tool[aria-label^='show when each line arrived']")).to_have_attribute(
        "aria-pressed", "true"
    )
    expect(view.locator(".miosa-line").first).to_have_attribute("data-t", re.compile(r"^\d\d:\d\d\.\d$"))
    view.screenshot(path=artifacts / f"log-{nb.front}-keyboard.png")
    # Ctrl+F is the view's; every other key is still JupyterLab's: Shift+Enter on the output runs
    # the cell and moves on.
    view.locator(".miosa-output").click()
    nb.page.keyboard.press("Shift+Enter")
    expect(nb.cell(BLOCK)).to_have_class(re.compile(r"\bjp-mod-active\b"))


@pytest.mark.parametrize("nb", ["lab"], indirect=True)  # (Notebook 7 has no setting to turn them off)
def test_a_busy_main_shell_is_said_and_the_answer_comes_when_it_is_free(
    nb: Notebook, lab: Lab, artifacts: Path
) -> None:
    """Without comms over subshells (a front end that has none, or this setting off), a command waits
    for the cell that holds the kernel: the view says so, and answers once the cell ends."""
    lab.api("PUT", SETTINGS, {"raw": '{"commsOverSubshells": "disabled"}'})
    try:
        nb.reload()
        nb.run_cell(SMALL)
        view = nb.output(SMALL).locator(".miosa-term")
        expect(view.locator(".miosa-count")).to_have_text("4,001 lines", timeout=CELL_MS)
        before = nb.start_cell(BLOCK)
        count = search(view, "needle")
        expect(count).to_have_text(re.compile(r"^waiting for the kernel…"), timeout=TOOLS_MS)
        view.screenshot(path=artifacts / f"log-{nb.front}-waiting.png")
        expect(count).to_have_text("1 of 1 · line 3,001", timeout=TOOLS_MS)
        nb.wait_cell_done(BLOCK, before)
    finally:
        lab.api("PUT", SETTINGS, {"raw": "{}"})


NOTIFY_CELLS = [
    ("code", "%load_ext miosa_jupyter\n%config MiosaMagics.notify_after = 1"),
    ("code", "%%miosa\nsleep 1.5; echo built"),
    ("code", "%%miosa --bg\nsleep 1.5; exit 3"),
    ("code", "%%miosa\necho quick"),
]
SPY = """() => {
  window.__notes = [];
  const Real = window.Notification;
  window.Notification = class extends Real {
    constructor(title, options) { super(title, options); window.__notes.push([title, options.body]); }
  };
  Object.defineProperty(document, "hidden", { configurable: true, get: () => window.__hidden });
}"""


def test_a_long_run_that_ends_in_a_hidden_tab_notifies_once_asked(lab: Lab, browser: Browser) -> None:
    with opened(lab, browser, "miosa-notify.ipynb", NOTIFY_CELLS, height=900) as nb:
        nb.run_cell(0)
        nb.page.evaluate(SPY)
        # The view offers to ask for permission (a click, as browsers want); granting it hides the offer.
        before = nb.start_cell(1)
        offer = nb.output(1).locator(".miosa-tool", has_text="notify me")
        expect(offer).to_be_visible(timeout=CELL_MS)
        nb.page.context.grant_permissions(["notifications"])
        offer.click()
        expect(offer).to_be_hidden()
        nb.page.evaluate("window.__hidden = true")  # the person went to another tab
        nb.wait_cell_done(1, before)
        before = nb.start_cell(2)
        nb.wait_cell_done(2, before)
        expect(nb.output(2).locator(".miosa-banner-failure")).to_be_visible(timeout=CELL_MS)
        nb.page.evaluate("window.__hidden = false")
        nb.run_cell(3)  # short, and seen: no notice
        notes = nb.page.evaluate("window.__notes")
        assert [title for title, _ in notes] == [
            "miosa: sleep 1.5; echo built succeeded",
            "miosa: sleep 1.5; exit 3 failed",
        ]
        assert re.fullmatch(r"✔\s*succeeded\s*exit 0 · 1\.\d+ s", notes[0][1]), notes
    lab.shut_down("miosa-notify.ipynb")


def test_after_a_reload_mid_run_the_tools_reach_the_whole_log_again(nb: Notebook, artifacts: Path) -> None:
    nb.run_cell(SMALL)
    expect(nb.output(SMALL).locator(".miosa-count")).to_have_text("4,001 lines", timeout=CELL_MS)
    nb.save()
    nb.reload()  # the run goes on (it sleeps 20 s): the view comes back, and so do its tools
    view = nb.output(SMALL).locator(".miosa-term")
    expect(view.locator(".miosa-banner")).to_have_attribute("data-status", "running", timeout=CELL_MS)
    count = search(view, "needle in")
    expect(count).to_have_text("1 of 1 · line 3,001", timeout=TOOLS_MS)
    expect(view.locator(".miosa-current")).to_be_in_viewport()
    view.screenshot(path=artifacts / f"log-{nb.front}-after-reload.png")


def test_a_second_tab_has_the_tools_of_a_run_still_going(
    nb: Notebook, lab: Lab, browser: Browser, artifacts: Path
) -> None:
    nb.run_cell(SMALL)
    expect(nb.output(SMALL).locator(".miosa-count")).to_have_text("4,001 lines", timeout=CELL_MS)
    nb.save()
    context = browser.new_context(viewport={"width": 1200, "height": 1000})
    try:
        other = Notebook(context.new_page(), lab, nb.name, nb.front)
        other.open()
        view = other.output(SMALL).locator(".miosa-term")
        expect(view.locator(".miosa-banner")).to_have_attribute("data-status", "running", timeout=CELL_MS)
        expect(view.locator(".miosa-line").last).to_be_in_viewport()  # the last line in sight
        count = search(view, "needle in")
        expect(count).to_have_text("1 of 1 · line 3,001", timeout=TOOLS_MS)
        expect(view.locator(".miosa-current")).to_have_text("NEEDLE in the bg")
        view.screenshot(path=artifacts / f"log-{nb.front}-second-tab.png")
        # the first tab's view is untouched by the second's search
        expect(nb.output(SMALL).locator(".miosa-search")).to_be_hidden()
    finally:
        context.close()
