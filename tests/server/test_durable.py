"""Durable runs against the real local computer: past the per-exec cap, through cuts and
reconnections, cancel and time limits that kill the whole group, attach, the listing, clean-up,
and a computer without the tools (a clear note, then an attached run)."""

from __future__ import annotations

import os
import shlex
import socket
import time
from pathlib import Path
from typing import Any

import pytest

from miosa_jupyter import Miosa
from miosa_jupyter._durable import _MAX_QUOTED, KEEP_COUNT, Follow, list_runs
from miosa_jupyter._runner import Run
from miosa_jupyter._view import Delta, Snapshot

from .._support.processes import pid_gone, read_pid, wait_until
from .._support.proxy import Proxy

CAP = 1  # seconds one exec may last on these servers: every test crosses it


class Notes:
    """A view that keeps what a person would read: the running banner's words, the lines."""

    def __init__(self) -> None:
        self.notes: list[str] = []
        self.texts: list[tuple[str, str]] = []
        self.final: Snapshot | None = None

    def begin(self, run: Any) -> None:
        pass

    def ready(self) -> bool:
        return True

    def update(self, delta: Delta) -> None:
        self.texts.extend(delta.texts)

    def note(self, words: str) -> None:
        self.notes.append(words)

    def pulse(self, quiet_since: float | None) -> None:
        pass

    def end(self, final: Snapshot) -> None:
        self.final = final


@pytest.fixture
def runs_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "runs"
    monkeypatch.setenv("MIOSA_RUNS", str(path))
    return path


@pytest.fixture
def capped(make_server: Any, runs_dir: Path) -> Miosa:
    """A client of a fresh local computer whose execs last at most CAP seconds."""
    srv = make_server(max_timeout=CAP)
    with Miosa(srv.token, base_url=srv.base_url) as client:
        yield client


class Counting:
    """Counts the execs a client opens (to prove a run crossed several)."""

    def __init__(self, client: Miosa) -> None:
        self.count = 0
        real = client.exec.stream

        def stream(*args: Any, **kwargs: Any) -> Any:
            self.count += 1
            return real(*args, **kwargs)

        client.exec.stream = stream  # type: ignore[method-assign]


def durable(client: Miosa, command: str, **kwargs: Any) -> Run:
    return Run(client, "local", command, durable=True, follow_seconds=CAP, **kwargs)


def test_a_run_outlives_the_exec_cap_with_every_line_once_in_order(capped: Miosa, tmp_path: Path) -> None:
    execs = Counting(capped)
    ran = tmp_path / "ran"
    command = (
        f"echo x >> {ran}; for i in $(seq 1 10); do echo out $i; echo err $i >&2; sleep 0.3; done; exit 3"
    )
    result = durable(capped, command).start().wait()
    assert result is not None
    assert result.stdout == "".join(f"out {i}\n" for i in range(1, 11))
    assert result.stderr == "".join(f"err {i}\n" for i in range(1, 11))
    assert (result.outcome, result.exit_code) == ("failure", 3)
    assert 3000 <= (result.duration_ms or 0) < 10000
    assert execs.count >= 3  # it took several execs of at most CAP s each
    assert ran.read_text() == "x\n"  # and the command ran once


def test_a_line_cut_by_the_cap_is_completed_not_repeated(capped: Miosa) -> None:
    result = (
        durable(capped, "printf 'abc'; sleep 1.6; printf 'def\\n'; printf 'x'; sleep 1.2; echo y")
        .start()
        .wait()
    )
    assert result is not None
    assert result.stdout == "abcdef\nxy\n"


def test_a_million_lines_across_caps_arrive_exactly(capped: Miosa) -> None:
    result = durable(capped, "seq 1 400000; sleep 1.5; seq 400001 1000000").start().wait()
    assert result is not None and result.ok
    assert result.stdout == "".join(f"{i}\n" for i in range(1, 1000001))


