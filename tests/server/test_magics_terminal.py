"""``%%miosa`` without a widget front end (terminal IPython): plain streams and a text banner."""

from __future__ import annotations

import re

import pytest

from miosa_jupyter import CommandFailedError


def test_plain_streams_then_banner(ip, capsys, monkeypatch):
    monkeypatch.delenv("MIOSA_API_KEY", raising=False)
    ip.run_cell_magic("miosa", "--out r", "echo out-line; echo err-line >&2")
    captured = capsys.readouterr()
    assert "out-line\n" in captured.out and "err-line\n" in captured.err
    assert re.search(r"✔ succeeded · exit 0 · [0-9.]+ s\n$", captured.out)
    assert ip.user_ns["r"].stdout == "out-line\n"


def test_every_line_arrives_in_text_mode(ip, capsys):
    ip.run_cell_magic("miosa", "", "seq 1 50000")
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[-51_000:].count("49999") == 1
    assert [line for line in lines if line.isdigit()] == [str(i) for i in range(1, 50001)]


def test_failure_raises(ip, capsys):
    with pytest.raises(CommandFailedError) as info:
        ip.run_cell_magic("miosa", "", "exit 4")
    assert info.value.result.exit_code == 4
    assert "✖ failed · exit 4" in capsys.readouterr().out


def test_partial_last_line_then_banner_on_its_own_line(ip, capsys):
    ip.run_cell_magic("miosa", "", "printf 'no newline'")
    out = capsys.readouterr().out
    assert "no newline\n✔ succeeded" in out
