"""Resuming against servers that aren't ours (``Peer``, a raw stdlib server): dense ids in the
first field as Miosa's cloud promises, cut at every byte boundary; no ids at all; a refusal."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator

import pytest

from miosa_jupyter import AsyncMiosa, Miosa, StreamError

from .test_client_foreign import CID, App, Peer, Request, answer, exec_app, peers, sse_head


@pytest.fixture
def peer() -> Iterator[Callable[[App], Peer]]:
    with peers() as make:
        yield make


LINES = ["a\n", "é€😀\n", "c\n", "d\n"]
IDS = [f"01HX{i:022d}" for i in range(1, len(LINES) + 2)]  # monotonic ULID-like ids


def dense_frames() -> list[bytes]:
    """One frame per event, its id in the first field (the cloud's ``id: <ULID>``)."""
    frames = []
    for i, line in enumerate(LINES):
        data = json.dumps({"line": line, "stream": "stdout"}, ensure_ascii=False)
        frames.append(f"id: {IDS[i]}\nevent: output\ndata: {data}\n\n".encode())
    frames.append(f'id: {IDS[-1]}\nevent: exit\ndata: {{"exit_code": 0}}\n\n'.encode())
    return frames


class Resuming:
    """Events app: the first GET is cut after ``cut`` bytes; later ones honour Last-Event-ID."""

    def __init__(self) -> None:
        self.frames = dense_frames()
        self.cut = 0
        self.asked: list[str | None] = []

    def __call__(self, request: Request) -> Iterator[bytes]:
        last = request.headers.get("last-event-id")
        self.asked.append(last)
        yield sse_head()
        if last is None:
            yield b"".join(self.frames)[: self.cut]
            return
        start = IDS.index(last) + 1 if last in IDS else 0
        yield b"".join(self.frames[start:])


def read_into(p: Peer, got: list[str]) -> None:
    with Miosa("key", base_url=p.base_url) as client:
        got.extend(e.line for e in client.exec.stream(CID, command="make"))


def lines_of(p) -> list[str]:
    with Miosa("key", base_url=p.base_url) as client:
        return [e.line for e in client.exec.stream(CID, command="make") if e.type == "output"]


def test_dense_ids_in_the_first_field_resume_exactly_cut_at_every_byte(peer):
    events = Resuming()
    p = peer(exec_app(events))
    wire = b"".join(events.frames)
    for cut in range(1, len(wire)):
        events.cut, events.asked = cut, []
        if b"\n\n" not in wire[:cut]:
            with pytest.raises(StreamError, match="no event id"):
                lines_of(p)
            continue
        assert lines_of(p) == LINES, cut
        assert events.asked[0] is None and events.asked[1] in IDS, (cut, events.asked)


def test_dense_ids_resume_async_too(peer):
    events = Resuming()
    events.cut = b"".join(events.frames).index(b"\xc3") + 1  # inside "é"

    async def main(url: str) -> list[str]:
        async with AsyncMiosa("key", base_url=url) as client:
            return [e.line async for e in client.exec.stream(CID, command="make") if e.type == "output"]

    p = peer(exec_app(events))
    assert asyncio.run(main(p.base_url)) == LINES
    assert events.asked == [None, IDS[0]]


def test_a_stream_without_ids_that_drops_is_a_clear_error(peer):
    body = b'event: output\ndata: {"line": "a\\n", "stream": "stdout"}\n\n'
    p = peer(exec_app(lambda r: [sse_head(), body]))
    got: list[str] = []
    with pytest.raises(StreamError) as info:
        read_into(p, got)
    assert got == ["a\n"]
    assert "could not be resumed: the server sent no event id" in str(info.value)
    assert len([r for r in p.requests if r.method == "GET"]) == 1, "nothing to resume from: no retry"


def test_a_refused_resume_is_a_clear_error_after_the_output_so_far(peer):
    frames = dense_frames()
    refusal = b'{"error": {"code": "RESUME_UNAVAILABLE", "message": "Event too old."}}'

    def events(request: Request) -> list[bytes]:
        if request.headers.get("last-event-id"):
            return [answer(410, refusal, "Content-Type: application/json", reason="Gone")]
        return [sse_head(), frames[0] + frames[1]]

    p = peer(exec_app(events))
    got: list[str] = []
    with pytest.raises(StreamError) as info:
        read_into(p, got)
    assert got == LINES[:2]
    message = str(info.value)
    assert f"tried to resume after event {IDS[1]}, but the server refused" in message
    assert "Event too old" in message and "RESUME_UNAVAILABLE" in message
    assert [r.headers.get("last-event-id") for r in p.requests if r.method == "GET"] == [None, IDS[1]]


def test_a_server_that_drops_every_reconnection_runs_out_of_attempts(peer):
    frames = dense_frames()
    p = peer(exec_app(lambda r: [sse_head(), b"" if r.headers.get("last-event-id") else frames[0]]))
    with Miosa("key", base_url=p.base_url) as client, pytest.raises(StreamError) as info:
        list(client.exec.stream(CID, command="make"))
    assert "5 times" in str(info.value) and "dropped before an event" in str(info.value)
    assert [r.method for r in p.requests].count("POST") == 1, "a resume never re-POSTs"
