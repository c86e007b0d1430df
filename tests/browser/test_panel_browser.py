"""``MiosaTerminal`` in a real JupyterLab in headless Chromium: type, Enter, history, Stop, refusal.

One notebook for the module: a cell shows the panel, another sleeps (for Stop while a cell runs), a
third shows a fresh panel (for its very first run). Each test runs what it needs, so it also passes
alone. Runs happen in background threads: the kernel stays idle and no cell executes for them.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from .._support.lab import CELL_MS, Lab, Notebook
from .._support.processes import pid_gone, read_pid, wait_until

pytestmark = [pytest.mark.browser, pytest.mark.slow]

NAME = "miosa-panel.ipynb"
PANEL, SLEEPER, FRESH, LATE, TWIN = range(5)
CELLS = [
    ("code", "from miosa_jupyter import MiosaTerminal\npanel = MiosaTerminal(timeout=30)\npanel"),
    ("code", "import time\ntime.sleep(8)\nprint('slept')"),
    ("code", "fresh = MiosaTerminal(timeout=30)\nfresh"),
    # Rendered late: the run ends before any view of the widget exists.
    ("code", "late = MiosaTerminal()\nlate.run('seq 1 3000; echo tail-end').wait(30)\nlate"),
    # Two views of one widget.
    ("code", "twin = MiosaTerminal()\ndisplay(twin)\ndisplay(twin)"),
]
STILL_RUNNING = "A command is still running: press Stop, or wait for it to finish."
WORDS = {
    "running": "running",
    "success": "succeeded",
    "failure": "failed",
    "timeout": "timed out",
    "error": "error",
    "cancelled": "cancelled",
}


class Panel:
    """The panel in one cell's output, and what a person does with it."""

    def __init__(self, nb: Notebook, index: int, view: int = 0) -> None:
        self.nb, self.index = nb, index
        self.root = nb.output(index).locator(".miosa-panel").nth(view)
        self.command = self.root.locator("input.miosa-command")
        self.run_button = self.root.locator("button.miosa-run")
        self.stop_button = self.root.locator("button.miosa-stop")
        self.message = self.root.locator(".miosa-message")
        self.term = self.root.locator(".miosa-terminal-slot .miosa-term")
        self.banner = self.term.locator(".miosa-banner")
        self.lines = self.term.locator(".miosa-output .miosa-line")
        self.cmd = self.term.locator(".miosa-header .miosa-cmd")

    def type_and_enter(self, command: str) -> None:
        """Click the command box, type like a person (key by key), press Enter."""
        self.command.click()
        self.command.press_sequentially(command)
        expect(self.command).to_have_value(command)  # no key was taken by a notebook shortcut
        self.command.press("Enter")

    def expect_run(self, command: str, status: str, timeout: float = CELL_MS) -> None:
        """The terminal shows ``command`` and its banner says ``status`` (attribute, class, word)."""
        expect(self.cmd).to_have_text(command, timeout=timeout)
        expect(self.banner).to_have_attribute("data-status", status, timeout=timeout)
        expect(self.term).to_have_class(re.compile(rf"(^|\s)miosa-status-{status}(\s|$)"))
        expect(self.banner.locator(".miosa-outcome")).to_have_text(WORDS[status])

    def run(self, command: str, status: str = "success") -> None:
        self.type_and_enter(command)
        self.expect_run(command, status)
        if status != "running":
            expect(self.stop_button).to_be_hidden()


def expect_kernel_idle(nb: Notebook) -> None:
    toolbar = nb.panel.locator(".jp-NotebookPanel-toolbar")
    expect(toolbar.locator(".jp-Notebook-ExecutionIndicator")).to_have_attribute("data-status", "idle")


def pid_file(lab: Lab, name: str) -> Path:
    path = lab.root / name
    path.unlink(missing_ok=True)
    return path


@pytest.fixture(scope="module", params=["lab", "notebook"])
def nb(lab: Lab, page: Page, request: pytest.FixtureRequest) -> Notebook:
    """The module's notebook in JupyterLab, then in Notebook 7 (each its own file and kernel)."""
    name = f"{request.param}-{NAME}"
    lab.write_notebook(name, CELLS)
    notebook = Notebook(page, lab, name, front=request.param)
    notebook.open()
    notebook.run_cell(PANEL)
    expect(Panel(notebook, PANEL).command).to_be_visible()
    return notebook


@pytest.fixture
def panel(nb: Notebook) -> Iterator[Panel]:
    p = Panel(nb, PANEL)
    yield p
    # Never leave a run going for the next test: Stop it and wait for its end.
    if p.stop_button.is_visible():
        p.stop_button.click()
        expect(p.stop_button).to_be_hidden(timeout=CELL_MS)


