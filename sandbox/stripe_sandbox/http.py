"""The request and response as the app sees them, independent of ASGI plumbing."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from urllib.parse import parse_qsl

import msgspec


@dataclass(slots=True)
class Request:
    method: str
    path: str
    query: str
    headers: dict[str, str]  # lower-cased names
    body: bytes

    def api_key(self) -> str | None:
        """Bearer, or Basic with the key as username (curl -u sk_test_...:)."""
        auth = self.headers.get("authorization", "")
        scheme, _, value = auth.partition(" ")
        if scheme.lower() == "bearer":
            return value.strip() or None
        if scheme.lower() == "basic":
            try:
                user = base64.b64decode(value.strip()).decode().partition(":")[0]
            except (ValueError, UnicodeDecodeError):
                return None
            return user or None
        return None

    def form(self) -> dict[str, str]:
        """Flat form fields (OAuth endpoints take no nested params)."""
        source = self.body.decode("utf-8", "replace") if self.method == "POST" else self.query
        return dict(parse_qsl(source, keep_blank_values=True))


@dataclass(slots=True)
class Response:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/json"

    @classmethod
    def json(cls, status: int, payload: object, headers: dict[str, str] | None = None) -> Response:
        return cls(status, msgspec.json.encode(payload), headers or {})
