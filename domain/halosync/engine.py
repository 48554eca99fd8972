"""The sync engine: pages through each resource, one committed transaction per page, resumable.

Orders. A full sync reads by id ascending: stable while new records are appended. An incremental sync reads
by last-modified descending (Halo has no modified-since filter on `/Invoice`, providers.md §1) and stops at the
first page that reaches back past the previous run's newest change minus an overlap window. Payments are
read by id descending down to the highest one already known; amounts paid are taken from the invoices
themselves, so a payment edited or deleted in Halo still corrects the balance in the incremental run.
The next page is fetched while the current one is written.

Resuming. Each page is written with the run's checkpoint (phase, page) in the same transaction, so a run
that dies resumes after its last committed page; re-reading a page is harmless (unchanged rows are
recognised by their content hash and not rewritten; an older copy never replaces a newer one).

Sweeping. A full run records which invoices it read (in the database, so a resumed run still knows); those
it did not read are read again by id, and a 404 marks them deleted in Halo. An "unpaid" run does the same
for invoices still owing here that Halo no longer lists as unpaid (paid, voided or deleted since).

Halo's paging is offset-based, so records inserted or deleted mid-run shift pages. When `record_count` moves,
the engine steps back by the number of pages the shift could have skipped, and records the event as an issue.
A page identical to the one before means Halo is ignoring `page_no`: the run stops rather than loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from domain.halopsa import HaloPage, HaloReader, HaloReadFailed, HaloResource
from domain.halosync import invoice_pages, pages
from domain.halosync.pages import Meanwhile, NextPage, Prepared
from domain.halosync.phases import MODIFIED, Phase, newest, phase_for, reached_watermark
from domain.halosync.ports import SyncStore
from domain.halosync.runs import PHASES, FoundIssue, IssueKind, SyncMode, SyncRun, SyncStatus, sync_requested
from domain.halosync.settings import SyncSettings
from domain.ports import Clock

log = logging.getLogger("arbridge.halosync")

PAGE_SIZE = 100  # Halo's largest page, as far as public clients know
MAX_STEP_BACKS = 10  # per phase: a record_count that never settles must not keep the run going forever
# While a run fills the tables, the planner is brought up to date after these pages of invoices and of
# payments (each time they have grown about threefold): the plans this connection cached while the tables were
# smaller are dropped (a scan finds a page's hundred ids fastest among 3,000 rows, not among 30,000), and the
# statistics are refreshed while they know of fewer rows than a tenth of what the run has written (tables
# analysed when nearly empty; migration 0003 says why). Between refreshes the planner scales the statistics
# by the tables' current size; ANALYZE samples every tenant's rows, tenths of a second once the tables are
# full, so a tenant's first sync into a busy database does without it.
REPLAN_AFTER_PAGES = frozenset({3, 10, 30, 100, 300, 1000, 3000, 10000})
_RECORD_PARAMS = {"includedetails": "true", "includelines": "true"}

Progress = Callable[[SyncRun, HaloResource, int, int | None], None]  # run, phase, page, record_count


class RunNotFound(Exception):
    pass


class SyncEngine:
    def __init__(
        self,
        store: SyncStore,
        reader: HaloReader,
        clock: Clock,
        settings: SyncSettings,
        tenant_id: uuid.UUID,
        *,
        page_size: int = PAGE_SIZE,
        progress: Progress | None = None,
        time_budget: timedelta | None = None,
    ) -> None:
        """`time_budget`: stop at the first page boundary after this long, leave the run running and hand it
        on (a `sync.requested` event in the same transaction): a worker's job stays short, the run goes on."""
        self.store, self.reader, self.clock, self.settings = store, reader, clock, settings
        self.tenant_id, self.page_size, self.progress = tenant_id, page_size, progress
        self._newest_first = False  # whether the phase being read runs newest first (incremental)
        self.time_budget = time_budget
        self._deadline: datetime | None = None

    async def run(self, run_id: uuid.UUID) -> SyncRun | None:
        """Run (or resume) a queued run. None when another process is running it right now."""
        async with self.store.exclusive(run_id) as mine:
            if not mine:
                return None
            return await self._run(run_id)

    async def _run(self, run_id: uuid.UUID) -> SyncRun:
        self._deadline = None if self.time_budget is None else self.clock.now() + self.time_budget
        async with self.store.transaction() as tx:
            run = await tx.load_run(run_id, for_update=True)
            if run is None:
                raise RunNotFound(str(run_id))
            if run.status in (SyncStatus.SUCCEEDED, SyncStatus.FAILED):
                return run  # a redelivered job: the run is over
            if run.status is SyncStatus.QUEUED:
                run.status, run.started_at = SyncStatus.RUNNING, self.clock.now()
                run.target.setdefault("watermarks", await tx.last_high_water())
            await tx.save_run(run)
            await tx.commit()
        try:
            if run.mode is SyncMode.RECORD:
                await self._record(run)
            else:
                await self._phases(run)
        except HaloReadFailed as exc:
            return await self._finish(run, SyncStatus.FAILED, exc.reason)
        except _Stop as exc:
            return await self._finish(run, SyncStatus.FAILED, str(exc))
        except _Pause:
            async with self.store.transaction() as tx:
                await tx.save_run(run)
                await tx.add_events([sync_requested(self.tenant_id, run, self.clock.now())])
                await tx.commit()
            return run
        except Exception as exc:
            # Not Halo's doing (a value the database refused, a bug): the run ends, failed, with what it kept,
            # rather than staying "running" and blocking the tenant's next syncs. Cancellation (a shutdown or
            # a timeout) is not an Exception: that run stays resumable.
            log.exception("sync run %s failed", run.id)
            return await self._finish(run, SyncStatus.FAILED, f"internal error ({type(exc).__name__}); see the logs")
        return await self._finish(run, SyncStatus.SUCCEEDED, None)

    async def _phases(self, run: SyncRun) -> None:
        overlap = timedelta(minutes=self.settings.overlap_minutes)
        watermarks = run.target.get("watermarks", {})
        while run.checkpoint.phase < len(PHASES):
            resource = PHASES[run.checkpoint.phase]
            phase = phase_for(resource, run.mode, watermarks, overlap)
            if phase is not None:
                if phase.stop_before is None and run.checkpoint.page_no == 0:
                    await self._mark_newest(run, phase)
                await self._pages(run, phase)
                if resource is HaloResource.INVOICES and run.mode in (SyncMode.FULL, SyncMode.UNPAID):
                    await self._sweep(run)
                if resource is HaloResource.PAYMENTS and run.mode is SyncMode.FULL:
                    async with self.store.transaction() as tx:
                        await tx.drop_unseen_payments(run.id)  # deleted in Halo (their invoices' amounts follow)
                        await tx.commit()
            run.checkpoint.phase += 1
            run.checkpoint.page_no, run.checkpoint.record_count = 0, None
            async with self.store.transaction() as tx:
                await tx.save_run(run)
                await tx.commit()

    async def _pages(self, run: SyncRun, phase: Phase) -> None:
        """Page through one resource. The next page is fetched while this one is written, and mapped while
        PostgreSQL runs this one's write: Halo's latency, our CPU and the database's work overlap instead of
        adding up."""
        cp = run.checkpoint
        page_no = cp.page_no + 1
        self._newest_first = phase.stop_before is not None
        pending: NextPage | None = self._fetch(phase, page_no)
        try:
            while pending is not None:
                page, prepared = await pending.page()
                pending = None
                self._check_repeat(phase, page)
                step_back = self._step_back(phase, page, cp.record_count)
                next_no = max(1, page_no - step_back) if step_back else page_no + 1
                if not step_back and self._last(phase, page, page_no):
                    next_no = 0
                if next_no:
                    pending = self._fetch(phase, next_no)
                ahead = pending.prepare_now if pending else None
                await self._take(run, phase.resource, page, prepared, meanwhile=ahead)
                if self.progress:
                    self.progress(run, phase.resource, page_no, page.record_count)
                if next_no and self._deadline is not None and self.clock.now() >= self._deadline:
                    raise _Pause
                page_no = next_no
        finally:
            if pending is not None:
                pending.fetch.cancel()
                with contextlib.suppress(asyncio.CancelledError, HaloReadFailed):
                    await pending.fetch

    async def _mark_newest(self, run: SyncRun, phase: Phase) -> None:
        """Before reading a resource by id: its newest change now is the next incremental run's watermark.
        (The newest among the records read would be later than changes made to pages already read while the
        run went on, and the next run would stop before reaching them.)"""
        key = MODIFIED.get(phase.resource)
        if key is None:
            return  # payments: the highest id read is their mark
        probe = await self.reader.page(phase.resource, 1, 1, {**phase.params, "order": key, "orderdesc": "true"})
        mark = newest(phase.resource, probe.records[:1], run.checkpoint.high_water.get(phase.resource.value))
        if mark is not None:
            run.checkpoint.high_water[phase.resource.value] = mark
            async with self.store.transaction() as tx:
                await tx.save_run(run)
                await tx.commit()

    def _fetch(self, phase: Phase, page_no: int) -> NextPage:
        fetch = asyncio.ensure_future(self.reader.page(phase.resource, page_no, self.page_size, phase.params))
        return NextPage(fetch, phase.resource, self.settings)

    @staticmethod
    def _last(phase: Phase, page: HaloPage, page_no: int) -> bool:
        short = len(page.records) < page.page_size
        return short or reached_watermark(phase, page.records) or page_no * page.page_size >= page.record_count

    def _check_repeat(self, phase: Phase, page: HaloPage) -> None:
        ids = [r.get("id") for r in page.records if isinstance(r, dict)]
        if ids and ids == phase.previous_ids:
            raise _Stop(
                f"HaloPSA answered page {page.page_no} of {phase.resource.value} with the same records as the "
                "page before; stopped so that nothing is skipped or read forever (pages before it are kept)"
            )
        phase.previous_ids = ids

    def _step_back(self, phase: Phase, page: HaloPage, before: int | None) -> int:
        if before is None or page.record_count == before or phase.step_backs >= MAX_STEP_BACKS:
            return 0
        phase.step_backs += 1
        phase.previous_ids = []  # the re-read page may legitimately repeat
        shift = abs(page.record_count - before)
        return -(-shift // page.page_size)  # ceil: the pages the shift could have moved records across

    async def _take(
        self,
        run: SyncRun,
        resource: HaloResource,
        page: HaloPage,
        prepared: Prepared | None = None,
        *,
        paged: bool = True,
        meanwhile: Meanwhile | None = None,
    ) -> None:
        """Write one page (or, `paged` False, one record read by id: the checkpoint is left as it is).
        `meanwhile`: CPU work to do while PostgreSQL runs the page's write."""
        now = self.clock.now()
        issues: list[FoundIssue] = []
        if prepared is None:
            prepared = pages.prepare(resource, page.records, self.settings)
        before = run.checkpoint.record_count
        if paged and before is not None and page.record_count != before:
            issues.append(
                FoundIssue(
                    IssueKind.INCONSISTENT_PAGING,
                    resource,
                    None,
                    f"Halo's record_count for {resource.value} changed from {before} to {page.record_count} during "
                    f"the sync (records added or deleted meanwhile); pages around {page.page_no} were read again",
                )
            )
        async with self.store.transaction() as tx:
            if resource is HaloResource.CLIENTS:
                counts, found = await pages.take_clients(tx, prepared, now, meanwhile)
            elif resource is HaloResource.AGREEMENTS:
                counts, found = await pages.take_agreements(tx, prepared, now, meanwhile)
            elif resource is HaloResource.INVOICES:
                seen_run = run.id if run.mode in (SyncMode.FULL, SyncMode.UNPAID) else None
                counts, found = await invoice_pages.take_invoices(
                    tx, prepared, self.settings, self.tenant_id, now, seen_run, meanwhile
                )
            else:
                seen_run = run.id if paged and run.mode is SyncMode.FULL else None
                counts, found = await pages.take_payments(tx, prepared, now, seen_run, meanwhile)
            # One issue per problem and record (a duplicate number is found from both sides of the pair).
            found = list({(i.kind, i.resource, i.external_id): i for i in issues + found}.values())
            await tx.record_issues(found, run.id, now)
            run.counts.add(counts)
            run.issues += len(found)
            # Read newest first (incremental), a page's records carry the watermark; read by id, the newest
            # record was noted before the first page (_mark_newest). Payments' mark is their highest id.
            if paged and (self._newest_first or resource is HaloResource.PAYMENTS):
                mark = newest(resource, prepared.raws, run.checkpoint.high_water.get(resource.value))
                if mark is not None:
                    run.checkpoint.high_water[resource.value] = mark
            if paged:
                run.checkpoint.page_no = page.page_no
                run.checkpoint.record_count = page.record_count
            await tx.save_run(run)
            await tx.commit()
        growing = resource in (HaloResource.INVOICES, HaloResource.PAYMENTS)
        if growing and paged and page.page_no in REPLAN_AFTER_PAGES:
            async with self.store.transaction() as tx:
                await tx.replan(resource, page.page_no * page.page_size // 10)
                await tx.commit()

    async def _record(self, run: SyncRun) -> None:
        """One record Halo told us about (a webhook): read it by id; gone means deleted."""
        resource, record_id = HaloResource(run.target["resource"]), int(run.target["id"])
        params = _RECORD_PARAMS if resource is HaloResource.INVOICES else {}
        raw = await self.reader.record(resource, record_id, params)
        if raw is None:
            if resource is HaloResource.INVOICES:
                await self._deleted(run, str(record_id))
            return
        if resource is HaloResource.INVOICES:
            await self._known_client(run, raw.get("client_id"))
        await self._take(run, resource, HaloPage([raw], 1, 1, 1), paged=False)

    async def _known_client(self, run: SyncRun, client_id: Any) -> None:
        """An invoice for a client created since the last sync: take the client first."""
        if not isinstance(client_id, int):
            return
        async with self.store.transaction() as tx:
            known = await tx.refs(HaloResource.CLIENTS, [str(client_id)])
        if not known:
            raw = await self.reader.record(HaloResource.CLIENTS, client_id)
            if raw is not None:
                await self._take(run, HaloResource.CLIENTS, HaloPage([raw], 1, 1, 1), paged=False)

    async def _sweep(self, run: SyncRun) -> None:
        """After a full (or unpaid) read of the invoices: those held here that it did not read were deleted in
        Halo (full), or are no longer unpaid there (unpaid: paid, voided or deleted since). Each one is read
        again by id before anything changes: a 404 is a deletion, anything else is taken as it now is."""
        unpaid_only = run.mode is SyncMode.UNPAID
        done: set[str] = set()
        while True:
            async with self.store.transaction() as tx:
                batch = [
                    x for x in await tx.unseen_invoices(run.id, unpaid_only=unpaid_only, limit=100) if x not in done
                ]
            if not batch:
                break
            for external_id in batch:
                done.add(external_id)
                raw = await self.reader.record(HaloResource.INVOICES, int(external_id), _RECORD_PARAMS)
                if raw is None:
                    await self._deleted(run, external_id)
                else:
                    await self._take(run, HaloResource.INVOICES, HaloPage([raw], 1, 1, 1), paged=False)
                async with self.store.transaction() as tx:
                    await tx.mark_seen(run.id, [external_id])
                    await tx.commit()
        async with self.store.transaction() as tx:
            await tx.forget_seen(run.id)
            await tx.commit()

    async def _deleted(self, run: SyncRun, external_id: str) -> None:
        now = self.clock.now()
        async with self.store.transaction() as tx:
            removed = await tx.remove_invoice(external_id, now)
            if removed is not None:
                await tx.add_events([invoice_pages.deleted_event(removed, external_id, self.tenant_id, now)])
                run.counts.updated += 1
            await tx.save_run(run)
            await tx.commit()

    async def _finish(self, run: SyncRun, status: SyncStatus, error: str | None) -> SyncRun:
        now = self.clock.now()
        async with self.store.transaction() as tx:
            await tx.forget_seen(run.id)
            await tx.settle_duplicates(now)
            # Also after a failed run: the invoices it did write are flagged by the agreements they bill.
            only = [str(run.target["id"])] if run.mode is SyncMode.RECORD else None
            await tx.refresh_contract_billing(sorted(self.settings.contract_billed_subtypes), only)
            run.status, run.finished_at, run.error = status, now, error
            await tx.save_run(run)
            await tx.commit()
        return run


class _Stop(Exception):
    """The run cannot go on safely; the message is the reason the MSP reads."""


class _Pause(Exception):
    """The time budget is spent: the run continues in another job, from its checkpoint."""
