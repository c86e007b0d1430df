"""Command output is text: hostile bytes through the renderer alone (``line_html``), only spans with
class/style come out. The whole path in a real kernel is ``tests/kernel/test_output_safety.py``."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from miosa_jupyter._present import line_html

from .._support.markup import HOSTILE, LINE_ATTRS, LINE_TAGS, LITERALS, check_html

hostile_chars = st.text(
    alphabet=st.sampled_from([*"\x1b[];0123456789mKHJAB\x07\\<>\"'&/=: sciptrh(8\r\b\x00\x9b\x90", "\u202e"]),
    max_size=80,
)


@settings(max_examples=300, deadline=None, database=None)
@given(text=st.one_of(hostile_chars, st.text(max_size=80)), stream=st.sampled_from(["stdout", "stderr"]))
def test_line_html_emits_only_spans(text: str, stream: str):
    parser = check_html(line_html(text.replace("\n", ""), stream), tags=LINE_TAGS, attrs=LINE_ATTRS)
    shown = "".join(parser.text)
    assert shown.count("<") <= text.count("<") and shown.count(">") <= text.count(">")


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_line_html_of_hostile_lines(name: str):
    for line in HOSTILE[name].decode("utf-8", "replace").split("\n"):
        for stream in ("stdout", "stderr"):
            parser = check_html(line_html(line, stream), tags=LINE_TAGS, attrs=LINE_ATTRS)
            if name in LITERALS and LITERALS[name] in line:
                assert LITERALS[name] in "".join(parser.text)
