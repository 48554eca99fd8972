"""The Xero Accounting API calls arbridge makes. Every call names the organisation (xero-tenant-id) and asks
for JSON (Xero answers XML by default)."""

from __future__ import annotations

from typing import Any

import httpx

from adapters.http.limiter import XERO, LimiterRegistry
from adapters.http.retry import RetryPolicy, send_with_retries


class XeroApiError(Exception):
    def __init__(self, status: int, detail: str) -> None:
        super().__init__(f"Xero answered {status}: {detail}")
        self.status = status


class XeroApi:
    def __init__(
        self,
        http: httpx.AsyncClient,
        api_url: str,
        policy: RetryPolicy | None = None,
        limiters: LimiterRegistry | None = None,
    ) -> None:
        self.http = http
        self.api_url = api_url.rstrip("/")
        self.policy = policy or RetryPolicy()
        self.limiters = limiters or LimiterRegistry()  # share one registry per process to pool the limits

    async def get(self, access_token: str, tenant_id: str, resource: str, **params: Any) -> dict[str, Any]:
        request = self.http.build_request(
            "GET",
            f"{self.api_url}/{resource}",
            params=params or None,
            headers={
                "Authorization": f"Bearer {access_token}",
                "xero-tenant-id": tenant_id,
                "Accept": "application/json",
            },
        )
        limiter = self.limiters.for_tenant("xero", tenant_id, XERO)
        response = await send_with_retries(self.http, request, policy=self.policy, limiter=limiter)
        if response.status_code != 200:
            raise XeroApiError(response.status_code, response.text[:300])
        return dict(response.json())
