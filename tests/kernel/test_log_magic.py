"""``%miosa log`` from a real kernel: a finished run's record says how many lines it leaves out and
how to see them; ``%miosa log`` shows that run's view again (the same model: its tools reach the
whole log); a run this kernel doesn't have gets an error that says what to do."""

from __future__ import annotations

import re

import pytest

from .._support.kernels import Kernel, offline_env

pytestmark = [pytest.mark.kernel, pytest.mark.slow]

WIDGET = "application/vnd.jupyter.widget-view+json"


def test_the_record_points_at_the_whole_log_and_log_shows_the_view_again() -> None:
    kernel = Kernel(env=offline_env())
    try:
        kernel.run("%load_ext miosa_jupyter")
        run = kernel.run("%%miosa\nseq 1 5000", timeout=60)
        record = run.final_record()
        assert record is not None
        found = re.search(
            r"… 3,980 lines not shown · `%miosa log (r[0-9a-f]{8})` shows them all …", record["text/plain"]
        )
        assert found, record["text/plain"]
        assert found.group(0).replace("`", "") in record["text/html"].replace("`", "")
        first_view = next(m for m in run.of_type("display_data") if WIDGET in m["content"]["data"])
        model_id = first_view["content"]["data"][WIDGET]["model_id"]

        for how in ("%miosa log", f"%miosa log {found.group(1)}"):
            again = kernel.run(how)
            assert again.reply["status"] == "ok", again.reply
            shown = [m["content"]["data"] for m in again.of_type("display_data")]
            assert [d[WIDGET]["model_id"] for d in shown] == [model_id]  # the same model, tools and all
            assert again.final_record() is None  # a view to explore, not replaced by a record

        attached = kernel.run("%%miosa --attached\nseq 1 3000", timeout=60)
        text = attached.final_record()["text/plain"]  # type: ignore[index]
        assert re.search(r"`%miosa log a\d+` shows them all while this kernel runs", text), text

        missing = kernel.run("%miosa log a999")
        assert missing.reply["status"] == "error"
        assert "this kernel has no finished run 'a999'" in missing.reply["evalue"]
        gone = kernel.run("%miosa log rdeadbeef")
        assert gone.reply["status"] == "error" and "no run 'rdeadbeef' on local" in gone.reply["evalue"]
        bad = kernel.run("%miosa log one two")
        assert bad.reply["status"] == "error" and "Usage: %miosa log [ID|last]" in bad.reply["evalue"]
    finally:
        kernel.shutdown()
