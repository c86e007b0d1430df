"""Session-wide setup, and the fixtures more than one tier uses (each tier's own are in its conftest.py).

The tiers: ``unit/`` (in process), ``server/`` (the local computer on loopback), ``kernel/`` (a real
ipykernel), ``browser/`` (JupyterLab in Chromium); see ``tests/README.md``. Shared code is in ``_support/``.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from ._support.processes import kill_tree
from ._support.servers import Subserver

# Durable runs keep a directory per run on their computer (~/.miosa/runs by default): the tests'
# runs go to one directory of this session instead (kernels and servers they start inherit it).
os.environ["MIOSA_RUNS"] = tempfile.mkdtemp(prefix="miosa-test-runs-")
atexit.register(shutil.rmtree, os.environ["MIOSA_RUNS"], True)


@pytest.fixture
def pids() -> Iterator[list[int]]:
    """Pids a test learned about; at the end each, its group and its descendants are killed
    (never leave strays), whatever the test's outcome."""
    found: list[int] = []
    yield found
    for pid in found:
        kill_tree(pid)


@pytest.fixture
def subserver() -> Iterator[Callable[..., Subserver]]:
    """A factory of ``miosa_jupyter serve`` subprocesses (server and kernel tiers), all killed afterwards."""
    made: list[Subserver] = []

    def make(*args: str, token: str | None = None) -> Subserver:
        s = Subserver(*args, token=token)
        made.append(s)
        return s

    yield make
    for s in made:
        s.close()


@pytest.fixture(scope="session")
def ip() -> Any:
    """Terminal IPython in this process with the extension loaded (no widget front end)."""
    from IPython import get_ipython
    from IPython.testing.globalipapp import start_ipython

    shell = start_ipython() or get_ipython()  # it starts one shell per process, then returns None
    shell.run_line_magic("load_ext", "miosa_jupyter")
    return shell


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Browser tests last: Playwright's sync API keeps an event loop running on the main thread for
    the rest of the session, after which ``asyncio.run()`` (the async client tests) can't be used."""
    items.sort(key=lambda item: item.get_closest_marker("browser") is not None)
