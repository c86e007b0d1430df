"""``%%miosa`` watched the way a person watches it, in JupyterLab and in Notebook 7.

Each test samples what the page shows at the moments people look: while the command still runs
(the first line of a command that then works quietly), at the end (is the last line in sight, does
the box jump when the record replaces the live view?), after a reload mid-run, in a second tab.
Screenshots of each state go to ``test-artifacts/watch-<front>-<state>.png``.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from .._support.lab import CELL_MS, FIRST_LOAD_MS, UI_MS, Lab, Notebook

pytestmark = [pytest.mark.browser, pytest.mark.slow]

LOAD, QUIET, LONG, RELOAD, COLOURS, TWO_TABS, SCROLL, RICH, PYTEST, ERROR, WRAP = range(11)
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "tty"
CELLS = [
    ("code", "%load_ext miosa_jupyter"),
    ("code", "%%miosa\necho 'Downloading...'; sleep 3; echo done"),
    ("code", "%%miosa --no-raise-error\nseq 1 300\nsleep 1.5\necho 'the last line' >&2\nexit 3"),
    ("code", "%%miosa\nfor i in $(seq 1 10); do echo step $i; sleep 0.5; done"),
    (
        "code",
        "%%miosa\nfor c in $(seq 30 37) $(seq 90 97); do printf '\\033[%sm c%s \\033[0m\\n' $c $c; done",
    ),
    ("code", "%%miosa\nfor i in $(seq 1 12); do echo tab $i; sleep 0.5; done"),
    ("code", "%%miosa\nfor i in $(seq 1 100); do echo row $i; sleep 0.04; done"),
    # Real tools' output captured under a pty (rich's two progress bars and a table; pytest --color)
    ("code", f"%%miosa\ncat {FIXTURES / 'rich.tty'}"),
    ("code", f"%%miosa\ncat {FIXTURES / 'pytest.tty'}"),
    # A run that ends in an error (not a failure of the command): a computer that doesn't exist
    ("code", "%%miosa no-such-computer --no-raise-error\necho hi"),
    ("code", "%%miosa\necho \"$(printf 'word %.0s' $(seq 1 60))$(printf 'x%.0s' $(seq 1 300))\""),
]

# The computed border-top colour as [r, g, b], painted on a canvas and read back.
RGB_JS = """el => {
    const ctx = document.createElement("canvas").getContext("2d");
    ctx.fillStyle = "#000";
    ctx.fillStyle = getComputedStyle(el).borderTopColor;
    ctx.fillRect(0, 0, 1, 1);
    return [...ctx.getImageData(0, 0, 1, 1).data].slice(0, 3);
}"""

# What is visible of a run's view: its lines that lie inside the output box's visible rectangle.
VISIBLE_JS = """term => {
    const box = term.querySelector(".miosa-output");
    const banner = term.querySelector(".miosa-banner");
    const r = box ? box.getBoundingClientRect() : null;
    const shown = box ? [...box.querySelectorAll(".miosa-line")].filter(l => {
        const b = l.getBoundingClientRect();
        return b.height > 0 && b.top >= r.top - 1 && b.bottom <= r.bottom + 1;
    }).map(l => l.textContent) : [];
    const t = term.getBoundingClientRect();
    const h = term.querySelector(".miosa-header").getBoundingClientRect();
    return {shown, status: banner ? banner.dataset.status : null,
            record: term.classList.contains("miosa-record"),
            width: t.width, left: t.left, headerHeight: h.height,
            bannerInViewport: banner ? banner.getBoundingClientRect().bottom <= innerHeight : false};
}"""


class Front:
    """JupyterLab or Notebook 7, open on one notebook; the same person-level actions on both."""

    def __init__(self, kind: str, nb: Notebook) -> None:
        self.kind, self.nb = kind, nb

    @property
    def page(self) -> Page:
        return self.nb.page

    def url(self) -> str:
        path = "lab/tree" if self.kind == "lab" else "notebooks"
        return f"{self.nb.lab.url}/{path}/{self.nb.name}"

    def open(self, page: Page | None = None) -> None:
        (page or self.page).goto(self.url(), timeout=FIRST_LOAD_MS)
        self.wait_ready(page)

    def reload(self) -> None:
        self.page.reload(timeout=FIRST_LOAD_MS)
        expect(self.nb.cell(0)).to_be_visible(timeout=FIRST_LOAD_MS)

    def wait_ready(self, page: Page | None = None) -> None:
        nb = Notebook(page, self.nb.lab, self.nb.name) if page is not None else self.nb
        expect(nb.cell(0)).to_be_visible(timeout=FIRST_LOAD_MS)  # the notebook's own panel
        self.wait_idle()

    def wait_idle(self, timeout: float = CELL_MS) -> None:
        """The server sees a page connected to the notebook's kernel, and the kernel idle."""
        deadline = time.monotonic() + timeout / 1000
        while not self.nb._kernel_connected_and_idle():
            assert time.monotonic() < deadline, self.nb.lab.api("GET", "/api/sessions")
            self.page.wait_for_timeout(100)  # polling interval for server-side state

    def term(self, index: int) -> Locator:
        return self.nb.output(index).locator(".miosa-term").first

    def look(self, index: int) -> dict[str, Any]:
        return self.term(index).evaluate(VISIBLE_JS)

    def save(self) -> None:
        """Ctrl+S in command mode; waits until the file on disk changed."""
        before = (self.nb.lab.root / self.nb.name).stat().st_mtime_ns
        self.nb.cell(0).locator(".jp-InputPrompt").click()
        self.page.keyboard.press("Control+s")
        deadline = time.monotonic() + UI_MS / 1000
        while (self.nb.lab.root / self.nb.name).stat().st_mtime_ns == before:
            assert time.monotonic() < deadline, "the notebook was not saved"
            self.page.wait_for_timeout(100)

    def shot(self, artifacts: Path, state: str, index: int | None = None) -> None:
        target = self.nb.output(index) if index is not None else self.page
        target.screenshot(path=artifacts / f"watch-{self.kind}-{state}.png")