def test_enter_runs_in_the_background_and_succeeds(nb: Notebook, panel: Panel) -> None:
    prompt = nb.prompt(PANEL)
    expect(panel.command).to_have_attribute("placeholder", re.compile("Enter runs"))
    expect(panel.message).to_be_hidden()
    panel.type_and_enter("echo hello-panel; echo second")
    panel.expect_run("echo hello-panel; echo second", "success")
    expect(panel.lines).to_have_text(["hello-panel", "second"])
    expect(panel.banner.locator(".miosa-words")).to_contain_text("exit 0")
    expect(panel.command).to_have_value("")  # Enter clears the box
    expect(panel.run_button).to_be_visible()
    expect(panel.stop_button).to_be_hidden()
    # No cell ran for it: the kernel is idle and the panel's cell kept its execution count.
    expect_kernel_idle(nb)
    nb.wait_idle()
    assert nb.prompt(PANEL) == prompt
    expect(nb.output(PANEL).locator("[data-mime-type='application/vnd.jupyter.stderr']")).to_have_count(0)


def test_arrow_keys_walk_the_history(panel: Panel) -> None:
    panel.run("echo one-b")
    panel.run("echo two-b")
    panel.command.click()
    expect(panel.command).to_have_value("")
    panel.command.press("ArrowUp")
    expect(panel.command).to_have_value("echo two-b")
    panel.command.press("ArrowUp")
    expect(panel.command).to_have_value("echo one-b")
    panel.command.press("ArrowDown")
    expect(panel.command).to_have_value("echo two-b")
    panel.command.press("ArrowDown")
    expect(panel.command).to_have_value("")
    # Enter on a recalled command runs it again.
    panel.command.press("ArrowUp")
    panel.command.press("Enter")
    panel.expect_run("echo two-b", "success")
    expect(panel.lines).to_have_text(["two-b"])


def test_stop_cancels_and_kills_the_command(nb: Notebook, lab: Lab, panel: Panel, artifacts: Path) -> None:
    pidfile = pid_file(lab, "panel-stop.pid")
    command = f"echo $$ > {pidfile}; sleep 30"
    prompt = nb.prompt(PANEL)
    panel.type_and_enter(command)
    pid = read_pid(pidfile, timeout=CELL_MS / 1000)
    panel.expect_run(command, "running")
    expect(panel.stop_button).to_be_visible()
    expect(panel.run_button).to_be_hidden()
    # The command runs in the background: the kernel is idle while it runs.
    expect_kernel_idle(nb)
    assert not pid_gone(pid)

    panel.stop_button.click()
    clicked = time.monotonic()
    expect(panel.banner).to_have_attribute("data-status", "cancelled", timeout=2_000)
    took = time.monotonic() - clicked
    panel.expect_run(command, "cancelled")
    assert took < 2.0, f"Stop took {took:.2f} s to show cancelled"
    wait_until(lambda: pid_gone(pid), 2.5, what=f"the command (pid {pid}) is gone after Stop")
    expect(panel.stop_button).to_be_hidden()
    expect(panel.run_button).to_be_visible()
    # Stop turned itself off: the keyboard is back in the command box, not lost to the page.
    expect(panel.command).to_be_focused()
    assert nb.prompt(PANEL) == prompt
    nb.output(PANEL).screenshot(path=artifacts / "panel-cancelled.png")


def test_enter_while_running_says_so_and_starts_nothing(lab: Lab, panel: Panel) -> None:
    pidfile = pid_file(lab, "panel-busy.pid")
    command = f"echo $$ > {pidfile}; sleep 5"
    panel.type_and_enter(command)
    pid = read_pid(pidfile, timeout=CELL_MS / 1000)
    panel.expect_run(command, "running")

    panel.type_and_enter("echo should-not-run")
    expect(panel.message).to_have_text(STILL_RUNNING)
    expect(panel.message).to_be_visible()
    expect(panel.message).to_have_attribute("role", "alert")
    expect(panel.command).to_have_value("echo should-not-run")  # refused: the text stays to retry
    # Still the first command, still running; the second never started.
    panel.expect_run(command, "running")
    expect(panel.lines).to_have_count(0)

    panel.stop_button.click()
    panel.expect_run(command, "cancelled", timeout=3_000)
    wait_until(lambda: pid_gone(pid), 2.5, what="sleep 5 gone after Stop")
    expect(panel.term.get_by_text("should-not-run")).to_have_count(0)
    # The run it was about has ended: the message goes with it.
    expect(panel.message).to_be_hidden()
    # The refused command did not go into the history.
    panel.command.fill("")
    panel.command.press("ArrowUp")
    expect(panel.command).to_have_value(command)
    panel.command.fill("")


def test_panel_screenshot_after_a_success(panel: Panel, artifacts: Path) -> None:
    panel.run("echo hello-panel; echo second")
    expect(panel.lines).to_have_text(["hello-panel", "second"])
    expect(panel.message).to_be_hidden()
    panel.root.screenshot(path=artifacts / "panel.png")


