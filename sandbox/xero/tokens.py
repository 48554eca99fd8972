"""Token shapes: JWT access/id tokens, PKCE S256, and Xero's 401/403 problem bodies.

Xero's access tokens are JWTs whose claims clients do read (`authentication_event_id` to find the tenants a
consent just connected, `exp`, `xero_userid`). The sandbox issues the same claims, signed HS256 with a key
of its own: Xero signs RS256 against its JWKS, which is not emulated, so clients must not verify these.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from typing import Any
from uuid import UUID

from .formats import encode_json
from .http import Response

ISSUER = "https://identity.xero.com"
VERIFIER = re.compile(r"^[A-Za-z0-9\-._~]{43,128}$")  # RFC 7636 code_verifier
CHALLENGE = re.compile(r"^[A-Za-z0-9\-_]{43}$")  # base64url(SHA-256), unpadded


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def jwt_encode(claims: dict[str, Any], key: bytes) -> str:
    head = _b64(encode_json({"alg": "HS256", "typ": "JWT"}))
    body = _b64(encode_json(claims))
    signature = hmac.new(key, f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{_b64(signature)}"


def jwt_decode(token: str, key: bytes) -> dict[str, Any] | None:
    """The claims when the signature is ours; None for anything else. Expiry is the caller's check."""
    try:
        head, body, signature = token.split(".")
        expected = hmac.new(key, f"{head}.{body}".encode(), hashlib.sha256).digest()
        if not hmac.compare_digest(expected, _unb64(signature)):
            return None
        claims = json.loads(_unb64(body))
    except (ValueError, TypeError):
        return None
    return claims if isinstance(claims, dict) else None


def s256(verifier: str) -> str:
    return _b64(hashlib.sha256(verifier.encode("ascii")).digest())


def pkce_ok(verifier: str | None, challenge: str) -> bool:
    if verifier is None or not VERIFIER.match(verifier):
        return False
    return hmac.compare_digest(s256(verifier), challenge)


def problem(status: int, detail: str, instance: UUID) -> Response:
    """Xero's API gateway answers auth failures with this ProblemDetails-like body [S public client issues]:
    401 for a missing, bad or expired token (`TokenExpired: ...`) or a scope the token lacks
    (`AuthorizationUnsuccessful`), 403 when the xero-tenant-id is missing or not connected."""
    title = {401: "Unauthorized", 403: "Forbidden"}[status]
    doc: dict[str, object] = {
        "Type": None,
        "Title": title,
        "Status": status,
        "Detail": detail,
        "Instance": instance,
        "Extensions": {},
    }
    headers = {"www-authenticate": 'Bearer error="invalid_token"'} if status == 401 else {}  # [U] header
    return Response(status, encode_json(doc), "application/json; charset=utf-8", headers)
