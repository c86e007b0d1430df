"""The client against servers that aren't ours: hand-written byte streams from a stdlib server.

The cloud sits behind proxies and CDNs, which reframe, re-chunk, compress and redirect. Each test
serves exact bytes from ``Peer`` (a raw HTTP/1.1 server on 127.0.0.1 in a thread) or feeds them to the
client's decoder cut at every byte, and checks the client yields the same events every time.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import socket
import socketserver
import subprocess
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any, NamedTuple
from urllib.parse import urlsplit

import httpx
import pytest

from miosa_jupyter import Miosa, StreamError
from miosa_jupyter._sse import Decoder, iter_events

# -- a server that writes exactly the bytes it is given ---------------------------------------------


class Request(NamedTuple):
    method: str
    target: str
    headers: dict[str, str]  # names in lower case
    body: bytes

    @property
    def path(self) -> str:
        return urlsplit(self.target).path


App = Callable[[Request], Iterable[bytes]]


class _Handler(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        peer: Peer = self.server.peer  # type: ignore[attr-defined]
        sock: socket.socket = self.request
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.settimeout(10)
        with sock.makefile("rb") as f:
            line = f.readline(65536).decode("latin-1")
            if not line:
                return
            method, target, _ = line.split(" ", 2)
            headers: dict[str, str] = {}
            while (header := f.readline(65536)) not in (b"\r\n", b"\n", b""):
                name, _, value = header.decode("latin-1").partition(":")
                headers[name.strip().lower()] = value.strip()
            body = f.read(int(headers.get("content-length") or 0))
        request = Request(method, target, headers, body)
        peer.requests.append(request)
        try:
            for chunk in peer.app(request):
                sock.sendall(chunk)
        except OSError:  # the client hung up first (a capped read, a closed stream)
            pass


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True


class Peer:
    """A hand-written HTTP/1.1 server on 127.0.0.1 (port 0) in a thread.

    ``app(request)`` returns what to write as an iterable of bytes: each item is one ``sendall``
    (TCP_NODELAY is set, so small items tend to arrive as separate reads). The connection closes
    after each answer. ``release`` is set at teardown, for handlers that wait (a silent server).
    """

    def __init__(self, app: App) -> None:
        self.app = app
        self.requests: list[Request] = []
        self.release = threading.Event()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.peer = self  # type: ignore[attr-defined]
        self.port = self._server.server_address[1]
        self.origin = f"http://127.0.0.1:{self.port}"
        self.base_url = self.origin + "/api/v1"
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()

    def close(self) -> None:
        self.release.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)


@contextlib.contextmanager
def peers() -> Iterator[Callable[[App], Peer]]:
    """A factory of peers, all closed at the end."""
    made: list[Peer] = []

    def make(app: App) -> Peer:
        p = Peer(app)
        made.append(p)
        return p

    try:
        yield make
    finally:
        for p in made:
            p.close()


@pytest.fixture
def peer() -> Iterator[Callable[[App], Peer]]:
    with peers() as make:
        yield make


CID = "c1"
POST_PATH = f"/api/v1/computers/{CID}/exec/stream"
EVENTS_PATH = POST_PATH + "/events"


def answer(
    status: int, body: bytes = b"", *headers: str, reason: str = "Whatever", length: int | None = None
) -> bytes:
    """A whole answer (``length`` overrides the Content-Length, for a body sent separately)."""
    size = len(body) if length is None else length
    head = [f"HTTP/1.1 {status} {reason}", f"Content-Length: {size}", "Connection: close", *headers]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


def ticket(stream_url: str = EVENTS_PATH + "?ticket=t1") -> bytes:
    body = {"ticket": "t1", "expires_at": 1712700060, "stream_url": stream_url}
    return answer(202, json.dumps(body).encode(), "Content-Type: application/json", reason="Accepted")


def sse_head(*headers: str, ctype: str = "text/event-stream") -> bytes:
    head = ["HTTP/1.1 200 OK", f"Content-Type: {ctype}", "Cache-Control: no-store", "Connection: close"]
    return ("\r\n".join([*head, *headers]) + "\r\n\r\n").encode()


def exec_app(events: App, *, post: App | None = None) -> App:
    """The exec API's two calls: the POST answers a ticket, the events GET is ``events``."""

    def app(request: Request) -> Iterable[bytes]:
        if request.method == "POST" and request.path == POST_PATH:
            return post(request) if post else [ticket()]
        if request.method == "GET" and request.path.startswith(EVENTS_PATH):
            return events(request)
        return [answer(404, b'{"error": {"code": "NOT_FOUND", "message": "no route"}}')]

    return app


