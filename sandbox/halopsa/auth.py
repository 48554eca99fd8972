"""Halo's authorisation server (client-credentials grant) and the resource server's bearer/scope checks.

Token request [V H-N8N, H-PY]: POST form `grant_type=client_credentials`, `client_id`, `client_secret`,
`scope`, to `{auth}/token?tenant=x` (hosted) or `/auth/token` with `tenant` as a form field (H-PY).
Errors follow RFC 6749 §5.2: 400 for a malformed request, unsupported grant or bad scope, 401
`invalid_client` for unknown or wrong credentials [U: an IdentityServer may answer 400 there too].
Resource calls: no/unknown/expired bearer token → 401 with `WWW-Authenticate` as ASP.NET's JwtBearer
handler writes it; a token lacking the operation's scope → 403 with an empty body.
"""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from sandbox.halopsa.core import KNOWN_SCOPES, ApiApplication
from sandbox.halopsa.errors import HaloError, OAuthError

if TYPE_CHECKING:
    from sandbox.halopsa.core import HaloCore, IssuedToken

# Either of these grants every scope our four resources need [U for all:standard: "all but admin"].
_SUPERSCOPES = frozenset({"all", "all:standard"})


def _form(headers: dict[str, str], body: bytes) -> dict[str, str]:
    if not headers.get("content-type", "").lower().startswith("application/x-www-form-urlencoded"):
        raise OAuthError(400, "invalid_request", "The request must be form-encoded.")
    form: dict[str, str] = {}
    for key, value in parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True):
        form.setdefault(key, value)
    return form


def _basic_credentials(headers: dict[str, str]) -> tuple[str, str] | None:
    """client_secret_basic, which OAuth servers accept besides the form fields Halo's clients send."""
    value = headers.get("authorization", "")
    if not value.lower().startswith("basic "):
        return None
    try:
        user, _, password = base64.b64decode(value[6:]).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        raise OAuthError(400, "invalid_request", "Malformed Basic credentials.") from None
    return user, password


def _application(state: HaloCore, headers: dict[str, str], form: dict[str, str]) -> ApiApplication:
    creds = _basic_credentials(headers) or (form.get("client_id", ""), form.get("client_secret", ""))
    if not creds[0]:
        raise OAuthError(400, "invalid_request", "client_id is required.")
    app = state.applications.get(creds[0])
    if app is None or not app.active or app.client_secret != creds[1]:
        raise OAuthError(401, "invalid_client")
    return app


def _granted(app: ApiApplication, requested: str) -> frozenset[str]:
    """Requested scopes must be known and allowed to the application; none requested means all it has."""
    wanted = frozenset(requested.split())
    if not wanted:
        return app.scopes
    allowed = KNOWN_SCOPES if app.scopes & {"all"} else app.scopes
    if not wanted <= KNOWN_SCOPES or not wanted <= allowed:
        raise OAuthError(400, "invalid_scope")
    return wanted


def issue_token(state: HaloCore, query: dict[str, str], headers: dict[str, str], body: bytes) -> dict[str, Any]:
    form = _form(headers, body)
    tenant = form.get("tenant") or query.get("tenant")
    if state.limits.require_tenant and not tenant:
        raise OAuthError(400, "invalid_request", "The tenant is required.")
    if tenant and tenant != state.tenant:
        raise OAuthError(400, "invalid_request", f"Unknown tenant '{tenant}'.")
    grant = form.get("grant_type")
    if not grant:
        raise OAuthError(400, "invalid_request", "grant_type is required.")
    if grant != "client_credentials":
        raise OAuthError(400, "unsupported_grant_type")
    app = _application(state, headers, form)
    issued = state.issue_token(app, _granted(app, form.get("scope", "")))
    return {
        "access_token": issued.token,
        "token_type": "Bearer",
        "expires_in": state.limits.token_ttl_seconds,
        "scope": " ".join(sorted(issued.scopes)),
    }


def authenticate(state: HaloCore, headers: dict[str, str]) -> IssuedToken:
    value = headers.get("authorization", "")
    scheme, _, token = value.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise HaloError(401, headers={"WWW-Authenticate": "Bearer"})
    issued = state.tokens.get(token.strip())
    if issued is None:
        raise HaloError(401, headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})
    if state.controls.clock.timestamp() >= issued.expires_at:
        del state.tokens[issued.token]  # expired tokens are never valid again
        when = datetime.fromtimestamp(issued.expires_at, UTC).strftime("%m/%d/%Y %H:%M:%S")
        raise HaloError(
            401,
            headers={
                "WWW-Authenticate": f'Bearer error="invalid_token", error_description="The token expired at \'{when}\'"'
            },
        )
    return issued


def require_scope(issued: IssuedToken, scope: str) -> None:
    """403, not 401: the caller is known, the token just does not carry this permission."""
    if not (issued.scopes & _SUPERSCOPES or scope in issued.scopes):
        raise HaloError(403)
