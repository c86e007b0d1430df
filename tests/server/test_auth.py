"""Auth and origin checks: almost-right tokens, the constant-time compare, forged tickets, Host headers
(DNS rebinding), CORS. (``serve --host 0.0.0.0`` without ``--token`` is refused: test_cli.py.)"""

from __future__ import annotations

import base64
import hmac
import secrets
from pathlib import Path
from typing import Any

import httpx
import pytest

from .._support.answers import assert_error_shape, port_of, raw_request
from .._support.servers import raw_client

CID = "local"
EXEC = f"/api/v1/computers/{CID}/exec"
STREAM = f"/api/v1/computers/{CID}/exec/stream"


def _almost(token: str) -> dict[str, bytes]:
    mid = len(token) // 2

    def flip(i: int) -> str:
        return token[:i] + ("A" if token[i] != "A" else "B") + token[i + 1 :]

    cases = {
        "first-char": flip(0),
        "middle-char": flip(mid),
        "last-char": flip(len(token) - 1),
        "prefix": token[:-1],
        "prefix-half": token[:mid],
        "no-first": token[1:],
        "suffix": token + "x",
        "twice": token + token,
        "swapcase": token.swapcase(),
        "upper": token.upper(),
        "lower": token.lower(),
        "inner-space": token[:mid] + " " + token[mid:],
        "inner-tab": token[:mid] + "\t" + token[mid:],
    }
    headers = {name: b"Bearer " + value.encode() for name, value in cases.items() if value != token}
    headers["no-space"] = b"Bearer" + token.encode()
    headers["token-scheme"] = b"Token " + token.encode()
    headers["basic"] = b"Basic " + base64.b64encode(b"user:" + token.encode())
    headers["bare"] = token.encode()
    headers["bearer-colon"] = b"Bearer: " + token.encode()
    headers["non-ascii"] = "Bearer тест-токен".encode()
    headers["latin1"] = b"Bearer " + token.encode()[:-1] + b"\xe9"
    return headers


@pytest.mark.parametrize("case", list(_almost("aB3-" * 11)))
def test_almost_right_tokens_are_401_and_run_nothing(server, case: str, tmp_path: Path):
    value = _almost(server.token).get(case)
    if value is None:
        pytest.skip(f"this token has no distinct {case} variant")
    marker = tmp_path / "ran"
    r = httpx.post(
        server.base_url + f"/computers/{CID}/exec",
        json={"command": f"touch {marker}"},
        headers={"Authorization": value},
        timeout=10,
    )
    err = assert_error_shape(r.status_code, r.headers, r.content)
    assert r.status_code == 401, (case, r.status_code)
    assert err["code"] == "invalid_token"
    assert not marker.exists(), "the command ran"


def test_unicode_whitespace_around_the_token_is_401(server, tmp_path: Path):
    """``_authorized`` strips the presented token with ``str.strip()``, which also removes Unicode
    whitespace decoded from latin-1 header bytes (NBSP ``\\xa0``, NEL ``\\x85``, ...): ``Bearer
    <token>\\xa0`` is accepted. HTTP already strips SP/HTAB around a header value; nothing else
    should be trimmed."""
    token = server.token.encode()
    accepted = []
    for name, value in {
        "nbsp-suffix": b"Bearer " + token + b"\xa0",
        "nbsp-prefix": b"Bearer \xa0" + token,
        "nel-suffix": b"Bearer " + token + b"\x85",
    }.items():
        marker = tmp_path / name
        r = httpx.post(
            server.base_url + f"/computers/{CID}/exec",
            json={"command": f"touch {marker}"},
            headers={"Authorization": value},
            timeout=10,
        )
        if r.status_code != 401 or marker.exists():
            accepted.append((name, r.status_code, marker.exists()))
    assert not accepted, f"accepted almost-right tokens (name, status, command ran): {accepted}"


def test_right_token_with_a_lowercase_scheme_is_accepted(http, server):
    """The auth scheme is case-insensitive (RFC 9110 §11.1); the token is not."""
    r = http.get("/api/v1/computers", headers={"Authorization": f"bearer {server.token}"})
    assert r.status_code == 200