def stream_of(wire: bytes, *, split: str = "one", head: bytes | None = None) -> App:
    """An events answer writing ``wire`` in one send, one byte per send, or chunked at odd places."""

    def events(request: Request) -> Iterator[bytes]:
        if split == "chunked":
            yield head or sse_head("Transfer-Encoding: chunked")
            for i in range(0, len(wire), 7):  # 7 bytes: cuts inside field names, JSON and line ends
                piece = wire[i : i + 7]
                yield f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
            yield b"0\r\n\r\n"
            return
        yield head or sse_head()
        if split == "bytes":
            yield from (wire[i : i + 1] for i in range(len(wire)))
        else:
            yield wire

    return events


def run(p: Peer, **kwargs: Any) -> list[tuple[str, dict[str, Any]]]:
    with Miosa("key", base_url=p.base_url, **kwargs) as client:
        return [(e.type, e.data) for e in client.exec.stream(CID, command="make")]


# -- the same events whatever the framing ---------------------------------------------------------

# The API page's own payloads carry no "type": the event name must come from the frame.
A = {"line": "Collecting torch\n", "stream": "stdout"}
B = {"line": "warning: é€\n", "stream": "stderr"}
END = {"exit_code": 3, "duration_ms": 12}
WANT = [
    ("output", {**A, "type": "output"}),
    ("output", {**B, "type": "output"}),
    ("exit", {**END, "type": "exit"}),
]


def page_frames(eol: str = "\n", *, space: str = " ") -> str:
    frames = [("output", A), ("output", B), ("exit", END)]
    return "".join(f"event:{space}{n}{eol}data:{space}{json.dumps(d)}{eol}{eol}" for n, d in frames)


FRAMINGS = {
    "the page's": page_frames(),
    "crlf": page_frames("\r\n"),
    "cr": page_frames("\r"),
    "no space after the colon": page_frames(space=""),
    "comments, ids and retry": (
        ": hello\n\nretry: 3000\n\n"
        + "id: 1\nevent: output\n: inside\ndata: "
        + json.dumps(A)
        + "\n\n"
        + ": heartbeat\r\n\r\n"
        + "event: output\nid: 2\ndata: "
        + json.dumps(B)
        + "\nretry: 10\n\n"
        + ":\n\nevent: exit\ndata: "
        + json.dumps(END)
        + "\n\n"
    ),
    "a bom": "\ufeff" + page_frames(),
    "a bom before a data line": "\ufeffdata: "
    + json.dumps({**A, "type": "output"})
    + "\n\n"
    + page_frames().partition("\n\n")[2],
    "type only inside data": "".join(
        f"data: {json.dumps({'type': n, **d})}\n\n" for n, d in [("output", A), ("output", B), ("exit", END)]
    ),
    "json over several data lines": "".join(
        f"event: {n}\n" + "".join(f"data: {line}\n" for line in json.dumps(d, indent=1).splitlines()) + "\n"
        for n, d in [("output", A), ("output", B), ("exit", END)]
    ),
    "extra blank lines": "\n\n" + page_frames().replace("\n\n", "\n\n\n"),
}


def decode(wire: bytes, cuts: Iterable[int]) -> list[tuple[str, dict[str, Any]]]:
    """What ExecStream.batches does with the reads ``wire`` cut at ``cuts``: stop at the end."""
    decoder = Decoder()
    parts: list[Any] = []
    bounds = sorted(set(cuts))
    for start, end in zip([0, *bounds], [*bounds, len(wire)], strict=True):
        parts += decoder.feed(wire[start:end])
        if decoder.finished:
            break
    return [(e.type, e.data) for e in iter_events(parts)]


