"""The HaloPSA sync end to end: connect through the API, the outbox relay and a real worker (PostgreSQL, Redis),
Halo's webhooks, the schedule and the operator CLI. Halo is only ever the sandbox.

Each test has tenants of its own and a Halo sandbox of its own, served to the app and the worker through the
session's `vendors` router (the CLI test serves it over loopback HTTP too: the CLI builds its own vendor client).
"""

from __future__ import annotations

import asyncio
import json
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import pytest_asyncio
import uvicorn
from litestar.testing import AsyncTestClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.config import Settings
from adapters.db.halosync import SqlSyncStore
from adapters.queue.relay import relay_once
from api import cli
from domain.halopsa import HaloPage, HaloResource
from domain.halosync.runs import SyncMode, SyncStatus, SyncTrigger
from sandbox.halopsa import HaloState, create_app
from sandbox.router import SandboxRouter
from tests.conftest import Api
from tests.halosync.support import synced
from tests.integration import outbox_support
from tests.integration.outbox_support import Queue, feed, run_burst_worker

queue = outbox_support.queue  # the fixture: a queue of the test's own (earlier tests' outbox rows marked sent)

HALO_TENANT = "northwind"
# What arbridge asks Halo to send (api/rest/halosync.py WEBHOOK_EVENTS), plus payments, which it must ignore.
WEBHOOK_EVENTS = {"invoice_created", "invoice_updated", "invoice_voided", "invoice_deleted", "payment_created"}


@dataclass
class Halo:
    state: HaloState
    url: str  # where the app and the worker reach it (through the `vendors` router)


@pytest.fixture
def halo(vendors: SandboxRouter) -> Iterator[Halo]:
    state = HaloState(tenant=HALO_TENANT)
    state.seed(clients=5, invoices=30, lines_per_invoice=2, seed=4)
    host = f"halo-e2e-{uuid.uuid4().hex[:8]}.sandbox.test"
    url = vendors.register(host, create_app(state))
    yield Halo(state, url)
    vendors.unregister(host)


async def connect(api: Api, halo: Halo, url: str | None = None) -> dict[str, Any]:
    app = halo.state.add_application(scopes="all")
    body = {
        "resource_url": url or halo.url,
        "client_id": app.client_id,
        "client_secret": app.client_secret,
        "tenant": HALO_TENANT,
    }
    r = await api.post("/v1/connections/halopsa", json=body)
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


async def drain(q: Queue, engine: AsyncEngine, vendors: SandboxRouter, max_passes: int = 6) -> int:
    """Relay and run a burst worker until nothing is left to relay: an event's job may commit more events
    (connection.connected queues a run, whose sync.requested runs it, whose invoice events get published).
    Returns the number of passes that relayed something."""
    ctx = {"settings": q.settings, "run_relay": False, "vendor_transport": vendors}
    for passes in range(max_passes):
        if await relay_once(engine, q.redis, q.name) == 0:
            return passes
        worker = await run_burst_worker(q, ctx=ctx)
        assert worker.jobs_failed == 0 and worker.jobs_retried == 0, (worker.jobs_failed, worker.jobs_retried)
    raise AssertionError(f"events still pending after {max_passes} relay/worker passes")


async def runs_of(api: Api) -> list[dict[str, Any]]:
    r = await api.get("/v1/halopsa/sync-runs", params={"limit": 100})
    assert r.status_code == 200, r.text
    return r.json()["data"]  # type: ignore[no-any-return]


async def invoices_by_number(api: Api) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    params: dict[str, Any] = {"limit": 100}
    while True:
        r = await api.get("/v1/invoices", params=params)
        assert r.status_code == 200, r.text
        body = r.json()
        out |= {i["number"]: i for i in body["data"]}
        if not body["has_more"]:
            return out
        params["cursor"] = body["next_cursor"]


def cents(amount: float) -> int:
    return round(amount * 100)


def unpaid(halo: Halo) -> list[dict[str, Any]]:
    return [row for row in halo.state.invoices.rows.values() if not row["amountpaid"] and not row["voided"]]


