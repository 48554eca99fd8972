"""A full sync copies clients, agreements, invoices with lines and payments; an incremental one only changes."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from domain.halopsa import HaloPage
from domain.halosync.runs import SyncMode, SyncStatus
from tests.halosync.support import synced


async def test_full_sync_copies_everything(engine: AsyncEngine) -> None:
    s = await synced(engine, clients=20, invoices=250, lines_per_invoice=3)
    run = await s.run(SyncMode.FULL)
    assert run.status is SyncStatus.SUCCEEDED, run.error
    assert await s.scalar("SELECT count(*) FROM invoices WHERE tenant_id = :t AND source = 'halopsa'") == 250
    assert await s.scalar("SELECT count(*) FROM clients WHERE tenant_id = :t AND source = 'halopsa'") == 20
    assert await s.scalar("SELECT count(*) FROM agreements WHERE tenant_id = :t") == 20
    lines = await s.scalar(
        "SELECT count(*) FROM invoice_lines l JOIN invoices i ON i.tenant_id = l.tenant_id AND i.id = l.invoice_id "
        "WHERE l.tenant_id = :t AND i.source = 'halopsa'"
    )
    assert lines == 750
    paid = sum(1 for i in s.halo.invoices.rows.values() if i["amountpaid"] > 0)
    assert await s.scalar("SELECT count(*) FROM recorded_payments WHERE tenant_id = :t") == paid
    halo_due = round(sum(i["amountdue"] for i in s.halo.invoices.rows.values()) * 100)
    assert await s.scalar("SELECT sum(balance) FROM invoices WHERE tenant_id = :t AND source = 'halopsa'") == halo_due
    assert run.counts.created == 20 + 20 + 250 + paid and run.counts.failed == 0

    again = await s.run(SyncMode.FULL)
    assert again.counts.created == again.counts.updated == 0
    assert again.counts.unchanged == run.counts.created


async def test_incremental_sync_takes_only_changes(engine: AsyncEngine) -> None:
    s = await synced(engine, "Incremental MSP", clients=10, invoices=300)
    assert (await s.run(SyncMode.FULL)).status is SyncStatus.SUCCEEDED
    s.page_size = 50
    first = next(iter(s.halo.invoices.rows))
    s.halo.edit_invoice(first, duedate="2031-01-31")
    client = next(iter(s.halo.clients.rows))
    new = s.halo.create_invoice(client, lines=[{"item_shortdescription": "Backup", "qty_order": 2, "unit_price": 50}])
    run = await s.run(SyncMode.INCREMENTAL)
    assert run.status is SyncStatus.SUCCEEDED, run.error
    assert run.counts.created >= 1 and run.counts.updated >= 1
    assert run.counts.unchanged < 150  # one page per resource: it stopped at the watermark, not after all 300
    number = await s.scalar("SELECT number FROM invoices WHERE tenant_id = :t AND external_id = :e", e=str(new["id"]))
    assert number == new["invoicenumber"]
    kinds = await s.scalar(
        "SELECT array_agg(event_type ORDER BY event_type) FROM outbox WHERE tenant_id = :t "
        "AND event_type <> 'invoice.synced'"
    )
    assert "invoice.due_date_changed" in kinds


async def test_a_change_made_while_a_long_full_sync_runs_is_taken_by_the_next_incremental(
    engine: AsyncEngine,
) -> None:
    """The watermark is Halo's newest change when the full sync began, not the newest record it read: an
    invoice changed on a page already read must not fall behind the next incremental's stopping point."""
    from tests.halosync.test_bad_input import _Reader

    s = await synced(engine, "Long sync MSP", clients=3, invoices=300)
    first = min(s.halo.invoices.rows)
    late = max(s.halo.invoices.rows)

    def meanwhile(reader: _Reader, page: HaloPage) -> HaloPage:
        if reader.calls == 2:  # page 1 (holding `first`) is read; the MSP edits it, and later the last one
            s.halo.edit_invoice(first, duedate="2031-03-31")
            s.halo.controls.clock.advance(minutes=15)  # a long sync, and a busy MSP
            for other in list(s.halo.invoices.rows)[150:165]:
                s.halo.edit_invoice(other, duedate="2031-02-28")
            s.halo.controls.clock.advance(minutes=15)
            s.halo.edit_invoice(late, duedate="2031-04-30")
        return page

    run = await s.resume(await s.queue(SyncMode.FULL), _Reader(s.reader(), meanwhile))
    assert run.status is SyncStatus.SUCCEEDED
    due = "SELECT due_date::text FROM invoices WHERE tenant_id = :t AND external_id = :e"
    assert await s.scalar(due, e=str(first)) != "2031-03-31"  # read before the edit
    s.page_size = 10
    assert (await s.run(SyncMode.INCREMENTAL)).status is SyncStatus.SUCCEEDED
    assert await s.scalar(due, e=str(first)) == "2031-03-31"
    assert await s.scalar(due, e=str(late)) == "2031-04-30"


async def test_a_payment_deleted_in_halo_leaves_our_copy_at_the_next_full_sync(engine: AsyncEngine) -> None:
    s = await synced(engine, "Refunded MSP", clients=2, invoices=0)
    client = next(iter(s.halo.clients.rows))
    invoice = s.halo.create_invoice(
        client, lines=[{"item_shortdescription": "Audit", "qty_order": 1, "unit_price": 300}]
    )
    payment = s.halo.record_payment(invoice["id"], 100.0)
    assert (await s.run(SyncMode.FULL)).status is SyncStatus.SUCCEEDED
    held = "SELECT count(*) FROM recorded_payments WHERE tenant_id = :t"
    assert await s.scalar(held) == 1
    s.halo.delete_payment(payment["id"])
    assert (await s.run(SyncMode.FULL)).status is SyncStatus.SUCCEEDED
    assert await s.scalar(held) == 0
    paid = "SELECT amount_paid FROM invoices WHERE tenant_id = :t AND external_id = :e"
    assert await s.scalar(paid, e=str(invoice["id"])) == 0


async def test_a_sync_runs_in_slices_handed_on_through_the_outbox(engine: AsyncEngine) -> None:
    """With its time budget spent, a run stops at a page boundary, stays running and hands itself on with a
    sync.requested event; the next slice resumes from the checkpoint. Nothing is read or written twice."""
    from datetime import timedelta

    from adapters.clock import SystemClock
    from domain.halosync.engine import SyncEngine

    s = await synced(engine, "Sliced MSP", clients=3, invoices=250)
    run_id = await s.queue(SyncMode.FULL)
    sliced = SyncEngine(s.store, s.reader(), SystemClock(), s.settings, s.tenant_id, time_budget=timedelta(0))
    slices = 0
    while True:
        run = await sliced.run(run_id)
        assert run is not None
        slices += 1
        if run.status is not SyncStatus.RUNNING:
            break
    assert run.status is SyncStatus.SUCCEEDED and slices == 3  # a pause after invoice pages 1 and 2
    handed_on = await s.scalar(
        "SELECT count(*) FROM outbox WHERE tenant_id = :t AND event_type = 'sync.requested' AND subject_id = :r",
        r=run_id,
    )
    assert handed_on == slices - 1
    assert await s.scalar("SELECT count(*) FROM invoices WHERE tenant_id = :t") == 250
    paid = sum(1 for i in s.halo.invoices.rows.values() if i["amountpaid"])
    assert run.counts.created == 3 + 3 + 250 + paid and run.counts.unchanged == 0
