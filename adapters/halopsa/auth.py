"""HaloPSA's client-credentials grant: how arbridge gets (and renews) a token for an MSP's Halo instance.

Hosted Halo takes `tenant` on the token request; we send it both in the query and the form, as the
public clients do [providers.md §1]. There is no refresh token: a new token is simply requested.
"""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlencode, urlsplit

import httpx

from adapters.http.retry import RetryPolicy, send_with_retries
from domain.connections import ClientCredentials, Connection, Provider, RefreshRefused, TokenSet, VendorRefused
from domain.errors import FieldError, ValidationFailed
from domain.ports import Clock


def token_url(creds: ClientCredentials) -> str:
    auth = (creds.auth_url or f"{creds.resource_url.rstrip('/')}/auth").rstrip("/")
    url = f"{auth}/token"
    return f"{url}?{urlencode({'tenant': creds.tenant})}" if creds.tenant else url


def check_urls(creds: ClientCredentials, allow_http: bool) -> None:
    """The MSP types these URLs; we will send its secret there, so only https (http in development)."""
    errors = []
    for name in ("resource_url", "auth_url"):
        value = getattr(creds, name)
        if value is None:
            continue
        parts = urlsplit(value)
        schemes = ("https", "http") if allow_http else ("https",)
        if parts.scheme not in schemes or not parts.hostname:
            errors.append(FieldError(name, f"must be an {' or '.join(schemes)} URL of your Halo instance"))
    if not creds.client_id.strip():
        errors.append(FieldError("client_id", "is required"))
    if not creds.client_secret:
        errors.append(FieldError("client_secret", "is required"))
    if errors:
        raise ValidationFailed(errors)


class HaloCredentialsFlow:
    provider = Provider.HALOPSA
    uses_pkce = False

    def __init__(self, http: httpx.AsyncClient, clock: Clock, policy: RetryPolicy | None = None) -> None:
        self.http = http
        self.clock = clock
        self.policy = policy or RetryPolicy(max_attempts=3)

    async def token(self, creds: ClientCredentials) -> TokenSet:
        form = {
            "grant_type": "client_credentials",
            "client_id": creds.client_id,
            "client_secret": creds.client_secret,
            "scope": creds.scope,
        }
        if creds.tenant:
            form["tenant"] = creds.tenant
        request = self.http.build_request("POST", token_url(creds), data=form, headers={"Accept": "application/json"})
        try:
            response = await send_with_retries(self.http, request, policy=self.policy)
        except httpx.HTTPError as exc:
            raise VendorRefused(
                self.provider, "unreachable", f"{type(exc).__name__} calling {token_url(creds)}"
            ) from exc
        try:
            payload = response.json()
        except ValueError:
            raise VendorRefused(self.provider, f"http_{response.status_code}", "the answer was not JSON") from None
        if response.status_code >= 400 or not isinstance(payload, dict) or "access_token" not in payload:
            error = payload.get("error", f"http_{response.status_code}") if isinstance(payload, dict) else "bad_answer"
            desc = payload.get("error_description") if isinstance(payload, dict) else None
            raise VendorRefused(self.provider, str(error), desc)
        lifetime = int(payload.get("expires_in") or 3600)  # H-PY's default when absent
        return TokenSet(payload["access_token"], self.clock.now() + timedelta(seconds=lifetime))

    async def refresh(self, connection: Connection, secrets: dict[str, str]) -> TokenSet:
        creds = credentials_of(connection, secrets)
        try:
            return await self.token(creds)
        except VendorRefused as exc:
            if exc.error in ("invalid_client", "unauthorized_client", "invalid_scope"):
                raise RefreshRefused(f"{exc.error}: the API application was changed or removed in Halo") from exc
            raise


def credentials_of(connection: Connection, secrets: dict[str, str]) -> ClientCredentials:
    s = connection.settings
    return ClientCredentials(
        resource_url=s["resource_url"],
        client_id=s["client_id"],
        client_secret=secrets.get("client_secret", ""),
        auth_url=s.get("auth_url"),
        tenant=s.get("tenant"),
        scope=s.get("scope", "all"),
    )
