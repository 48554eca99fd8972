"""POST /oauth/token: OAuth 2.0 client credentials (RFC 6749 §4.4), and the JWKS to verify our tokens.

Errors carry RFC 6749's `error` member (what OAuth libraries read) alongside the problem-details members.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any
from urllib.parse import parse_qs, unquote_plus

import msgspec
from litestar import Request, Response, get, post

from adapters.auth.clients import find_api_client
from adapters.auth.secrets import verify_secret
from api.rest.schemas import TokenOut
from api.rest.security import services_of
from domain.auth import Principal, parse_scopes
from domain.errors import DomainError

_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def _oauth_error(
    request: Request[Any, Any, Any], status: int, error: str, description: str, basic: bool = False
) -> Response[bytes]:
    body = {
        "error": error,
        "error_description": description,
        "type": f"/problems/oauth_{error}",
        "title": error.replace("_", " ").capitalize(),
        "status": status,
        "detail": description,
        "code": f"oauth_{error}",
        "instance": request.url.path,
    }
    headers = dict(_NO_STORE)
    if status == 401:
        headers["WWW-Authenticate"] = 'Basic realm="arbridge"' if basic else 'Bearer realm="arbridge"'
    return Response(msgspec.json.encode(body), status_code=status, media_type="application/json", headers=headers)


def _basic_credentials(header: str) -> tuple[str, str] | None:
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        raise ValueError("the Basic credentials are not base64") from None
    client_id, sep, secret = decoded.partition(":")
    if not sep:
        raise ValueError("the Basic credentials lack a ':'")
    # RFC 6749 §2.3.1: both parts are form-urlencoded before base64.
    return unquote_plus(client_id), unquote_plus(secret)


@post(
    "/oauth/token",
    security=[{}],
    tags=["auth"],
    summary="Get an access token",
    description="Client credentials grant. Authenticate with HTTP Basic or with client_id and client_secret "
    "in the form (not both). Form fields: grant_type=client_credentials, optional scope.",
    status_code=200,
)
async def issue_token(request: Request[Any, Any, Any]) -> Response[TokenOut]:
    services = services_of(request.app.state)
    if not request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        return _oauth_error(request, 400, "invalid_request", "Send the form as application/x-www-form-urlencoded.")  # type: ignore[return-value]
    try:
        form = {k: v for k, v in parse_qs((await request.body()).decode(), strict_parsing=False).items()}
    except UnicodeDecodeError:
        return _oauth_error(request, 400, "invalid_request", "The form is not UTF-8.")  # type: ignore[return-value]
    if any(len(v) > 1 for v in form.values()):
        return _oauth_error(request, 400, "invalid_request", "Each parameter may appear once.")  # type: ignore[return-value]
    fields = {k: v[0] for k, v in form.items()}
    try:
        basic = _basic_credentials(request.headers.get("authorization", ""))
    except ValueError as exc:
        return _oauth_error(request, 401, "invalid_client", str(exc), basic=True)  # type: ignore[return-value]
    if basic and ("client_secret" in fields or ("client_id" in fields and fields["client_id"] != basic[0])):
        return _oauth_error(request, 400, "invalid_request", "Use one client authentication method, not two.")  # type: ignore[return-value]
    if fields.get("grant_type") != "client_credentials":
        if "grant_type" not in fields:
            return _oauth_error(request, 400, "invalid_request", "grant_type is required.")  # type: ignore[return-value]
        return _oauth_error(request, 400, "unsupported_grant_type", "Only client_credentials is supported.")  # type: ignore[return-value]
    client_id, secret = basic or (fields.get("client_id", ""), fields.get("client_secret", ""))
    record = await find_api_client(services.engine, client_id) if client_id else None
    if record is None or not verify_secret(secret, record.secret_hash):
        return _oauth_error(request, 401, "invalid_client", "Unknown client or wrong secret.", basic=bool(basic))  # type: ignore[return-value]
    try:
        scopes = parse_scopes(fields.get("scope"), record.scopes)
    except DomainError as exc:
        return _oauth_error(request, 400, "invalid_scope", exc.message)  # type: ignore[return-value]
    token = await services.tokens.issue(Principal(record.tenant_id, record.client_id, scopes))
    body = TokenOut(token, "Bearer", services.tokens.ttl, " ".join(sorted(scopes)))
    return Response(body, status_code=200, headers=_NO_STORE)


@get("/.well-known/jwks.json", security=[{}], tags=["auth"], summary="Public keys that verify access tokens")
async def jwks(request: Request[Any, Any, Any]) -> dict[str, Any]:
    return await services_of(request.app.state).tokens.store.public_jwks()
