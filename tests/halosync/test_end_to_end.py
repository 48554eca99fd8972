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
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.config import Settings
from adapters.queue.relay import relay_once
from api import cli
from sandbox.halopsa import HaloState, create_app
from sandbox.router import SandboxRouter
from tests.conftest import Api
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
    # Each synced invoice is posted as issued, its tax owed to the state rather than earned.
    taxes = {e["subject_id"]: e["data"]["tax_total"] for e in synced}
    assert {ours[r["invoicenumber"]]["id"]: cents(r["tax_total"]) for r in rows} == taxes
    balances = {b["account"]: b["balance"] for b in (await tenant_a.get("/v1/ledger/balances")).json()["data"]}
    assert balances["sales_tax_payable"] == sum(taxes.values()) > 0

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
