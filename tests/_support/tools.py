"""A tool a tier needs (Chromium, node, Playwright) that is not on this machine: skip here, but fail
under CI (``CI`` set, as ``.ci/run`` is run), where ``.ci/run`` installs them all and a missing one
would otherwise turn a whole tier into silent skips and a green run."""

from __future__ import annotations

import os
from typing import NoReturn

import pytest

__all__ = ["missing_tool"]


def missing_tool(message: str) -> NoReturn:
    if os.environ.get("CI"):
        pytest.fail(f"{message}; under CI .ci/run installs it, so this is a broken install", pytrace=False)
    pytest.skip(message, allow_module_level=True)