class _ThroughTestClient(httpx.AsyncBaseTransport):
    """Halo's webhook deliveries, sent to the app through the test client (it runs on the test's event loop)."""

    def __init__(self, client: AsyncTestClient[Any]) -> None:
        self.client = client

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        r = await self.client.request(
            request.method, request.url.path, content=await request.aread(), headers=dict(request.headers)
        )
        return httpx.Response(r.status_code, headers=r.headers, content=r.content)


# --- 1. connecting HaloPSA runs the first full sync by itself ---------------------------------------------------


async def test_connecting_runs_the_first_full_sync(
    tenant_a: Api, tenant_b: Api, halo: Halo, engine: AsyncEngine, vendors: SandboxRouter, queue: Queue
) -> None:
    await connect(tenant_a, halo)
    assert await runs_of(tenant_a) == []  # nothing runs in the request: the worker does it

    # connection.connected -> a queued run (sync.requested) -> the run -> its invoice events
    assert await drain(queue, engine, vendors) >= 2

    runs = await runs_of(tenant_a)
    assert [(r["trigger"], r["mode"], r["status"]) for r in runs] == [("connect", "full", "succeeded")], runs
    run = runs[0]
    rows = list(halo.state.invoices.rows.values())
    payments = sum(1 for row in rows if row["amountpaid"])
    assert run["counts"] == {"created": 5 + 5 + 30 + payments, "updated": 0, "unchanged": 0, "failed": 0}
    assert run["error"] is None and run["issues"] == 0 and run["duration_ms"] is not None

    ours = await invoices_by_number(tenant_a)
    assert set(ours) == {row["invoicenumber"] for row in rows}
    for row in rows:
        mine = ours[row["invoicenumber"]]
        assert (mine["total"], mine["amount_paid"]) == (cents(row["total"]), cents(row["amountpaid"]))
        assert mine["balance"] == cents(row["amountdue"])
    synced = await feed(tenant_a, "invoice.synced")
    assert sorted(e["subject_id"] for e in synced) == sorted(i["id"] for i in ours.values())
    assert [e["data"]["run_id"] for e in await feed(tenant_a, "sync.requested")] == [run["id"]]

    # Nothing leaks to another tenant, and nothing is left to run.
    assert await invoices_by_number(tenant_b) == {} and await runs_of(tenant_b) == []
    assert await drain(queue, engine, vendors) == 0


# --- 2. "sync now" --------------------------------------------------------------------------------------------


async def test_sync_now_runs_in_the_worker_and_reports_counts_and_duration(
    tenant_a: Api, halo: Halo, engine: AsyncEngine, vendors: SandboxRouter, queue: Queue
) -> None:
    await connect(tenant_a, halo)
    await drain(queue, engine, vendors)
    [first] = await runs_of(tenant_a)
    assert first["status"] == "succeeded"

    # Two hours on, Halo has expired the token stored at connecting: the worker gets a new one.
    halo.state.controls.clock.advance(hours=2)
    tokens_before = len(halo.state.controls.requests("POST", "/auth/token"))
    # The MSP works in Halo: a due date moves, a new invoice is raised.
    edited = unpaid(halo)[0]
    halo.state.edit_invoice(edited["id"], duedate="2031-01-31")
    client_id = next(iter(halo.state.clients.rows))
    new = halo.state.create_invoice(
        client_id, lines=[{"item_shortdescription": "Backup", "qty_order": 2, "unit_price": 50}]
    )

    r = await tenant_a.post("/v1/halopsa/sync", json={})
    assert r.status_code == 202, r.text
    queued = r.json()
    assert (queued["trigger"], queued["mode"], queued["status"]) == ("manual", "incremental", "queued")
    assert await drain(queue, engine, vendors) >= 1

    r = await tenant_a.get(f"/v1/halopsa/sync-runs/{queued['id']}")
    assert r.status_code == 200, r.text
    run = r.json()
    assert run["status"] == "succeeded" and run["error"] is None, run
    assert run["counts"]["created"] == 1 and run["counts"]["updated"] == 1 and run["counts"]["failed"] == 0
    assert run["started_at"] is not None and run["finished_at"] is not None
    assert run["duration_ms"] is not None and run["duration_ms"] >= 0
    assert run["started_at"] <= run["finished_at"]
    assert run["progress"]["phase"] is None  # every phase done
    assert len(halo.state.controls.requests("POST", "/auth/token")) == tokens_before + 1

    ours = await invoices_by_number(tenant_a)
    assert ours[edited["invoicenumber"]]["due_date"] == "2031-01-31"
    assert ours[new["invoicenumber"]]["total"] == 10_000
    moved = await feed(tenant_a, "invoice.due_date_changed")
    assert [e["subject_id"] for e in moved] == [ours[edited["invoicenumber"]]["id"]]
    assert [(x["id"], x["status"]) for x in await runs_of(tenant_a)] == [
        (queued["id"], "succeeded"),
        (first["id"], "succeeded"),
    ]


