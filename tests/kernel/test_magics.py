"""``%%miosa`` in a real ipykernel: what reaches iopub, errors, --out, --bg, interrupt."""

from __future__ import annotations

import time
from pathlib import Path

import psutil
import pytest

pytestmark = [pytest.mark.kernel, pytest.mark.slow]


def _custom_lines(execution):
    out = []
    for m in execution.of_type("comm_msg"):
        data = m["content"]["data"]
        if data.get("method") == "custom" and data["content"].get("type") == "lines":
            out.append(data["content"])
    return out


def test_first_run_says_local_computer_once(kernel):
    one = kernel.run("%%miosa\necho hi")
    two = kernel.run("%%miosa\necho again")
    said = "no MIOSA_API_KEY set, running on the local computer"
    assert said in one.stdout
    assert said not in two.stdout


def test_output_arrives_as_widget_then_record(kernel):
    ex = kernel.run("%%miosa\necho hello; echo oops >&2")
    assert ex.reply["status"] == "ok"
    opens = [m for m in ex.of_type("comm_open") if m["content"]["data"]["state"].get("_esm")]
    assert opens, "the live view is an anywidget"
    state = opens[0]["content"]["data"]["state"]
    assert "echo hello" in state["header"]
    record = ex.final_record()
    assert record is not None
    assert "miosa-record" in record["text/html"]
    assert 'data-status="success"' in record["text/html"]
    assert "hello" in record["text/plain"] and "oops" in record["text/plain"]
    assert "succeeded · exit 0" in record["text/plain"]
    assert '<span class="miosa-err">oops</span>' in record["text/html"]


def test_updates_are_coalesced_whatever_the_command_prints(kernel):
    ex = kernel.run("%%miosa\nseq 1 200000", timeout=120)
    assert ex.reply["status"] == "ok"
    deltas = _custom_lines(ex)
    comm_msgs = ex.of_type("comm_msg")
    # At most ~20 updates a second plus a few snapshots: far fewer than the 200,000 lines.
    assert len(comm_msgs) <= 25 * max(ex.seconds, 1) + 10
    assert all(len(str(d)) < 80_000 for d in deltas), "each update is bounded in bytes"
    record = ex.final_record()
    assert "200,000 lines" in record["text/html"]
    assert "200000" in record["text/plain"].splitlines()[-2]
    assert "198,980 lines not shown · `%miosa log " in record["text/plain"]


def test_last_line_of_a_burst_is_not_held_back(kernel):
    # A burst, then silence: the burst's last line must reach the view before the command ends.
    msg_id = kernel.send("%%miosa\nseq 1 5000; sleep 3; echo end")
    seen = kernel.wait_for_iopub(
        lambda m: (
            m["msg_type"] == "comm_msg"
            and any(
                "5000" in str(line)
                for run in m["content"]["data"].get("content", {}).get("spans", [])
                for line in run[1]
            )
        ),
        timeout=2.5,
    )
    assert not any(m["msg_type"] == "update_display_data" for m in seen), "seen before the end"
    kernel.collect(msg_id)


def test_failure_fails_the_cell_with_a_short_error(kernel):
    ex = kernel.run("%%miosa\necho before; exit 3")
    assert ex.reply["status"] == "error"
    assert ex.error["ename"] == "CommandFailedError"
    assert len(ex.error["traceback"]) == 1, "one line, not a traceback wall"
    assert "exit 3" in ex.error["traceback"][0]
    record = ex.final_record()
    assert 'data-status="failure"' in record["text/html"]
    assert "before" in record["text/plain"]


def test_no_raise_error_and_out(kernel):
    ex = kernel.run(
        "%%miosa --no-raise-error --out res\necho kept; exit 2",
        user_expressions={"code": "res.exit_code", "out": "res.stdout", "ok": "res.ok"},
    )
    assert ex.reply["status"] == "ok"
    values = {k: v["data"]["text/plain"] for k, v in ex.reply["user_expressions"].items()}
    assert values == {"code": "2", "out": "'kept\\n'", "ok": "False"}
    assert "kept" in ex.final_record()["text/plain"], "--out keeps the output on screen"


def test_timeout_shows_amber_banner_and_fails(kernel):
    ex = kernel.run("%%miosa --timeout 1\necho start; sleep 30")
    assert ex.error["ename"] == "CommandTimeoutError"
    assert 'data-status="timeout"' in ex.final_record()["text/html"]
    assert "timed out · after 1 s" in ex.final_record()["text/plain"]


def test_bad_flags_give_a_one_line_usage_error(kernel):
    for line in [
        "%%miosa --timeout abc\nls",
        "%%miosa --timeout 0\nls",
        "%%miosa --frobnicate\nls",
        "%miosa --frobnicate ls",
        "%%miosa\n   ",
    ]:
        ex = kernel.run(line)
        assert ex.reply["status"] == "error", line
        assert ex.reply["ename"] == "UsageError", line
        # IPython prints a UsageError as one line on stderr, no traceback.
        stderr = "".join(
            m["content"]["text"] for m in ex.of_type("stream") if m["content"]["name"] == "stderr"
        )
        assert stderr.startswith("UsageError: %miosa") and stderr.count("\n") <= 1, stderr
        assert not ex.of_type("comm_open"), "nothing started"