@pytest.mark.parametrize("where", ["query", "x-api-key", "cookie"], ids=["?token=", "X-API-Key", "Cookie"])
def test_the_token_anywhere_but_the_authorization_header_is_401(server, where: str):
    base = server.base_url + "/computers"
    kwargs: dict[str, Any] = {
        "query": {"params": {"token": server.token, "api_key": server.token}},
        "x-api-key": {"headers": {"X-API-Key": server.token, "X-MIOSA-API-KEY": server.token}},
        "cookie": {"headers": {"Cookie": f"token={server.token}"}},
    }[where]
    r = httpx.get(base, timeout=10, **kwargs)
    assert r.status_code == 401
    assert_error_shape(r.status_code, r.headers, r.content)


def test_the_token_is_compared_with_hmac_compare_digest(make_server, monkeypatch):
    """Behaviour, not timing: the presented and expected tokens go through ``hmac.compare_digest``
    (spied here, still called through), for a wrong token and for the right one."""
    srv = make_server()
    calls: list[tuple[Any, Any]] = []
    real = hmac.compare_digest

    def spy(a: Any, b: Any) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    expected = srv.token.encode()
    wrong = srv.token[:-1] + ("A" if srv.token[-1] != "A" else "B")
    url = srv.base_url + "/computers"
    assert httpx.get(url, headers={"Authorization": f"Bearer {wrong}"}).status_code == 401
    assert (wrong.encode(), expected) in calls or (expected, wrong.encode()) in calls, calls
    calls.clear()
    assert httpx.get(url, headers={"Authorization": f"Bearer {srv.token}"}).status_code == 200
    assert (expected, expected) in calls, calls


# -- tickets -------------------------------------------------------------------------------------


def test_forged_tickets_with_the_right_prefix_are_401(http):
    for _ in range(20):
        forged = "exec_" + secrets.token_urlsafe(24)
        r = http.get(STREAM + "/events", params={"ticket": forged})
        err = assert_error_shape(r.status_code, r.headers, r.content)
        assert r.status_code == 401 and err["code"] == "invalid_ticket"
        assert forged not in r.text, "the answer echoes the ticket"


def test_near_miss_tickets_are_401_and_do_not_burn_the_real_one(http):
    answer = http.post(STREAM, json={"command": "echo mine"}).json()
    ticket = answer["ticket"]
    for near in {
        ticket[:-1],
        ticket + "A",
        ticket.swapcase(),
        ticket.upper(),
        " " + ticket,
        ticket + " ",
        ticket.replace("exec_", "EXEC_"),
        ticket.replace("exec_", ""),
        ticket + "\x00",
    } - {ticket}:
        r = http.get(STREAM + "/events", params={"ticket": near})
        assert r.status_code == 401, (near, r.status_code)
        assert_error_shape(r.status_code, r.headers, r.content)
    r = http.get(answer["stream_url"])
    assert r.status_code == 200
    assert "event: exit" in r.text and "mine" in r.text


def test_a_ticket_from_another_server_is_401(make_server, http):
    other = make_server()
    with raw_client(other) as theirs:
        answer = theirs.post(STREAM, json={"command": "echo theirs"}).json()
        r = http.get(answer["stream_url"])  # our server, their ticket
        assert r.status_code == 401
        assert_error_shape(r.status_code, r.headers, r.content)
        assert "theirs" in theirs.get(answer["stream_url"]).text


# -- Host header (DNS rebinding) --------------------------------------------------------------------------

REFUSED_HOSTS = [
    "evil.example",
    "evil.example:80",
    "127.0.0.1.evil.example",
    "localhost.",
    "LOCALHOST.",
    "localhost.evil.example",
    "0.0.0.0",
    "127.0.0.2",
    "127.1",
    "2130706433",
    "[::ffff:127.0.0.1]",
    "[::2]",
]


@pytest.mark.parametrize("host", REFUSED_HOSTS)
def test_non_loopback_host_headers_are_refused(http, host: str):
    r = http.get("/api/v1/computers", headers={"Host": host})
    err = assert_error_shape(r.status_code, r.headers, r.content)
    assert r.status_code == 400 and err["code"] == "INVALID_HOST"


def test_loopback_host_headers_are_accepted(http, server):
    port = port_of(server.base_url)
    for host in [
        "localhost",
        "LocalHost",
        f"localhost:{port}",
        f"127.0.0.1:{port}",
        "127.0.0.1:1234",
        "[::1]",
        "[::1]:80",
    ]:
        r = http.get("/api/v1/computers", headers={"Host": host})
        assert r.status_code == 200, (host, r.text)


