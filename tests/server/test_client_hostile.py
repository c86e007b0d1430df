"""The client against hostile or broken servers: silence, dropped connections, huge or compressed
error bodies, answers that aren't the API's, and URLs that point elsewhere. Every message must say
what is known (was the command started?) and every read must be bounded."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
import tracemalloc
import zlib
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import httpx
import pytest

from miosa_jupyter import APIConnectionError, APIStatusError, AsyncMiosa, Miosa, MiosaError, StreamError

from .test_client_foreign import (
    CID,
    EVENTS_PATH,
    POST_PATH,
    WANT,
    App,
    Peer,
    Request,
    answer,
    exec_app,
    page_frames,
    peers,
    sse_head,
    ticket,
)


@pytest.fixture
def peer() -> Iterator[Callable[[App], Peer]]:
    with peers() as make:
        yield make


def no_answer(p: Peer) -> list[bytes]:
    """Read the request, say nothing until the test ends (bounded), then hang up."""
    p.release.wait(10)
    return []


OUTPUT = b'event: output\ndata: {"line":"first\\n","stream":"stdout"}\n\n'


def silent_after(release: threading.Event, wire: bytes = OUTPUT) -> Iterator[bytes]:
    yield sse_head()
    yield wire
    # Silence (a dead proxy, a lost route) until the test ends; bounded so a failing test ends too.
    release.wait(10)


def stream(p: Peer, **kwargs: Any) -> list[Any]:
    with Miosa("key", base_url=p.base_url, **kwargs) as client:
        return list(client.exec.stream(CID, command="make"))


# -- 8. a stream that goes silent is a dropped stream --------------------------------------------------


def test_a_stream_silent_past_the_idle_timeout_raises_a_stream_error(peer):
    p = peer(exec_app(lambda r: silent_after(p.release)))
    seen: list[Any] = []
    started = time.monotonic()
    with Miosa("key", base_url=p.base_url, idle_timeout=0.5) as client, pytest.raises(StreamError) as info:
        seen.extend(client.exec.stream(CID, command="make"))
    took = time.monotonic() - started
    assert [e.line for e in seen] == ["first\n"]  # the output before the silence was delivered
    assert took < 5, "the silence was not noticed"
    message = str(info.value)
    assert "no data for 0.5 s" in message
    assert f"may still be running on {CID}" in message


def test_the_idle_timeout_can_be_set_per_stream(peer):
    p = peer(exec_app(lambda r: silent_after(p.release)))
    with Miosa("key", base_url=p.base_url) as client, pytest.raises(StreamError, match=r"no data for 0\.3 s"):
        list(client.exec.stream(CID, command="make", idle_timeout=0.3))


def test_heartbeats_keep_a_quiet_stream_alive(peer):
    def events(request: Request) -> Iterator[bytes]:
        yield sse_head()
        for _ in range(6):  # 1.2 s of heartbeats, each well inside the 0.5 s idle timeout
            p.release.wait(0.2)
            yield b": heartbeat\n\n"
        yield page_frames().encode()

    p = peer(exec_app(events))
    assert [(e.type, e.data) for e in stream(p, idle_timeout=0.5)] == WANT


def test_the_async_client_raises_a_stream_error_on_silence(peer):
    p = peer(exec_app(lambda r: silent_after(p.release)))

    async def main() -> tuple[list[Any], BaseException | None]:
        seen: list[Any] = []
        async with AsyncMiosa("key", base_url=p.base_url, idle_timeout=0.5) as client:
            try:
                async for event in client.exec.stream(CID, command="make"):
                    seen.append(event)
            except StreamError as exc:
                return seen, exc
        return seen, None

    seen, error = asyncio.run(asyncio.wait_for(main(), 5))
    assert [e.line for e in seen] == ["first\n"]
    assert isinstance(error, StreamError)
    assert "no data for 0.5 s" in str(error)


def test_an_events_url_that_never_answers_says_the_command_was_started(peer):
    p = peer(exec_app(lambda r: no_answer(p)))
    with pytest.raises(APIConnectionError) as info:
        stream(p, idle_timeout=0.5)
    assert info.value.started is True
    assert "nothing was started" not in str(info.value)
    assert f"started on {CID}" in str(info.value)


# -- 10. messages that are true ------------------------------------------------------------------------


def test_an_events_connection_dropped_after_the_post_says_the_command_was_started(peer):
    p = peer(exec_app(lambda r: []))  # the GET is read, then the connection closes unanswered
    with pytest.raises(APIConnectionError) as info:
        stream(p)
    message = str(info.value)
    assert "nothing was started" not in message
    assert f"started on {CID}" in message
    assert "may still be running" in message
    assert info.value.started is True


def test_a_post_that_got_no_answer_says_the_command_may_have_started(peer):
    p = peer(exec_app(lambda r: [], post=lambda r: []))  # the POST is read, then no answer
    with pytest.raises(APIConnectionError) as info:
        stream(p)
    message = str(info.value)
    assert "nothing was started" not in message
    assert f"may have started on {CID}" in message
    assert info.value.started is None
    assert [r.method for r in p.requests] == ["POST"], "never retried"


def test_a_post_that_timed_out_says_the_command_may_have_started(peer):
    p = peer(lambda r: no_answer(p))
    with Miosa("key", base_url=p.base_url, timeout=0.5) as client, pytest.raises(APIConnectionError) as info:
        client.exec.stream(CID, command="make")
    assert "ReadTimeout" in str(info.value)
    assert f"may have started on {CID}" in str(info.value)
    assert info.value.started is None


def test_a_waiting_exec_cut_before_its_answer_says_the_command_may_have_started(peer):
    p = peer(lambda r: [])
    with Miosa("key", base_url=p.base_url) as client:
        for call in (
            lambda: client.exec.run(CID, command="make"),
            lambda: client.exec.python(CID, code="print(1)"),
        ):
            with pytest.raises(APIConnectionError, match=f"may have started on {CID}"):
                call()
    assert [r.method for r in p.requests] == ["POST", "POST"], "never retried"


def test_a_connect_failure_says_nothing_was_started():
    with socket.socket() as s:  # a port that was free a moment ago: nothing listens there
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with Miosa("key", base_url=f"http://127.0.0.1:{port}/api/v1") as client:
        with pytest.raises(APIConnectionError) as info:
            client.exec.stream(CID, command="make")
        assert "nothing was started" in str(info.value)
        assert info.value.started is False
        with pytest.raises(APIConnectionError) as listing:
            client.computers.list()
        assert "started" not in str(listing.value), "a GET starts nothing: no word about it"


def test_a_stream_dropped_mid_way_says_the_command_may_still_be_running(peer):
    p = peer(exec_app(lambda r: [sse_head(), OUTPUT]))
    with pytest.raises(StreamError) as info:
        stream(p)
    assert f"may still be running on {CID}" in str(info.value)


# -- 11. hostile answers are bounded and refused with a true message ---------------------------------


def huge(status: int, head: list[str], chunk: bytes, count: int, first: bytes = b"") -> Iterable[bytes]:
    """An answer of ``first`` plus ``count`` copies of ``chunk`` (one object: no memory in the server)."""
    yield answer(status, b"", *head, reason="Error", length=len(first) + len(chunk) * count)
    yield first
    for _ in range(count):
        yield chunk


def peak_bytes(call: Any) -> tuple[BaseException, int]:
    tracemalloc.start()
    try:
        call()
    except BaseException as exc:
        error = exc
    else:
        raise AssertionError("no error raised")
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return error, peak


def test_a_huge_json_error_message_is_read_bounded_and_cut(peer):
    first = b'{"error": {"code": "BOOM", "message": "'
    p = peer(lambda r: huge(500, ["Content-Type: application/json"], b"x" * 65536, 320, first))  # 20 MB
    with Miosa("key", base_url=p.base_url) as client:
        error, peak = peak_bytes(lambda: client.exec.stream(CID, command="make"))
    assert isinstance(error, APIStatusError)
    assert error.status_code == 500
    assert len(str(error)) < 600
    assert peak < 4 << 20, f"{peak} bytes held for a 20 MB error body"


def test_a_gzip_bomb_error_body_never_inflates_past_the_cap(peer):
    bomb = zlib.compressobj(wbits=31)
    block = b"\0" * (1 << 20)
    body = b"".join(bomb.compress(block) for _ in range(200)) + bomb.flush()  # 200 MB inflated
    assert len(body) < 400_000
    p = peer(lambda r: [answer(502, body, "Content-Type: text/plain", "Content-Encoding: gzip")])
    with Miosa("key", base_url=p.base_url) as client:
        error, peak = peak_bytes(lambda: client.computers.list())
    assert isinstance(error, APIStatusError)
    assert error.status_code == 502
    assert len(str(error)) < 600
    assert peak < 8 << 20, f"{peak} bytes held for a 400 KB gzip bomb"


def test_a_huge_error_on_the_events_url_is_bounded_too(peer):
    chunk = b"<html>" * 10000
    p = peer(exec_app(lambda r: huge(410, ["Content-Type: text/html"], chunk, 300)))
    with Miosa("key", base_url=p.base_url) as client:
        error, peak = peak_bytes(lambda: client.exec.stream(CID, command="make"))
    assert isinstance(error, APIStatusError)
    assert error.status_code == 410
    assert len(str(error)) < 600
    assert peak < 4 << 20


def test_long_error_codes_and_request_ids_are_cut(peer):
    body = json.dumps({"error": {"code": "C" * 10000, "message": "m" * 10000, "request_id": "r" * 10000}})
    p = peer(lambda r: [answer(400, body.encode(), "Content-Type: application/json")])
    with Miosa("key", base_url=p.base_url) as client, pytest.raises(APIStatusError) as info:
        client.computers.get(CID)
    assert len(str(info.value)) < 800
    assert info.value.code.startswith("CCC")


def test_a_stream_url_on_another_origin_is_not_followed(peer):
    other = peer(lambda r: [sse_head(), page_frames().encode()])
    p = peer(exec_app(lambda r: [], post=lambda r: [ticket(other.base_url + "/events?ticket=t1")]))
    with pytest.raises(MiosaError) as info:
        stream(p)
    assert "another origin" in str(info.value)
    assert other.origin in str(info.value)
    assert f"started on {CID}" in str(info.value)
    assert other.requests == []
    assert [r.method for r in p.requests] == ["POST"]


@pytest.mark.parametrize("stream_url", ["file:///etc/passwd", "//127.0.0.1:9/x", "javascript:alert(1)"])
def test_a_stream_url_with_another_scheme_or_host_is_not_followed(peer, stream_url):
    p = peer(exec_app(lambda r: [], post=lambda r: [ticket(stream_url)]))
    with pytest.raises(MiosaError, match="another origin"):
        stream(p)
    assert [r.method for r in p.requests] == ["POST"]


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_a_redirect_on_the_post_is_never_followed(peer, status):
    moved = POST_PATH.replace(CID, "c2")
    p = peer(
        lambda r: (
            [ticket()] if r.path == moved else [answer(status, b"", f"Location: {moved}", reason="Moved")]
        )
    )
    # Even a client made to follow redirects: a second POST would run the command twice.
    with httpx.Client(follow_redirects=True) as http, pytest.raises(APIStatusError) as info:
        stream(p, http_client=http)
    assert info.value.status_code == status
    assert moved in str(info.value)
    assert [r.path for r in p.requests] == [POST_PATH]


@pytest.mark.parametrize(
    ("body", "ctype"),
    [
        (b"<html>Accepted</html>", "text/html"),
        (b"", "application/json"),
        (b'{"ticket": "t1"', "application/json"),
        (b"[1, 2]", "application/json"),
        (b'"t1"', "application/json"),
        (b"null", "application/json"),
    ],
)
def test_a_ticket_answer_that_is_not_a_json_object_is_a_miosa_error(peer, body, ctype):
    p = peer(exec_app(lambda r: [], post=lambda r: [answer(202, body, f"Content-Type: {ctype}")]))
    with pytest.raises(APIStatusError) as info:
        stream(p)
    message = str(info.value)
    assert "JSON object" in message
    assert f"may have started on {CID}" in message
    assert info.value.status_code == 202


@pytest.mark.parametrize("answer_body", [{}, {"ticket": 5}, {"stream_url": ["x"]}, {"expires_at": 1}])
def test_a_ticket_answer_without_a_ticket_is_a_miosa_error(peer, answer_body):
    p = peer(exec_app(lambda r: [], post=lambda r: [answer(202, json.dumps(answer_body).encode())]))
    with pytest.raises(MiosaError, match="ticket") as info:
        stream(p)
    assert f"may have started on {CID}" in str(info.value)
    assert [r.method for r in p.requests] == ["POST"]


@pytest.mark.parametrize("body", [b"not json", b"[1]", b"42"])
def test_other_answers_that_are_not_json_objects_are_miosa_errors(peer, body):
    p = peer(lambda r: [answer(200, body, "Content-Type: application/json")])
    with Miosa("key", base_url=p.base_url) as client:
        with pytest.raises(APIStatusError, match="JSON"):
            client.computers.get(CID)
        with pytest.raises(APIStatusError, match="JSON"):
            client.exec.run(CID, command="make")
        if body != b"[1]":
            with pytest.raises(APIStatusError, match="JSON"):
                client.computers.list()


def test_the_async_client_refuses_the_same_answers(peer):
    other = peer(lambda r: [])
    answers = iter(
        [[answer(202, b"[]")], [ticket(other.base_url + "/x")], [answer(307, b"", "Location: /x")]]
    )
    p = peer(exec_app(lambda r: [], post=lambda r: next(answers)))

    async def main() -> list[BaseException]:
        errors = []
        async with AsyncMiosa("key", base_url=p.base_url) as client:
            for _ in range(3):
                try:
                    async for _ in client.exec.stream(CID, command="make"):
                        pass
                except MiosaError as exc:
                    errors.append(exc)
        return errors

    errors = asyncio.run(asyncio.wait_for(main(), 10))
    assert [type(e) for e in errors] == [APIStatusError, MiosaError, APIStatusError]
    assert "another origin" in str(errors[1])
    assert other.requests == []
    assert EVENTS_PATH not in [r.path for r in p.requests]
