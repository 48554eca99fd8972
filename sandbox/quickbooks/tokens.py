"""OAuth 2.0 bookkeeping: app registrations, authorization codes, grants, refresh and access tokens.

One *grant* is one consent (an app connected to one company with some scopes). Refresh and access tokens
hang off a grant, so revoking any token of a grant disconnects the app from that company, which is what
Intuit's revoke endpoint does [U for revoking via an access token].

Lifetimes [V Q-OA, S Intuit token docs]: access tokens 3600 s; refresh tokens 100 days, rolling (each new
refresh token gets a fresh 100 days), never past 5 years from the consent. Authorization codes are single-use
and expire quickly (the sandbox uses 5 minutes [U]).

Rotation [U]: every refresh issues a new refresh token and the previous one stops working after
`Limits.refresh_grace_seconds` (0 by default: the strictest reading, which catches code that forgets to
persist the rotated token). Intuit's FAQ suggests the value may only change about once a day; set
`Limits.refresh_rotate_after_seconds` to 86400 to hand back the same refresh token within a day.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

ACCOUNTING_SCOPE = "com.intuit.quickbooks.accounting"
KNOWN_SCOPES = frozenset(
    {ACCOUNTING_SCOPE, "com.intuit.quickbooks.payment", "openid", "profile", "email", "phone", "address"}
)


@dataclass
class OAuthApp:
    client_id: str
    client_secret: str
    redirect_uris: list[str]
    name: str = "arbridge (sandbox)"


@dataclass
class AuthCode:
    code: str
    client_id: str
    redirect_uri: str
    realm_id: str
    scopes: tuple[str, ...]
    expires_at: datetime
    used: bool = False


@dataclass
class Grant:
    id: str
    client_id: str
    realm_id: str
    scopes: tuple[str, ...]
    created_at: datetime
    revoked: bool = False


@dataclass
class RefreshToken:
    value: str
    grant: Grant
    issued_at: datetime
    expires_at: datetime
    superseded_at: datetime | None = None


@dataclass
class AccessToken:
    value: str
    grant: Grant
    expires_at: datetime


@dataclass
class TokenSet:
    """What the token endpoint returns, also handed out directly by `QuickBooksState.connect`."""

    access_token: str
    refresh_token: str
    expires_in: int
    x_refresh_token_expires_in: int
    realm_id: str

    def as_json(self) -> dict[str, object]:
        return {
            "token_type": "bearer",
            "access_token": self.access_token,
            "refresh_token": self.refresh_token,
            "expires_in": self.expires_in,
            "x_refresh_token_expires_in": self.x_refresh_token_expires_in,
        }


class TokenError(Exception):
    """An OAuth error for the token endpoint: {"error": code} with this HTTP status."""

    def __init__(self, error: str, status: int = 400) -> None:
        super().__init__(error)
        self.error, self.status = error, status


class TokenLimits(Protocol):
    access_token_ttl: int
    refresh_token_ttl: int
    refresh_token_max_age: int
    code_ttl: int
    refresh_grace_seconds: int
    refresh_rotate_after_seconds: int


@dataclass
class TokenStore:
    limits: TokenLimits  # read on every use, so a test may change a lifetime mid-way
    apps: dict[str, OAuthApp] = field(default_factory=dict)
    codes: dict[str, AuthCode] = field(default_factory=dict)
    refresh_tokens: dict[str, RefreshToken] = field(default_factory=dict)
    access_tokens: dict[str, AccessToken] = field(default_factory=dict)

    def _ttl(self, name: str) -> timedelta:
        return timedelta(seconds=getattr(self.limits, name))

    def issue_code(
        self, app: OAuthApp, redirect_uri: str, realm_id: str, scopes: tuple[str, ...], now: datetime
    ) -> str:
        code = "AB" + secrets.token_urlsafe(24)
        self.codes[code] = AuthCode(code, app.client_id, redirect_uri, realm_id, scopes, now + self._ttl("code_ttl"))
        return code

    def exchange_code(self, client_id: str, code: str, redirect_uri: str, now: datetime) -> TokenSet:
        found = self.codes.get(code)
        if found is None or found.used or found.expires_at <= now or found.client_id != client_id:
            raise TokenError("invalid_grant")
        if found.redirect_uri != redirect_uri:
            raise TokenError("invalid_grant")
        found.used = True
        grant = Grant(secrets.token_hex(8), client_id, found.realm_id, found.scopes, now)
        return self._mint(grant, None, now)

    def grant_directly(self, client_id: str, realm_id: str, scopes: tuple[str, ...], now: datetime) -> TokenSet:
        return self._mint(Grant(secrets.token_hex(8), client_id, realm_id, scopes, now), None, now)

    def refresh(self, client_id: str, value: str, now: datetime) -> TokenSet:
        token = self.refresh_tokens.get(value)
        if token is None or token.grant.client_id != client_id or token.grant.revoked or token.expires_at <= now:
            raise TokenError("invalid_grant")
        if token.superseded_at is not None and now > token.superseded_at + self._ttl("refresh_grace_seconds"):
            raise TokenError("invalid_grant")
        keep = token.superseded_at is None and now - token.issued_at < self._ttl("refresh_rotate_after_seconds")
        return self._mint(token.grant, token if keep else None, now, previous=token)

    def revoke(self, client_id: str, value: str) -> bool:
        """Revoke the grant behind a refresh or access token; False when the token is another client's."""
        holder = self.refresh_tokens.get(value) or self.access_tokens.get(value)
        if holder is None:
            return True  # RFC 7009: an unknown token is not an error
        if holder.grant.client_id != client_id:
            return False
        holder.grant.revoked = True
        return True

    def check_access(self, value: str | None, now: datetime) -> tuple[AccessToken | None, str]:
        """The live access token for `value`, or None plus the reason the gateway gives."""
        token = self.access_tokens.get(value or "")
        if value is None:
            return None, "Authorization header missing"
        if token is None:
            return None, "Malformed bearer token: too short or too long" if len(value) < 20 else "Invalid token"
        if token.grant.revoked:
            return None, f"Token revoked: {value[:48]}"
        if token.expires_at <= now:
            return None, f"Token expired: {value[:48]}"
        return token, ""

    def _mint(
        self, grant: Grant, keep: RefreshToken | None, now: datetime, previous: RefreshToken | None = None
    ) -> TokenSet:
        access = AccessToken("eyJ" + secrets.token_urlsafe(48), grant, now + self._ttl("access_token_ttl"))
        self.access_tokens[access.value] = access
        # Rolling expiry: every use buys another refresh_ttl, never past the grant's hard stop.
        expires = min(now + self._ttl("refresh_token_ttl"), grant.created_at + self._ttl("refresh_token_max_age"))
        if keep is not None:
            refresh = keep
            refresh.expires_at = expires
        else:
            refresh = RefreshToken("RT1-" + secrets.token_urlsafe(32), grant, now, expires)
            self.refresh_tokens[refresh.value] = refresh
            if previous is not None and previous.superseded_at is None:  # a retry in grace never extends it
                previous.superseded_at = now
        return TokenSet(
            access.value,
            refresh.value,
            int(self._ttl("access_token_ttl").total_seconds()),
            max(0, int((refresh.expires_at - now).total_seconds())),
            grant.realm_id,
        )