def test_the_time_limit_is_the_runs_own_and_kills_its_group(capped: Miosa, tmp_path: Path) -> None:
    pidfile = tmp_path / "child"
    view = Notes()
    run = durable(capped, f"sleep 300 & echo $! > {pidfile}; echo started; sleep 300", timeout=2, view=view)
    result = run.start().wait()
    assert result is not None and result.outcome == "timeout"
    assert run.words == "after 2 s"
    assert 2000 <= (result.duration_ms or 0) < 6000  # past the exec cap: the run's own limit
    wait_until(lambda: pid_gone(read_pid(pidfile)), what="the background child killed with the group")


def test_cancel_kills_the_whole_process_group_on_the_computer(capped: Miosa, tmp_path: Path) -> None:
    pidfile = tmp_path / "child"
    run = durable(capped, f"sleep 300 & echo $! > {pidfile}; echo started; sleep 300").start()
    run.start_background()
    child = read_pid(pidfile)
    time.sleep(1.5)  # into the second exec
    run.cancel()
    result = run.wait(10)
    assert result is not None and result.outcome == "cancelled"
    wait_until(lambda: pid_gone(child), what="the background child killed")
    info = next(r for r in list_runs(capped, "local", timeout=CAP) if r.id == run.run_id)
    assert info.status == "cancelled"


def test_attach_follows_a_run_another_client_started(capped: Miosa, tmp_path: Path) -> None:
    first = durable(capped, "for i in $(seq 1 8); do echo tick $i; sleep 0.25; done").start()
    time.sleep(0.6)
    assert first._stream is not None
    first._reconnect_for = 0  # this client goes away mid-run (a kernel restart)
    first._stream.abort()
    gone = first.wait(10)
    assert gone is not None and gone.outcome == "error" and "detached" in (gone.error or "")
    assert f"%miosa attach {first.run_id}" in (gone.error or "")
    again = Run.attach(capped, "local", str(first.run_id), follow_seconds=CAP).start().wait()
    assert again is not None and again.ok
    assert again.stdout == "".join(f"tick {i}\n" for i in range(1, 9))  # from the start, once
    tail = Run.attach(capped, "local", str(first.run_id), tail=3, follow_seconds=CAP).start().wait()
    assert tail is not None and tail.stdout == "tick 6\ntick 7\ntick 8\n"


def test_attach_to_no_such_run_says_so(capped: Miosa) -> None:
    result = Run(capped, "local", "", attach="r00000000", follow_seconds=CAP).start().wait()
    assert result is not None and result.outcome == "error"
    assert "No run r00000000 on local" in (result.error or "")


def test_following_says_reconnecting_and_resumes_where_it_stopped(make_server: Any, runs_dir: Path) -> None:
    srv = make_server(max_timeout=CAP, resume_grace=0.2)
    proxy, base = Proxy.to(srv.base_url)
    view = Notes()
    with Miosa(srv.token, base_url=base) as client:
        run = durable(client, "for i in $(seq 1 20); do echo line $i; sleep 0.15; done", view=view).start()
        run.start_background()
        time.sleep(0.8)
        proxy.down = True
        proxy.cut()
        wait_until(lambda: any("reconnecting" in n for n in view.notes), timeout=10, what="reconnecting…")
        time.sleep(1.0)
        proxy.down = False
        result = run.wait(20)
    assert result is not None and result.ok, result
    assert result.stdout.split() == "".join(f"line {i}\n" for i in range(1, 21)).split(), result.stdout
    assert view.notes[-1].startswith("on local")  # following again


def test_the_listing_names_each_run_and_how_it_ended(capped: Miosa) -> None:
    ok = durable(capped, "echo fine").start().wait()
    bad = durable(capped, "exit 4").start().wait()
    slow = durable(capped, "sleep 30", timeout=1).start().wait()
    live = durable(capped, "echo live; sleep 30").start()
    assert ok and bad and slow

    def listed() -> dict[str, Any]:
        return {r.command: r for r in list_runs(capped, "local", timeout=CAP)}

    runs = wait_until(lambda: (found := listed()) and "echo live; sleep 30" in found and found, what="listed")
    assert runs["echo fine"].status == "success" and runs["echo fine"].exit_code == 0
    assert runs["exit 4"].status == "failure" and runs["exit 4"].exit_code == 4
    assert runs["sleep 30"].status == "timeout"
    assert runs["echo live; sleep 30"].status == "running"
    assert runs["echo fine"].duration is not None and runs["echo fine"].duration < 5
    live.cancel()


