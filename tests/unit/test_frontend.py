"""The live view's store (``js/terminal.js``) under node's test runner, with a fake model: what a view
shows when deltas come early, late, out of order, or for a panel's next run (``js/test/``)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from .._support.tools import missing_tool

JS_TESTS = Path(__file__).resolve().parents[2] / "js" / "test"


def test_the_front_end_store_keeps_every_line_a_view_should_show():
    node = shutil.which("node")
    if node is None:
        missing_tool("node is missing (the front end is built with it)")
    done = subprocess.run(
        [node, "--test", str(JS_TESTS)], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "# fail 0" in done.stdout and "# pass 0" not in done.stdout, done.stdout
