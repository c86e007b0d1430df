"""The whole log from Python (``Run.lines``, ``Run.search``, ``Run.save``) against the local computer:
hidden lines are found and read back, the saved file is the command's output byte for byte, and
all of it works from another thread while the run still goes on."""

from __future__ import annotations

import subprocess
import threading
import time
from pathlib import Path

from miosa_jupyter import Miosa
from miosa_jupyter._runner import Run

COMMAND = "seq 1 100000; printf '\\033[31mNEEDLE red\\033[0m\\n'; seq 100001 200000"


def test_search_pages_and_save_reach_every_line(client: Miosa, tmp_path: Path) -> None:
    run = Run(client, "local", COMMAND, memory_cap=1 << 16).start()  # (a small cap: the disk paths)
    assert run.wait() is not None and run.summary is not None and run.summary.ok
    assert run.log.line_count == 200_001
    [needle] = run.search("needle")
    assert (needle.index, needle.plain, needle.stream) == (100_000, "NEEDLE red", "stdout")
    assert needle.text == "\x1b[31mNEEDLE red\x1b[0m"  # as it shows, colours in
    assert [line.plain for line in run.lines(99_998, 4)] == ["99999", "100000", "NEEDLE red", "100001"]
    sixes = run.search(r"^1\d{5}$", regex=True, limit=10**6)  # 100000 .. 199999
    assert [line.plain for line in sixes] == [str(i) for i in range(100_000, 200_000)]

    expected = subprocess.run(["bash", "-c", COMMAND], capture_output=True, check=True).stdout
    raw = run.save(tmp_path / "raw.log")
    assert raw.read_bytes() == expected
    plain = run.save(tmp_path / "plain.log", plain=True)
    assert plain.read_bytes() == expected.replace(b"\x1b[31m", b"").replace(b"\x1b[0m", b"")


def test_the_log_answers_from_another_thread_while_the_run_goes_on(client: Miosa) -> None:
    run = Run(client, "local", "seq 1 50000; echo 'NEEDLE early'; sleep 3; echo late", durable=True).start()
    found: list[int] = []

    def look() -> None:
        deadline = time.monotonic() + 20
        while not found and time.monotonic() < deadline:
            found.extend(run.log.search("needle early"))
            time.sleep(0.05)

    looker = threading.Thread(target=look)
    looker.start()
    looker.join()
    assert found == [50_000] and not run.done  # found while it still ran
    assert run.wait() is not None and run.lines(50_001, 1)[0].text == "late"
