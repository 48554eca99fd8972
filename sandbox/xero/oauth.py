"""Xero Identity: app registrations, consent grants, codes, token rotation, connections, bearer checks.

Lifetimes (by the sandbox clock, configurable on XeroConfig): codes 5 min, access tokens 1800 s, refresh tokens
60 days from issue. Each refresh returns a new refresh token ("rotation"). The refresh token just used stays
usable for a 30-minute grace period [V X-OAF]: the sandbox answers such a retry with a fresh access token and
the SAME successor refresh token the first use returned [U - Xero does not say what the retry returns; this
keeps one live chain, so a client that lost the first answer recovers and nothing forks]. After the grace
period the old token gives `invalid_grant`. Revoking a refresh token ends its grant and removes that user's
connections to the app [S]; access tokens are self-contained JWTs and live until they expire.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from uuid import UUID

from .tokens import ISSUER, jwt_decode, jwt_encode, pkce_ok

if TYPE_CHECKING:
    from .state import XeroState

IDENTITY_SCOPES = frozenset({"openid", "profile", "email", "offline_access"})


class OAuthError(Exception):
    """An RFC 6749 error answered as 400 {"error": code}."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


@dataclass(frozen=True)
class OAuthApp:
    client_id: str
    client_secret: str | None  # None: a PKCE ("mobile or desktop") app, which Xero gives no secret
    redirect_uris: tuple[str, ...]
    scopes: frozenset[str]  # API scopes the app may request, besides the identity ones
    name: str

    @property
    def public(self) -> bool:
        return self.client_secret is None


@dataclass(frozen=True)
class XeroUser:
    user_id: UUID
    email: str
    given_name: str
    family_name: str


@dataclass
class Connection:
    id: UUID
    tenant_id: UUID
    client_id: str
    user_id: UUID
    auth_event_id: UUID
    created: datetime
    updated: datetime


@dataclass
class AuthCode:
    client_id: str
    redirect_uri: str
    scopes: tuple[str, ...]
    auth_event_id: UUID
    challenge: str | None
    expires: datetime


@dataclass
class Grant:
    client_id: str
    user_id: UUID
    scopes: tuple[str, ...]
    auth_event_id: UUID
    revoked: bool = False


@dataclass
class RefreshToken:
    grant: Grant
    issued: datetime
    used_at: datetime | None = None
    successor: str | None = None


@dataclass(frozen=True)
class Principal:
    """Who an access token speaks for."""

    client_id: str
    user_id: UUID
    scopes: frozenset[str]
    auth_event_id: UUID


@dataclass
class IdentityStore:
    signing_key: bytes
    apps: dict[str, OAuthApp] = field(default_factory=dict)
    connections: dict[UUID, Connection] = field(default_factory=dict)
    codes: dict[str, AuthCode] = field(default_factory=dict)
    refresh_tokens: dict[str, RefreshToken] = field(default_factory=dict)
    pending: dict[str, Any] = field(default_factory=dict)  # consent_id -> consent.PendingConsent
    auto: Any = None  # consent.AutoConsent: answer the consent page without showing it

    def connected(self, principal: Principal, tenant_id: UUID) -> bool:
        return any(
            c.tenant_id == tenant_id and c.client_id == principal.client_id and c.user_id == principal.user_id
            for c in self.connections.values()
        )

    def connect(self, grant: Grant, tenant_id: UUID, now: datetime, new_id: UUID) -> Connection:
        """Reconnecting a tenant keeps its connection id and moves `updatedDateUtc` and `authEventId` on."""
        for c in self.connections.values():
            if (c.client_id, c.user_id, c.tenant_id) == (grant.client_id, grant.user_id, tenant_id):
                c.auth_event_id, c.updated = grant.auth_event_id, now
                return c
        conn = Connection(new_id, tenant_id, grant.client_id, grant.user_id, grant.auth_event_id, now, now)
        self.connections[conn.id] = conn
        return conn

    def disconnect_all(self, client_id: str, user_id: UUID) -> None:
        for conn in [c for c in self.connections.values() if (c.client_id, c.user_id) == (client_id, user_id)]:
            del self.connections[conn.id]


def authenticate_client(state: XeroState, basic: tuple[str, str] | None, form: dict[str, str]) -> OAuthApp:
    """Basic auth (Xero's documented way) or client_id/client_secret in the form; a PKCE app sends its
    client_id alone."""
    client_id, secret = basic if basic else (form.get("client_id", ""), form.get("client_secret"))
    app = state.identity.apps.get(client_id)
    if app is None:
        raise OAuthError("invalid_client")
    if app.client_secret is not None and not hmac.compare_digest((secret or "").encode(), app.client_secret.encode()):
        raise OAuthError("invalid_client")
    return app


