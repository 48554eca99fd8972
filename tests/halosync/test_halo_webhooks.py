"""HaloPSA's webhooks end to end: Halo's deliveries to the app, a worker re-reading the records they name,
and a webhook landing in the middle of a sync."""

from __future__ import annotations

from typing import Any

from litestar.testing import AsyncTestClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.db.halosync import SqlSyncStore
from domain.halopsa import HaloPage, HaloResource
from domain.halosync.runs import SyncMode, SyncStatus, SyncTrigger
from sandbox.router import SandboxRouter
from tests.conftest import Api
from tests.halosync.support import synced
from tests.halosync.test_end_to_end import (
    WEBHOOK_EVENTS,
    Halo,
    _ThroughTestClient,
    cents,
    connect,
    drain,
    halo,
    invoices_by_number,
    queue,
    runs_of,
    unpaid,
)
from tests.integration.outbox_support import Queue, feed

__all__ = ["halo", "queue"]  # the fixtures, shared with the other end-to-end tests


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