def test_stop_works_while_another_cell_runs(nb: Notebook, lab: Lab, panel: Panel) -> None:
    pidfile = pid_file(lab, "panel-subshell.pid")
    command = f"echo $$ > {pidfile}; sleep 30"
    panel.type_and_enter(command)
    pid = read_pid(pidfile, timeout=CELL_MS / 1000)
    panel.expect_run(command, "running")

    before = nb.start_cell(SLEEPER)
    sleeper_prompt = nb.cell(SLEEPER).locator(".jp-InputPrompt")
    expect(sleeper_prompt).to_have_text(re.compile(r"\[\*\]"))
    toolbar = nb.panel.locator(".jp-NotebookPanel-toolbar")
    expect(toolbar.locator(".jp-Notebook-ExecutionIndicator")).to_have_attribute("data-status", "busy")

    panel.stop_button.click()
    clicked = time.monotonic()
    expect(panel.banner).to_have_attribute("data-status", "cancelled", timeout=3_000)
    took = time.monotonic() - clicked
    # The other cell is still running: Stop did not wait for it.
    expect(sleeper_prompt).to_have_text(re.compile(r"\[\*\]"), timeout=100)
    assert took < 3.0, f"Stop took {took:.2f} s while a cell ran"
    wait_until(lambda: pid_gone(pid), 2.5, what="sleep 30 gone after Stop")

    nb.wait_cell_done(SLEEPER, before, timeout=CELL_MS)
    expect(nb.output(SLEEPER)).to_contain_text("slept")


LIVE_JS = """term => {
    const banner = term.querySelector(".miosa-banner");
    const lines = [...term.querySelectorAll(".miosa-output .miosa-line")].map(l => l.textContent);
    return banner && banner.dataset.status === "running" && lines.includes("early") ? lines : false;
}"""


def expect_live_then_success(nb: Notebook, p: Panel) -> None:
    """``early`` shows within 3 s while the banner still says running; ``late`` only comes at 4 s."""
    command = "echo early; sleep 4; echo late"
    p.type_and_enter(command)
    p.expect_run(command, "running")
    seen = nb.page.wait_for_function(
        LIVE_JS, arg=p.term.element_handle(), timeout=3_000, polling="raf"
    ).json_value()
    assert "late" not in seen, seen
    p.expect_run(command, "success")
    expect(p.lines).to_have_text(["early", "late"])


def test_lines_show_live_while_the_command_runs(nb: Notebook, panel: Panel) -> None:
    panel.run("echo not-the-first-run")  # the panel has run before (alone, this test makes sure)
    expect_live_then_success(nb, panel)


def test_first_run_of_a_new_panel_shows_lines_live(nb: Notebook) -> None:
    nb.run_cell(FRESH)
    fresh = Panel(nb, FRESH)
    expect(fresh.command).to_be_visible()
    expect_live_then_success(nb, fresh)


def test_a_view_rendered_after_the_run_shows_its_transcript(nb: Notebook) -> None:
    nb.run_cell(LATE)
    late = Panel(nb, LATE)
    late.expect_run("seq 1 3000; echo tail-end", "success")
    lines = late.lines
    expect(lines.first).to_have_text("1")
    expect(lines.last).to_have_text("tail-end")
    expect(late.term.locator(".miosa-hidden span").first).to_have_text("… 1,981 lines hidden …")
    expect(late.term.locator(".miosa-count")).to_have_text("3,001 lines")


def test_the_panel_has_the_whole_log_too(nb: Notebook, artifacts: Path) -> None:
    nb.run_cell(LATE)
    late = Panel(nb, LATE)
    late.expect_run("seq 1 3000; echo tail-end", "success")
    late.term.locator(".miosa-tool[aria-label^='search the whole log']").click()
    late.term.locator(".miosa-search-input").fill("^1500$")
    late.term.locator(".miosa-search input[type=checkbox]").nth(1).check()  # regex
    late.term.locator(".miosa-search-input").press("Enter")
    expect(late.term.locator(".miosa-search-count")).to_have_text("1 of 1 · line 1,500")
    expect(late.term.locator(".miosa-current")).to_have_text("1500")
    expect(late.term.locator(".miosa-current")).to_be_in_viewport()
    late.root.screenshot(path=artifacts / "log-panel-search.png")


def test_two_views_of_one_panel_show_the_same_run(nb: Notebook) -> None:
    nb.run_cell(TWIN)
    views = nb.output(TWIN).locator(".miosa-panel")
    expect(views).to_have_count(2)
    first, second = Panel(nb, TWIN, 0), Panel(nb, TWIN, 1)
    first.type_and_enter("for i in 1 2 3; do echo twin $i; sleep 0.3; done")
    for view in (first, second):
        view.expect_run("for i in 1 2 3; do echo twin $i; sleep 0.3; done", "success")
        expect(view.lines).to_have_text(["twin 1", "twin 2", "twin 3"])
