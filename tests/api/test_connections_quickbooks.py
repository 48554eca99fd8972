"""QuickBooks Online end to end over HTTP: authorize, the sandbox's consent, callback, tokens stored
encrypted, an API call, expiry, rotated refresh, the call again, disconnect; and every bad callback."""

from __future__ import annotations

import asyncio
import logging
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.config import Settings
from adapters.crypto import KeyRing
from adapters.db.uow import SqlUnitOfWork
from adapters.quickbooks.api import QuickBooksApi
from adapters.quickbooks.oauth import QuickBooksFlow
from domain.usecases.connections import fresh_access_token
from sandbox.quickbooks.state import QuickBooksState
from sandbox.router import SandboxRouter
from tests.conftest import Api, app_settings


class Later:
    def __init__(self, hours: float = 0) -> None:
        self.delta = timedelta(hours=hours)

    def now(self) -> datetime:
        return datetime.now(UTC) + self.delta


async def _consent(vendors: SandboxRouter, api: Api, realm: str, **extra: str) -> tuple[str, dict[str, str]]:
    """Authorize, then let the sandbox approve for `realm`; returns the callback path and its query."""
    r = await api.post("/v1/connections/quickbooks/authorize")
    assert r.status_code == 200, r.text
    url = r.json()["authorization_url"]
    query = "&".join(f"{k}={v}" for k, v in {"sandbox_auto_approve": realm, **extra}.items())
    async with httpx.AsyncClient(transport=vendors) as browser:
        consent = await browser.get(f"{url}&{query}")
    assert consent.status_code == 302, consent.text
    location = urlsplit(consent.headers["location"])
    return location.path, {k: v[0] for k, v in parse_qs(location.query).items()}


def _flow(http: httpx.AsyncClient, settings: Settings, clock: Any) -> tuple[QuickBooksFlow, QuickBooksApi]:
    qbo = app_settings(settings).vendors.quickbooks
    assert qbo is not None
    app, endpoints = QuickBooksFlow.app_and_endpoints(qbo)
    return QuickBooksFlow(app, endpoints, http, clock), QuickBooksApi(http, qbo.api_url, qbo.minor_version)


