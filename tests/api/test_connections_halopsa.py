"""Connecting HaloPSA end to end: the MSP's API application, checked against the Halo sandbox."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.config import Settings
from adapters.crypto import KeyRing
from adapters.db.uow import SqlUnitOfWork
from adapters.halopsa.api import HaloApi, token_source
from adapters.halopsa.auth import HaloCredentialsFlow
from domain.halopsa import HaloResource
from domain.usecases.connections import fresh_access_token
from sandbox.halopsa import HaloState, create_app
from sandbox.router import SandboxRouter
from tests.conftest import Api


@pytest.fixture
def halo(vendors: SandboxRouter) -> Iterator[tuple[HaloState, str]]:
    state = HaloState(tenant="northwind")
    host = f"halo-{uuid.uuid4().hex[:8]}.sandbox.test"
    url = vendors.register(host, create_app(state))
    yield state, url
    vendors.unregister(host)


def _body(url: str, app: Any, **kw: Any) -> dict[str, Any]:
    return {
        "resource_url": url,
        "client_id": app.client_id,
        "client_secret": app.client_secret,
        "tenant": "northwind",
        **kw,
    }


async def test_connect_list_refresh_disconnect(
    tenant_a: Api,
    tenant_b: Api,
    halo: tuple[HaloState, str],
    owner: AsyncEngine,
    engine: AsyncEngine,
    settings: Settings,
    vendors: SandboxRouter,
    caplog: pytest.LogCaptureFixture,
) -> None:
    state, url = halo
    app = state.add_application(scopes="all")
    caplog.set_level(logging.DEBUG)
    r = await tenant_a.post("/v1/connections/halopsa", json=_body(url, app))
    assert r.status_code == 201, r.text
    conn = r.json()
    assert conn["provider"] == "halopsa" and conn["status"] == "active" and conn["kind"] == "psa"
    assert app.client_secret not in r.text
    assert not [k for k in conn if "token" in k or "secret" in k]
    assert [x["id"] for x in (await tenant_a.get("/v1/connections")).json()["data"]] == [conn["id"]]
    assert (await tenant_b.get("/v1/connections")).json()["data"] == []

    # at rest: only ciphertext
    async with owner.connect() as c:
        raw = (await c.execute(text("SELECT * FROM connections WHERE id = :i"), {"i": conn["id"]})).mappings().one()
    dump = " ".join(str(v) for v in raw.values())
    assert app.client_secret not in dump and raw["secrets_encrypted"].startswith("v1.")

    ring = KeyRing(settings.encryption_keys)
    async with httpx.AsyncClient(transport=vendors, base_url=url) as http:
        now = _Later(hours=0)
        async with SqlUnitOfWork(engine, tenant_a.tenant_id, ring) as uow:
            first = await fresh_access_token(uow, now, HaloCredentialsFlow(http, now), uuid.UUID(conn["id"]))
        clients = await http.get(
            "/api/Client", params={"pageinate": "true"}, headers={"Authorization": f"Bearer {first}"}
        )
        assert clients.status_code == 200 and "clients" in clients.json()

        # Two hours on, the token has expired in Halo: a fresh one is fetched with the stored secret.
        state.controls.clock.advance(hours=2)
        later = _Later(hours=2)
        assert (await http.get("/api/Client", headers={"Authorization": f"Bearer {first}"})).status_code == 401
        async with SqlUnitOfWork(engine, tenant_a.tenant_id, ring) as uow:
            token = await fresh_access_token(uow, later, HaloCredentialsFlow(http, later), uuid.UUID(conn["id"]))
        assert (await http.get("/api/Client", headers={"Authorization": f"Bearer {token}"})).status_code == 200
    assert token != first and token not in dump
    assert len(state.controls.requests("POST", "/auth/token")) == 2

    assert (await tenant_b.client.delete(f"/v1/connections/{conn['id']}", headers=tenant_b.headers)).status_code == 404
    assert (await tenant_a.client.delete(f"/v1/connections/{conn['id']}", headers=tenant_a.headers)).status_code == 204
    assert (await tenant_a.get("/v1/connections")).json()["data"] == []
    for secret in [app.client_secret, token]:
        assert secret not in caplog.text


class _Later:
    """Our clock, some hours ahead (the sandbox's clock moved the same way)."""

    def __init__(self, hours: int) -> None:
        self.delta = timedelta(hours=hours)

    def now(self) -> datetime:
        return datetime.now(UTC) + self.delta


async def test_wrong_secret_is_a_clear_problem_and_stores_nothing(tenant_a: Api, halo: tuple[HaloState, str]) -> None:
    state, url = halo
    app = state.add_application(scopes="all")
    r = await tenant_a.post("/v1/connections/halopsa", json=_body(url, app, client_secret="wrong"))
    assert r.status_code == 400
    assert r.json()["code"] == "vendor_refused" and r.json()["vendor_error"] == "invalid_client"
    assert "wrong" not in r.text
    assert (await tenant_a.get("/v1/connections")).json()["data"] == []


async def test_bad_urls_and_missing_fields(tenant_a: Api) -> None:
    r = await tenant_a.post(
        "/v1/connections/halopsa", json={"resource_url": "ftp://x", "client_id": " ", "client_secret": ""}
    )
    assert r.status_code == 422
    assert {e["field"] for e in r.json()["errors"]} == {"resource_url", "client_id", "client_secret"}
    r = await tenant_a.post("/v1/connections/halopsa", json={"resource_url": "https://x.example"})
    assert r.status_code == 400


async def test_unreachable_instance(tenant_a: Api) -> None:
    r = await tenant_a.post(
        "/v1/connections/halopsa",
        json={"resource_url": "http://nowhere.sandbox.test", "client_id": "a", "client_secret": "b"},
    )
    assert r.status_code == 400 and r.json()["vendor_error"] == "unreachable"


async def test_needs_scope(client: Any, tenant_a: Api, halo: tuple[HaloState, str]) -> None:
    from tests.conftest import token_for

    reader = Api(client, tenant_a.creds, await token_for(client, tenant_a.creds, scope="invoices:read"))
    state, url = halo
    app = state.add_application(scopes="all")
    assert (await reader.post("/v1/connections/halopsa", json=_body(url, app))).status_code == 403
    assert (await reader.get("/v1/connections")).status_code == 403


async def test_oauth_vendors_not_configured_and_halo_not_oauth(tenant_a: Api) -> None:
    r = await tenant_a.post("/v1/connections/halopsa/authorize")
    assert r.status_code == 400 and r.json()["code"] == "use_client_credentials"
    r = await tenant_a.post("/v1/connections/nosuch/authorize")
    assert r.status_code == 404


async def test_a_token_halo_revoked_early_is_replaced_once(
    tenant_a: Api, halo: tuple[HaloState, str], engine: AsyncEngine, settings: Settings, vendors: SandboxRouter
) -> None:
    """Halo may drop a token before its expiry: the reader reports it as `stale` and the stored token is
    refreshed although it still looks fresh; a caller holding an older token gets the stored one."""
    state, url = halo
    r = await tenant_a.post("/v1/connections/halopsa", json=_body(url, state.add_application(scopes="all")))
    assert r.status_code == 201, r.text
    connection_id, ring, clock = uuid.UUID(r.json()["id"]), KeyRing(settings.encryption_keys), _Later(hours=0)
    async with httpx.AsyncClient(transport=vendors) as http:
        flow = HaloCredentialsFlow(http, clock)
        source = token_source(lambda: SqlUnitOfWork(engine, tenant_a.tenant_id, ring), clock, flow, connection_id)
        reader = HaloApi(http, url, source)
        assert (await reader.page(HaloResource.CLIENTS, 1, 10)).record_count == 0
        stored = await source(None)
        state.revoke_tokens()
        assert (await reader.page(HaloResource.CLIENTS, 1, 10)).record_count == 0
        renewed = await source("an-older-token")  # not the stored one: no refresh
    assert renewed != stored
    assert len(state.controls.requests("POST", "/auth/token")) == 2  # connecting, then one refresh
    assert [e.status for e in state.controls.requests("GET", "/api/")] == [200, 401, 200]
