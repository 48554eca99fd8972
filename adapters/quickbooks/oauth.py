"""QuickBooks Online's consent flow: the company (realmId) arrives on the redirect, not in the token answer.

Refresh tokens rotate: the new one is persisted before use (domain/usecases/connections.py). Revoking
takes the refresh token as JSON with Basic client auth [providers.md §2].
"""

from __future__ import annotations

from collections.abc import Mapping

from adapters.http.retry import send_with_retries
from adapters.oauth.flow import OAuth2Vendor, OAuthApp, OAuthEndpoints
from adapters.vendor_config import QuickBooksSettings
from domain.connections import Connection, Grant, Provider, VendorRefused


class QuickBooksFlow(OAuth2Vendor):
    provider = Provider.QUICKBOOKS
    uses_pkce = False

    @staticmethod
    def app_and_endpoints(s: QuickBooksSettings) -> tuple[OAuthApp, OAuthEndpoints]:
        return OAuthApp(s.client_id, s.client_secret, s.scopes), OAuthEndpoints(
            s.authorize_url, s.token_url, s.revoke_url
        )

    async def exchange_code(
        self, code: str, redirect_uri: str, code_verifier: str | None, callback: Mapping[str, str]
    ) -> Grant:
        realm = callback.get("realmId")
        if not realm:
            raise VendorRefused(self.provider, "missing_realm", "the redirect carried no realmId (company)")
        payload = await self.token_request("authorization_code", code=code, redirect_uri=redirect_uri)
        return Grant(
            tokens=self.tokens_from(payload),
            scopes=str(payload.get("scope") or " ".join(self.app.scopes)).split(),
            external_id=realm,
        )

    async def revoke(self, connection: Connection) -> None:
        tokens = connection.tokens
        token = (tokens.refresh_token or tokens.access_token) if tokens else None
        if not token or self.endpoints.revoke_url is None:
            return
        headers = {"Accept": "application/json", **self._client_auth({})}
        request = self.http.build_request("POST", self.endpoints.revoke_url, json={"token": token}, headers=headers)
        response = await send_with_retries(self.http, request, policy=self.policy)
        if response.status_code >= 400:
            raise VendorRefused(self.provider, f"revoke_http_{response.status_code}", response.text[:200])
