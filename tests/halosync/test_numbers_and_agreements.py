"""Invoice numbers the MSP can trust, contract-billed invoices, "fetch unpaid" and Halo's limits mid-sync."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from domain.halosync.runs import SyncMode, SyncStatus
from domain.halosync.settings import InvoiceNumberField, SyncSettings
from sandbox.common import Fault
from tests.halosync.support import synced

ISSUES = (
    "SELECT coalesce(array_agg(kind || ':' || external_id ORDER BY kind, external_id), '{}') FROM sync_issues "
    "WHERE tenant_id = :t AND resolved_at IS NULL AND external_id IS NOT NULL"
)
FLAGS = (
    "SELECT coalesce(array_agg(external_id || ':' || number_issue ORDER BY external_id), '{}') FROM invoices "
    "WHERE tenant_id = :t AND number_issue IS NOT NULL"
)


async def test_missing_and_duplicate_numbers_are_kept_flagged_and_listed(engine: AsyncEngine) -> None:
    s = await synced(engine, "Numbers MSP", clients=3, invoices=0)
    client = next(iter(s.halo.clients.rows))
    line = [{"item_shortdescription": "Support", "qty_order": 1, "unit_price": 100}]
    a = s.halo.create_invoice(client, lines=line, invoicenumber="INV-7")["id"]
    b = s.halo.create_invoice(client, lines=line, invoicenumber="INV-7")["id"]
    c = s.halo.create_invoice(client, lines=line, invoicenumber="")["id"]
    ok = s.halo.create_invoice(client, lines=line, invoicenumber="INV-8")["id"]
    run = await s.run(SyncMode.FULL)
    assert run.status is SyncStatus.SUCCEEDED and run.counts.failed == 0
    assert await s.scalar("SELECT count(*) FROM invoices WHERE tenant_id = :t") == 4  # nothing dropped
    assert await s.scalar(FLAGS) == [f"{a}:duplicate", f"{b}:duplicate", f"{c}:missing"]
    assert await s.scalar(ISSUES) == [f"duplicate_number:{a}", f"duplicate_number:{b}", f"missing_number:{c}"]

    # The MSP renumbers one duplicate and numbers the other in Halo: the next sync clears both issues.
    s.halo.edit_invoice(b, invoicenumber="INV-9")
    s.halo.edit_invoice(c, invoicenumber="INV-10")
    assert (await s.run(SyncMode.INCREMENTAL)).status is SyncStatus.SUCCEEDED
    assert await s.scalar(FLAGS) == []
    assert await s.scalar(ISSUES) == []
    numbers = await s.scalar("SELECT array_agg(number ORDER BY number) FROM invoices WHERE tenant_id = :t")
    assert numbers == ["INV-10", "INV-7", "INV-8", "INV-9"]
    assert ok


async def test_a_number_taken_by_an_invoice_from_a_later_page_flags_both(engine: AsyncEngine) -> None:
    s = await synced(engine, "Pages MSP", clients=2, invoices=120)
    first, last = min(s.halo.invoices.rows), max(s.halo.invoices.rows)
    s.halo.invoices.rows[last]["invoicenumber"] = s.halo.invoices.rows[first]["invoicenumber"]
    assert (await s.run(SyncMode.FULL)).status is SyncStatus.SUCCEEDED
    assert set(await s.scalar(FLAGS)) == {f"{first}:duplicate", f"{last}:duplicate"}


async def test_the_msp_may_use_halo_ids_as_numbers(engine: AsyncEngine) -> None:
    s = await synced(engine, "Ids MSP", clients=2, invoices=5)
    s.settings = SyncSettings(invoice_number_field=InvoiceNumberField.ID)
    assert (await s.run(SyncMode.FULL)).status is SyncStatus.SUCCEEDED
    numbers = await s.scalar("SELECT array_agg(number ORDER BY external_id) FROM invoices WHERE tenant_id = :t")
    assert numbers == [str(i) for i in sorted(s.halo.invoices.rows)]


async def test_invoices_of_chosen_agreement_subtypes_are_contract_billed(engine: AsyncEngine) -> None:
    s = await synced(engine, "Agreements MSP", clients=2, invoices=0, contracts_per_client=0)
    client = next(iter(s.halo.clients.rows))
    managed = s.halo.create_contract(client, ref="MSA-1", subtype=3, contracttype_name="Managed Services")["id"]
    adhoc = s.halo.create_contract(client, ref="T&M-1", subtype=4, contracttype_name="Time and Materials")["id"]
    line = [{"item_shortdescription": "Seat", "qty_order": 10, "unit_price": 25}]
    billed = s.halo.create_invoice(client, lines=line, contract_id=managed)["id"]
    other = s.halo.create_invoice(client, lines=line, contract_id=adhoc)["id"]
    loose = s.halo.create_invoice(client, lines=line)["id"]
    s.settings = SyncSettings(contract_billed_subtypes=frozenset({"3"}))
    assert (await s.run(SyncMode.FULL)).status is SyncStatus.SUCCEEDED
    flags = await s.scalar(
        "SELECT array_agg(external_id ORDER BY external_id) FROM invoices WHERE tenant_id = :t AND contract_billed"
    )
    assert flags == [str(billed)]
    subtypes = await s.scalar("SELECT array_agg(subtype ORDER BY subtype) FROM agreements WHERE tenant_id = :t")
    assert subtypes == ["3", "4"]
    assert other and loose


async def test_fetch_unpaid_reads_only_unpaid_invoices(engine: AsyncEngine) -> None:
    s = await synced(engine, "Unpaid MSP", clients=3, invoices=60, paid_fraction=0.5, partial_fraction=0.2)
    run = await s.run(SyncMode.UNPAID)
    assert run.status is SyncStatus.SUCCEEDED
    unpaid = sum(1 for i in s.halo.invoices.rows.values() if i["amountdue"] > 0)
    assert await s.scalar("SELECT count(*) FROM invoices WHERE tenant_id = :t") == unpaid < 60


async def test_rate_limits_and_an_expired_token_mid_sync_are_ridden_out(engine: AsyncEngine) -> None:
    s = await synced(engine, "Throttled MSP", clients=3, invoices=350)
    s.halo.controls.inject(Fault("status", status=429, headers={"Retry-After": "2"}, times=3, path_prefix="/api/"))
    s.halo.controls.inject(Fault("status", status=503, times=2, path_prefix="/api/Invoice"))
    reader = s.reader()
    pages = {"n": 0}
    real_page = reader.page

    async def page(*args, **kwargs):  # type: ignore[no-untyped-def]
        pages["n"] += 1
        if pages["n"] == 4:
            s.halo.revoke_tokens()  # Halo drops our token before its expiry
        return await real_page(*args, **kwargs)

    reader.page = page  # type: ignore[method-assign]
    run = await s.resume(await s.queue(SyncMode.FULL), reader)
    assert run.status is SyncStatus.SUCCEEDED, run.error
    assert await s.scalar("SELECT count(*) FROM invoices WHERE tenant_id = :t") == 350
    statuses = [r.status for r in s.halo.controls.log if r.path.startswith("/api/")]
    assert statuses.count(429) == 3 and statuses.count(503) == 2 and 401 in statuses