async def test_a_run_queued_before_halopsa_was_disconnected_fails_cleanly(
    tenant_a: Api, halo: Halo, engine: AsyncEngine, vendors: SandboxRouter, queue: Queue
) -> None:
    connection = await connect(tenant_a, halo)
    await drain(queue, engine, vendors)
    queued = (await tenant_a.post("/v1/halopsa/sync", json={"mode": "full"})).json()
    r = await tenant_a.client.delete(f"/v1/connections/{connection['id']}", headers=tenant_a.headers)
    assert r.status_code == 204, r.text
    requests_before = len(halo.state.controls.log)
    await drain(queue, engine, vendors)
    run = (await tenant_a.get(f"/v1/halopsa/sync-runs/{queued['id']}")).json()
    assert (run["status"], run["error"]) == ("failed", "HaloPSA is not connected any more"), run
    assert len(halo.state.controls.log) == requests_before  # Halo was not called


async def test_an_unpaid_sync_before_a_collection_run_settles_invoices_paid_in_halo(
    tenant_a: Api, halo: Halo, engine: AsyncEngine, vendors: SandboxRouter, queue: Queue
) -> None:
    """`unpaid` is the refresh an MSP runs before chasing its clients: no invoice it shows as owing may be paid."""
    await connect(tenant_a, halo)
    await drain(queue, engine, vendors)
    paid, part = unpaid(halo)[:2]
    halo.state.record_payment(paid["id"], paid["amountdue"])  # no webhooks configured: only a sync can tell
    halo.state.record_payment(part["id"], 1.0)
    r = await tenant_a.post("/v1/halopsa/sync", json={"mode": "unpaid"})
    assert r.status_code == 202, r.text
    await drain(queue, engine, vendors)
    run = (await tenant_a.get(f"/v1/halopsa/sync-runs/{r.json()['id']}")).json()
    assert run["status"] == "succeeded", run
    ours = await invoices_by_number(tenant_a)
    assert ours[part["invoicenumber"]]["amount_paid"] == 100  # part-paid: Halo still lists it, it is taken
    assert (ours[paid["invoicenumber"]]["status"], ours[paid["invoicenumber"]]["balance"]) == ("paid", 0)


# --- 3. Halo's webhooks ---------------------------------------------------------------------------------------


async def _deliver(halo: Halo, client: AsyncTestClient[Any]) -> list[Any]:
    delivered = await halo.state.webhooks.deliver_pending(transport=_ThroughTestClient(client))
    assert delivered, "Halo had nothing to send"
    assert all(d.responsestatus == 202 for d in delivered), [(d.event, d.responsebody) for d in delivered]
    return delivered


