"""Stripe Connect end to end: consent for a standard account, the account kept (its tokens encrypted),
an API call through the official SDK on the MSP's account, refresh, deauthorize."""

from __future__ import annotations

import uuid
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import stripe
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.config import Settings
from adapters.crypto import KeyRing
from adapters.db.uow import SqlUnitOfWork
from adapters.stripe.client import stripe_client
from adapters.stripe.connect import StripeConnectFlow
from sandbox.router import SandboxRouter
from sandbox.stripe_sandbox.state import StripeState
from tests.api.test_connections_quickbooks import Later
from tests.conftest import Api, app_settings


async def test_connect_call_refresh_disconnect(
    tenant_a: Api,
    stripe_sandbox: StripeState,
    vendors: SandboxRouter,
    owner: AsyncEngine,
    engine: AsyncEngine,
    settings: Settings,
) -> None:
    r = await tenant_a.post("/v1/connections/stripe/authorize")
    assert r.status_code == 200, r.text
    url = r.json()["authorization_url"]
    assert parse_qs(urlsplit(url).query)["scope"] == ["read_write"]
    stripe_sandbox.oauth_auto_approve = True
    try:
        async with httpx.AsyncClient(transport=vendors) as browser:
            consent = await browser.get(url)
    finally:
        stripe_sandbox.oauth_auto_approve = False
    assert consent.status_code == 302, consent.text
    location = urlsplit(consent.headers["location"])
    callback = await tenant_a.client.get(location.path, params={k: v[0] for k, v in parse_qs(location.query).items()})
    assert callback.status_code == 200, callback.text
    conn = callback.json()
    account = conn["external_id"]
    assert conn["provider"] == "stripe" and conn["kind"] == "payments" and account.startswith("acct_")

    async with owner.connect() as c:
        raw = (await c.execute(text("SELECT * FROM connections WHERE id = :i"), {"i": conn["id"]})).mappings().one()
    assert raw["access_token_encrypted"].startswith("v1.") and "sk_" not in str(dict(raw))

    s = app_settings(settings, stripe_sandbox).vendors.stripe
    assert s is not None
    client = stripe_client(s, transport=vendors)
    customer = await client.v1.customers.create_async({"name": "Acme Dental"}, {"stripe_account": account})
    assert customer.id.startswith("cus_")
    platform = await client.v1.customers.list_async({"limit": 100})
    assert customer.id not in {c.id for c in platform.data}  # it lives on the MSP's account, not ours

    ring = KeyRing(settings.encryption_keys)
    async with httpx.AsyncClient(transport=vendors) as http:
        flow = StripeConnectFlow(s, http, Later())
        async with SqlUnitOfWork(engine, tenant_a.tenant_id, ring) as uow:
            stored = await uow.connections.get(uuid.UUID(conn["id"]))
        assert stored is not None and stored.tokens is not None
        renewed = await flow.refresh(stored)
        assert renewed.access_token != stored.tokens.access_token

    gone = await tenant_a.client.delete(f"/v1/connections/{conn['id']}", headers=tenant_a.headers)
    assert gone.status_code == 204
    assert stripe_sandbox.controls.requests("POST", "/oauth/deauthorize")[-1].status == 200
    with pytest.raises(stripe.StripeError):
        await client.v1.customers.create_async({"name": "After"}, {"stripe_account": account})


async def test_vendor_error_at_code_exchange(
    tenant_a: Api, stripe_sandbox: StripeState, vendors: SandboxRouter
) -> None:
    r = await tenant_a.post("/v1/connections/stripe/authorize")
    state = parse_qs(urlsplit(r.json()["authorization_url"]).query)["state"][0]
    bad = await tenant_a.client.get("/v1/connections/stripe/callback", params={"code": "ac_forged", "state": state})
    assert bad.status_code == 400 and bad.json()["vendor_error"] == "invalid_grant"
    assert [c for c in (await tenant_a.get("/v1/connections")).json()["data"] if c["provider"] == "stripe"] == []
