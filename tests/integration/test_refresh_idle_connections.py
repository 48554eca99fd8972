"""The daily job that keeps idle connections alive, and marks dead ones `needs_reauth`."""

from __future__ import annotations

import uuid

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.clock import SystemClock
from adapters.config import Settings
from adapters.crypto import KeyRing
from adapters.db.uow import SqlUnitOfWork
from adapters.vendor_flows import build_vendor_flows
from sandbox.quickbooks.state import QuickBooksState
from sandbox.router import SandboxRouter
from tests.api.test_connections_quickbooks import _consent
from tests.conftest import Api, app_settings
from workers.jobs import refresh_idle_connections


async def _connect(api: Api, qbo: QuickBooksState, vendors: SandboxRouter) -> uuid.UUID:
    company = qbo.add_company()
    path, params = await _consent(vendors, api, company.realm_id)
    return uuid.UUID((await api.client.get(path, params=params)).json()["id"])


async def test_idle_connections_refreshed_and_dead_ones_flagged(
    tenant_a: Api,
    tenant_b: Api,
    qbo: QuickBooksState,
    vendors: SandboxRouter,
    engine: AsyncEngine,
    owner: AsyncEngine,
    settings: Settings,
) -> None:
    idle = await _connect(tenant_a, qbo, vendors)
    dead = await _connect(tenant_b, qbo, vendors)
    async with owner.begin() as c:
        # Both look idle for a month; B's refresh token was revoked in QuickBooks meanwhile.
        await c.execute(
            text("UPDATE connections SET last_refreshed_at = now() - interval '30 days' WHERE id = ANY(:ids)"),
            {"ids": [idle, dead]},
        )
        before = (
            await c.execute(text("SELECT refresh_token_encrypted FROM connections WHERE id = :i"), {"i": idle})
        ).scalar_one()
    ring = KeyRing(settings.encryption_keys)
    async with SqlUnitOfWork(engine, tenant_b.tenant_id, ring) as uow:
        dead_refresh = (await uow.connections.get(dead)).tokens.refresh_token  # type: ignore[union-attr]
    async with httpx.AsyncClient(transport=vendors) as http:
        r = await http.post(
            "http://qbo.sandbox.test/v2/oauth2/tokens/revoke",
            json={"token": dead_refresh},
            auth=("arbridge-test", "qbo-secret"),
        )
        assert r.status_code == 200

    clock = SystemClock()
    flows = build_vendor_flows(app_settings(settings), clock, vendors)
    try:
        counts = await refresh_idle_connections({"engine": engine, "clock": clock, "ring": ring, "vendor_flows": flows})
    finally:
        await flows.http.aclose()
    # (other tests' connections may be due too: the rows below are what this test owns)
    assert counts["refreshed"] >= 1 and counts["needs_reauth"] >= 1

    async with owner.connect() as c:
        rows = {
            r.id: r
            for r in await c.execute(
                text(
                    "SELECT id, status, needs_reauth_reason, refresh_token_encrypted FROM connections WHERE id = ANY(:ids)"
                ),
                {"ids": [idle, dead]},
            )
        }
        reauth_events = (
            await c.execute(
                text("SELECT count(*) FROM outbox WHERE subject_id = :i AND event_type = 'connection.needs_reauth'"),
                {"i": dead},
            )
        ).scalar_one()
    assert rows[idle].status == "active" and rows[idle].refresh_token_encrypted != before
    assert rows[dead].status == "needs_reauth" and "invalid_grant" in rows[dead].needs_reauth_reason
    assert reauth_events == 1
    listed = (await tenant_b.get("/v1/connections")).json()["data"]
    assert listed[0]["status"] == "needs_reauth" and listed[0]["needs_reauth_reason"]
