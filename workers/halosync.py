"""Running HaloPSA syncs in the worker: one queued run per `sync.requested` event, and the hourly schedule.

A run takes minutes for a large MSP; it commits page by page, so a job that dies (or times out) is simply
run again and resumes from its checkpoint. The same function serves the CLI, with a progress callback.
"""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.db.halosync import SqlSyncStore
from adapters.halopsa.runner import run_sync
from domain.halosync.runs import SyncMode, SyncTrigger
from domain.ports import Clock
from domain.usecases.halosync import queue_run

log = logging.getLogger("arbridge.halosync")

# A sync job may run long: pages are committed as they go, and a rerun resumes.
SYNC_JOB_TIMEOUT = 6 * 3600


async def sync_requested(ctx: dict[str, Any], tenant_id: uuid.UUID, data: dict[str, Any]) -> None:
    run = await run_sync(
        ctx["engine"], ctx["ring"], ctx["vendor_flows"], ctx["clock"], tenant_id, uuid.UUID(data["run_id"])
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
    """Every few minutes: queue an incremental run for each tenant whose interval has passed."""
    engine: AsyncEngine = ctx["engine"]
    clock: Clock = ctx["clock"]
    now = clock.now()
    async with engine.connect() as conn:
        rows = (await conn.execute(text("SELECT * FROM halopsa_sync_schedule()"))).all()
    queued = 0
    for tenant_id, interval, last, busy in rows:
        if busy or interval <= 0 or (last is not None and last > now - timedelta(minutes=interval)):
            continue
        mode = SyncMode.INCREMENTAL if last is not None else SyncMode.FULL
        try:
            async with SqlSyncStore(engine, tenant_id, ctx["ring"]).transaction() as tx:
                await queue_run(tx, tenant_id, clock, mode, SyncTrigger.SCHEDULE)
                await tx.commit()
            queued += 1
        except Exception:
            log.exception("queueing the scheduled sync of tenant %s failed; the next tick retries", tenant_id)
    return queued
