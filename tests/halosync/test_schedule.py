"""The schedule: incremental runs on each tenant's interval, full runs when due or pending, stalled runs
handed to a worker again."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from litestar.testing import AsyncTestClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.clock import SystemClock
from adapters.config import Settings
from adapters.crypto import KeyRing
from adapters.db.halosync import SqlSyncStore
from domain.halosync.runs import SyncMode, SyncRun, SyncStatus, SyncTrigger
from domain.ids import new_id
from tests.conftest import Api, new_tenant, token_for
from tests.halosync.test_end_to_end import Halo, connect, halo, runs_of
from workers.halosync import schedule_halopsa_syncs

__all__ = ["halo"]  # the fixture, shared with the end-to-end tests


def _ctx(engine: AsyncEngine, settings: Settings) -> dict[str, Any]:
    """As the worker's cron calls it (workers/settings.py builds this ctx at startup)."""
    return {"engine": engine, "clock": SystemClock(), "ring": KeyRing(settings.encryption_keys)}


async def _tenant(engine: AsyncEngine, client: AsyncTestClient[Any], name: str) -> Api:
    creds = await new_tenant(engine, name)
    return Api(client, creds, await token_for(client, creds))


async def _past_run(engine: AsyncEngine, api: Api, ago: timedelta, status: SyncStatus = SyncStatus.SUCCEEDED) -> None:
    """A full run the tenant requested `ago` (as if it had run then)."""
    at = SystemClock().now() - ago
    run = SyncRun(new_id(), SyncTrigger.SCHEDULE, SyncMode.FULL, status, at)
    async with SqlSyncStore(engine, api.tenant_id).transaction() as tx:
        await tx.add_run(run)
        await tx.commit()


async def test_the_schedule_queues_a_run_only_for_tenants_whose_interval_has_passed(
    client: AsyncTestClient[Any], halo: Halo, engine: AsyncEngine, settings: Settings
) -> None:
    due = await _tenant(engine, client, "Due MSP")  # last run 2 h ago, interval 60 min
    recent = await _tenant(engine, client, "Recent MSP")  # last run 5 min ago
    off = await _tenant(engine, client, "Schedule-off MSP")  # interval 0, last run 2 days ago
    busy = await _tenant(engine, client, "Busy MSP")  # a run still queued from 2 h ago
    never = await _tenant(engine, client, "Never synced MSP")  # connected, never synced
    slow = await _tenant(engine, client, "Daily MSP")  # interval 1 day, last run 2 h ago
    for api in (due, recent, off, busy, never, slow):
        await connect(api, halo)
    r = await off.client.patch("/v1/halopsa/settings", json={"interval_minutes": 0}, headers=off.headers)
    assert r.status_code == 200 and r.json()["interval_minutes"] == 0, r.text
    r = await slow.client.patch("/v1/halopsa/settings", json={"interval_minutes": 1440}, headers=slow.headers)
    assert r.status_code == 200, r.text
    await _past_run(engine, due, timedelta(hours=2))
    await _past_run(engine, recent, timedelta(minutes=5))
    await _past_run(engine, off, timedelta(days=2))
    await _past_run(engine, busy, timedelta(hours=2), SyncStatus.QUEUED)
    await _past_run(engine, slow, timedelta(hours=2))
    before = {api.tenant_id: await runs_of(api) for api in (due, recent, off, busy, never, slow)}

    # As the worker's cron calls it (workers/settings.py builds this ctx at startup).
    ctx: dict[str, Any] = {"engine": engine, "clock": SystemClock(), "ring": KeyRing(settings.encryption_keys)}
    # The schedule is cross-tenant: tenants other tests left connected may be queued too, so count ours only.
    assert await schedule_halopsa_syncs(ctx) >= 2

    added = {}
    for api in (due, recent, off, busy, never, slow):
        now = await runs_of(api)
        added[api.tenant_id] = [
            (r["trigger"], r["mode"], r["status"]) for r in now[: len(now) - len(before[api.tenant_id])]
        ]
    assert added[due.tenant_id] == [("schedule", "incremental", "queued")]
    assert added[never.tenant_id] == [("schedule", "full", "queued")]
    assert added[recent.tenant_id] == added[off.tenant_id] == added[busy.tenant_id] == added[slow.tenant_id] == []

    # Each queued run carries its sync.requested event, for the relay to hand to a worker.
    for api in (due, never):
        run_id = (await runs_of(api))[0]["id"]
        async with SqlSyncStore(engine, api.tenant_id).transaction() as tx:
            found = await tx.conn.execute(
                text("SELECT payload->>'trigger' FROM outbox WHERE event_type = 'sync.requested' AND subject_id = :r"),
                {"r": uuid.UUID(run_id)},
            )
            assert found.scalars().all() == ["schedule"]

    # The next tick finds them busy: nothing more is queued.
    await schedule_halopsa_syncs(ctx)
    for api in (due, never):
        assert len(await runs_of(api)) == len(before[api.tenant_id]) + 1