@pytest.fixture(scope="module", params=["lab", "notebook"])
def front(request: pytest.FixtureRequest, lab: Lab, browser: Browser) -> Iterator[Front]:
    kind = request.param
    name = f"miosa-watch-{kind}.ipynb"
    lab.write_notebook(name, CELLS)
    context = browser.new_context(viewport={"width": 1200, "height": 1400})
    page = context.new_page()
    page.set_default_timeout(UI_MS)
    f = Front(kind, Notebook(page, lab, name))
    try:
        f.open()
        f.nb.run_cell(LOAD)
        yield f
    finally:
        context.close()


def test_the_first_line_shows_while_the_command_works_quietly(front: Front, artifacts: Path) -> None:
    front.nb.start_cell(QUIET)
    started = time.monotonic()
    seen = front.page.wait_for_function(
        """([out, js]) => {
            const term = out.querySelector(".miosa-term");
            if (!term) return false;
            const look = eval(js)(term);
            return look.shown.includes("Downloading...") ? look : false;
        }""",
        arg=[front.nb.output(QUIET).element_handle(), VISIBLE_JS],
        timeout=CELL_MS,
        polling="raf",
    ).json_value()
    took = time.monotonic() - started
    front.shot(artifacts, "first-line", QUIET)
    assert seen["status"] == "running" and not seen["record"], seen
    assert "done" not in seen["shown"], seen
    assert took < 2.5, f"the first line took {took:.2f} s to show (the command sleeps 3 s after it)"
    expect(front.term(QUIET).locator(".miosa-count")).to_have_text("1 line")
    expect(front.nb.output(QUIET).locator(".miosa-record .miosa-banner-success")).to_be_visible(
        timeout=CELL_MS
    )


def test_the_end_stays_in_sight_and_the_box_does_not_jump(front: Front, artifacts: Path) -> None:
    front.nb.start_cell(LONG)
    # While it works quietly after 300 lines: the live view follows the tail.
    live = front.page.wait_for_function(
        """([out, js]) => {
            const term = out.querySelector(".miosa-term:not(.miosa-record)");
            if (!term) return false;
            const look = eval(js)(term);
            return look.shown.includes("300") ? look : false;
        }""",
        arg=[front.nb.output(LONG).element_handle(), VISIBLE_JS],
        timeout=CELL_MS,
    ).json_value()
    front.shot(artifacts, "live-tail", LONG)
    assert live["status"] == "running", live
    assert "1" not in live["shown"], "the live view is not following the tail"

    rec = front.nb.output(LONG).locator(".miosa-record")
    expect(rec.locator(".miosa-banner-failure")).to_be_visible(timeout=CELL_MS)
    end = front.look(LONG)
    front.shot(artifacts, "end", LONG)
    assert end["record"] and end["status"] == "failure", end
    assert end["shown"][-1] == "the last line", f"the end is out of sight: {end['shown'][-3:]}"
    assert abs(end["width"] - live["width"]) <= 1, (live["width"], end["width"])
    assert abs(end["left"] - live["left"]) <= 1, (live["left"], end["left"])
    assert abs(end["headerHeight"] - live["headerHeight"]) <= 1, (live, end)

    front.save()
    front.reload()
    expect(rec.locator(".miosa-banner-failure")).to_be_visible(timeout=CELL_MS)
    again = front.look(LONG)
    front.shot(artifacts, "end-after-reload", LONG)
    assert again["shown"][-1] == "the last line", again["shown"][-3:]
    front.wait_idle()