def every_cut(wire: bytes) -> Iterator[list[int]]:
    yield []
    yield list(range(1, len(wire)))  # one byte per read
    for cut in range(1, len(wire)):
        yield [cut]


@pytest.mark.parametrize("framing", FRAMINGS)
def test_every_framing_gives_the_same_events_cut_at_every_byte(framing):
    wire = FRAMINGS[framing].encode()
    for cuts in every_cut(wire):
        assert decode(wire, cuts) == WANT, (framing, cuts[:3])


@pytest.mark.parametrize("split", ["one", "bytes", "chunked"])
@pytest.mark.parametrize("framing", ["the page's", "crlf", "cr", "a bom", "comments, ids and retry"])
def test_every_framing_gives_the_same_events_over_the_network(peer, framing, split):
    p = peer(exec_app(stream_of(FRAMINGS[framing].encode(), split=split)))
    assert run(p) == WANT


def test_a_bom_at_the_start_of_the_stream_is_not_the_first_field_name():
    wire = (
        "\ufeffdata: " + json.dumps({**A, "type": "output"}) + "\n\n"
    ).encode() + b"event: exit\ndata: {}\n\n"
    assert decode(wire, [1, 2])[0] == ("output", {**A, "type": "output"})
    # Only one BOM is the stream's: a second one starts the first field name, as the spec says.
    twice = b"\xef\xbb\xbf" + wire
    assert [name for name, _ in decode(twice, [])] == ["exit"]


# -- content encoding, redirects, media types ---------------------------------------------------


def gzip_when_asked(wire: bytes) -> App:
    def events(request: Request) -> Iterator[bytes]:
        if "gzip" in request.headers.get("accept-encoding", ""):
            yield sse_head("Content-Encoding: gzip")
            yield gzip.compress(wire)
        else:
            yield sse_head()
            yield wire

    return events


def test_the_events_get_does_not_advertise_an_encoding_it_does_not_decode(peer):
    p = peer(exec_app(gzip_when_asked(page_frames().encode())))
    assert run(p) == WANT
    [get] = [r for r in p.requests if r.method == "GET"]
    assert get.headers["accept-encoding"] == "identity"


def test_a_gzipped_stream_sent_unasked_is_decoded(peer):
    compressed = gzip.compress(page_frames().encode())
    head = sse_head("Content-Encoding: gzip")
    p = peer(exec_app(lambda r: [head, compressed[:10], compressed[10:]]))
    assert run(p) == WANT


def test_a_stream_in_an_encoding_the_client_cannot_read_is_a_clear_error(peer):
    p = peer(exec_app(lambda r: [sse_head("Content-Encoding: br"), b"\x1b\x00garbage"]))
    with pytest.raises(StreamError, match="br"):
        run(p)


def redirect(location: str, status: int = 302) -> bytes:
    return answer(status, b"", f"Location: {location}", reason="Found")


def test_the_events_get_follows_redirects_like_event_source(peer):
    wire = page_frames().encode()
    other = peer(lambda r: [sse_head(), wire])
    hops = [
        redirect("/api/v1/elsewhere/events?ticket=t1", 301),
        redirect("moved?ticket=t1", 307),  # relative to the last URL
        redirect(other.origin + "/cdn/events?ticket=t1", 308),
    ]

    def app(request: Request) -> Iterable[bytes]:
        if request.method == "POST":
            return [ticket()]
        return [hops[len([r for r in p.requests if r.method == "GET"]) - 1]]

    p = peer(app)
    with httpx.Client(headers={"Authorization": "Bearer user-default"}) as http:
        assert run(p, http_client=http) == WANT
    assert [r.path for r in p.requests] == [
        POST_PATH,
        EVENTS_PATH,
        "/api/v1/elsewhere/events",
        "/api/v1/elsewhere/moved",
    ]
    [cdn] = other.requests
    assert cdn.target == "/cdn/events?ticket=t1"
    assert "authorization" not in cdn.headers, "credentials must not go to another origin"
    assert cdn.headers["accept"] == "text/event-stream"


