"""identity.xero.com/connect/{token,revocation} and api.xero.com/connections.

Token errors are 400 with {"error": ...} as Xero's IdentityServer answers (invalid_client included, not
401) [S public client issues]. `/connections` lists the signed-in user's connections to the calling app,
optionally filtered by `authEventId`; `DELETE /connections/{id}` disconnects one tenant (204, or 404).
"""

from __future__ import annotations

import base64
import binascii
from typing import TYPE_CHECKING
from urllib.parse import unquote
from uuid import UUID

from .context import as_uuid
from .formats import connection_time
from .http import Request, Response, json_response
from .oauth import OAuthError, Principal, authenticate_bearer, authenticate_client, exchange_code, refresh, revoke
from .tokens import problem

if TYPE_CHECKING:
    from .state import XeroState


def _basic(req: Request) -> tuple[str, str] | None:
    scheme, _, value = (req.header("authorization") or "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        client_id, _, secret = base64.b64decode(value.strip(), validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return ("", "")
    return unquote(client_id), unquote(secret)


def _form(req: Request) -> dict[str, str]:
    if "application/x-www-form-urlencoded" not in (req.header("content-type") or ""):
        raise OAuthError("invalid_request")
    return {k: v[0] for k, v in req.form().items()}


def token(state: XeroState, req: Request) -> Response:
    try:
        form = _form(req)
        app = authenticate_client(state, _basic(req), form)
        grant_type = form.get("grant_type")
        if grant_type == "authorization_code":
            doc = exchange_code(state, app, form)
        elif grant_type == "refresh_token":
            doc = refresh(state, app, form)
        else:
            raise OAuthError("unsupported_grant_type")
    except OAuthError as exc:
        return json_response(400, {"error": exc.code})
    return json_response(200, doc, {"cache-control": "no-store", "pragma": "no-cache"})


def revocation(state: XeroState, req: Request) -> Response:
    try:
        form = _form(req)
        app = authenticate_client(state, _basic(req), form)
    except OAuthError as exc:
        return json_response(400, {"error": exc.code})
    revoke(state, app, form.get("token", ""))
    return Response(200, b"", None)


def _principal(state: XeroState, req: Request) -> Principal | Response:
    found = authenticate_bearer(state, req.header("authorization"))
    return problem(401, found, state.new_id()) if isinstance(found, str) else found


def connections(state: XeroState, req: Request) -> Response:
    principal = _principal(state, req)
    if isinstance(principal, Response):
        return principal
    event = as_uuid(req.param("authEventId"))
    rows = [
        {
            "id": c.id,
            "authEventId": c.auth_event_id,
            "tenantId": c.tenant_id,
            "tenantType": "ORGANISATION",
            "tenantName": state.orgs[c.tenant_id].name,
            "createdDateUtc": connection_time(c.created),
            "updatedDateUtc": connection_time(c.updated),
        }
        for c in sorted(state.identity.connections.values(), key=lambda c: c.created)
        if (c.client_id, c.user_id) == (principal.client_id, principal.user_id)
        and (event is None or c.auth_event_id == event)
    ]
    return json_response(200, rows)


def delete_connection(state: XeroState, req: Request, connection_id: str) -> Response:
    principal = _principal(state, req)
    if isinstance(principal, Response):
        return principal
    wanted: UUID | None = as_uuid(connection_id)
    conn = state.identity.connections.get(wanted) if wanted else None
    if conn is None or (conn.client_id, conn.user_id) != (principal.client_id, principal.user_id):
        return Response(404, b"", None)
    del state.identity.connections[conn.id]
    return Response(204, b"", None)