def test_line_magic_runs_its_line(kernel):
    ex = kernel.run("%miosa --timeout 5 echo 'from the line' $((6*7))")
    assert ex.reply["status"] == "ok"
    assert "from the line 42" in ex.final_record()["text/plain"]


def test_python_flag_runs_python_on_the_computer(kernel):
    ex = kernel.run("%%miosa --python\nimport sys\nprint('py', sys.version_info[0], 6 * 7)")
    assert ex.reply["status"] == "ok"
    assert "py 3 42" in ex.final_record()["text/plain"]


def test_unknown_computer_is_a_short_error(kernel):
    ex = kernel.run("%%miosa nosuch\nls")
    assert ex.reply["status"] == "error"
    assert ex.error["ename"] == "NotFoundError"
    assert len(ex.error["traceback"]) == 1
    assert "nosuch" in ex.error["evalue"]


def test_html_in_output_stays_text(kernel):
    ex = kernel.run("%%miosa\necho '<script>alert(1)</script><img src=x onerror=alert(2)>'")
    html = ex.final_record()["text/html"]
    assert "<script>alert" not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=alert(2)&gt;" in html


def test_no_token_or_ticket_in_outputs_or_widget_state(kernel):
    ex = kernel.run(
        "%%miosa\necho secret-check",
        user_expressions={"token": "__import__('miosa_jupyter').local_server().token"},
    )
    token = ex.reply["user_expressions"]["token"]["data"]["text/plain"].strip("'")
    everything = repr(ex.iopub)
    assert token not in everything
    assert "exec_" not in everything and "ticket" not in everything


def test_bg_returns_at_once_with_a_handle(kernel, tmp_path: Path):
    ex = kernel.run("%%miosa --bg --out bgres\nsleep 1.5; echo done-bg")
    assert ex.reply["status"] == "ok"
    assert ex.seconds < 1.4, "returned before the command ended"
    result = kernel.run(
        "h = _\nr = h.wait(30)",
        user_expressions={"e": "r.exit_code", "s": "r.stdout", "o": "bgres.exit_code"},
    )
    values = {k: v["data"]["text/plain"] for k, v in result.reply["user_expressions"].items()}
    assert values == {"e": "0", "s": "'done-bg\\n'", "o": "0"}


def test_bg_cancel(kernel, tmp_path: Path):
    pidfile = tmp_path / "pid"
    kernel.run(f"%%miosa --bg\necho $$ > {pidfile}; sleep 60")
    deadline = time.monotonic() + 10
    while not pidfile.exists() or not pidfile.read_text().strip():
        assert time.monotonic() < deadline
        time.sleep(0.05)
    pid = int(pidfile.read_text())
    ex = kernel.run("h = _\nh.cancel()\nr = h.wait(10)", user_expressions={"o": "r.outcome"})
    assert ex.reply["user_expressions"]["o"]["data"]["text/plain"] == "'cancelled'"
    assert psutil.wait_procs([psutil.Process(pid)], timeout=5)[1] == [] if psutil.pid_exists(pid) else True


def test_interrupt_cancels_the_command_in_one_line_and_queued_cells_dont_run(kernel, tmp_path: Path):
    pidfile = tmp_path / "pid"
    msg_id = kernel.send(f"%%miosa\necho $$ > {pidfile}; sleep 60")
    queued = kernel.send("queued_cell_ran = True")
    deadline = time.monotonic() + 10
    while not pidfile.exists() or not pidfile.read_text().strip():
        assert time.monotonic() < deadline, "command did not start"
        time.sleep(0.05)
    pid = int(pidfile.read_text())
    assert psutil.pid_exists(pid)
    kernel.km.interrupt_kernel()
    ex = kernel.collect(msg_id, timeout=20)
    assert ex.error["ename"] == "RunInterrupted"
    # One line, not ~40 lines of traceback through the runner and threading.py
    assert len(ex.error["traceback"]) == 1, ex.error["traceback"]
    assert ex.error["traceback"][0].startswith("KeyboardInterrupt: `echo $$")
    assert "cancelled: its process group on local was killed." in ex.error["traceback"][0]
    assert 'data-status="cancelled"' in ex.final_record()["text/html"]
    assert kernel.collect(queued, timeout=10).reply["status"] == "aborted"
    assert kernel.run("print('queued_cell_ran' in globals())").stdout.strip() == "False"
    gone_by = time.monotonic() + 5
    while psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
        assert time.monotonic() < gone_by, "the command outlived the interrupt"
        time.sleep(0.05)