def test_the_events_get_follows_at_most_five_redirects(peer):
    p = peer(exec_app(lambda r: [redirect(EVENTS_PATH + "?ticket=t1")]))
    with pytest.raises(StreamError, match="redirect"):
        run(p)
    assert len([r for r in p.requests if r.method == "GET"]) == 6  # the first GET and five hops


@pytest.mark.parametrize(
    "ctype", ["Text/Event-Stream; charset=utf-8", "text/event-stream;charset=UTF-8", " TEXT/EVENT-STREAM "]
)
def test_media_types_compare_case_insensitively_with_parameters(peer, ctype):
    p = peer(exec_app(lambda r: [sse_head(ctype=ctype), page_frames().encode()]))
    assert run(p) == WANT


@pytest.mark.parametrize("ctype", ['text/plain; note="text/event-stream"', "text/event-streamy", "text/html"])
def test_a_media_type_that_only_contains_event_stream_is_refused(peer, ctype):
    p = peer(exec_app(lambda r: [sse_head(ctype=ctype), page_frames().encode()]))
    with pytest.raises(StreamError, match="event stream") as info:
        run(p)
    assert "started" in str(info.value)


# -- the first terminal event ends the run ---------------------------------------------------------


def test_nothing_after_the_first_terminal_event_counts_however_the_bytes_are_split(peer):
    wire = (
        b'event: output\ndata: {"line":"a\\n","stream":"stdout"}\n\n'
        b'event: timeout\ndata: {"timeout_seconds":1}\n\n'
        b'event: exit\ndata: {"exit_code":137}\n\n'
        b'event: output\ndata: {"line":"late\\n","stream":"stdout"}\n\n'
    )
    want = ["output", "timeout"]
    for cuts in every_cut(wire):
        assert [name for name, _ in decode(wire, cuts)] == want, cuts[:3]
    p = peer(exec_app(stream_of(wire)))
    assert [name for name, _ in run(p)] == want


def test_the_first_terminal_event_ends_a_batch_of_our_own_framing():
    from miosa_jupyter.local._sse import encode_event

    wire = encode_event("error", {"message": "boom"}) + encode_event("exit", {"exit_code": 0})
    batch = Decoder().feed(wire)
    assert [p["type"] for p in batch] == ["error"]


# -- data that isn't the object the page defines is kept, never dropped -------------------------


@pytest.mark.parametrize(
    ("data", "line"),
    [
        ("data: plain text", "plain text\n"),
        ("data: 42", "42\n"),
        ('data: "a json string"', '"a json string"\n'),
        ("data: [1, 2]", "[1, 2]\n"),
        ('data: {"text": "no line key"}', '{"text": "no line key"}\n'),
        ('data: {"line": 7}', '{"line": 7}\n'),
        ("data: first\ndata: second", "first\nsecond\n"),
        ('data: {"line": "a\\n"}\ndata: {"line": "b\\n"}', '{"line": "a\\n"}\n{"line": "b\\n"}\n'),
    ],
)
def test_output_data_that_is_not_the_pages_object_is_kept_as_text(data, line):
    wire = f"event: output\n{data}\n\nevent: exit\ndata: {{}}\n\n".encode()
    for cuts in ([], [len(wire) // 2]):
        [(name, payload), (end, _)] = decode(wire, cuts)
        assert (name, end) == ("output", "exit")
        assert payload["line"] == line
        assert payload["stream"] == "stdout"


def test_an_error_event_with_text_data_keeps_the_text_as_its_message():
    [(name, payload)] = decode(b"event: error\ndata: agent crashed\n\n", [])
    assert name == "error"
    assert payload["message"] == "agent crashed"


def test_an_event_with_no_name_and_text_data_is_delivered_not_dropped():
    [(name, payload), _] = decode(b"data: hello\n\nevent: exit\ndata: {}\n\n", [])
    assert name == "message"
    assert payload["raw"] == "hello"


# -- dependencies ---------------------------------------------------------------------------------


def test_the_client_imports_no_private_module_of_httpx_sse():
    code = (
        "import sys, miosa_jupyter._client, miosa_jupyter._stream, miosa_jupyter._sse;"
        "print(sorted(m for m in sys.modules if m.startswith('httpx_sse')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "[]"
