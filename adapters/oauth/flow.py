"""The OAuth 2.0 authorization-code flow (RFC 6749, with RFC 7636 PKCE), shared by the vendors.

Request and URL building come from authlib's RFC modules; the HTTP goes through our own httpx client and
retry policy, so vendor calls everywhere follow the same rules. A vendor module subclasses this for what
differs (QuickBooks' realmId, Xero's /connections, Stripe's connected account).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

import httpx
from authlib.oauth2.rfc6749.parameters import prepare_grant_uri, prepare_token_request
from authlib.oauth2.rfc7636 import create_s256_code_challenge

from adapters.http.retry import RetryPolicy, send_with_retries
from domain.connections import Connection, Provider, RefreshRefused, TokenSet, VendorRefused
from domain.ports import Clock

# Refresh-token errors that mean "connect again" (RFC 6749 §5.2); anything else may be temporary.
FINAL_REFRESH_ERRORS = frozenset({"invalid_grant", "invalid_client", "unauthorized_client"})


@dataclass(frozen=True)
class OAuthApp:
    """arbridge's app registration at the vendor (one per deployment)."""

    client_id: str
    client_secret: str | None  # None for a PKCE public client
    scopes: tuple[str, ...]


@dataclass(frozen=True)
class OAuthEndpoints:
    authorize_url: str
    token_url: str
    revoke_url: str | None = None


class OAuth2Vendor:
    provider: Provider
    uses_pkce = False

    def __init__(
        self,
        app: OAuthApp,
        endpoints: OAuthEndpoints,
        http: httpx.AsyncClient,
        clock: Clock,
        policy: RetryPolicy | None = None,
    ) -> None:
        self.app = app
        self.endpoints = endpoints
        self.http = http
        self.clock = clock
        self.policy = policy or RetryPolicy(max_attempts=3)

    def authorization_url(self, state: str, redirect_uri: str, code_verifier: str | None) -> str:
        extra: dict[str, str] = {}
        if code_verifier:
            extra = {"code_challenge": create_s256_code_challenge(code_verifier), "code_challenge_method": "S256"}
        return str(
            prepare_grant_uri(
                self.endpoints.authorize_url,
                self.app.client_id,
                "code",
                redirect_uri=redirect_uri,
                scope=" ".join(self.app.scopes),
                state=state,
                **extra,
            )
        )

    def _client_auth(self, form: dict[str, str]) -> dict[str, str]:
        """client_secret_basic for confidential clients; client_id in the form for public (PKCE) ones.
        RFC 6749 §2.3.1: each part is form-urlencoded before base64."""
        if self.app.client_secret is None:
            form["client_id"] = self.app.client_id
            return {}
        pair = f"{quote(self.app.client_id, safe='')}:{quote(self.app.client_secret, safe='')}"
        return {"Authorization": "Basic " + base64.b64encode(pair.encode()).decode()}

    async def token_request(self, grant_type: str, **params: str) -> dict[str, Any]:
        form: dict[str, str] = {}
        headers = {"Accept": "application/json", "Content-Type": "application/x-www-form-urlencoded"}
        headers |= self._client_auth(form)
        body = prepare_token_request(grant_type, **params, **form)
        request = self.http.build_request("POST", self.endpoints.token_url, content=body, headers=headers)
        response = await send_with_retries(self.http, request, policy=self.policy)
        return self._token_payload(response)

    def _token_payload(self, response: httpx.Response) -> dict[str, Any]:
        try:
            payload = response.json()
        except ValueError:
            raise VendorRefused(self.provider, f"http_{response.status_code}", "the answer was not JSON") from None
        if response.status_code >= 400 or "error" in payload:
            raise VendorRefused(
                self.provider,
                str(payload.get("error", f"http_{response.status_code}")),
                payload.get("error_description"),
            )
        if not payload.get("access_token"):
            raise VendorRefused(self.provider, "no_access_token", "the token response carried no access_token")
        return dict(payload)

    def tokens_from(self, payload: dict[str, Any], previous: TokenSet | None = None) -> TokenSet:
        now: datetime = self.clock.now()
        refresh_ttl = payload.get("x_refresh_token_expires_in") or payload.get("refresh_token_expires_in")
        return TokenSet(
            access_token=payload["access_token"],
            access_expires_at=now + timedelta(seconds=int(payload.get("expires_in") or 3600)),
            refresh_token=payload.get("refresh_token") or (previous.refresh_token if previous else None),
            refresh_expires_at=(
                now + timedelta(seconds=int(refresh_ttl))
                if refresh_ttl
                else (previous.refresh_expires_at if previous else None)
            ),
        )

    async def refresh(self, connection: Connection, secrets: dict[str, str] | None = None) -> TokenSet:
        tokens = connection.tokens
        if tokens is None or not tokens.refresh_token:
            raise RefreshRefused("there is no refresh token; connect again")
        try:
            payload = await self.token_request("refresh_token", refresh_token=tokens.refresh_token)
        except VendorRefused as exc:
            if exc.error in FINAL_REFRESH_ERRORS:
                raise RefreshRefused(
                    f"{exc.error}: {exc.description or 'the vendor refused the refresh token'}"
                ) from exc
            raise
        return self.tokens_from(payload, tokens)
