"""The API's answers: its error shape (in raw HTTP and as the client's exceptions), and raw requests.

The error shape is the API page's: not a 500, no traceback, ``{"error": {"code", "message",
"request_id"}}`` with the request id also in the ``X-Request-ID`` header.
"""

from __future__ import annotations

import json
import re
import socket
import time
from dataclasses import dataclass
from typing import Any

import httpx

from miosa_jupyter import APIStatusError, MiosaError

TRACEBACK = re.compile(r"Traceback|File \"|line \d+, in |Exception:|Error\(", re.IGNORECASE)


def assert_error_shape(status: int, headers: Any, body: bytes | str) -> dict[str, Any]:
    """An error answer: not a 500, no traceback, the documented ``{"error": {...}}`` body and header."""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    assert status != 500, f"500 for a client's mistake: {text[:300]}"
    assert not TRACEBACK.search(text), f"traceback-looking body: {text[:300]}"
    assert "json" in headers.get("content-type", ""), (status, headers.get("content-type"), text[:200])
    payload = json.loads(text)
    assert isinstance(payload, dict), text[:200]
    err = payload["error"]
    assert set(err) >= {"code", "message", "request_id"}, err
    assert isinstance(err["code"], str) and err["code"]
    assert isinstance(err["message"], str) and err["message"]
    assert headers.get("x-request-id") == err["request_id"]
    return err


def assert_error(response: httpx.Response, status: int, code: str | None = None) -> dict[str, Any]:
    """``response`` is an error answer of ``status`` (and ``code``, if given) in the error shape."""
    assert response.status_code == status, response.text
    err = assert_error_shape(response.status_code, response.headers, response.content)
    if code is not None:
        assert err["code"] == code
    return err


def assert_status_error(exc: APIStatusError, cls: type, status: int, code: str | None) -> None:
    """The client raised the error shape as ``cls``, with its status, code and request id."""
    assert type(exc) is cls
    assert isinstance(exc, MiosaError)
    assert exc.status_code == status
    if code is not None:
        assert exc.code == code
    assert exc.request_id
    assert exc.request_id.startswith("req_")
    assert str(status) in str(exc)


@dataclass
class RawResponse:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def raw_request(port: int, head: bytes, body: bytes = b"", timeout: float = 10.0) -> RawResponse:
    """Send exactly ``head`` + ``body`` (no client-side normalisation) and read one answer.

    Used for request targets an HTTP client would clean up (``..%2f``, ``//``, absolute-form).
    """
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(head + body)
        data = b""
        deadline = time.monotonic() + timeout
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
            assert time.monotonic() < deadline, "no answer head"
        head_bytes, _, rest = data.partition(b"\r\n\r\n")
        lines = head_bytes.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        chunked = headers.get("transfer-encoding", "").lower() == "chunked"
        length = int(headers.get("content-length", "-1"))
        while True:
            if chunked and (rest.endswith(b"0\r\n\r\n") or rest == b"0\r\n\r\n"):
                break
            if not chunked and 0 <= length <= len(rest):
                break
            chunk = sock.recv(65536)
            if not chunk:
                break
            rest += chunk
            assert time.monotonic() < deadline, "body never ended"
        if chunked:
            rest = _dechunk(rest)
        elif length >= 0:
            rest = rest[:length]
        return RawResponse(status, headers, rest)


def _dechunk(data: bytes) -> bytes:
    out = b""
    while data:
        size_line, _, data = data.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            break
        out += data[:size]
        data = data[size + 2 :]
    return out


def port_of(url: str) -> int:
    return httpx.URL(url).port or 80
