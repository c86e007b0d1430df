"""``%%miosa``'s argument parsing in terminal IPython: bad flags are a ``UsageError`` before anything runs."""

from __future__ import annotations

import pytest
from IPython.core.error import UsageError


def test_usage_errors(ip):
    with pytest.raises(UsageError, match="--timeout must be a whole number of seconds >= 1"):
        ip.run_cell_magic("miosa", "--timeout 0", "ls")
    with pytest.raises(UsageError, match="an --attached run lasts at most 300 s"):
        ip.run_cell_magic("miosa", "--attached --timeout 301", "ls")
    with pytest.raises(UsageError, match="--out needs a variable name"):
        ip.run_cell_magic("miosa", "--out 1x", "ls")
    with pytest.raises(UsageError, match="unknown flag --nope"):
        ip.run_line_magic("miosa", "--nope ls")
