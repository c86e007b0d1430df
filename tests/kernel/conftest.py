"""Kernel-tier fixtures: a real ipykernel (``_support/kernels.py``) without the host's MIOSA_ settings."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .._support.kernels import Kernel, offline_env


@pytest.fixture(scope="module")
def kernel() -> Iterator[Kernel]:
    """One kernel per module, on its embedded local computer, with the extension loaded."""
    k = Kernel(env=offline_env())
    first = k.run("%load_ext miosa_jupyter")
    assert first.reply["status"] == "ok", first.reply
    yield k
    k.shutdown()
