"""The HaloPSA sync over REST: sync now, runs, issues, settings, the webhook secret and Halo's webhook."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.db.halosync import SqlSyncStore
from domain.halopsa import HaloResource
from domain.halosync.runs import FoundIssue, IssueKind
from sandbox.halopsa import HaloState, create_app
from sandbox.router import SandboxRouter
from tests.conftest import Api, token_for

WEBHOOK_HEADER = "X-Arbridge-Webhook-Secret"


@pytest.fixture
def halo(vendors: SandboxRouter) -> Iterator[tuple[HaloState, str]]:
    state = HaloState(tenant="northwind")
    host = f"halo-{uuid.uuid4().hex[:8]}.sandbox.test"
    url = vendors.register(host, create_app(state))
    yield state, url
    vendors.unregister(host)


async def _connect(api: Api, halo: tuple[HaloState, str]) -> None:
    state, url = halo
    app = state.add_application(scopes="all")
    body = {"resource_url": url, "client_id": app.client_id, "client_secret": app.client_secret, "tenant": "northwind"}
    r = await api.post("/v1/connections/halopsa", json=body)
    assert r.status_code == 201, r.text


async def _webhook_secret(api: Api) -> dict[str, Any]:
    r = await api.post("/v1/halopsa/webhook-secret")
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


def _event(entity_id: int = 42, event: str = "invoice_updated", event_id: str | None = None) -> dict[str, Any]:
    return {
        "id": event_id or str(uuid.uuid4()),
        "webhook_id": str(uuid.uuid4()),
        "event": event,
        "entity": event.split("_", maxsplit=1)[0],
        "entity_id": entity_id,
        "timestamp": "2026-11-02T10:00:00.000Z",
    }


class _ThroughTestClient(httpx.AsyncBaseTransport):
    """Halo's deliveries, sent through the test client (the app runs on the client's own event loop)."""

    def __init__(self, client: AsyncTestClient[Any]) -> None:
        self.client = client

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        r = await self.client.request(
            request.method, request.url.path, content=await request.aread(), headers=dict(request.headers)
        )
        return httpx.Response(r.status_code, headers=r.headers, content=r.content)


async def _count(engine: AsyncEngine, tenant_id: uuid.UUID, table: str) -> int:
    async with SqlSyncStore(engine, tenant_id).transaction() as tx:
        return int((await tx.conn.execute(text(f"SELECT count(*) FROM {table}"))).scalar_one())


def _problem(r: httpx.Response, status: int, code: str) -> None:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["code"] == code


async def test_nothing_works_before_halopsa_is_connected(tenant_a: Api) -> None:
    _problem(await tenant_a.post("/v1/halopsa/sync", json={}), 409, "halopsa_not_connected")
    _problem(await tenant_a.get("/v1/halopsa/settings"), 409, "halopsa_not_connected")
    _problem(await tenant_a.post("/v1/halopsa/webhook-secret"), 409, "halopsa_not_connected")
    r = await tenant_a.client.patch("/v1/halopsa/settings", json={"interval_minutes": 30}, headers=tenant_a.headers)
    _problem(r, 409, "halopsa_not_connected")
    assert (await tenant_a.get("/v1/halopsa/sync-runs")).json()["data"] == []


async def test_sync_now_queues_one_run_and_answers_it_again(
    tenant_a: Api, tenant_b: Api, halo: tuple[HaloState, str]
) -> None:
    await _connect(tenant_a, halo)
    r = await tenant_a.post("/v1/halopsa/sync", json={"mode": "incremental"})
    assert r.status_code == 202, r.text
    run = r.json()
    assert run["object"] == "halopsa_sync_run" and run["status"] == "queued"
    assert run["counts"] == {"created": 0, "updated": 0, "unchanged": 0, "failed": 0}
    assert run["started_at"] is None and run["duration_ms"] is None and run["error"] is None
    assert run["progress"] == {"phase": "Client", "page_no": 0, "record_count": None}
    again = await tenant_a.post("/v1/halopsa/sync", json={"mode": "full"})
    assert again.status_code == 202 and again.json()["id"] == run["id"]
    no_body = await tenant_a.post("/v1/halopsa/sync")
    assert no_body.status_code == 202 and no_body.json()["id"] == run["id"]

    runs = (await tenant_a.get("/v1/halopsa/sync-runs")).json()
    assert [x["id"] for x in runs["data"]] == [run["id"]] and runs["has_more"] is False
    assert (await tenant_a.get(f"/v1/halopsa/sync-runs/{run['id']}")).json() == run
    _problem(await tenant_b.get(f"/v1/halopsa/sync-runs/{run['id']}"), 404, "not_found")
    assert (await tenant_b.get("/v1/halopsa/sync-runs")).json()["data"] == []
    _problem(await tenant_a.get(f"/v1/halopsa/sync-runs/{uuid.uuid4()}"), 404, "not_found")


async def test_sync_now_is_idempotent_by_key_and_checks_the_mode(
    tenant_a: Api, halo: tuple[HaloState, str], engine: AsyncEngine
) -> None:
    await _connect(tenant_a, halo)
    key = {"Idempotency-Key": str(uuid.uuid4())}
    first = await tenant_a.post("/v1/halopsa/sync", json={"mode": "unpaid"}, headers=key)
    replay = await tenant_a.post("/v1/halopsa/sync", json={"mode": "unpaid"}, headers=key)
    assert first.status_code == replay.status_code == 202
    assert replay.headers.get("idempotent-replayed") == "true" and replay.json() == first.json()
    for mode in ("record", "everything"):
        r = await tenant_a.post("/v1/halopsa/sync", json={"mode": mode})
        _problem(r, 422, "validation_failed")
        assert r.json()["errors"][0]["field"] == "mode"
    _problem(await tenant_a.post("/v1/halopsa/sync", json={"mode": "full", "now": True}), 400, "validation_failed")
    assert await _count(engine, tenant_a.tenant_id, "sync_runs") == 1


async def test_runs_paginate(tenant_a: Api, halo: tuple[HaloState, str]) -> None:
    await _connect(tenant_a, halo)
    secret = (await _webhook_secret(tenant_a))["secret"]
    ids = []
    for n in range(3):  # record runs are never merged: one per webhook
        r = await tenant_a.client.post(
            f"/v1/webhooks/halopsa/{tenant_a.tenant_id}", json=_event(n + 1), headers={WEBHOOK_HEADER: secret}
        )
        ids.append(r.json()["run_id"])
    page1 = (await tenant_a.get("/v1/halopsa/sync-runs", params={"limit": 2})).json()
    assert page1["has_more"] is True and len(page1["data"]) == 2
    page2 = (await tenant_a.get("/v1/halopsa/sync-runs", params={"limit": 2, "cursor": page1["next_cursor"]})).json()
    assert page2["has_more"] is False and page2["next_cursor"] is None
    assert [x["id"] for x in page1["data"] + page2["data"]] == list(reversed(ids))
    _problem(await tenant_a.get("/v1/halopsa/sync-runs", params={"cursor": "nope!"}), 422, "validation_failed")


async def test_issues_open_and_resolved(
    tenant_a: Api, tenant_b: Api, halo: tuple[HaloState, str], engine: AsyncEngine
) -> None:
    await _connect(tenant_a, halo)
    run_id = (await tenant_a.post("/v1/halopsa/sync")).json()["id"]
    found = [
        FoundIssue(IssueKind.MISSING_NUMBER, HaloResource.INVOICES, "17", "Invoice 17 has no number."),
        FoundIssue(IssueKind.UNKNOWN_CLIENT, HaloResource.INVOICES, "18", "Invoice 18 names client 99."),
    ]
    async with SqlSyncStore(engine, tenant_a.tenant_id).transaction() as tx:
        run = await tx.load_run(uuid.UUID(run_id))
        assert run is not None
        await tx.record_issues(found, run.id, run.requested_at)
        await tx.resolve_issues(HaloResource.INVOICES, ["18"], run.requested_at)
        await tx.commit()

    open_only = (await tenant_a.get("/v1/halopsa/sync-issues")).json()
    assert [(i["kind"], i["external_id"]) for i in open_only["data"]] == [("missing_number", "17")]
    issue = open_only["data"][0]
    assert issue["resource"] == "Invoice" and issue["run_id"] == run_id and issue["resolved_at"] is None
    assert issue["message"] == "Invoice 17 has no number." and issue["first_seen_at"] == issue["last_seen_at"]
    every = (await tenant_a.get("/v1/halopsa/sync-issues", params={"include_resolved": "true", "limit": 1})).json()
    assert len(every["data"]) == 1 and every["has_more"] is True
    rest = await tenant_a.get(
        "/v1/halopsa/sync-issues", params={"include_resolved": True, "cursor": every["next_cursor"]}
    )
    assert len(rest.json()["data"]) == 1 and rest.json()["has_more"] is False
    assert {i["external_id"] for i in every["data"] + rest.json()["data"]} == {"17", "18"}
    assert (await tenant_b.get("/v1/halopsa/sync-issues", params={"include_resolved": "true"})).json()["data"] == []


async def test_settings_read_change_and_validate(tenant_a: Api, halo: tuple[HaloState, str]) -> None:
    await _connect(tenant_a, halo)
    r = await tenant_a.get("/v1/halopsa/settings")
    assert r.status_code == 200, r.text
    assert r.json() == {
        "invoice_number_field": "invoicenumber",
        "contract_billed_subtypes": [],
        "interval_minutes": 60,
        "currency": "USD",
        "overlap_minutes": 10,
        "full_sync_every_days": 7,
        "object": "halopsa_sync_settings",
    }

    async def patch(body: Any) -> httpx.Response:
        return await tenant_a.client.patch("/v1/halopsa/settings", json=body, headers=tenant_a.headers)

    r = await patch({"interval_minutes": 15, "currency": "eur", "contract_billed_subtypes": ["Managed", "Backup"]})
    assert r.status_code == 200, r.text
    assert r.json()["interval_minutes"] == 15 and r.json()["currency"] == "EUR"
    assert r.json()["contract_billed_subtypes"] == ["Backup", "Managed"]
    assert (await tenant_a.get("/v1/halopsa/settings")).json() == r.json()
    assert (await tenant_a.get("/v1/halopsa/sync-runs")).json()["data"] == []

    # A different number field re-reads every invoice: a full sync is queued.
    r = await patch({"invoice_number_field": "id"})
    assert r.status_code == 200 and r.json()["invoice_number_field"] == "id" and r.json()["interval_minutes"] == 15
    runs = (await tenant_a.get("/v1/halopsa/sync-runs")).json()["data"]
    assert [(x["mode"], x["status"]) for x in runs] == [("full", "queued")]

    r = await patch({"interval_minutes": 2, "currency": "XYZ", "invoice_number_field": "ref", "overlap_minutes": -1})
    _problem(r, 422, "validation_failed")
    fields = {e["field"] for e in r.json()["errors"]}
    assert fields == {"interval_minutes", "currency", "invoice_number_field", "overlap_minutes"}
    _problem(await patch({"interval": 30}), 400, "validation_failed")
    _problem(await patch({"interval_minutes": "often"}), 400, "validation_failed")
    after = (await tenant_a.get("/v1/halopsa/settings")).json()
    assert after["interval_minutes"] == 15 and after["currency"] == "EUR" and after["invoice_number_field"] == "id"


async def test_webhook_secret_then_deliveries_by_basic_and_header(
    client: AsyncTestClient[Any], tenant_a: Api, halo: tuple[HaloState, str], engine: AsyncEngine
) -> None:
    await _connect(tenant_a, halo)
    issued = await _webhook_secret(tenant_a)
    secret, url = issued["secret"], issued["webhook_url"]
    assert url.endswith(f"/v1/webhooks/halopsa/{tenant_a.tenant_id}") and url.startswith("http")
    assert "Basic" in issued["how"] and WEBHOOK_HEADER in issued["how"]
    path = f"/v1/webhooks/halopsa/{tenant_a.tenant_id}"

    # As Halo sends them: the sandbox's webhook hub, Basic auth with any username.
    state, _ = halo
    state.add_webhook(f"http://testserver.local{path}", {"invoice_created", "client_created"}, basic=("halo", secret))
    halo_client = state.create_client("Acme Dental")
    state.create_invoice(halo_client["id"], [{"item_shortdescription": "Support", "qty_order": 1, "unit_price": 100}])
    delivered = await state.webhooks.deliver_pending(transport=_ThroughTestClient(client))
    assert [d.responsestatus for d in delivered] == [202, 202], [d.responsebody for d in delivered]

    r = await client.post(path, json=_event(7), headers={WEBHOOK_HEADER: secret})
    assert r.status_code == 202, r.text
    assert r.json()["received"] is True and r.json()["run_id"] is not None
    run = (await tenant_a.get(f"/v1/halopsa/sync-runs/{r.json()['run_id']}")).json()
    assert (run["trigger"], run["mode"], run["status"]) == ("webhook", "record", "queued")
    runs = (await tenant_a.get("/v1/halopsa/sync-runs")).json()["data"]
    assert [x["mode"] for x in runs] == ["record"] * 3
    assert await _count(engine, tenant_a.tenant_id, "webhook_receipts") == 3

    # A payment event is kept, but names nothing the sync re-reads.
    r = await client.post(path, json=_event(5, "payment_created"), headers={WEBHOOK_HEADER: secret})
    assert r.status_code == 202 and r.json() == {"received": True, "run_id": None}

    # A new secret replaces the old one.
    newer = (await _webhook_secret(tenant_a))["secret"]
    _problem(await client.post(path, json=_event(), headers={WEBHOOK_HEADER: secret}), 401, "invalid_webhook_secret")
    assert (await client.post(path, json=_event(), auth=("x", newer))).status_code == 202


async def test_redelivery_is_received_once(
    client: AsyncTestClient[Any], tenant_a: Api, halo: tuple[HaloState, str], engine: AsyncEngine
) -> None:
    await _connect(tenant_a, halo)
    secret = (await _webhook_secret(tenant_a))["secret"]
    path, event = f"/v1/webhooks/halopsa/{tenant_a.tenant_id}", _event(9)
    first = await client.post(path, json=event, auth=("halo", secret))
    again = await client.post(path, json=event, auth=("halo", secret))
    assert first.status_code == again.status_code == 202
    assert first.json()["run_id"] is not None and again.json() == {"received": True, "run_id": None}
    assert await _count(engine, tenant_a.tenant_id, "webhook_receipts") == 1
    assert len((await tenant_a.get("/v1/halopsa/sync-runs")).json()["data"]) == 1


async def test_webhook_refusals_are_uniform_and_store_nothing(
    client: AsyncTestClient[Any], tenant_a: Api, tenant_b: Api, halo: tuple[HaloState, str], engine: AsyncEngine
) -> None:
    await _connect(tenant_a, halo)
    secret = (await _webhook_secret(tenant_a))["secret"]
    path = f"/v1/webhooks/halopsa/{tenant_a.tenant_id}"
    refused = [
        await client.post(path, json=_event(), headers={WEBHOOK_HEADER: "whs_wrong"}),
        await client.post(path, json=_event(), auth=("halo", "wrong")),
        await client.post(path, json=_event()),
        await client.post(path, json=_event(), headers={"Authorization": "Basic !!!"}),
        await client.post(path, json=_event(), headers={"Authorization": f"Bearer {secret}"}),
        # the right secret, another tenant (not connected / unknown / not a uuid)
        await client.post(f"/v1/webhooks/halopsa/{tenant_b.tenant_id}", json=_event(), auth=("h", secret)),
        await client.post(f"/v1/webhooks/halopsa/{uuid.uuid4()}", json=_event(), auth=("h", secret)),
        await client.post("/v1/webhooks/halopsa/not-a-tenant", json=_event(), auth=("h", secret)),
    ]
    for r in refused:
        _problem(r, 401, "invalid_webhook_secret")
    assert len({r.json()["detail"] for r in refused}) == 1
    # A connected tenant that never issued a secret refuses too.
    await _connect(tenant_b, halo)
    _problem(
        await client.post(f"/v1/webhooks/halopsa/{tenant_b.tenant_id}", json=_event(), auth=("h", "")),
        401,
        "invalid_webhook_secret",
    )
    for api in (tenant_a, tenant_b):
        assert await _count(engine, api.tenant_id, "webhook_receipts") == 0
        assert await _count(engine, api.tenant_id, "sync_runs") == 0


async def test_bad_webhook_bodies(
    client: AsyncTestClient[Any], tenant_a: Api, halo: tuple[HaloState, str], engine: AsyncEngine
) -> None:
    await _connect(tenant_a, halo)
    secret = (await _webhook_secret(tenant_a))["secret"]
    path, auth = f"/v1/webhooks/halopsa/{tenant_a.tenant_id}", {WEBHOOK_HEADER: secret}
    json_header = {**auth, "content-type": "application/json"}
    _problem(await client.post(path, content=b'{"id": "x", "event":', headers=json_header), 400, "malformed_json")
    _problem(await client.post(path, content=b"", headers=json_header), 400, "malformed_json")
    _problem(await client.post(path, json=[_event()], headers=auth), 400, "malformed_json")
    _problem(await client.post(path, json={**_event(), "entity": "a\x00b"}, headers=auth), 400, "malformed_json")
    r = await client.post(path, json={"id": "x", "event": "invoice_updated", "entity_id": "12"}, headers=auth)
    _problem(r, 422, "validation_failed")
    assert await _count(engine, tenant_a.tenant_id, "webhook_receipts") == 0


async def test_scopes(client: AsyncTestClient[Any], tenant_a: Api, halo: tuple[HaloState, str]) -> None:
    await _connect(tenant_a, halo)
    reader = Api(client, tenant_a.creds, await token_for(client, tenant_a.creds, scope="invoices:read"))
    writer = Api(client, tenant_a.creds, await token_for(client, tenant_a.creds, scope="connections:write"))
    for r in [
        await reader.post("/v1/halopsa/sync"),
        await reader.post("/v1/halopsa/webhook-secret"),
        await client.patch("/v1/halopsa/settings", json={"interval_minutes": 30}, headers=reader.headers),
        await writer.get("/v1/halopsa/sync-runs"),
        await writer.get("/v1/halopsa/sync-issues"),
        await writer.get("/v1/halopsa/settings"),
    ]:
        _problem(r, 403, "insufficient_scope")
    assert (await reader.get("/v1/halopsa/settings")).status_code == 200
    assert (await reader.get("/v1/halopsa/sync-runs")).json()["data"] == []
    r = await client.patch("/v1/halopsa/settings", json={"interval_minutes": 30}, headers=writer.headers)
    assert r.status_code == 200 and r.json()["interval_minutes"] == 30
    assert (await writer.post("/v1/halopsa/sync")).status_code == 202
    _problem(await client.get("/v1/halopsa/sync-runs"), 401, "unauthenticated")