def test_the_run_directory_holds_the_command_and_output_only_private(capped: Miosa, runs_dir: Path) -> None:
    run = durable(capped, "echo secret-free output").start()
    run.wait()
    directory = runs_dir / str(run.run_id)
    assert sorted(p.name for p in directory.iterdir()) == [
        "cmd",
        "err",
        "out",
        "pgid",
        "pid",
        "started",
        "status",
    ]
    assert (directory / "out").read_text() == "secret-free output\n"
    assert oct(directory.stat().st_mode & 0o777) == "0o700"
    assert oct((directory / "out").stat().st_mode & 0o777) == "0o600"
    token = capped._api_key
    for path in directory.iterdir():
        assert token not in path.read_text()


def test_old_and_surplus_finished_runs_are_cleaned_up(capped: Miosa, runs_dir: Path) -> None:
    runs_dir.mkdir(mode=0o700, exist_ok=True)
    for i in range(KEEP_COUNT + 10):
        d = runs_dir / f"r{i:08x}"
        d.mkdir()
        (d / "cmd").write_text("old\n")
        (d / "status").write_text("0 exit 1700000000\n")
        os.utime(d / "status", (time.time() - 3600 + i, time.time() - 3600 + i))
    ancient = runs_dir / "rffffffff"
    ancient.mkdir()
    (ancient / "cmd").write_text("lost long ago\n")
    os.utime(ancient, (time.time() - 30 * 86400, time.time() - 30 * 86400))
    run = durable(capped, "echo new").start()
    run.wait()
    left = sorted(p.name for p in runs_dir.iterdir())
    assert str(run.run_id) in left
    assert "rffffffff" not in left  # older than the age limit, its wrapper gone
    assert len(left) == KEEP_COUNT  # the newest finished ones
    assert "r00000000" not in left and f"r{KEEP_COUNT + 9:08x}" in left


def _fake_bin(tmp_path: Path, *, drop: str = "", tail_without_pid: bool = False) -> str:
    """A PATH with the tools a computer has, less ``drop``; a ``tail`` without ``--pid`` if asked."""
    fake = tmp_path / "bin"
    fake.mkdir()
    for directory in os.environ["PATH"].split(os.pathsep):
        if not os.path.isdir(directory):
            continue
        for name in os.listdir(directory):
            target = fake / name
            if name != drop and not target.exists():
                target.symlink_to(os.path.join(directory, name))
    if tail_without_pid:
        (fake / "tail").unlink()
        real = next(
            os.path.join(d, "tail")
            for d in os.environ["PATH"].split(os.pathsep)
            if os.path.exists(os.path.join(d, "tail"))
        )
        (fake / "tail").write_text(
            '#!/bin/sh\nfor a; do case "$a" in\n'
            '  --pid*) echo "tail: unrecognized option" >&2; exit 1;;\n'
            "esac; done\n"
            f'exec {real} "$@"\n'
        )
        (fake / "tail").chmod(0o755)
    return str(fake)


@pytest.mark.parametrize("lack", ["setsid", "tail --pid"])
def test_a_computer_without_the_tools_says_what_is_missing_and_runs_attached(
    make_server: Any, runs_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, lack: str
) -> None:
    path = _fake_bin(tmp_path, drop="setsid" if lack == "setsid" else "", tail_without_pid=lack != "setsid")
    monkeypatch.setenv("PATH", path)
    srv = make_server()
    view = Notes()
    with Miosa(srv.token, base_url=srv.base_url) as client:
        result = Run(client, "local", "echo still works", durable=True, view=view).start().wait()
    assert result is not None and result.ok
    assert result.stdout == "still works\n"  # the note is the view's, not the command's output
    shown = "".join(text for _, text in view.texts)
    assert f"lacks {'setsid' if lack == 'setsid' else 'tail --pid (GNU coreutils)'}" in shown
    assert "running attached" in shown