async def test_connect_call_expire_refresh_disconnect(
    tenant_a: Api,
    qbo: QuickBooksState,
    vendors: SandboxRouter,
    owner: AsyncEngine,
    engine: AsyncEngine,
    settings: Settings,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    company = qbo.add_company("Northwind Books")
    path, params = await _consent(vendors, tenant_a, company.realm_id)
    assert path == "/v1/connections/quickbooks/callback" and params["realmId"] == company.realm_id
    r = await tenant_a.client.get(path, params=params)
    assert r.status_code == 200, r.text
    conn = r.json()
    assert conn["status"] == "active" and conn["external_id"] == company.realm_id and conn["kind"] == "books"
    connection_id = uuid.UUID(conn["id"])

    async with owner.connect() as c:
        raw = (await c.execute(text("SELECT * FROM connections WHERE id = :i"), {"i": connection_id})).mappings().one()
    assert raw["access_token_encrypted"].startswith("v1.") and raw["refresh_token_encrypted"].startswith("v1.")
    ring = KeyRing(settings.encryption_keys)

    async with httpx.AsyncClient(transport=vendors) as http:
        now = Later()
        flow, qbo_api = _flow(http, settings, now)
        async with SqlUnitOfWork(engine, tenant_a.tenant_id, ring) as uow:
            first_access = await fresh_access_token(uow, now, flow, connection_id)
        async with SqlUnitOfWork(engine, tenant_a.tenant_id, ring) as uow:
            first_refresh = (await uow.connections.get(connection_id)).tokens.refresh_token  # type: ignore[union-attr]
        assert first_access not in str(dict(raw))
        accounts = await qbo_api.query(company.realm_id, first_access, "SELECT * FROM Account MAXRESULTS 5")
        assert accounts["Account"]

        # An hour later the access token is dead at Intuit; the next call refreshes (rotating the refresh token).
        qbo.controls.clock.advance(hours=1, minutes=5)
        later = Later(hours=1.1)
        flow, qbo_api = _flow(http, settings, later)
        with pytest.raises(Exception, match=r"3200|401"):
            await qbo_api.query(company.realm_id, first_access, "SELECT * FROM Account")
        async with SqlUnitOfWork(engine, tenant_a.tenant_id, ring) as uow:
            second_access = await fresh_access_token(uow, later, flow, connection_id)
        async with SqlUnitOfWork(engine, tenant_a.tenant_id, ring) as uow:
            stored = await uow.connections.get(connection_id)
        assert stored is not None and stored.tokens is not None
        assert second_access != first_access and stored.tokens.refresh_token != first_refresh
        assert (await qbo_api.query(company.realm_id, second_access, "SELECT * FROM Account"))["Account"]

    listed = await tenant_a.get("/v1/connections")
    secrets = [first_access, first_refresh, second_access, stored.tokens.refresh_token, "qbo-secret"]
    for secret in secrets:
        assert secret and secret not in listed.text and secret not in r.text
        assert secret not in caplog.text  # nothing we (or httpx, SQLAlchemy, Litestar) logged carries it
    assert "oauth2/v1/tokens/bearer" in caplog.text  # the log did capture the vendor calls

    gone = await tenant_a.client.delete(f"/v1/connections/{connection_id}", headers=tenant_a.headers)
    assert gone.status_code == 204
    assert (await tenant_a.get("/v1/connections")).json()["data"] == []
    revokes = qbo.controls.requests("POST", "/v2/oauth2/tokens/revoke")
    assert revokes and revokes[-1].status == 200
    async with httpx.AsyncClient(transport=vendors) as http:
        _, qbo_api = _flow(http, settings, Later(hours=1.1))
        with pytest.raises(Exception, match=r"3200|401"):
            await qbo_api.query(company.realm_id, second_access, "SELECT * FROM Account")


async def _no_connection(api: Api) -> None:
    assert (await api.get("/v1/connections")).json()["data"] == []


async def test_tampered_replayed_expired_and_other_tenant_states(
    tenant_a: Api, tenant_b: Api, qbo: QuickBooksState, vendors: SandboxRouter, owner: AsyncEngine
) -> None:
    company = qbo.add_company()
    path, params = await _consent(vendors, tenant_a, company.realm_id)

    tampered = await tenant_a.client.get(path, params={**params, "state": params["state"][:-2] + "xx"})
    assert tampered.status_code == 400 and tampered.json()["code"] == "invalid_oauth_state"
    other = await tenant_b.client.get(path, params=params, headers=tenant_b.headers)
    assert other.status_code == 400 and other.json()["code"] == "invalid_oauth_state"
    await _no_connection(tenant_a)
    await _no_connection(tenant_b)

    ok = await tenant_a.client.get(path, params=params, headers=tenant_a.headers)
    assert ok.status_code == 200
    replay = await tenant_a.client.get(path, params=params)
    assert replay.status_code == 400 and "already used" in replay.json()["detail"]

    path2, params2 = await _consent(vendors, tenant_b, company.realm_id)
    async with owner.begin() as c:
        await c.execute(
            text("UPDATE oauth_states SET expires_at = now() - interval '1 second' WHERE tenant_id = :t"),
            {"t": tenant_b.tenant_id},
        )
    expired = await tenant_b.client.get(path2, params=params2)
    assert expired.status_code == 400 and "10 minutes" in expired.json()["detail"]
    await _no_connection(tenant_b)


async def test_vendor_errors_are_named(tenant_a: Api, qbo: QuickBooksState, vendors: SandboxRouter) -> None:
    company = qbo.add_company()
    path, params = await _consent(vendors, tenant_a, company.realm_id)
    bad_code = await tenant_a.client.get(path, params={**params, "code": "not-a-code"})
    assert bad_code.status_code == 400
    assert bad_code.json()["code"] == "vendor_refused" and bad_code.json()["vendor_error"] == "invalid_grant"
    await _no_connection(tenant_a)

    r = await tenant_a.post("/v1/connections/quickbooks/authorize")
    async with httpx.AsyncClient(transport=vendors) as browser:
        denied = await browser.get(r.json()["authorization_url"] + "&sandbox_auto_deny=1")
    q = {k: v[0] for k, v in parse_qs(urlsplit(denied.headers["location"]).query).items()}
    refused = await tenant_a.client.get("/v1/connections/quickbooks/callback", params=q)
    assert refused.status_code == 400 and refused.json()["vendor_error"] == "access_denied"
    await _no_connection(tenant_a)


async def test_two_workers_refreshing_at_once_refresh_once(
    tenant_a: Api, qbo: QuickBooksState, vendors: SandboxRouter, engine: AsyncEngine, settings: Settings
) -> None:
    company = qbo.add_company()
    path, params = await _consent(vendors, tenant_a, company.realm_id)
    connection_id = uuid.UUID((await tenant_a.client.get(path, params=params)).json()["id"])
    qbo.controls.clock.advance(hours=2)
    later = Later(hours=2.2)
    ring = KeyRing(settings.encryption_keys)
    before = len([e for e in qbo.controls.requests("POST", "/oauth2/v1/tokens/bearer") if b"refresh_token" in e.body])

    async def worker() -> str:
        async with httpx.AsyncClient(transport=vendors) as http:
            flow, _ = _flow(http, settings, later)
            async with SqlUnitOfWork(engine, tenant_a.tenant_id, ring) as uow:
                return await fresh_access_token(uow, later, flow, connection_id)

    a, b = await asyncio.gather(worker(), worker())
    after = len([e for e in qbo.controls.requests("POST", "/oauth2/v1/tokens/bearer") if b"refresh_token" in e.body])
    assert a == b and after - before == 1
    async with httpx.AsyncClient(transport=vendors) as http:
        _, qbo_api = _flow(http, settings, later)
        assert (await qbo_api.query(company.realm_id, a, "SELECT * FROM Account"))["Account"]