def test_a_reload_mid_run_still_ends_in_the_banner(front: Front, artifacts: Path) -> None:
    front.nb.start_cell(RELOAD)
    expect(front.term(RELOAD).locator(".miosa-line").first).to_have_text("step 1", timeout=CELL_MS)
    front.save()
    front.reload()
    front.shot(artifacts, "reloaded-mid-run", RELOAD)
    # JupyterLab and Notebook 7 ask the kernel for its widgets on the main shell, which answers
    # once the cell has ended; the view then comes back from the kernel with the run's end.
    front.wait_idle(timeout=CELL_MS)
    term = front.term(RELOAD)
    expect(term.locator(".miosa-banner-success")).to_be_visible(timeout=CELL_MS)
    look = front.look(RELOAD)
    front.shot(artifacts, "reloaded-end", RELOAD)
    assert look["shown"][-1] == "step 10", look
    expect(front.nb.output(RELOAD)).not_to_contain_text("model not found")


def test_the_sixteen_colours_read_at_4_5_to_1(front: Front, artifacts: Path) -> None:
    front.nb.run_cell(COLOURS)
    rec = front.nb.output(COLOURS).locator(".miosa-record")
    expect(rec.locator(".miosa-banner-success")).to_be_visible()
    themes = ["JupyterLab Light", "JupyterLab Dark"]
    for theme in themes:
        front.page.evaluate(
            "t => window.jupyterapp.commands.execute('apputils:change-theme', {theme: t})", theme
        )
        light = "false" if "Dark" in theme else "true"
        expect(front.page.locator("body")).to_have_attribute("data-jp-theme-light", light, timeout=UI_MS)
        front.page.wait_for_function(
            "light => getComputedStyle(document.body).getPropertyValue('--jp-layout-color0').trim()"
            " !== '' && document.body.dataset.jpThemeLight === light",
            arg=light,
        )
        ratios = rec.evaluate(
            """rec => {
                const rgb = css => {
                    const ctx = document.createElement("canvas").getContext("2d");
                    ctx.fillStyle = css; ctx.fillRect(0, 0, 1, 1);
                    return [...ctx.getImageData(0, 0, 1, 1).data].slice(0, 3);
                };
                const lum = ([r, g, b]) => {
                    const f = v => (v /= 255) <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
                    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
                };
                const bg = rgb(getComputedStyle(rec).backgroundColor);
                return [...rec.querySelectorAll(".miosa-line span[class*='ansi-']")].map(s => {
                    const fg = rgb(getComputedStyle(s).color);
                    const [a, b] = [lum(fg), lum(bg)].sort((x, y) => y - x);
                    return [s.textContent.trim(), (a + 0.05) / (b + 0.05)];
                });
            }"""
        )
        front.shot(artifacts, f"colours-{'dark' if light == 'false' else 'light'}", COLOURS)
        assert len(ratios) == 16, ratios
        low = [(name, round(r, 2)) for name, r in ratios if r < 4.5]
        assert not low, f"{theme}: colours under 4.5:1: {low}"
    front.page.evaluate(
        "t => window.jupyterapp.commands.execute('apputils:change-theme', {theme: t})", themes[0]
    )


def test_a_second_tab_shows_the_run_it_joined(front: Front, browser: Browser, artifacts: Path) -> None:
    """A second tab opened mid-run loads the notebook from disk: like a reload, it gets the view
    back from the kernel when the cell ends, with the whole window, and the first tab keeps its
    live view and record."""
    front.nb.start_cell(TWO_TABS)
    expect(front.term(TWO_TABS).locator(".miosa-line").first).to_have_text("tab 1", timeout=CELL_MS)
    front.save()
    context = browser.new_context(viewport={"width": 1200, "height": 1400})
    try:
        second = context.new_page()
        second.set_default_timeout(UI_MS)
        second.goto(front.url(), timeout=FIRST_LOAD_MS)
        other = Notebook(second, front.nb.lab, front.nb.name)
        expect(other.cell(0)).to_be_visible(timeout=FIRST_LOAD_MS)
        first_rec = front.nb.output(TWO_TABS).locator(".miosa-record .miosa-banner-success")
        expect(first_rec).to_be_visible(timeout=CELL_MS)
        theirs = other.output(TWO_TABS).locator(".miosa-term .miosa-banner-success")
        expect(theirs).to_be_visible(timeout=CELL_MS)
        lines = other.output(TWO_TABS).locator(".miosa-term .miosa-line")
        expect(lines).to_have_text([f"tab {i}" for i in range(1, 13)])
        second.screenshot(path=artifacts / f"watch-{front.kind}-second-tab.png")
    finally:
        context.close()
    expect(front.nb.output(TWO_TABS).locator(".miosa-record .miosa-line")).to_have_count(12)


