"""Xero end to end: PKCE consent, organisations from /connections (choosing one when several), tokens
encrypted, an API call, expiry, rotated refresh, the call again, disconnect; and the refresh grace."""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.config import Settings
from adapters.crypto import KeyRing
from adapters.db.uow import SqlUnitOfWork
from adapters.xero.api import XeroApi, XeroApiError
from adapters.xero.oauth import XeroFlow
from domain.usecases.connections import fresh_access_token
from sandbox.common import Fault
from sandbox.router import SandboxRouter
from sandbox.xero.state import XeroState
from tests.api.test_connections_quickbooks import Later
from tests.conftest import Api, app_settings


async def _consent(vendors: SandboxRouter, api: Api, xero: XeroState, orgs: list[Any]) -> tuple[str, dict[str, str]]:
    r = await api.post("/v1/connections/xero/authorize")
    assert r.status_code == 200, r.text
    url = r.json()["authorization_url"]
    q = parse_qs(urlsplit(url).query)
    assert q["code_challenge_method"] == ["S256"] and len(q["code_challenge"][0]) == 43
    xero.auto_consent(tenants=orgs)
    async with httpx.AsyncClient(transport=vendors) as browser:
        consent = await browser.get(url)
    assert consent.status_code == 302, consent.text
    location = urlsplit(consent.headers["location"])
    return location.path, {k: v[0] for k, v in parse_qs(location.query).items()}


def _flow(http: httpx.AsyncClient, settings: Settings, clock: Any) -> tuple[XeroFlow, XeroApi]:
    s = app_settings(settings).vendors.xero
    assert s is not None
    return XeroFlow(s, http, clock), XeroApi(http, s.api_url)


async def test_connect_call_expire_refresh_disconnect(
    tenant_a: Api, xero: XeroState, vendors: SandboxRouter, owner: AsyncEngine, engine: AsyncEngine, settings: Settings
) -> None:
    org = xero.add_organisation("Northwind Ltd")
    path, params = await _consent(vendors, tenant_a, xero, [org])
    r = await tenant_a.client.get(path, params=params)
    assert r.status_code == 200, r.text
    conn = r.json()
    assert conn["status"] == "active" and conn["external_id"] == str(org.tenant_id)
    assert conn["display_name"] == "Northwind Ltd"
    connection_id = uuid.UUID(conn["id"])
    async with owner.connect() as c:
        raw = (await c.execute(text("SELECT * FROM connections WHERE id = :i"), {"i": connection_id})).mappings().one()
    assert raw["access_token_encrypted"].startswith("v1.") and raw["refresh_token_encrypted"].startswith("v1.")

    ring = KeyRing(settings.encryption_keys)
    async with httpx.AsyncClient(transport=vendors) as http:
        now = Later()
        flow, api = _flow(http, settings, now)
        async with SqlUnitOfWork(engine, tenant_a.tenant_id, ring) as uow:
            access = await fresh_access_token(uow, now, flow, connection_id)
        assert access not in str(dict(raw))
        assert "Invoices" in await api.get(access, str(org.tenant_id), "Invoices", page=1)

        xero.controls.clock.advance(minutes=40)  # Xero access tokens live 30 minutes
        later = Later(hours=0.7)
        flow, api = _flow(http, settings, later)
        with pytest.raises(XeroApiError) as exc:
            await api.get(access, str(org.tenant_id), "Invoices")
        assert exc.value.status == 401
        async with SqlUnitOfWork(engine, tenant_a.tenant_id, ring) as uow:
            old_refresh = (await uow.connections.get(connection_id)).tokens.refresh_token  # type: ignore[union-attr]
        async with SqlUnitOfWork(engine, tenant_a.tenant_id, ring) as uow:
            fresh = await fresh_access_token(uow, later, flow, connection_id)
        async with SqlUnitOfWork(engine, tenant_a.tenant_id, ring) as uow:
            stored = await uow.connections.get(connection_id)
        assert stored is not None and stored.tokens is not None and stored.tokens.refresh_token != old_refresh
        assert "Invoices" in await api.get(fresh, str(org.tenant_id), "Invoices")

    assert (
        await tenant_a.client.delete(f"/v1/connections/{connection_id}", headers=tenant_a.headers)
    ).status_code == 204
    assert xero.controls.requests("POST", "/connect/revocation")[-1].status == 200
    assert (await tenant_a.get("/v1/connections")).json()["data"] == []


async def test_several_organisations_are_listed_then_chosen(
    tenant_b: Api, xero: XeroState, vendors: SandboxRouter
) -> None:
    one, two = xero.add_organisation("Contoso UK"), xero.add_organisation("Contoso US")
    path, params = await _consent(vendors, tenant_b, xero, [one, two])
    conn = (await tenant_b.client.get(path, params=params)).json()
    assert conn["status"] == "choosing_organisation" and conn["external_id"] is None
    assert {o["name"] for o in conn["organisations"]} == {"Contoso UK", "Contoso US"}
    wrong = await tenant_b.post(f"/v1/connections/{conn['id']}/organisation", json={"organisation_id": "nope"})
    assert wrong.status_code == 400
    chosen = await tenant_b.post(
        f"/v1/connections/{conn['id']}/organisation", json={"organisation_id": str(two.tenant_id)}
    )
    assert chosen.status_code == 200, chosen.text
    assert chosen.json()["status"] == "active" and chosen.json()["display_name"] == "Contoso US"


async def test_lost_refresh_answer_is_retried_within_the_grace(
    tenant_a: Api, xero: XeroState, vendors: SandboxRouter, engine: AsyncEngine, settings: Settings
) -> None:
    org = xero.add_organisation("Grace Ltd")
    path, params = await _consent(vendors, tenant_a, xero, [org])
    connection_id = uuid.UUID((await tenant_a.client.get(path, params=params)).json()["id"])
    xero.controls.clock.advance(minutes=45)
    later = Later(hours=0.8)
    # The first refresh reaches Xero (which rotates the token) but the answer never comes back.
    xero.controls.inject(Fault("lost", path_prefix="/connect/token", times=1))
    async with httpx.AsyncClient(transport=vendors) as http:
        flow, api = _flow(http, settings, later)
        async with SqlUnitOfWork(engine, tenant_a.tenant_id, KeyRing(settings.encryption_keys)) as uow:
            token = await fresh_access_token(uow, later, flow, connection_id)
        assert "Invoices" in await api.get(token, str(org.tenant_id), "Invoices")
    assert len(xero.controls.requests("POST", "/connect/token")) >= 2
