"""The SSE parser agrees with httpx-sse's own decoders; the server's encoder round-trips through it."""

from __future__ import annotations

import codecs
import json

import pytest
from httpx_sse._decoders import SSEDecoder, SSELineDecoder
from hypothesis import example, given, settings
from hypothesis import strategies as st

from miosa_jupyter._sse import SSEParser
from miosa_jupyter.local._sse import OutputChunk, encode_event, encode_output

# -- the oracle --------------------------------------------------------------------------------


def oracle(text: str, *, end: bool = False) -> list[tuple[str, str]]:
    """httpx-sse's decoders over the whole stream at once; event "" and "message" are the same.

    ``end=True`` also flushes, as httpx-sse's ``iter_sse`` does when the response ends.
    One correction to httpx-sse, from the WHATWG spec ("if the data buffer is an empty string ...
    return"): a frame with no ``data:`` field dispatches nothing. httpx-sse dispatches an empty event
    there whenever an earlier ``id:`` is remembered, so every ``: heartbeat`` after an event with an id
    would become an event.
    """
    lines, decoder = SSELineDecoder(), SSEDecoder()
    out = []
    for line in [*lines.decode(text), *(lines.flush() if end else [])] if text else []:
        no_data = line == "" and not decoder._data
        sse = decoder.decode(line)
        if no_data:
            continue
        if sse is not None:
            out.append((sse.event or "message", sse.data))
    return out


def normalise(events: list[tuple[str, str]]) -> list[tuple[str, str]]:
    return [(name or "message", data) for name, data in events]


def parse_bytes(data: bytes, cuts: list[int]) -> list[tuple[str, str]]:
    """What the client does: bytes cut at ``cuts``, decoded incrementally as UTF-8, fed to the parser."""
    decode = codecs.getincrementaldecoder("utf-8")(errors="replace").decode
    parser = SSEParser()
    out: list[tuple[str, str]] = []
    start = 0
    for cut in [*sorted(set(cuts)), len(data)]:
        text = decode(data[start:cut])
        start = cut
        if text:
            out += parser.feed(text)
    return normalise(out)


# -- streams -----------------------------------------------------------------------------------

no_newline = st.text(alphabet=st.characters(blacklist_characters="\r\n", blacklist_categories=["Cs"]))
name = st.one_of(st.sampled_from(["output", "exit", "timeout", "error", "message", ""]), no_newline)
# Data is JSON of any text: the \r and \n in it are escaped, never raw on the wire.
json_text = st.text().map(lambda s: json.dumps(s, ensure_ascii=False))
data_value = st.one_of(json_text, no_newline)
eol = st.sampled_from(["\n", "\r\n", "\r"])


@st.composite
def frame(draw: st.DrawFn) -> str:
    kind = draw(st.sampled_from(["event", "event", "event", "comment"]))
    end = draw(eol)
    if kind == "comment":
        return ":" + draw(st.sampled_from([" heartbeat", "", " x: y"])) + end + end
    lines = []
    ev = draw(st.none() | name)
    if ev is not None:
        lines.append(f"event: {ev}")
    for value in draw(st.lists(data_value, min_size=1, max_size=3)):
        lines.append(draw(st.sampled_from(["data: ", "data:"])) + value)
    if draw(st.booleans()):
        lines.insert(draw(st.integers(0, len(lines))), f"id: {draw(st.integers(0, 999))}")
    if draw(st.booleans()):
        lines.insert(draw(st.integers(0, len(lines))), f"retry: {draw(st.integers(0, 5000))}")
    if draw(st.booleans()):
        lines.insert(draw(st.integers(0, len(lines))), ": comment inside")
    return end.join(lines) + end + end


def strict_frame(ev: str, data: str) -> str:
    return f"event: {ev}\ndata: {data}\n\n"


streams = st.lists(frame(), max_size=8).map("".join)


