"""The QuickBooks Online Accounting API (v3): the calls arbridge makes, with Intuit's error shapes.

Intuit answers faults in two casings: the API's `Fault` and the gateway's lower-case `fault` (401s), and
sometimes with HTTP 200 [providers.md §2]; every answer is checked for both.
"""

from __future__ import annotations

from typing import Any

import httpx

from adapters.http.limiter import QUICKBOOKS, LimiterRegistry
from adapters.http.retry import RetryPolicy, send_with_retries


class QuickBooksFault(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"QuickBooks fault {code}: {message}")
        self.status, self.code, self.message = status, code, message


def _fault(response: httpx.Response, body: Any) -> QuickBooksFault | None:
    fault = body.get("Fault") or body.get("fault") if isinstance(body, dict) else None
    if fault is None:
        return (
            None if response.status_code < 400 else QuickBooksFault(response.status_code, "http", response.text[:200])
        )
    errors = fault.get("Error") or fault.get("error") or [{}]
    first = errors[0]
    return QuickBooksFault(
        response.status_code, str(first.get("code", "")), str(first.get("Message") or first.get("message") or "")
    )


class QuickBooksApi:
    def __init__(
        self,
        http: httpx.AsyncClient,
        api_url: str,
        minor_version: int,
        policy: RetryPolicy | None = None,
        limiters: LimiterRegistry | None = None,
    ):
        self.http = http
        self.api_url = api_url.rstrip("/")
        self.minor_version = minor_version
        self.policy = policy or RetryPolicy()
        self.limiters = limiters or LimiterRegistry()

    async def query(self, realm_id: str, access_token: str, statement: str) -> dict[str, Any]:
        """Run a query (SELECT ... FROM Entity ...); returns the QueryResponse object."""
        request = self.http.build_request(
            "GET",
            f"{self.api_url}/company/{realm_id}/query",
            params={"query": statement, "minorversion": self.minor_version},
            headers={"Authorization": f"Bearer {access_token}", "Accept": "application/json"},
        )
        limiter = self.limiters.for_tenant("quickbooks", realm_id, QUICKBOOKS)
        response = await send_with_retries(self.http, request, policy=self.policy, limiter=limiter)
        try:
            body = response.json()
        except ValueError:
            raise QuickBooksFault(response.status_code, "not_json", response.text[:200]) from None
        fault = _fault(response, body)
        if fault is not None:
            raise fault
        return dict(body.get("QueryResponse") or {})
