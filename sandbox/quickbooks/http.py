"""The few HTTP primitives the sandbox needs on top of bare ASGI.

The sandbox parses bodies itself (JSON, forms, ``application/text`` queries) so that every error, even for a
body that is not JSON at all, comes back in Intuit's envelope rather than a framework's.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlencode

from sandbox.common import Receive, Scope, Send


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    scheme: str = "https"

    @property
    def base_url(self) -> str:
        return f"{self.scheme}://{self.headers.get('host', 'localhost')}"

    @classmethod
    async def read(cls, scope: Scope, receive: Receive) -> Request:
        chunks = []
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        raw_query = parse_qs(scope.get("query_string", b"").decode(), keep_blank_values=True)
        headers = {k.decode().lower(): v.decode() for k, v in scope.get("headers", [])}
        query = {k: v[0] for k, v in raw_query.items()}
        return cls(scope["method"], scope["path"], query, headers, b"".join(chunks), scope.get("scheme", "https"))

    def form(self) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(self.body.decode(errors="replace"), keep_blank_values=True).items()}

    def basic_auth(self) -> tuple[str, str] | None:
        """(client_id, client_secret) from `Authorization: Basic ...`, or None when absent or garbled."""
        scheme, _, value = self.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "basic":
            return None
        try:
            user, sep, password = base64.b64decode(value.strip(), validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return None
        return (user, password) if sep else None

    def bearer(self) -> str | None:
        scheme, _, value = self.headers.get("authorization", "").partition(" ")
        return value.strip() or None if scheme.lower() == "bearer" else None


@dataclass
class Response:
    status: int
    body: bytes = b""
    content_type: str = "application/json;charset=UTF-8"
    headers: dict[str, str] = field(default_factory=dict)

    async def send(self, send: Send) -> None:
        raw = [(b"content-type", self.content_type.encode()), (b"content-length", str(len(self.body)).encode())]
        raw += [(k.lower().encode(), v.encode()) for k, v in self.headers.items()]
        await send({"type": "http.response.start", "status": self.status, "headers": raw})
        await send({"type": "http.response.body", "body": self.body})


def json_response(status: int, payload: Any, headers: dict[str, str] | None = None) -> Response:
    return Response(status, json.dumps(payload, separators=(",", ":")).encode(), headers=headers or {})


def html_response(status: int, html: str) -> Response:
    return Response(status, html.encode(), "text/html; charset=utf-8")


def redirect(url: str, params: dict[str, str]) -> Response:
    joiner = "&" if "?" in url else "?"
    return Response(302, b"", "text/plain", {"location": f"{url}{joiner}{urlencode(params)}"})