async def _webhook_ready(api: Api, halo: Halo, engine: AsyncEngine, vendors: SandboxRouter, queue: Queue) -> None:
    """Connected, first sync done, and Halo sending its webhooks to our URL with the secret."""
    await connect(api, halo)
    await drain(queue, engine, vendors)
    r = await api.post("/v1/halopsa/webhook-secret")
    assert r.status_code == 201, r.text
    issued = r.json()
    assert issued["webhook_url"].endswith(f"/v1/webhooks/halopsa/{api.tenant_id}")
    halo.state.add_webhook(issued["webhook_url"], WEBHOOK_EVENTS, basic=("arbridge", issued["secret"]))


async def test_webhooks_void_delete_and_payment_reach_our_invoices_and_the_feed(
    client: AsyncTestClient[Any],
    tenant_a: Api,
    halo: Halo,
    engine: AsyncEngine,
    vendors: SandboxRouter,
    queue: Queue,
) -> None:
    await _webhook_ready(tenant_a, halo, engine, vendors, queue)
    to_void, to_delete, to_pay = unpaid(halo)[:3]
    before = await invoices_by_number(tenant_a)

    # The MSP voids an invoice in Halo.
    halo.state.void_invoice(to_void["id"])
    [delivery] = await _deliver(halo, client)
    assert delivery.event == "invoice_voided"
    assert await drain(queue, engine, vendors) >= 2  # sync.requested -> the record run -> invoice.voided
    mine = (await tenant_a.get(f"/v1/invoices/{before[to_void['invoicenumber']]['id']}")).json()
    assert mine["status"] == "void" and mine["balance"] == 0 and mine["voided_at"] is not None
    voided = await feed(tenant_a, "invoice.voided")
    assert [e["subject_id"] for e in voided] == [mine["id"]]
    assert voided[0]["data"]["status"] == "void"

    # The MSP deletes an unpaid invoice in Halo.
    halo.state.delete_invoice(to_delete["id"])
    [delivery] = await _deliver(halo, client)
    assert delivery.event == "invoice_deleted"
    await drain(queue, engine, vendors)
    mine = (await tenant_a.get(f"/v1/invoices/{before[to_delete['invoicenumber']]['id']}")).json()
    assert mine["status"] == "void" and mine["balance"] == 0
    deleted = await feed(tenant_a, "invoice.deleted")
    assert [e["subject_id"] for e in deleted] == [mine["id"]]
    assert deleted[0]["data"]["external_id"] == str(to_delete["id"])

    # The MSP records a part payment in Halo: Halo sends invoice_updated (the amounts) and payment_created.
    halo.state.record_payment(to_pay["id"], 10.0)
    delivered = await _deliver(halo, client)
    assert sorted(d.event for d in delivered) == ["invoice_updated", "payment_created"]
    await drain(queue, engine, vendors)
    mine = (await tenant_a.get(f"/v1/invoices/{before[to_pay['invoicenumber']]['id']}")).json()
    assert mine["amount_paid"] == 1_000 and mine["balance"] == cents(to_pay["total"]) - 1_000
    assert mine["status"] == "partially_paid"
    paid = await feed(tenant_a, "invoice.payment_recorded")
    assert [(e["subject_id"], e["data"]["amount"]) for e in paid] == [(mine["id"], 1_000)]

    # The payment is deleted in Halo again: the amount goes back, as a reversal.
    [payment] = halo.state.payments_of(to_pay["id"])
    halo.state.delete_payment(payment["id"])
    assert sorted(d.event for d in await _deliver(halo, client)) == ["invoice_updated"]  # not subscribed
    await drain(queue, engine, vendors)
    mine = (await tenant_a.get(f"/v1/invoices/{mine['id']}")).json()
    assert (mine["amount_paid"], mine["balance"], mine["status"]) == (0, cents(to_pay["total"]), "open")
    reversed_ = await feed(tenant_a, "invoice.payment_reversed")
    assert [(e["subject_id"], e["data"]["amount"]) for e in reversed_] == [(mine["id"], 1_000)]

    # One record run per invoice webhook, each succeeded; the payment event queued nothing.
    records = [r for r in await runs_of(tenant_a) if r["mode"] == "record"]
    assert [(r["trigger"], r["status"]) for r in records] == [("webhook", "succeeded")] * 4, records
    # Every other invoice is untouched.
    after = await invoices_by_number(tenant_a)
    changed = {to_void["invoicenumber"], to_delete["invoicenumber"], to_pay["invoicenumber"]}
    assert {n: i for n, i in after.items() if n not in changed} == {n: i for n, i in before.items() if n not in changed}