def test_a_computer_that_restarted_under_a_run_reports_it_lost(capped: Miosa, runs_dir: Path) -> None:
    follow = Follow()
    d = runs_dir / follow.run_id
    d.mkdir(parents=True)
    (d / "cmd").write_text("build\n")
    (d / "out").write_text("half\n")
    (d / "err").write_text("")
    (d / "pid").write_text("999999\n")  # no such process: the wrapper died without a status
    result = Run(capped, "local", "", attach=follow.run_id, follow_seconds=CAP).start().wait()
    assert result is not None and result.outcome == "error"
    assert (result.stdout, result.stderr) == ("half\n", "")  # and no noise of the follower
    assert "ended without a status" in (result.error or "")
    assert [r.status for r in list_runs(capped, "local", timeout=CAP) if r.id == follow.run_id] == ["lost"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_serve_restarted_mid_run_keeps_the_run_and_the_view_picks_it_up(
    subserver: Any, runs_dir: Path, tmp_path: Path
) -> None:
    port, token = str(_free_port()), "s" * 32
    first = subserver("--port", port, token=token)
    view = Notes()
    ran = tmp_path / "ran"
    with Miosa(first.token, base_url=first.base_url) as client:
        command = f"echo x >> {ran}; for i in $(seq 1 16); do echo line $i; sleep 0.25; done; exit 2"
        run = Run(client, "local", command, durable=True, view=view).start()
        run.start_background()
        time.sleep(1.0)
        first.proc.kill()  # SIGKILL: no goodbye
        first.proc.wait(10)
        wait_until(lambda: any("reconnecting" in n for n in view.notes), timeout=10, what="reconnecting…")
        subserver("--port", port, token=token)  # the same computer comes back
        result = run.wait(30)
    assert result is not None and (result.outcome, result.exit_code) == ("failure", 2), result
    assert result.stdout == "".join(f"line {i}\n" for i in range(1, 17))
    assert ran.read_text() == "x\n"


def test_the_embedded_local_computer_ends_its_runs_with_it(
    make_server: Any, runs_dir: Path, tmp_path: Path
) -> None:
    srv = make_server()
    pidfile = tmp_path / "pid"
    with Miosa(srv.token, base_url=srv.base_url) as client:
        run = Run(client, "local", f"echo $$ > {pidfile}; sleep 300", durable=True, reconnect_for=0).start()
        pid = read_pid(pidfile)
        srv.stop()
        wait_until(lambda: pid_gone(pid), what="the run killed with its computer")
        run.wait(10)


@pytest.mark.slow
@pytest.mark.timeout(420)
@pytest.mark.skipif(
    not os.environ.get("MIOSA_LONG_TESTS"), reason="takes 5+ minutes: MIOSA_LONG_TESTS=1 runs it"
)
def test_a_real_run_past_the_apis_300_s(make_server: Any, runs_dir: Path) -> None:
    """The real cap (300 s, the API's), not a test's: one run of 310 s through the default follower."""
    srv = make_server()
    execs: Counting
    with Miosa(srv.token, base_url=srv.base_url) as client:
        execs = Counting(client)
        t0 = time.monotonic()
        result = (
            Run(client, "local", "for i in $(seq 1 62); do echo $i; sleep 5; done", durable=True)
            .start()
            .wait()
        )
        took = time.monotonic() - t0
    assert result is not None and result.ok
    assert result.stdout == "".join(f"{i}\n" for i in range(1, 63))
    assert took > 305 and execs.count == 2
    print(f"\n310 s run: {took:.1f} s wall, {execs.count} execs, exit {result.exit_code}")


def test_a_long_command_full_of_quotes_runs_exactly_through_the_here_document(capped: Miosa) -> None:
    """Quoted as one shell word it would grow past _MAX_QUOTED (each ' becomes five characters):
    the start script then writes it through a here-document, byte for byte."""
    text = "it's " * 4000  # 20,000 characters, 4,000 quotes: about 36,000 quoted
    command = f"cat <<'EOT'\n{text}\nEOT"
    assert len(shlex.quote(command)) > _MAX_QUOTED
    result = durable(capped, command).start().wait()
    assert result is not None and result.ok, result
    assert result.stdout == text + "\n"