async def test_a_stalled_run_is_handed_to_a_worker_again(
    client: AsyncTestClient[Any], halo: Halo, engine: AsyncEngine, settings: Settings
) -> None:
    api = await _tenant(engine, client, "Stalled MSP")
    await connect(api, halo)
    run = SyncRun(new_id(), SyncTrigger.MANUAL, SyncMode.FULL, SyncStatus.RUNNING, SystemClock().now())
    async with SqlSyncStore(engine, api.tenant_id).transaction() as tx:
        await tx.add_run(run)
        stale = SystemClock().now() - timedelta(hours=1)
        await tx.conn.execute(
            text("UPDATE sync_runs SET status = 'running', started_at = :at, heartbeat_at = :at WHERE id = :r"),
            {"at": stale, "r": run.id},
        )
        await tx.commit()
    await schedule_halopsa_syncs(_ctx(engine, settings))
    async with SqlSyncStore(engine, api.tenant_id).transaction() as tx:
        events = await tx.conn.execute(
            text("SELECT count(*) FROM outbox WHERE event_type = 'sync.requested' AND subject_id = :r"), {"r": run.id}
        )
        assert events.scalar() == 1  # handed over, once: its heartbeat is fresh again
    await schedule_halopsa_syncs(_ctx(engine, settings))
    async with SqlSyncStore(engine, api.tenant_id).transaction() as tx:
        events = await tx.conn.execute(
            text("SELECT count(*) FROM outbox WHERE event_type = 'sync.requested' AND subject_id = :r"), {"r": run.id}
        )
        assert events.scalar() == 1
    assert [r["id"] for r in await runs_of(api)] == [str(run.id)]  # and no second run beside it


async def test_a_number_field_change_during_a_run_queues_the_full_sync_after_it(
    client: AsyncTestClient[Any], halo: Halo, engine: AsyncEngine, settings: Settings
) -> None:
    api = await _tenant(engine, client, "Renumbering MSP")
    await connect(api, halo)
    await _past_run(engine, api, timedelta(minutes=5))
    queued = (await api.post("/v1/halopsa/sync", json={"mode": "incremental"})).json()
    r = await api.client.patch("/v1/halopsa/settings", json={"invoice_number_field": "id"}, headers=api.headers)
    assert r.status_code == 200, r.text
    assert (await runs_of(api))[0]["id"] == queued["id"]  # one active run at a time
    async with SqlSyncStore(engine, api.tenant_id).transaction() as tx:
        await tx.conn.execute(
            text("UPDATE sync_runs SET status = 'succeeded', finished_at = now() WHERE id = :r"),
            {"r": uuid.UUID(queued["id"])},
        )
        await tx.commit()
    await schedule_halopsa_syncs(_ctx(engine, settings))
    latest = (await runs_of(api))[0]
    assert (latest["mode"], latest["trigger"], latest["status"]) == ("full", "schedule", "queued")
    await schedule_halopsa_syncs(_ctx(engine, settings))  # the pending flag was cleared: no second one
    assert len(await runs_of(api)) == 3