async def test_a_burst_of_webhooks_is_handled_by_concurrent_record_runs(
    client: AsyncTestClient[Any],
    tenant_a: Api,
    halo: Halo,
    engine: AsyncEngine,
    vendors: SandboxRouter,
    queue: Queue,
) -> None:
    """Halo sends many webhooks at once (a batch of edits): the worker runs their record runs side by side."""
    await _webhook_ready(tenant_a, halo, engine, vendors, queue)
    targets = unpaid(halo)[:6]
    before = await invoices_by_number(tenant_a)
    halo.state.void_invoice(targets[0]["id"])
    halo.state.void_invoice(targets[1]["id"])
    halo.state.delete_invoice(targets[2]["id"])
    halo.state.delete_invoice(targets[3]["id"])
    halo.state.record_payment(targets[4]["id"], 10.0)
    halo.state.record_payment(targets[5]["id"], 20.0)
    assert len(await _deliver(halo, client)) == 8
    await drain(queue, engine, vendors)

    records = [r for r in await runs_of(tenant_a) if r["mode"] == "record"]
    assert len(records) == 6 and all(r["status"] == "succeeded" for r in records), records
    after = await invoices_by_number(tenant_a)
    assert [after[t["invoicenumber"]]["status"] for t in targets] == ["void"] * 4 + ["partially_paid"] * 2
    assert [after[t["invoicenumber"]]["amount_paid"] for t in targets[4:]] == [1_000, 2_000]
    ids = [before[t["invoicenumber"]]["id"] for t in targets]
    assert sorted(e["subject_id"] for e in await feed(tenant_a, "invoice.voided")) == sorted(ids[:2])
    assert sorted(e["subject_id"] for e in await feed(tenant_a, "invoice.deleted")) == sorted(ids[2:4])
    assert sorted(e["subject_id"] for e in await feed(tenant_a, "invoice.payment_recorded")) == sorted(ids[4:])


async def test_webhooks_bring_new_invoices_and_client_changes(
    client: AsyncTestClient[Any],
    tenant_a: Api,
    halo: Halo,
    engine: AsyncEngine,
    vendors: SandboxRouter,
    queue: Queue,
) -> None:
    """An invoice raised in Halo for a client created since the last sync, and a client renamed in Halo."""
    await _webhook_ready(tenant_a, halo, engine, vendors, queue)
    halo.state.webhooks.configs[0].events = frozenset(WEBHOOK_EVENTS | {"client_updated", "contract_updated"})
    newcomer = halo.state.create_client("Fabrikam Dental", accountsemailaddress="ap@fabrikam.example")
    halo.state.webhooks.pending.clear()  # client_created is not subscribed here: the invoice must bring it
    invoice = halo.state.create_invoice(
        newcomer["id"],
        lines=[
            {"item_shortdescription": "Onboarding", "qty_order": 1, "unit_price": 250},
            {"item_shortdescription": "Licences", "qty_order": 4, "unit_price": 12.5, "tax_amount": 5},
        ],
    )
    [delivery] = await _deliver(halo, client)
    assert delivery.event == "invoice_created"
    await drain(queue, engine, vendors)

    ours = (await invoices_by_number(tenant_a))[invoice["invoicenumber"]]
    assert ours["total"] == 30_500 and ours["balance"] == 30_500 and len(ours["lines"]) == 2
    clients = {c["name"]: c for c in (await tenant_a.get("/v1/clients", params={"limit": 100})).json()["data"]}
    assert clients["Fabrikam Dental"]["id"] == ours["client_id"]
    assert clients["Fabrikam Dental"]["billing_email"] == "ap@fabrikam.example"
    assert [
        e["subject_id"] for e in await feed(tenant_a, "invoice.synced") if e["data"]["number"] == ours["number"]
    ] == [ours["id"]]

    # Renamed in Halo: our client follows.
    halo.state.edit_client(newcomer["id"], name="Fabrikam Dental Group")
    assert [d.event for d in await _deliver(halo, client)] == ["client_updated"]
    await drain(queue, engine, vendors)
    renamed = (await tenant_a.get(f"/v1/clients/{ours['client_id']}")).json()
    assert renamed["name"] == "Fabrikam Dental Group", renamed

    # A contract's reference changed in Halo: our agreement follows.
    contract_id = next(c for c, row in halo.state.contracts.rows.items() if row["client_id"] != newcomer["id"])
    halo.state.edit_contract(contract_id, ref="MSA-2027")
    assert [d.event for d in await _deliver(halo, client)] == ["contract_updated"]
    await drain(queue, engine, vendors)
    async with SqlSyncStore(engine, tenant_a.tenant_id).transaction() as tx:
        ref = await tx.conn.execute(
            text("SELECT reference FROM agreements WHERE external_id = :e"), {"e": str(contract_id)}
        )
        assert ref.scalar_one() == "MSA-2027"

    records = [r for r in await runs_of(tenant_a) if r["mode"] == "record"]
    assert [r["status"] for r in records] == ["succeeded"] * 3, records


