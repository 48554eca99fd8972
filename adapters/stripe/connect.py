"""Stripe Connect OAuth for standard accounts: the MSP links its own Stripe account to arbridge's platform.

The handshake is plain OAuth 2.0 against connect.stripe.com, authenticated with the platform's secret key.
What we keep is the account id (`stripe_user_id`): API calls for the MSP go out with the platform key and
`Stripe-Account: acct_...`, so the access token Stripe returns is never used and does not expire.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import httpx

from adapters.http.retry import send_with_retries
from adapters.oauth.flow import OAuth2Vendor, OAuthApp, OAuthEndpoints
from adapters.vendor_config import StripeSettings
from domain.connections import Connection, Grant, Provider, TokenSet, VendorRefused

NEVER = timedelta(days=3650)


class StripeConnectFlow(OAuth2Vendor):
    provider = Provider.STRIPE
    uses_pkce = False

    def __init__(self, settings: StripeSettings, http: httpx.AsyncClient, clock: Any) -> None:
        assert settings.connect_client_id, "Stripe Connect needs the platform's client id (ca_...)"
        base = settings.connect_url.rstrip("/")
        endpoints = OAuthEndpoints(f"{base}/oauth/authorize", f"{base}/oauth/token", f"{base}/oauth/deauthorize")
        super().__init__(
            OAuthApp(settings.connect_client_id, settings.secret_key, ("read_write",)), endpoints, http, clock
        )

    def _client_auth(self, form: dict[str, str]) -> dict[str, str]:
        # Stripe authenticates the platform by its secret key, not by client id and secret.
        return {"Authorization": f"Bearer {self.app.client_secret}"}

    def tokens_from(self, payload: dict[str, Any], previous: TokenSet | None = None) -> TokenSet:
        now = self.clock.now()
        return TokenSet(
            access_token=payload["access_token"],
            access_expires_at=now + NEVER,
            refresh_token=payload.get("refresh_token") or (previous.refresh_token if previous else None),
            refresh_expires_at=None,
        )

    async def exchange_code(
        self, code: str, redirect_uri: str, code_verifier: str | None, callback: Mapping[str, str]
    ) -> Grant:
        payload = await self.token_request("authorization_code", code=code)
        account = payload.get("stripe_user_id")
        if not account:
            raise VendorRefused(self.provider, "no_account", "the token answer named no connected account")
        return Grant(
            tokens=self.tokens_from(payload),
            scopes=str(payload.get("scope") or "read_write").split(),
            external_id=str(account),
            settings={
                "livemode": bool(payload.get("livemode")),
                "publishable_key": payload.get("stripe_publishable_key"),
            },
        )

    async def revoke(self, connection: Connection) -> None:
        if not connection.external_id or self.endpoints.revoke_url is None:
            return
        form = {"client_id": self.app.client_id, "stripe_user_id": connection.external_id}
        request = self.http.build_request("POST", self.endpoints.revoke_url, data=form, headers=self._client_auth({}))
        response = await send_with_retries(self.http, request, policy=self.policy)
        if response.status_code >= 400:
            body = response.json() if response.headers.get("content-type", "").startswith("application/json") else {}
            raise VendorRefused(
                self.provider, str(body.get("error", f"http_{response.status_code}")), body.get("error_description")
            )
