"""A ready-made connected sandbox for tests: two organisations (every fixture set has two tenants), one
confidential app connected to the first only, and an httpx client talking to the app in-process."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from .app import create_app
from .models import Organisation
from .oauth import OAuthApp
from .state import XeroConfig, XeroState

API = "https://api.xero.com"
ACCOUNTING = "/api.xro/2.0"


def client_for(state: XeroState, base_url: str = API) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(state)), base_url=base_url)


@dataclass
class ConnectedSandbox:
    state: XeroState
    org: Organisation  # connected
    other: Organisation  # exists, not connected to `app`
    app: OAuthApp
    tokens: dict[str, Any]
    http: httpx.AsyncClient

    def headers(self, org: Organisation | None = None, token: str | None = None) -> dict[str, str]:
        return {
            "authorization": f"Bearer {token or self.tokens['access_token']}",
            "xero-tenant-id": str((org or self.org).tenant_id),
            "accept": "application/json",
        }

    async def get(self, resource: str, **kw: Any) -> httpx.Response:
        return await self.http.get(f"{ACCOUNTING}/{resource}", headers=kw.pop("headers", self.headers()), **kw)

    async def put(self, resource: str, body: Any, **kw: Any) -> httpx.Response:
        headers = {**self.headers(), **kw.pop("headers", {})}
        return await self.http.put(f"{ACCOUNTING}/{resource}", json=body, headers=headers, **kw)

    async def post(self, resource: str, body: Any, **kw: Any) -> httpx.Response:
        headers = {**self.headers(), **kw.pop("headers", {})}
        return await self.http.post(f"{ACCOUNTING}/{resource}", json=body, headers=headers, **kw)


def connected_sandbox(config: XeroConfig | None = None, seed: int = 7) -> ConnectedSandbox:
    state = XeroState(config, seed=seed)
    org, other = state.add_organisation("Acme MSP"), state.add_organisation("Other MSP")
    app = state.register_app("arbridge")
    tokens = state.connect(app, [org])
    return ConnectedSandbox(state, org, other, app, tokens, client_for(state))