class _RaceReader:
    """The real reader, but `meanwhile` runs once between reading the first page of invoices and the engine
    writing it: what happens when a webhook's record run lands while a scheduled sync is mid-page."""

    def __init__(self, inner: Any, meanwhile: Any) -> None:
        self.inner, self.meanwhile, self.fired = inner, meanwhile, False

    async def page(self, resource: HaloResource, page_no: int, page_size: int, params: Any = None) -> HaloPage:
        page: HaloPage = await self.inner.page(resource, page_no, page_size, params)
        if resource is HaloResource.INVOICES and not self.fired:
            self.fired = True
            await self.meanwhile()
        return page

    async def record(self, *args: Any, **kwargs: Any) -> Any:
        return await self.inner.record(*args, **kwargs)


async def test_a_webhook_landing_mid_sync_is_not_undone_by_the_sync(engine: AsyncEngine) -> None:
    s = await synced(engine, "Race MSP", clients=3, invoices=30)
    assert (await s.run(SyncMode.FULL)).status is SyncStatus.SUCCEEDED
    target = next(i for i, row in s.halo.invoices.rows.items() if not row["amountpaid"])
    paid_sql = "SELECT amount_paid FROM invoices WHERE tenant_id = :t AND external_id = :e"

    async def webhook_meanwhile() -> None:
        s.halo.record_payment(target, 10.0)
        record = await s.run(SyncMode.RECORD, SyncTrigger.WEBHOOK, resource=HaloResource.INVOICES.value, id=target)
        assert record.status is SyncStatus.SUCCEEDED
        assert await s.scalar(paid_sql, e=str(target)) == 1_000  # the webhook got it right

    run = await s.resume(await s.queue(SyncMode.INCREMENTAL), _RaceReader(s.reader(), webhook_meanwhile))
    assert run.status is SyncStatus.SUCCEEDED
    reversed_ = await s.scalar(
        "SELECT count(*) FROM outbox WHERE tenant_id = :t AND event_type = 'invoice.payment_reversed'"
    )
    assert (await s.scalar(paid_sql, e=str(target)), reversed_) == (1_000, 0)


# --- 5. the operator CLI --------------------------------------------------------------------------------------


class _LoopbackHalo:
    """The sandbox served over real HTTP on 127.0.0.1 (uvicorn in a thread), for a process-level client."""

    def __init__(self, state: HaloState) -> None:
        config = uvicorn.Config(create_app(state), host="127.0.0.1", port=0, log_level="warning", lifespan="off")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="halo-loopback", daemon=True)

    async def __aenter__(self) -> str:
        self.thread.start()
        for _ in range(500):
            if self.server.started:
                break
            await asyncio.sleep(0.01)
        assert self.server.started, "the loopback Halo did not start"
        port = self.server.servers[0].sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    async def __aexit__(self, *exc: object) -> None:
        self.server.should_exit = True
        await asyncio.to_thread(self.thread.join, 10)


