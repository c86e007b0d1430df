"""One very long event through the client: delivered whole, in time linear in its length.

Run as a script for the benchmark of issue 10 (parse time of one 40 MB and one 100 MB event fed in
64 KiB reads, as ``ExecStream`` reads them)::

    .venv/bin/python -m tests.server.test_client_long_events 40 100
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator

from miosa_jupyter import Miosa
from miosa_jupyter._sse import Decoder

from .test_client_foreign import CID, Peer, exec_app, sse_head


def one_event(megabytes: float, eol: str = "\n") -> bytes:
    """One ``output`` event of a line of ``megabytes`` MB (our framing), then the exit."""
    line = "x" * int(megabytes * 1_000_000)
    return (
        f'event: output{eol}data: {{"type":"output","line":"{line}\\n","stream":"stdout"}}{eol}{eol}'
        f'event: exit{eol}data: {{"type":"exit","exit_code":0}}{eol}{eol}'
    ).encode()


def test_a_24_mb_line_arrives_whole_over_the_network():
    wire = one_event(24)

    def events(request: object) -> Iterator[bytes]:
        yield sse_head()
        for i in range(0, len(wire), 16384):
            yield wire[i : i + 16384]

    p = Peer(exec_app(events))
    try:
        with Miosa("key", base_url=p.base_url) as client:
            events = list(client.exec.stream(CID, command="make"))
    finally:
        p.close()
    assert [(e.type, len(e.line)) for e in events] == [("output", 24_000_001), ("exit", 0)]


def test_a_long_event_with_cr_line_ends_arrives_whole():
    wire = one_event(4, "\r\n")
    decoder = Decoder()
    parts = []
    for i in range(0, len(wire), 65536):
        parts += decoder.feed(wire[i : i + 65536])
    assert [len(p.get("line", "")) for p in parts] == [4_000_001, 0]
    assert decoder.finished


def bench(megabytes: float) -> None:
    for eol in ("\n", "\r\n"):
        wire = one_event(megabytes, eol)
        decoder = Decoder()
        parts = []
        started = time.perf_counter()
        for i in range(0, len(wire), 65536):
            parts += decoder.feed(wire[i : i + 65536])
        took = time.perf_counter() - started
        assert decoder.finished and len(parts) == 2
        print(f"one {megabytes:g} MB event, {eol!r} line ends, 64 KiB reads: {took:.2f} s", flush=True)


if __name__ == "__main__":
    for size in sys.argv[1:] or ["40", "100"]:
        bench(float(size))
