"""Bad data and misbehaving pages: the run records the problem, carries on or stops, and loses nothing."""

from __future__ import annotations

import contextlib
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from domain.halopsa import HaloPage, HaloResource
from domain.halosync.runs import SyncMode, SyncStatus
from sandbox.common import Fault
from tests.halosync.support import Synced, synced

COUNT_HALO = "SELECT count(*) FROM invoices WHERE tenant_id = :t AND source = 'halopsa'"


async def _issues(s: Synced) -> list[tuple[str, str | None]]:
    rows = await s.scalar(
        "SELECT coalesce(array_agg(kind || ':' || coalesce(external_id, '') ORDER BY kind, external_id), '{}') "
        "FROM sync_issues WHERE tenant_id = :t AND resolved_at IS NULL"
    )
    return [(r.split(":", 1)[0], r.split(":", 1)[1]) for r in rows]


async def test_bad_records_become_issues_and_the_rest_sync(engine: AsyncEngine) -> None:
    s = await synced(engine, "Bad records MSP", clients=5, invoices=40)
    ids = list(s.halo.invoices.rows)
    s.halo.invoices.rows[ids[0]]["total"] = "twelve"  # a non-numeric total
    s.halo.invoices.rows[ids[1]]["lines"][0]["qty_order"] = -2.0  # a negative quantity
    s.halo.invoices.rows[ids[2]]["client_id"] = 99999  # a client Halo does not know
    run = await s.run(SyncMode.FULL)
    assert run.status is SyncStatus.SUCCEEDED
    assert run.counts.failed == 3
    assert await s.scalar(COUNT_HALO) == 37
    found = await _issues(s)
    assert ("bad_record", str(ids[0])) in found and ("bad_record", str(ids[1])) in found
    assert ("unknown_client", str(ids[2])) in found
    # Fixed in Halo, the next run takes them and closes their issues.
    s.halo.invoices.rows[ids[0]]["total"] = 10.0
    s.halo.invoices.rows[ids[0]]["tax_total"] = 0.0
    s.halo.invoices.rows[ids[1]]["lines"][0]["qty_order"] = 2.0
    again = await s.run(SyncMode.FULL)
    assert again.status is SyncStatus.SUCCEEDED and again.counts.failed == 1
    assert await s.scalar(COUNT_HALO) == 39
    assert [k for k, _ in await _issues(s)] == ["unknown_client"]


async def test_a_page_that_keeps_failing_stops_the_run_and_keeps_what_was_committed(engine: AsyncEngine) -> None:
    s = await synced(engine, "HTML MSP", clients=5, invoices=250)
    s.halo.controls.inject(Fault("html", times=None, path_prefix="/api/Invoice"))
    run = await s.run(SyncMode.FULL)
    assert run.status is SyncStatus.FAILED
    assert run.error is not None and "HTML" in run.error
    assert await s.scalar("SELECT count(*) FROM clients WHERE tenant_id = :t AND source = 'halopsa'") == 5
    s.halo.controls.clear_faults()
    s.halo.controls.inject(Fault("malformed", times=None, path_prefix="/api/Invoice"))
    second = await s.run(SyncMode.FULL)
    assert second.status is SyncStatus.FAILED and second.error
    s.halo.controls.clear_faults()
    assert (await s.run(SyncMode.FULL)).status is SyncStatus.SUCCEEDED
    assert await s.scalar(COUNT_HALO) == 250


async def test_an_html_page_once_is_retried(engine: AsyncEngine) -> None:
    s = await synced(engine, "Flaky MSP", clients=3, invoices=120)
    s.halo.controls.inject(Fault("html", times=1, path_prefix="/api/Invoice"))
    run = await s.run(SyncMode.FULL)
    assert run.status is SyncStatus.SUCCEEDED and await s.scalar(COUNT_HALO) == 120


class _Reader:
    """Wraps the real reader to misbehave on one resource's pages."""

    def __init__(self, inner: Any, on_page: Any) -> None:
        self.inner, self.on_page, self.calls = inner, on_page, 0

    async def page(self, resource: HaloResource, page_no: int, page_size: int, params: Any = None) -> HaloPage:
        page: HaloPage = await self.inner.page(resource, page_no, page_size, params)
        if resource is HaloResource.INVOICES and page_size > 1:  # not the engine's newest-change probe
            self.calls += 1
            changed: HaloPage = self.on_page(self, page)
            return changed
        return page

    async def record(self, *args: Any, **kwargs: Any) -> Any:
        return await self.inner.record(*args, **kwargs)


async def test_a_repeated_page_stops_the_run(engine: AsyncEngine) -> None:
    s = await synced(engine, "Repeat MSP", clients=3, invoices=250)
    first: list[HaloPage] = []

    def repeat(reader: _Reader, page: HaloPage) -> HaloPage:
        if not first:
            first.append(page)
        return HaloPage(first[0].records, page.record_count, page.page_no, page.page_size)

    run = await s.resume(await s.queue(SyncMode.FULL), _Reader(s.reader(), repeat))
    assert run.status is SyncStatus.FAILED and "same records" in (run.error or "")
    assert await s.scalar(COUNT_HALO) == 100  # the first page is kept