@given(streams, st.lists(st.integers(0, 4000), max_size=12))
@example("event: output\r\ndata: {}\r\n\r\n", [])
@example(strict_frame("output", '{"line":"a"}') + "event: exit\r\ndata: {}\r\n\r\n", [20])
@example(": heartbeat\n\n" + strict_frame("output", "{}"), [1, 13])
@example("id: 1\ndata: x\n\n: heartbeat\n\ndata: y\n\n", [])
@settings(max_examples=300, deadline=None)
def test_parser_agrees_with_httpx_sse_on_random_splits(text, cuts):
    data = text.encode()
    expected = oracle(text, end=True)
    assert parse_bytes(data, [c for c in cuts if c < len(data)]) == expected


@pytest.mark.slow
@given(streams)
@example(strict_frame("output", '{"line":"é\\r"}') + ": hb\n\n" + "event: exit\r\ndata: 1\r\n\r\n")
@settings(max_examples=60, deadline=None)
def test_parser_agrees_with_httpx_sse_cut_at_every_byte(text):
    data = text.encode()
    expected = oracle(text, end=True)
    # One byte at a time, and every single two-way cut.
    assert parse_bytes(data, list(range(1, len(data)))) == expected
    for cut in range(1, len(data)):
        assert parse_bytes(data, [cut]) == expected, cut


def test_parser_dispatches_an_event_ended_by_a_lone_cr_at_once():
    # "\r\r" is two line ends (a blank line): the event is complete, whatever follows. httpx-sse
    # delivers it when the response ends; a parser that holds it back loses a stream's last event
    # (its exit) and the client then reports a dropped stream.
    text = 'event: exit\rdata: {"type":"exit","exit_code":0}\r\r'
    assert oracle(text, end=True) == [("exit", '{"type":"exit","exit_code":0}')]
    assert normalise(SSEParser().feed(text)) == oracle(text, end=True)


def test_heartbeat_after_an_event_with_an_id_is_not_an_event():
    # DESIGN.md section 2's frame carries an id; a heartbeat read in the same chunk must not become a
    # spurious "message" event, whatever the chunking.
    text = 'event: output\nid: 17\ndata: {"type":"output","line":"a\\n","stream":"stdout"}\n\n: heartbeat\n\n'
    want = [("output", '{"type":"output","line":"a\\n","stream":"stdout"}')]
    assert oracle(text) == want
    assert parse_bytes(text.encode(), []) == want
    assert parse_bytes(text.encode(), [5]) == want


@pytest.mark.parametrize("eol", ["\n", "\r\n", "\r"])
def test_one_long_event_cut_into_many_reads_is_parsed_whole(eol):
    # Issue 10: the text of an unfinished event was re-joined and re-searched on every read
    # (quadratic: 12.6 s for one 40 MB event). The time is in the benchmark of
    # tests/server/test_client_long_events.py; here, that the pieces come back whole on both paths.
    line = "é" * 1_500_000 + "x"
    text = (
        f'event: output{eol}data: {{"line":"{line}"}}{eol}{eol}'
        + f"data: a{eol}"
        + f"data: {'y' * 1_000_000}{eol}" * 3
        + eol
        + f": {'z' * 100_000}{eol}{eol}"
    )
    data = text.encode()
    events = parse_bytes(data, list(range(4099, len(data), 4099)))  # cuts inside é too
    assert events == oracle(text)
    assert [len(d) for _, d in events] == [len(line) + 11, 1 + 3 * 1_000_001]


def test_a_bom_starts_no_field_name_on_either_path():
    for text in ["\ufeffevent: exit\ndata: {}\n\n", "\ufeffdata: x\r\n\r\n"]:
        for cut in range(len(text) + 1):
            parser = SSEParser()
            events = parser.feed(text[:cut]) + parser.feed(text[cut:])
            assert normalise(events) == oracle(text[1:]), cut


def test_parser_mixes_fast_and_slow_frames_in_one_stream():
    text = (
        strict_frame("output", '{"line":"a\\n"}')
        + 'event: output\r\ndata: {"line":"b"}\r\n\r\n'
        + strict_frame("output", '{"line":"c"}')
        + "data: one\ndata: two\n\n"
        + strict_frame("exit", '{"exit_code":0}')
    )
    assert parse_bytes(text.encode(), []) == oracle(text)
    assert [d for _, d in oracle(text)][-2:] == ["one\ntwo", '{"exit_code":0}']


