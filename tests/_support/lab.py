"""JupyterLab on loopback (offline, tokenless, in tmp dirs) and a notebook in it driven through Playwright.

The server runs from this venv, so the kernel it starts is this venv's python (the ``python3``
kernelspec says ``python``, which jupyter_client resolves to ``sys.executable``; PATH is set too) and
the anywidget / ipywidgets lab extensions under ``<venv>/share/jupyter`` are found: only the *user*
config, data and runtime dirs move to tmp. Every wait is on DOM or HTTP state, never a fixed sleep.
Used by the browser tier's fixtures (``tests/browser/conftest.py``) and by ``bench/_browser.py``.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import nbformat
import psutil
from playwright.sync_api import Browser, Locator, Page, expect

CHROMIUM = "/usr/bin/chromium"

FIRST_LOAD_MS = 90_000  # JupyterLab's first load on a small machine (cold caches, kernel start)
CELL_MS = 30_000  # one cell, from Shift+Enter to its final output
UI_MS = 15_000  # anything else in the UI

# JupyterLab user settings: no news/update toasts (they would sit over the notebook), and every cell
# kept in the DOM (windowing would detach cells scrolled out of view).
LAB_SETTINGS = {
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false",
        "checkForUpdates": False,
    },
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    "@jupyterlab/docmanager-extension/plugin.jupyterlab-settings": {"autosave": False},
}


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Lab:
    """A running JupyterLab server: its URL, root dir and log."""

    def __init__(self, url: str, root: Path, log: Path, proc: subprocess.Popen[bytes]) -> None:
        self.url, self.root, self.log, self.proc = url, root, log, proc

    def log_tail(self, n: int = 60) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-n:])
        return ""

    def api(self, method: str, path: str, body: Any = None) -> Any:
        r = httpx.request(method, f"{self.url}{path}", json=body, timeout=10)
        r.raise_for_status()
        return r.json() if r.content else None

    def shut_down(self, name: str) -> None:
        """End the sessions (and so the kernels) of notebook ``name``: what its runs hold (big logs,
        commands still sleeping) then weighs on no later test."""
        for session in self.api("GET", "/api/sessions"):
            if session.get("path") == name:
                with contextlib.suppress(httpx.HTTPError):
                    self.api("DELETE", f"/api/sessions/{session['id']}")

    def write_notebook(self, name: str, cells: list[tuple[str, str]]) -> Path:
        """A notebook ``name`` in the server root; cells are ``("code" | "markdown", source)``."""
        nb = nbformat.v4.new_notebook(
            metadata={
                "kernelspec": {
                    "name": "python3",
                    "display_name": "Python 3 (ipykernel)",
                    "language": "python",
                },
                "language_info": {"name": "python"},
            }
        )
        for kind, source in cells:
            nb.cells.append(
                nbformat.v4.new_code_cell(source) if kind == "code" else nbformat.v4.new_markdown_cell(source)
            )
        path = self.root / name
        nbformat.write(nb, path)
        return path


CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-dev-shm-usage",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]


def start_lab(base: Path, *, ready_timeout: float = 60) -> Lab:
    """JupyterLab on a free loopback port, no token, no browser, nothing fetched from the internet.

    Used by the ``lab`` fixture and by the browser benchmark (``bench/_browser.py``).
    """
    root, config, data, runtime, settings, workspaces = (
        base / d for d in ("root", "config", "data", "runtime", "settings", "workspaces")
    )
    for d in (root, config, data, runtime, settings, workspaces):
        d.mkdir()
    for rel, value in LAB_SETTINGS.items():
        f = settings / rel
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text(json.dumps(value))

    venv_bin = str(Path(sys.executable).parent)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MIOSA_", "JUPYTER", "JPY_"))}
    if "MIOSA_RUNS" in os.environ:  # (tests/conftest.py sets it: the tests' durable runs stay apart)
        env["MIOSA_RUNS"] = os.environ["MIOSA_RUNS"]
    env.update(
        PATH=f"{venv_bin}{os.pathsep}{env.get('PATH', '')}",
        JUPYTER_CONFIG_DIR=str(config),
        JUPYTER_DATA_DIR=str(data),
        JUPYTER_RUNTIME_DIR=str(runtime),
        JUPYTERLAB_SETTINGS_DIR=str(settings),
        JUPYTERLAB_WORKSPACES_DIR=str(workspaces),
        JUPYTER_PLATFORM_DIRS="1",
        PYTHONUNBUFFERED="1",
    )
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log = base / "jupyterlab.log"
    cmd = [
        sys.executable, "-m", "jupyterlab",
        "--no-browser", "--allow-root",
        "--ip=127.0.0.1", f"--port={port}", "--port-retries=0",
        "--ServerApp.token=", "--ServerApp.password=",
        f"--ServerApp.root_dir={root}",
        "--ServerApp.disable_check_xsrf=True",
        "--LabApp.news_url=None",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        "--LabApp.extension_manager=readonly",
        "--LabApp.expose_app_in_browser=True",  # window.jupyterapp: the tests switch themes with it
        "--JupyterNotebookApp.expose_app_in_browser=True",
        "--LabApp.workspaces_dir=" + str(workspaces),
        "--LabServerApp.user_settings_dir=" + str(settings),
    ]  # fmt: skip
    with log.open("wb") as out:
        proc = subprocess.Popen(
            cmd,
            cwd=root,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    server = Lab(url, root, log, proc)
    deadline = time.monotonic() + ready_timeout
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"JupyterLab exited with {proc.returncode}:\n{server.log_tail()}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{url}/api/status", timeout=2).status_code == 200:
                return server
        if time.monotonic() > deadline:
            stop_lab(server)
            raise RuntimeError(
                f"JupyterLab did not answer /api/status within {ready_timeout} s:\n{server.log_tail()}"
            )
        time.sleep(0.2)  # polling interval of a readiness check, not a fixed wait for state


def stop_lab(server: Lab) -> None:
    """Shut the kernels down through the API, then the server; kill whatever of its tree is left."""
    proc = server.proc
    with contextlib.suppress(Exception):
        for kernel in server.api("GET", "/api/kernels"):
            server.api("DELETE", f"/api/kernels/{kernel['id']}")
    try:
        tree = psutil.Process(proc.pid).children(recursive=True)
    except psutil.Error:
        tree = []
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
    for child in tree:
        with contextlib.suppress(psutil.Error):
            child.kill()


class Notebook:
    """A notebook open in JupyterLab (``front="lab"``) or Notebook 7 (``"notebook"``), driven by mouse
    and keyboard like a person would. Both are built from the same components: the cells, outputs,
    toolbar and menus are found the same way; Notebook 7 has no status bar and no tab bar."""

    def __init__(self, page: Page, lab: Lab, name: str, front: str = "lab") -> None:
        self.page, self.lab, self.name, self.front = page, lab, name, front

    @property
    def panel(self) -> Locator:
        return self.page.locator(".jp-NotebookPanel:not(.lm-mod-hidden)").first

    def cell(self, index: int) -> Locator:
        return self.panel.locator(".jp-Notebook .jp-Cell").nth(index)

    def output(self, index: int) -> Locator:
        return self.cell(index).locator(".jp-Cell-outputArea")

    def open(self, timeout: float = FIRST_LOAD_MS) -> None:
        path = "lab/tree" if self.front == "lab" else "notebooks"
        self.page.goto(f"{self.lab.url}/{path}/{self.name}", timeout=timeout)
        self.wait_ready(timeout)

    def reload(self, timeout: float = FIRST_LOAD_MS) -> None:
        self.page.reload(timeout=timeout)
        self.wait_ready(timeout)

    def wait_ready(self, timeout: float = FIRST_LOAD_MS) -> None:
        """The notebook is shown with its cells, and its kernel is connected and idle."""
        expect(self.cell(0)).to_be_visible(timeout=timeout)
        self.wait_idle(timeout)

    def wait_idle(self, timeout: float = CELL_MS) -> None:
        """The toolbar names the kernel and says idle, and the server sees the page connected to it.

        The toolbar alone can say "idle" a moment before the kernel's websocket is open; a cell run
        then would be lost, so the server's view of the session is checked too.
        """
        toolbar = self.panel.locator(".jp-NotebookPanel-toolbar")
        expect(toolbar.locator("[data-jp-item-name='kernelName']")).to_have_text(
            "Python 3 (ipykernel)", timeout=timeout
        )
        expect(toolbar.locator(".jp-Notebook-ExecutionIndicator")).to_have_attribute(
            "data-status", "idle", timeout=timeout
        )
        if self.front == "lab":
            expect(self.page.locator("#jp-main-statusbar")).to_contain_text("| Idle", timeout=timeout)
        deadline = time.monotonic() + timeout / 1000
        while not self._kernel_connected_and_idle():
            assert time.monotonic() < deadline, (
                f"kernel of {self.name} not connected and idle: {self.lab.api('GET', '/api/sessions')}"
            )
            self.page.wait_for_timeout(100)  # polling interval for server-side state, not a fixed wait

    def _kernel_connected_and_idle(self) -> bool:
        for session in self.lab.api("GET", "/api/sessions"):
            if session.get("path") == self.name:
                kernel = session.get("kernel") or {}
                return kernel.get("connections", 0) > 0 and kernel.get("execution_state") == "idle"
        return False

    def prompt(self, index: int) -> str:
        return self.cell(index).locator(".jp-InputPrompt").inner_text().strip()

    def start_cell(self, index: int) -> str:
        """Click the cell's editor and press Shift+Enter; returns the prompt it had before."""
        before = self.prompt(index)
        self.cell(index).locator(".jp-InputArea-editor").click()
        self.page.keyboard.press("Shift+Enter")
        return before

    def wait_cell_done(self, index: int, before: str, timeout: float = CELL_MS) -> None:
        """Wait until the cell shows a new execution count (``[*]`` and the old count don't count)."""
        handle = self.cell(index).locator(".jp-InputPrompt").element_handle(timeout=UI_MS)
        self.page.wait_for_function(
            """([el, before]) => {
                const t = el.textContent.trim();
                return /\\[\\d+\\]/.test(t) && t !== before;
            }""",
            arg=[handle, before],
            timeout=timeout,
        )

    def run_cell(self, index: int, timeout: float = CELL_MS) -> None:
        before = self.start_cell(index)
        self.wait_cell_done(index, before, timeout)

    def run_all(self, timeout: float = CELL_MS) -> None:
        """Run > Run All Cells from the menu bar; wait until the first code cell has a new count and no
        cell is queued or running (``[*]``). Like JupyterLab, it stops at the first cell that fails.
        """
        first = self.panel.locator(".jp-Notebook .jp-CodeCell .jp-InputPrompt").first
        before = first.inner_text().strip()
        self.page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).click()
        self.page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Run All Cells$")).click()
        self.page.wait_for_function(
            """([panel, before]) => {
                const prompts = [...panel.querySelectorAll(".jp-CodeCell .jp-InputPrompt")]
                    .map(p => p.textContent.trim());
                return prompts.length > 0 && /\\[\\d+\\]/.test(prompts[0]) && prompts[0] !== before
                    && !prompts.some(t => t.includes("*"));
            }""",
            arg=[self.panel.element_handle(), before],
            timeout=timeout,
        )
        self.wait_idle(timeout)

    def save(self) -> None:
        """Ctrl+S, then wait until the tab no longer shows unsaved changes (Notebook 7: the file on disk
        changed)."""
        before = (self.lab.root / self.name).stat().st_mtime_ns
        self.cell(0).locator(".jp-InputPrompt").click()  # command mode: the shortcut goes to the notebook
        self.page.keyboard.press("Control+s")
        if self.front == "lab":
            tab = self.page.locator(".lm-DockPanel-tabBar .lm-TabBar-tab.lm-mod-current")
            expect(tab).not_to_have_class(re.compile(r"\bjp-mod-dirty\b"), timeout=UI_MS)
            return
        deadline = time.monotonic() + UI_MS / 1000
        while (self.lab.root / self.name).stat().st_mtime_ns == before:
            assert time.monotonic() < deadline, "the notebook was not saved"
            self.page.wait_for_timeout(100)  # polling the file on disk


@contextlib.contextmanager
def opened(
    lab: Lab,
    browser: Browser,
    name: str,
    cells: list[tuple[str, str]],
    *,
    height: int = 1200,
    front: str = "lab",
    **options: Any,
) -> Iterator[Notebook]:
    """A notebook of ``cells`` written as ``name`` and open in JupyterLab (or Notebook 7: ``front``), in
    a browser context of its own (closed afterwards); ``options`` go to the context (``permissions``,
    ``accept_downloads``)."""
    lab.write_notebook(name, cells)
    context = browser.new_context(viewport={"width": 1200, "height": height}, **options)
    page = context.new_page()
    page.set_default_timeout(UI_MS)
    notebook = Notebook(page, lab, name, front)
    try:
        notebook.open(FIRST_LOAD_MS)
        yield notebook
    finally:
        context.close()