@pytest_asyncio.fixture
async def loopback_halo(vendors: SandboxRouter) -> AsyncIterator[Halo]:
    """One Halo sandbox at http://127.0.0.1:<port>: over the network for the CLI, and through the `vendors`
    router for the app (which routes by host, so the same URL reaches the in-process app)."""
    state = HaloState(tenant=HALO_TENANT)
    state.seed(clients=4, invoices=30, lines_per_invoice=2, seed=5)
    async with _LoopbackHalo(state) as url:
        vendors.register("127.0.0.1", create_app(state))
        try:
            yield Halo(state, url)
        finally:
            vendors.unregister("127.0.0.1")


@pytest.fixture
def cli_env(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    monkeypatch.setenv("APP_DATABASE_URL", settings.app_database_url)
    monkeypatch.setenv("REDIS_URL", settings.redis_url)
    monkeypatch.setenv("ARBRIDGE_ENCRYPTION_KEYS", settings.encryption_keys)


async def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = await asyncio.to_thread(cli.main, list(argv))  # the CLI runs its own event loop
    out = capsys.readouterr()
    return code, out.out, out.err


async def test_cli_syncs_a_connected_tenant(
    cli_env: None, capsys: pytest.CaptureFixture[str], tenant_a: Api, tenant_b: Api, loopback_halo: Halo
) -> None:
    halo = loopback_halo
    await connect(tenant_a, halo)
    tid = str(tenant_a.tenant_id)

    code, out, err = await _cli(capsys, "sync", "halopsa", "--tenant", tid, "--json")
    assert code == 0, (out, err)
    result = json.loads(out)
    rows = list(halo.state.invoices.rows.values())
    payments = sum(1 for row in rows if row["amountpaid"])
    assert result["status"] == "succeeded" and result["error"] is None, result
    assert (result["created"], result["updated"], result["failed"]) == (4 + 4 + 30 + payments, 0, 0)
    assert result["duration_ms"] is not None and result["duration_ms"] >= 0
    assert len(halo.state.controls.requests("GET", "/api/Invoice")) >= 1  # it did read Halo over HTTP

    run = (await tenant_a.get(f"/v1/halopsa/sync-runs/{result['run_id']}")).json()
    assert (run["trigger"], run["mode"], run["status"]) == ("manual", "incremental", "succeeded")
    assert run["counts"]["created"] == result["created"]
    assert set(await invoices_by_number(tenant_a)) == {row["invoicenumber"] for row in rows}

    # An invoice changed in Halo: the next CLI run (incremental) takes just that.
    changed = unpaid(halo)[0]
    halo.state.edit_invoice(changed["id"], duedate="2031-03-31")
    code, out, err = await _cli(capsys, "sync", "halopsa", "--tenant", tid, "--json")
    assert code == 0, (out, err)
    again = json.loads(out)
    assert again["status"] == "succeeded" and (again["created"], again["updated"]) == (0, 1), again
    assert (await invoices_by_number(tenant_a))[changed["invoicenumber"]]["due_date"] == "2031-03-31"

    # Without --json: a progress line per resource, then the summary.
    code, out, err = await _cli(capsys, "sync", "halopsa", "--tenant", tid, "--mode", "full")
    assert code == 0, (out, err)
    assert "Invoice" in out and "sync succeeded in" in out and "0 failed" in out, out

    # A tenant without HaloPSA is refused, and nothing is written for it.
    code, out, err = await _cli(capsys, "sync", "halopsa", "--tenant", str(tenant_b.tenant_id), "--json")
    assert code == 1 and "not connected" in err and out == ""
    assert await runs_of(tenant_b) == []
