"""Browser fixtures: one JupyterLab for the session, one headless Chromium (``tests/_support/lab.py``)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from .._support.tools import missing_tool

try:
    import playwright.sync_api as pw
except ImportError:  # the test extra is not installed
    missing_tool("playwright is missing (pip install -e '.[test]')")
from playwright.sync_api import Browser, Page

from .._support.lab import CHROMIUM, CHROMIUM_ARGS, UI_MS, Lab, start_lab, stop_lab

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@pytest.fixture(scope="session")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    """JupyterLab for the session (see ``start_lab``), stopped with its kernels at the end."""
    try:
        server = start_lab(tmp_path_factory.mktemp("lab"))
    except RuntimeError as exc:
        pytest.fail(str(exc))
    try:
        yield server
    finally:
        stop_lab(server)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        missing_tool(f"{CHROMIUM} is missing (apt-get install -y chromium)")
    with pw.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="module")
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 1400})
    pg = context.new_page()
    pg.set_default_timeout(UI_MS)
    try:
        yield pg
    finally:
        context.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)


@pytest.fixture(autouse=True)
def _screenshot_on_failure(request: pytest.FixtureRequest, artifacts: Path) -> Iterator[None]:
    """A failing browser test leaves ``test-artifacts/failed-<test>.png`` behind."""
    yield
    failed = any(
        getattr(request.node, f"rep_{w}", None) and getattr(request.node, f"rep_{w}").failed
        for w in ("setup", "call")
    )
    if failed and "page" in request.fixturenames:
        with contextlib.suppress(Exception):
            request.getfixturevalue("page").screenshot(path=artifacts / f"failed-{request.node.name}.png")
