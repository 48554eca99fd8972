"""A small plain-ASGI request/response layer.

The sandbox answers with Xero's exact bodies (ValidationException envelopes, plain-text 404s, OAuth error
JSON, HTML consent pages), so it parses and writes HTTP itself instead of going through a framework whose own
error JSON could leak out.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

from .formats import encode_json

Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

JSON = "application/json; charset=utf-8"
TEXT = "text/plain; charset=utf-8"
HTML = "text/html; charset=utf-8"


@dataclass
class Request:
    method: str
    path: str
    query_string: str
    headers: dict[str, str]
    body: bytes
    _query: dict[str, list[str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # Xero is an IIS/.NET service: query parameter names are case-insensitive.
        for key, values in parse_qs(self.query_string, keep_blank_values=True).items():
            self._query.setdefault(key.lower(), []).extend(values)

    def param(self, name: str) -> str | None:
        values = self._query.get(name.lower())
        return values[0] if values else None

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    def form(self) -> dict[str, list[str]]:
        return parse_qs(self.body.decode("utf-8", "replace"), keep_blank_values=True)


@dataclass
class Response:
    status: int
    body: bytes = b""
    content_type: str | None = JSON
    headers: dict[str, str] = field(default_factory=dict)


def json_response(status: int, doc: Any, headers: dict[str, str] | None = None) -> Response:
    return Response(status, encode_json(doc), JSON, dict(headers or {}))


def text_response(status: int, text: str, content_type: str = TEXT) -> Response:
    return Response(status, text.encode(), content_type)


def redirect(location: str, params: dict[str, str]) -> Response:
    """302 to `location` with `params` added to its query (an OAuth redirect)."""
    parts = urlsplit(location)
    query = "&".join(filter(None, [parts.query, urlencode(params)]))
    return Response(302, b"", None, {"location": urlunsplit(parts._replace(query=query))})


async def read_request(scope: MutableMapping[str, Any], receive: Receive) -> Request:
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            break
    headers: dict[str, str] = {}
    for key, value in scope.get("headers", []):
        name = key.decode("latin-1").lower()
        headers[name] = f"{headers[name]}, {value.decode('latin-1')}" if name in headers else value.decode("latin-1")
    return Request(
        scope["method"].upper(), scope["path"], scope.get("query_string", b"").decode("latin-1"), headers,
        b"".join(chunks),
    )  # fmt: skip


async def send_response(send: Send, response: Response) -> None:
    raw = [(b"content-length", str(len(response.body)).encode())]
    if response.content_type:
        raw.append((b"content-type", response.content_type.encode()))
    raw += [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in response.headers.items()]
    await send({"type": "http.response.start", "status": response.status, "headers": raw})
    await send({"type": "http.response.body", "body": response.body})
