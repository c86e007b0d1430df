"""What every answer of the local computer shares: the error shape, request ids, the Host check, CORS."""

from __future__ import annotations

import json
import re
import secrets
from typing import Any

from starlette.exceptions import HTTPException
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ._computer import ApiError, LocalSettings

__all__ = ["CORS", "Guard", "api_error", "http_error", "internal_error"]

# A Host header: a name or a [v6 address], then an optional port; nothing else (no userinfo, junk).
_HOST = re.compile(r"(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9.-]+))(?::[0-9]{1,5})?")


def _error(request: Request, status: int, code: str, message: str) -> JSONResponse:
    request_id = getattr(request.state, "request_id", None) or _request_id()
    return JSONResponse(
        {"error": {"code": code, "message": message, "request_id": request_id}},
        status_code=status,
        headers={"x-request-id": request_id},
    )


async def api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return _error(request, exc.status, exc.code, exc.message)


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 405:
        return _error(request, 405, "METHOD_NOT_ALLOWED", f"{request.method} is not allowed here.")
    if exc.status_code == 404:
        return _error(request, 404, "NOT_FOUND", f"No such endpoint: {request.url.path}")
    return _error(request, exc.status_code, "BAD_REQUEST", str(exc.detail))


async def internal_error(request: Request, exc: Exception) -> Response:
    # Never a traceback in the answer.
    return _error(request, 500, "INTERNAL_ERROR", "Internal error in the local computer.")


def _request_id() -> str:
    return "req_" + secrets.token_hex(8)


class Guard:
    """Gives every request an id (``x-request-id``) and refuses Host headers it doesn't serve.

    The Host check stops DNS rebinding: a web page on evil.example resolving to 127.0.0.1 still sends
    ``Host: evil.example``.
    """

    def __init__(self, app: ASGIApp, settings: LocalSettings) -> None:
        self.app = app
        self.allowed = settings.allowed_hosts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _request_id()
        scope.setdefault("state", {})["request_id"] = request_id
        host = dict(scope["headers"]).get(b"host", b"").decode("latin-1")
        match = _HOST.fullmatch(host)
        name = (match.group(1) or match.group(2)) if match else ""
        if name.lower() not in self.allowed:
            body = json.dumps(
                {
                    "error": {
                        "code": "INVALID_HOST",
                        "message": "Host header not allowed; use http://127.0.0.1:<port>.",
                        "request_id": request_id,
                    }
                }
            ).encode()
            headers = [(b"content-type", b"application/json"), (b"x-request-id", request_id.encode())]
            await send({"type": "http.response.start", "status": 400, "headers": headers})
            await send({"type": "http.response.body", "body": body})
            return

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                if not any(k.lower() == b"x-request-id" for k, _ in headers):
                    headers.append((b"x-request-id", request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_id)


class CORS(CORSMiddleware):
    """Starlette's CORS, with a refused preflight answered in the API's error shape."""

    def preflight_response(self, request_headers: Any) -> Response:
        response = super().preflight_response(request_headers)
        if response.status_code < 400:
            return response
        request_id = _request_id()
        body = {
            "error": {
                "code": "CORS_REFUSED",
                "message": f"{bytes(response.body).decode(errors='replace')}; this server allows one origin.",
                "request_id": request_id,
            }
        }
        return JSONResponse(body, status_code=response.status_code, headers={"x-request-id": request_id})
