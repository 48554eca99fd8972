"""Xero's consent flow: PKCE (S256), organisations listed by /connections, and the 30-minute grace of a
rotated refresh token.

A consent may cover several organisations; the ones this consent added are those whose `authEventId`
matches the access token's `authentication_event_id` claim [xero-identity.yaml]. With several, the MSP
chooses one (POST /v1/connections/{id}/organisation).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from typing import Any

import httpx

from adapters.http.retry import send_with_retries
from adapters.oauth.flow import OAuth2Vendor, OAuthApp, OAuthEndpoints
from adapters.vendor_config import XeroSettings
from domain.connections import Connection, Grant, Organisation, Provider, TokenSet, VendorRefused


def _claims(jwt: str) -> dict[str, Any]:
    """Read (not verify) the access token's claims: we only pick the auth event id to filter on; the token
    itself is checked by Xero on every call."""
    try:
        payload = jwt.split(".")[1]
        return dict(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))))
    except (IndexError, ValueError):
        return {}


class XeroFlow(OAuth2Vendor):
    provider = Provider.XERO
    uses_pkce = True

    def __init__(self, settings: XeroSettings, http: httpx.AsyncClient, clock: Any) -> None:
        app = OAuthApp(settings.client_id, settings.client_secret, settings.scopes)
        super().__init__(
            app, OAuthEndpoints(settings.authorize_url, settings.token_url, settings.revoke_url), http, clock
        )
        self.connections_url = settings.connections_url

    async def exchange_code(
        self, code: str, redirect_uri: str, code_verifier: str | None, callback: Mapping[str, str]
    ) -> Grant:
        params = {"code": code, "redirect_uri": redirect_uri}
        if code_verifier:
            params["code_verifier"] = code_verifier
        payload = await self.token_request("authorization_code", **params)
        tokens = self.tokens_from(payload)
        organisations, ids = await self._organisations(tokens.access_token)
        if not organisations:
            raise VendorRefused(self.provider, "no_organisation", "the consent granted no Xero organisation")
        return Grant(
            tokens=tokens,
            scopes=str(payload.get("scope") or " ".join(self.app.scopes)).split(),
            organisations=organisations,
            settings={"xero_connection_ids": ids},
        )

    async def _organisations(self, access_token: str) -> tuple[list[Organisation], dict[str, str]]:
        event = _claims(access_token).get("authentication_event_id")
        request = self.http.build_request(
            "GET",
            self.connections_url,
            params={"authEventId": event} if event else None,
            headers={"Authorization": f"Bearer {access_token}", "Accept": "application/json"},
        )
        response = await send_with_retries(self.http, request, policy=self.policy)
        if response.status_code != 200:
            raise VendorRefused(self.provider, f"connections_http_{response.status_code}", response.text[:200])
        rows = [c for c in response.json() if c.get("tenantType", "ORGANISATION") == "ORGANISATION"]
        return [Organisation(c["tenantId"], c.get("tenantName") or c["tenantId"]) for c in rows], {
            c["tenantId"]: c["id"] for c in rows
        }

    async def refresh(self, connection: Connection, secrets: dict[str, str] | None = None) -> TokenSet:
        """A refresh whose answer is lost (timeout, dropped connection) is sent again with the same refresh
        token: Xero keeps the previous token usable for 30 minutes for exactly this [providers.md §3]."""
        try:
            return await super().refresh(connection, secrets)
        except (httpx.TimeoutException, httpx.TransportError):
            return await super().refresh(connection, secrets)

    async def revoke(self, connection: Connection) -> None:
        tokens = connection.tokens
        if tokens is None or not tokens.refresh_token or self.endpoints.revoke_url is None:
            return
        form: dict[str, str] = {"token": tokens.refresh_token}
        headers = self._client_auth(form)
        request = self.http.build_request("POST", self.endpoints.revoke_url, data=form, headers=headers)
        response = await send_with_retries(self.http, request, policy=self.policy)
        if response.status_code >= 400:
            raise VendorRefused(self.provider, f"revoke_http_{response.status_code}", response.text[:200])
