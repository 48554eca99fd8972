"""Helpers for tests (ours and the adapters'): a sandbox with one app and one company, already connected,
and an httpx client that talks to it in-process.

    qbo = connected()
    async with qbo.client() as http:
        r = await http.get(qbo.path("invoice/5"))
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx

from sandbox.quickbooks.app import create_app
from sandbox.quickbooks.state import Limits, QuickBooksState
from sandbox.quickbooks.store import Company
from sandbox.quickbooks.tokens import OAuthApp, TokenSet

BASE_URL = "https://qbo.sandbox.test"
REDIRECT_URI = "https://arbridge.test/oauth/quickbooks/callback"
MINOR = 75


@dataclass
class Connected:
    state: QuickBooksState
    app: OAuthApp
    company: Company
    tokens: TokenSet

    @property
    def realm(self) -> str:
        return self.company.realm_id

    def path(self, resource: str, **params: Any) -> str:
        """/v3/company/{realm}/{resource}?minorversion=75&... (pass minorversion=None to leave it out)."""
        query = {"minorversion": MINOR, **params}
        suffix = urlencode({k: v for k, v in query.items() if v is not None})
        return f"/v3/company/{self.realm}/{resource}" + (f"?{suffix}" if suffix else "")

    def client(self, token: str | None = None, auth: bool = True) -> httpx.AsyncClient:
        headers = {"Accept": "application/json"}
        if auth:
            headers["Authorization"] = f"Bearer {token or self.tokens.access_token}"
        return client_for(self.state, headers)


def client_for(state: QuickBooksState, headers: dict[str, str] | None = None) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=create_app(state))
    return httpx.AsyncClient(transport=transport, base_url=BASE_URL, headers=headers or {})


def connected(state: QuickBooksState | None = None, limits: Limits | None = None) -> Connected:
    state = state or QuickBooksState(limits=limits)
    app = state.register_app([REDIRECT_URI])
    company = state.add_company()
    return Connected(state, app, company, state.connect(app.client_id, company.realm_id))
