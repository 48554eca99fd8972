"""Running one HaloPSA sync run for a tenant: the engine wired to the tenant's connection, store and limiter.

Shared by the worker (runs queued by events) and the operator CLI (`arbridge sync halopsa`).
"""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.crypto import KeyRing
from adapters.db.halosync import SqlSyncStore
from adapters.db.uow import SqlUnitOfWork
from adapters.halopsa.api import HaloApi, token_source
from adapters.http.limiter import HALOPSA
from adapters.vendor_flows import VendorFlows
from domain.connections import Provider
from domain.halosync.engine import Progress, SyncEngine
from domain.halosync.runs import SyncRun, SyncStatus
from domain.ports import Clock
from domain.usecases.halosync import settings_of


async def run_sync(
    engine: AsyncEngine,
    ring: KeyRing,
    flows: VendorFlows,
    clock: Clock,
    tenant_id: uuid.UUID,
    run_id: uuid.UUID,
    *,
    progress: Progress | None = None,
    time_budget: timedelta | None = None,
) -> SyncRun | None:
    store = SqlSyncStore(engine, tenant_id, ring)
    async with store.transaction() as tx:
        connection = await tx.connections.by_provider(Provider.HALOPSA)
        run = await tx.load_run(run_id, for_update=True)
        if run is None:
            return None
        if connection is None:
            run.status, run.finished_at = SyncStatus.FAILED, clock.now()
            run.error = "HaloPSA is not connected any more"
            await tx.save_run(run)
            await tx.commit()
            return run
    resource_url = connection.settings["resource_url"]
    limiter = flows.limiters.for_tenant("halopsa", resource_url, HALOPSA)
    tokens = token_source(lambda: SqlUnitOfWork(engine, tenant_id, ring), clock, flows.halopsa, connection.id)
    reader = HaloApi(flows.http, resource_url, tokens, limiter=limiter)
    sync = SyncEngine(
        store, reader, clock, settings_of(connection), tenant_id, progress=progress, time_budget=time_budget
    )
    return await sync.run(run_id)