def issue_tokens(state: XeroState, grant: Grant, refresh: str | None) -> dict[str, Any]:
    now, cfg = state.now(), state.config
    claims = {
        "nbf": int(now.timestamp()), "exp": int(now.timestamp()) + cfg.access_token_ttl, "iss": ISSUER,
        "aud": f"{ISSUER}/resources", "client_id": grant.client_id, "sub": grant.user_id.hex,
        "auth_time": int(now.timestamp()), "xero_userid": str(grant.user_id), "jti": state.token(16),
        "authentication_event_id": str(grant.auth_event_id), "scope": list(grant.scopes),
    }  # fmt: skip
    doc: dict[str, Any] = {}
    if "openid" in grant.scopes:
        doc["id_token"] = _id_token(state, grant, now)
    doc |= {"access_token": jwt_encode(claims, state.identity.signing_key), "expires_in": cfg.access_token_ttl}
    doc |= {"token_type": "Bearer", "refresh_token": refresh, "scope": " ".join(grant.scopes)}
    return {k: v for k, v in doc.items() if v is not None}


def _id_token(state: XeroState, grant: Grant, now: datetime) -> str:
    user = state.user
    claims: dict[str, Any] = {
        "nbf": int(now.timestamp()), "exp": int(now.timestamp()) + 300, "iss": ISSUER, "aud": grant.client_id,
        "iat": int(now.timestamp()), "sub": user.user_id.hex, "xero_userid": str(user.user_id),
    }  # fmt: skip
    if "email" in grant.scopes:
        claims |= {"email": user.email, "preferred_username": user.email}
    if "profile" in grant.scopes:
        claims |= {"given_name": user.given_name, "family_name": user.family_name}
    return jwt_encode(claims, state.identity.signing_key)


def new_refresh_token(state: XeroState, grant: Grant) -> str | None:
    if "offline_access" not in grant.scopes:
        return None
    token = state.token(32)
    state.identity.refresh_tokens[token] = RefreshToken(grant, state.now())
    return token


def exchange_code(state: XeroState, app: OAuthApp, form: dict[str, str]) -> dict[str, Any]:
    """authorization_code: single use, bound to the client and redirect_uri, PKCE-checked when a challenge
    was sent (always, for a PKCE app)."""
    code = state.identity.codes.pop(form.get("code", ""), None)
    if code is None or code.expires <= state.now() or code.client_id != app.client_id:
        raise OAuthError("invalid_grant")
    if form.get("redirect_uri") != code.redirect_uri:
        raise OAuthError("invalid_grant")
    if code.challenge is not None and not pkce_ok(form.get("code_verifier"), code.challenge):
        raise OAuthError("invalid_grant")
    grant = Grant(app.client_id, state.user.user_id, code.scopes, code.auth_event_id)
    return issue_tokens(state, grant, new_refresh_token(state, grant))


def refresh(state: XeroState, app: OAuthApp, form: dict[str, str]) -> dict[str, Any]:
    now, cfg = state.now(), state.config
    record = state.identity.refresh_tokens.get(form.get("refresh_token", ""))
    if record is None or record.grant.client_id != app.client_id or record.grant.revoked:
        raise OAuthError("invalid_grant")
    if now >= record.issued + cfg.refresh_token_ttl:
        raise OAuthError("invalid_grant")
    if record.used_at is None:
        record.used_at, record.successor = now, new_refresh_token(state, record.grant)
    elif now >= record.used_at + cfg.refresh_grace:
        raise OAuthError("invalid_grant")
    return issue_tokens(state, record.grant, record.successor)


def revoke(state: XeroState, app: OAuthApp, token: str) -> None:
    """RFC 7009: an unknown token is not an error. A known one ends its grant and its connections."""
    record = state.identity.refresh_tokens.get(token)
    if record is None or record.grant.client_id != app.client_id:
        return
    record.grant.revoked = True
    state.identity.disconnect_all(app.client_id, record.grant.user_id)


def authenticate_bearer(state: XeroState, authorization: str | None) -> Principal | str:
    """The token's principal, or the `Detail` of the 401 Xero gives."""
    scheme, _, token = (authorization or "").partition(" ")
    claims = jwt_decode(token.strip(), state.identity.signing_key) if scheme.lower() == "bearer" else None
    if claims is None or claims.get("client_id") not in state.identity.apps:
        return "AuthenticationUnsuccessful"
    expires = int(claims.get("exp", 0))
    if state.now().timestamp() >= expires:
        stamp = datetime.fromtimestamp(expires, tz=state.now().tzinfo).strftime("%m/%d/%Y %H:%M:%S")
        return f"TokenExpired: token expired at {stamp}"
    return Principal(
        claims["client_id"], UUID(claims["xero_userid"]), frozenset(claims.get("scope", [])),
        UUID(claims["authentication_event_id"]),
    )  # fmt: skip


def code_for(state: XeroState, app: OAuthApp, redirect_uri: str, scopes: tuple[str, ...], challenge: str | None,
             event: UUID) -> str:  # fmt: skip
    code = state.token(32)
    expires = state.now() + timedelta(seconds=state.config.code_ttl)
    state.identity.codes[code] = AuthCode(app.client_id, redirect_uri, scopes, event, challenge, expires)
    return code