# -- the server's encoder ----------------------------------------------------------------------

line_text = st.text(alphabet=st.characters(blacklist_characters="\n", blacklist_categories=["Cs"]))
tricky = st.sampled_from(
    ['", "', '"', "\\", '\\", "', "\r", "\x00", "\x1b[31m", "é€😀", "", "\u2028", "data: x"]
)
lines_strategy = st.lists(st.one_of(line_text, tricky), min_size=1, max_size=20)


@given(lines_strategy, st.booleans(), st.sampled_from(["stdout", "stderr"]), st.lists(st.integers(0, 10**5)))
@example(['a", "b', '", "'], False, "stdout", [])
@example(["x\r", "\\", '"'], True, "stderr", [3])
@settings(max_examples=300, deadline=None)
def test_encoded_output_round_trips_through_parser_and_json(lines, partial, stream, cuts):
    wire = encode_output(OutputChunk(stream, lines, partial)).decode()
    data = wire.encode()
    events = parse_bytes(data, [c for c in cuts if c < len(data)])
    assert len(events) == len(lines)
    want = [line + "\n" for line in lines]
    if partial:
        want[-1] = lines[-1]
    for (name, payload), line in zip(events, want, strict=True):
        assert name == "output"
        assert json.loads(payload) == {"type": "output", "line": line, "stream": stream}
    assert parse_bytes(data, []) == oracle(wire)


@given(
    st.sampled_from(["exit", "timeout", "error"]),
    st.dictionaries(
        st.sampled_from(["message", "exit_code", "duration_ms"]), st.one_of(st.integers(), st.text())
    ),
)
@settings(max_examples=100, deadline=None)
def test_encoded_terminal_event_round_trips(name, payload):
    wire = encode_event(name, payload).decode()
    [(ev, data)] = parse_bytes(wire.encode(), [])
    assert ev == name
    assert json.loads(data) == {"type": name, **payload}


@given(
    st.lists(
        st.tuples(lines_strategy, st.booleans(), st.sampled_from(["stdout", "stderr"])),
        min_size=1,
        max_size=4,
    ),
    st.lists(st.integers(0, 10**5), max_size=6),
)
@example([(['a", "b', '"'], False, "stdout"), (["x"], True, "stderr")], [])
@settings(max_examples=200, deadline=None)
def test_bulk_decoded_output_runs_match_the_per_event_decoding(chunks, cuts):
    """The client's fast path (``split_outputs``: one json.loads per region, no per-line parsing)
    gives exactly the lines the general path gives, however the bytes are cut."""
    from miosa_jupyter._sse import Decoder, iter_events

    wire = b"".join(encode_output(OutputChunk(stream, lines, partial)) for lines, partial, stream in chunks)
    wire += encode_event("exit", {"exit_code": 0, "duration_ms": 1})
    decoder = Decoder()
    bounds = sorted({c for c in cuts if 0 < c < len(wire)})
    parts = []
    for start, end in zip([0, *bounds], [*bounds, len(wire)], strict=True):
        parts += decoder.feed(wire[start:end])
    fast = [(e.type, e.data.get("line"), e.data.get("stream")) for e in iter_events(parts)]
    slow = [
        (name, json.loads(data).get("line"), json.loads(data).get("stream"))
        for name, data in parse_bytes(wire, [])
    ]
    assert fast == slow
    assert decoder.finished


def test_a_region_of_one_stream_is_decoded_in_bulk():
    from miosa_jupyter._sse import Decoder, StreamLines

    lines = ["plain", 'quote " and \\ backslash', "tab\there", "é€😀"]
    parts = Decoder().feed(encode_output(OutputChunk("stderr", lines, False)))
    assert parts == [StreamLines("stderr", [line + "\n" for line in lines])]