def test_scrolling_up_pauses_the_follow_and_the_end_resumes_it(front: Front, artifacts: Path) -> None:
    front.nb.start_cell(SCROLL)
    term = front.term(SCROLL)
    expect(term.locator(".miosa-line", has_text=re.compile(r"^row 30$"))).to_have_count(1, timeout=CELL_MS)
    box = term.locator(".miosa-output")
    box.hover()
    front.page.mouse.wheel(0, -120)  # a person scrolls up to read
    front.page.wait_for_timeout(100)  # let the scroll event land
    first = front.look(SCROLL)
    assert first["status"] == "running", first
    expect(term.locator(".miosa-line", has_text=re.compile(r"^row 50$"))).to_have_count(1, timeout=CELL_MS)
    later = front.look(SCROLL)
    front.shot(artifacts, "scrolled-up", SCROLL)
    assert later["shown"] == first["shown"], ("the view moved under the reader", first, later)
    # Back to the end: it follows again.
    box.evaluate("el => { el.scrollTop = 0; el.dispatchEvent(new Event('scroll')); }")
    expect(front.nb.output(SCROLL).locator(".miosa-record .miosa-banner-success")).to_be_visible(
        timeout=CELL_MS
    )
    assert front.look(SCROLL)["shown"][-1] == "row 100"


def _oracle(name: str) -> list[str]:
    """The text a terminal shows at the end of a fixture, by pyte (the maintained emulator)."""
    import pyte

    screen = pyte.HistoryScreen(300, 24, history=100_000)
    screen.set_mode(pyte.modes.LNM)
    pyte.Stream(screen).feed((FIXTURES / name).read_bytes().decode("utf-8", "replace"))
    rows = [*screen.history.top, *(screen.buffer[y] for y in range(24))]
    lines = ["".join(row[x].data for x in range(300)).rstrip() for row in rows]
    while lines and not lines[-1]:
        lines.pop()
    return lines


@pytest.mark.parametrize(("cell", "name"), [(RICH, "rich.tty"), (PYTEST, "pytest.tty")])
def test_real_tools_output_shows_what_a_terminal_shows(front: Front, artifacts: Path, cell: int, name: str):
    front.nb.run_cell(cell)
    rec = front.nb.output(cell).locator(".miosa-record")
    expect(rec.locator(".miosa-banner-success")).to_be_visible()
    shown = [t.rstrip() for t in rec.locator(".miosa-line").all_inner_texts()]
    front.shot(artifacts, name.removesuffix(".tty"), cell)
    assert shown == _oracle(name)
    # colour reached the page as the theme's classes (rich's bars, pytest's red and green)
    assert rec.locator(".miosa-line span[class*='ansi-']").count() > 0


def test_an_error_is_purple_and_words_wrap_whole(front: Front, artifacts: Path) -> None:
    front.nb.run_cell(ERROR)
    banner = front.nb.output(ERROR).locator(".miosa-banner-error")
    expect(banner).to_be_visible()
    expect(banner.locator(".miosa-icon")).to_have_text("⚠")
    r, g, b = banner.evaluate(RGB_JS)
    assert b > g and r > g, f"the error banner is not purple: rgb({r}, {g}, {b})"
    running_blue = (25, 118, 210)  # --jp-brand-color1 of the light theme, the running banner's
    assert (r, g, b) != running_blue
    front.shot(artifacts, "error-banner", ERROR)
    # Text wraps at word boundaries; only a token longer than the line breaks, at the edge.
    front.nb.run_cell(WRAP)
    line = front.nb.output(WRAP).locator(".miosa-record .miosa-line").first
    expect(line).to_contain_text("word word")
    style = line.evaluate(
        "el => [getComputedStyle(el).wordBreak, getComputedStyle(el).overflowWrap, "
        "el.getBoundingClientRect().width <= el.closest('.miosa-output').clientWidth]"
    )
    assert style == ["normal", "anywhere", True], style
    # every visual line starts at a word (after a space) or inside the one long token
    starts = line.evaluate(
        """el => {
            const range = document.createRange(), text = el.firstChild, starts = [];
            let last = null;
            for (let i = 0; i < text.length; i++) {
                range.setStart(text, i); range.setEnd(text, i + 1);
                const top = Math.round(range.getBoundingClientRect().top);
                if (last !== null && top <= last) continue;
                starts.push(text.data.slice(Math.max(0, i - 1), i + 1));
                last = top;
            }
            return starts;
        }"""
    )
    assert len(starts) > 1, "the line did not wrap"
    assert all(s[0] == " " or s == "xx" for s in starts[1:]), starts
    front.shot(artifacts, "wrap", WRAP)