async def test_a_record_count_that_changes_mid_sync_rereads_and_misses_nothing(engine: AsyncEngine) -> None:
    s = await synced(engine, "Shifting MSP", clients=3, invoices=250)

    def shift(reader: _Reader, page: HaloPage) -> HaloPage:
        if reader.calls == 2:  # after page 1, someone deletes the first 10 invoices in Halo
            unpaid = [i for i, row in s.halo.invoices.rows.items() if not row["amountpaid"]]
            for invoice_id in unpaid[:10]:
                s.halo.delete_invoice(invoice_id)
        return page

    run = await s.resume(await s.queue(SyncMode.FULL), _Reader(s.reader(), shift))
    assert run.status is SyncStatus.SUCCEEDED
    assert ("inconsistent_paging", "") in await _issues(s)
    ours = await s.scalar("SELECT array_agg(external_id::int) FROM invoices WHERE tenant_id = :t AND status <> 'void'")
    assert set(s.halo.invoices.rows) <= set(ours)  # every invoice still in Halo was read despite the shift
    # The invoices deleted after the run had read them are found by the next full sync.
    assert (await s.run(SyncMode.FULL)).status is SyncStatus.SUCCEEDED
    assert await s.scalar(COUNT_HALO + " AND status <> 'void'") == 240
    assert await s.scalar("SELECT count(*) FROM outbox WHERE tenant_id = :t AND event_type = 'invoice.deleted'") == 10


class _Killed(BaseException):
    """What a worker's death looks like from inside: not an Exception, nothing gets to clean up."""


async def test_a_sync_that_dies_resumes_from_its_last_page(engine: AsyncEngine) -> None:
    s = await synced(engine, "Crash MSP", clients=3, invoices=350)

    def die(reader: _Reader, page: HaloPage) -> HaloPage:
        if reader.calls == 3:
            raise _Killed
        return page

    run_id = await s.queue(SyncMode.FULL)
    with contextlib.suppress(_Killed):
        await s.resume(run_id, _Reader(s.reader(), die))
    assert await s.scalar(COUNT_HALO) == 200
    assert await s.scalar("SELECT status FROM sync_runs WHERE tenant_id = :t AND id = :r", r=run_id) == "running"
    run = await s.resume(run_id)
    assert run.status is SyncStatus.SUCCEEDED
    assert await s.scalar(COUNT_HALO) == 350
    assert run.counts.created == 3 + 3 + 350 + sum(1 for i in s.halo.invoices.rows.values() if i["amountpaid"])


async def test_an_unexpected_error_fails_the_run_instead_of_leaving_it_running(engine: AsyncEngine) -> None:
    s = await synced(engine, "Broken MSP", clients=3, invoices=250)

    def broken(reader: _Reader, page: HaloPage) -> HaloPage:
        if reader.calls == 2:
            raise ValueError("a bug")
        return page

    run = await s.resume(await s.queue(SyncMode.FULL), _Reader(s.reader(), broken))
    assert run.status is SyncStatus.FAILED and run.error == "internal error (ValueError); see the logs"
    assert await s.scalar(COUNT_HALO) == 100  # the committed page stays
    assert (await s.run(SyncMode.FULL)).status is SyncStatus.SUCCEEDED  # nothing blocks the next run


async def test_values_the_database_would_refuse_are_tamed(engine: AsyncEngine) -> None:
    s = await synced(engine, "Odd values MSP", clients=2, invoices=3)
    client = next(iter(s.halo.clients.rows))
    s.halo.clients.rows[client]["name"] = "Null\x00 Byte Ltd"
    contract = next(iter(s.halo.contracts.rows))
    s.halo.contracts.rows[contract]["billingperiod"] = 2**40
    ids = list(s.halo.invoices.rows)
    s.halo.invoices.rows[ids[0]]["invoicenumber"], s.halo.invoices.rows[ids[1]]["invoicenumber"] = "A-1", "A-2"
    assert (await s.run(SyncMode.FULL)).status is SyncStatus.SUCCEEDED
    assert await s.scalar("SELECT name FROM clients WHERE tenant_id = :t AND external_id = :e", e=str(client)) == (
        "Null Byte Ltd"
    )
    # Two invoices swap numbers in Halo: taken in one page, they must not trip over each other.
    s.halo.invoices.rows[ids[0]]["invoicenumber"], s.halo.invoices.rows[ids[1]]["invoicenumber"] = "A-2", "A-1"
    for i in ids[:2]:
        s.halo.invoices.rows[i]["last_modified"] = "2031-01-01T00:00:00.000Z"
    assert (await s.run(SyncMode.FULL)).status is SyncStatus.SUCCEEDED
    numbers = await s.scalar(
        "SELECT array_agg(number || ':' || coalesce(number_issue, '') ORDER BY external_id::int) FROM invoices "
        "WHERE tenant_id = :t AND external_id = ANY(:e)",
        e=[str(i) for i in ids[:2]],
    )
    assert numbers == ["A-2:", "A-1:"]
