"""Running HaloPSA syncs in the worker: one queued run per `sync.requested` event, and the hourly schedule.

A run takes minutes for a large MSP; it commits page by page, so a job that dies (or times out) is simply
run again and resumes from its checkpoint. The same function serves the CLI, with a progress callback.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.db.halosync import SqlSyncStore
from adapters.halopsa.runner import run_sync
from domain.halosync.runs import SyncMode, SyncStatus, SyncTrigger
from domain.halosync.runs import sync_requested as sync_requested_event
from domain.ports import Clock
from domain.usecases.halosync import clear_full_sync_pending, queue_run

log = logging.getLogger("arbridge.halosync")

# A sync runs in slices: after SYNC_SLICE a job stops at a page boundary and hands the run on (a new event, a
# new job), so no job runs long. arq waits the longest function timeout before re-running the job of a
# killed worker, whatever the job: a long timeout here would delay every other job's recovery too.
SYNC_SLICE = timedelta(minutes=4)
SYNC_JOB_TIMEOUT = 600  # seconds: a slice, plus the page it was in, plus a slow Halo's retries


async def sync_requested(ctx: dict[str, Any], tenant_id: uuid.UUID, data: dict[str, Any]) -> None:
    run = await run_sync(
        ctx["engine"],
        ctx["ring"],
        ctx["vendor_flows"],
        ctx["clock"],
        tenant_id,
        uuid.UUID(data["run_id"]),
        time_budget=SYNC_SLICE,
    )
    if run is not None:
        log.info("sync run %s for tenant %s: %s %s", run.id, tenant_id, run.status.value, run.error or "")


async def halopsa_connected(ctx: dict[str, Any], tenant_id: uuid.UUID) -> None:
    """HaloPSA was just connected: the first, full sync (or, on a reconnect, the next incremental one)."""
    async with SqlSyncStore(ctx["engine"], tenant_id, ctx["ring"]).transaction() as tx:
        mode = SyncMode.INCREMENTAL if await tx.last_high_water() else SyncMode.FULL
        await queue_run(tx, tenant_id, ctx["clock"], mode, SyncTrigger.CONNECT)
        await tx.commit()


async def schedule_halopsa_syncs(ctx: dict[str, Any]) -> int:
    """Every few minutes, per tenant with HaloPSA connected:
    - a run whose heartbeat stopped (its worker was killed, the CLI interrupted) goes to a worker again;
    - a full sync when none ever ran, when one is due (`full_sync_every_days`, which finds invoices deleted
      in Halo without a webhook) or pending (the invoice-number field changed while a run was active);
    - otherwise an incremental one once its interval has passed."""
    engine: AsyncEngine = ctx["engine"]
    clock: Clock = ctx["clock"]
    now = clock.now()
    async with engine.connect() as conn:
        rows = (await conn.execute(text("SELECT * FROM halopsa_sync_schedule()"))).all()
    queued = 0
    for row in rows:
        try:
            queued += await _schedule_one(ctx, row, now)
        except Exception:
            log.exception("scheduling the sync of tenant %s failed; the next tick retries", row.tenant_id)
    return queued


async def _schedule_one(ctx: dict[str, Any], row: Any, now: datetime) -> int:
    tenant_id: uuid.UUID = row.tenant_id
    async with SqlSyncStore(ctx["engine"], tenant_id, ctx["ring"]).transaction() as tx:
        if row.stalled_run is not None:
            run = await tx.load_run(row.stalled_run, for_update=True)
            if run is not None and run.status is SyncStatus.RUNNING:
                log.warning("sync run %s of tenant %s stalled; handing it to a worker again", run.id, tenant_id)
                await tx.save_run(run)  # a new heartbeat: not handed over again for a while
                await tx.add_events([sync_requested_event(tenant_id, run, now)])
                await tx.commit()
            return 0
        if row.busy:
            return 0
        full_due = row.full_every_days > 0 and (
            row.last_full_at is None or row.last_full_at < now - timedelta(days=row.full_every_days)
        )
        interval_passed = row.interval_minutes > 0 and (
            row.last_requested_at is None or row.last_requested_at < now - timedelta(minutes=row.interval_minutes)
        )
        if row.last_requested_at is None or row.full_pending or (full_due and interval_passed):
            mode = SyncMode.FULL
        elif interval_passed:
            mode = SyncMode.INCREMENTAL
        else:
            return 0
        await queue_run(tx, tenant_id, ctx["clock"], mode, SyncTrigger.SCHEDULE)
        if row.full_pending:
            await clear_full_sync_pending(tx)
        await tx.commit()
        return 1
