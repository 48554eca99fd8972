"""A tenant, a seeded HaloPSA sandbox and the engine wired to both, in-process (no network)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.clock import SystemClock
from adapters.db.halosync import SqlSyncStore
from adapters.halopsa.api import HaloApi
from domain.halosync.engine import SyncEngine
from domain.halosync.runs import SyncMode, SyncRun, SyncStatus, SyncTrigger
from domain.halosync.settings import SyncSettings
from domain.ids import new_id
from sandbox.halopsa import HaloState
from sandbox.halopsa.app import create_app
from tests.conftest import new_tenant

BASE = "https://acme.halopsa.test"


async def no_sleep(_: float) -> None:
    return None


@dataclass
class Synced:
    engine: AsyncEngine
    tenant_id: uuid.UUID
    halo: HaloState
    settings: SyncSettings = field(default_factory=SyncSettings)
    page_size: int = 100

    @property
    def store(self) -> SqlSyncStore:
        return SqlSyncStore(self.engine, self.tenant_id)

    def reader(self) -> HaloApi:
        app = self.halo.add_application("all")

        async def token(_stale: str | None) -> str:
            return self.halo.issue_token(app).token

        http = httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(self.halo)), base_url=BASE)
        return HaloApi(http, BASE, token, sleep=no_sleep)

    async def run(
        self, mode: SyncMode = SyncMode.FULL, trigger: SyncTrigger = SyncTrigger.MANUAL, **target: Any
    ) -> SyncRun:
        run_id = await self.queue(mode, trigger, **target)
        return await self.resume(run_id)

    async def queue(self, mode: SyncMode, trigger: SyncTrigger = SyncTrigger.MANUAL, **target: Any) -> uuid.UUID:
        run = SyncRun(new_id(), trigger, mode, SyncStatus.QUEUED, SystemClock().now(), target=dict(target))
        async with self.store.transaction() as tx:
            await tx.add_run(run)
            await tx.commit()
        return run.id

    async def resume(self, run_id: uuid.UUID, reader: Any = None) -> SyncRun:
        engine = SyncEngine(
            self.store, reader or self.reader(), SystemClock(), self.settings, self.tenant_id, page_size=self.page_size
        )
        run = await engine.run(run_id)
        assert run is not None, "another engine holds this run"
        return run

    async def scalar(self, sql: str, **params: Any) -> Any:
        async with self.store.transaction() as tx:
            from sqlalchemy import text

            return (await tx.conn.execute(text(sql), {"t": self.tenant_id, **params})).scalar()


async def synced(engine: AsyncEngine, name: str = "Halo MSP", **seed: Any) -> Synced:
    creds = await new_tenant(engine, name)
    halo = HaloState(tenant="acme")
    if seed:
        halo.seed(**seed)
    return Synced(engine, creds.tenant_id, halo)