def test_an_empty_host_header_is_refused(server):
    port = port_of(server.base_url)
    head = f"GET /api/v1/computers HTTP/1.1\r\nHost: \r\nAuthorization: Bearer {server.token}\r\n\r\n"
    r = raw_request(port, head.encode())
    assert r.status == 400
    assert_error_shape(r.status, r.headers, r.body)


def test_host_headers_with_junk_after_a_loopback_name_are_refused(http):
    """Hardening (not reachable from a browser, which only sends a hostname it resolved): the Host
    parser takes everything before the first ``:`` (or inside ``[...]``) and ignores the rest, so
    ``localhost:80@evil.example`` and ``[::1]evil.example`` pass the check."""
    accepted = []
    for host in ["localhost:80@evil.example", "localhost:evil.example", "[::1]evil.example", "[::1]:x"]:
        if http.get("/api/v1/computers", headers={"Host": host}).status_code != 400:
            accepted.append(host)
    assert not accepted, f"malformed Host headers accepted: {accepted}"


def test_a_foreign_host_on_the_events_url_is_refused_and_the_ticket_survives(http):
    answer = http.post(STREAM, json={"command": "echo ok"}).json()
    r = http.get(answer["stream_url"], headers={"Host": "evil.example"})
    assert r.status_code == 400
    assert_error_shape(r.status_code, r.headers, r.content)
    assert "event: exit" in http.get(answer["stream_url"]).text


# -- CORS ------------------------------------------------------------------------------------------------


def _cors_headers(r: httpx.Response) -> dict[str, str]:
    return {k: v for k, v in r.headers.items() if k.lower().startswith("access-control-")}


def test_no_cors_headers_by_default_even_on_an_evil_preflight(http):
    evil = {"Origin": "http://evil.example"}
    preflight = {
        **evil,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization",
    }
    answer = http.post(STREAM, json={"command": "true"}).json()
    for r in [
        http.options(STREAM, headers=preflight),
        http.options("/api/v1/computers", headers=preflight),
        http.options(answer["stream_url"], headers={**preflight, "Access-Control-Request-Method": "GET"}),
        http.get("/api/v1/computers", headers=evil),
        http.post(STREAM + "/../exec", json={"command": "true"}, headers=evil),
        http.get(answer["stream_url"], headers=evil),
    ]:
        assert not _cors_headers(r), (r.request.method, r.request.url, _cors_headers(r))
        if r.status_code >= 400:
            assert_error_shape(r.status_code, r.headers, r.content)


def test_configured_cors_allows_only_its_origin(make_server):
    srv = make_server(cors_origin="http://localhost:8888")
    with raw_client(srv) as http:
        good = http.options(
            STREAM,
            headers={"Origin": "http://localhost:8888", "Access-Control-Request-Method": "POST"},
        )
        assert good.headers["access-control-allow-origin"] == "http://localhost:8888"
        assert "access-control-allow-credentials" not in good.headers
        got = http.get("/api/v1/computers", headers={"Origin": "http://localhost:8888"})
        assert got.headers["access-control-allow-origin"] == "http://localhost:8888"
        other = http.get("/api/v1/computers", headers={"Origin": "http://evil.example"})
        assert other.headers.get("access-control-allow-origin") != "http://evil.example"
        evil = http.options(
            STREAM, headers={"Origin": "http://evil.example", "Access-Control-Request-Method": "POST"}
        )
        assert evil.headers.get("access-control-allow-origin") not in ("http://evil.example", "*")
        answer = http.post(STREAM, json={"command": "true"}).json()
        events = http.get(answer["stream_url"], headers={"Origin": "http://localhost:8888"})
        assert events.headers["access-control-allow-origin"] == "http://localhost:8888"


def test_a_refused_cors_preflight_has_the_error_shape(make_server):
    """With ``--cors-origin`` set, Starlette's CORSMiddleware answers a preflight from another origin
    itself: 400 ``text/plain`` "Disallowed CORS origin", not the API's JSON error body."""
    srv = make_server(cors_origin="http://localhost:8888")
    with raw_client(srv) as http:
        r = http.options(
            STREAM, headers={"Origin": "http://evil.example", "Access-Control-Request-Method": "POST"}
        )
    assert r.status_code >= 400
    assert_error_shape(r.status_code, r.headers, r.content)
