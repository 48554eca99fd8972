"""Fixtures and helpers of the outbox, relay and worker tests (test_outbox.py, test_relay_loop.py, test_worker*.py)."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest_asyncio
from arq.connections import ArqRedis
from arq.constants import in_progress_key_prefix, job_key_prefix, result_key_prefix, retry_key_prefix
from arq.worker import Worker
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.config import Settings
from adapters.queue.arq_queue import connect
from tests.conftest import Api
from workers.settings import build_worker

WAIT = 20.0  # generous upper bound for anything we await; a healthy run takes a fraction of it


@dataclasses.dataclass
class Queue:
    """A queue of our own for one test, so jobs from other tests never mix in."""

    name: str
    redis: ArqRedis
    settings: Settings  # the session's settings with this queue's name

    async def job_ids(self) -> list[str]:
        return [j.decode() for j in await self.redis.zrange(self.name, 0, -1)]


async def _outbox_ids(owner: AsyncEngine) -> set[str]:
    async with owner.connect() as conn:
        return {str(i) for i in (await conn.execute(text("SELECT id FROM outbox"))).scalars()}


@pytest_asyncio.fixture
async def queue(settings: Settings, owner: AsyncEngine) -> AsyncIterator[Queue]:
    """A fresh queue, with every outbox row left by earlier tests marked dispatched (the relay is
    cross-tenant: it would otherwise pick them up). Deletes the Redis keys the test created."""
    async with owner.begin() as conn:
        await conn.execute(text("UPDATE outbox SET dispatched_at = now() WHERE dispatched_at IS NULL"))
    before = await _outbox_ids(owner)
    name = f"{settings.queue_name}:{uuid.uuid4().hex[:8]}"
    redis = await connect(settings.redis_url)
    try:
        yield Queue(name, redis, dataclasses.replace(settings, queue_name=name))
    finally:
        keys = [name, f"{name}:health-check"]
        for event_id in await _outbox_ids(owner) - before:
            keys += [
                p + event_id for p in (job_key_prefix, result_key_prefix, retry_key_prefix, in_progress_key_prefix)
            ]
        await redis.delete(*keys)
        await redis.aclose()


async def run_burst_worker(q: Queue, **overrides: Any) -> Worker:
    """Run a worker in this process until the queue is empty (arq burst mode); returns it for its counters."""
    # No cron jobs: one falling due mid-test (a minute boundary) would add to the counters tests assert on.
    overrides.setdefault("cron_jobs", [])
    worker = build_worker(q.settings, burst=True, run_relay_task=False, **overrides)
    try:
        await asyncio.wait_for(worker.main(), WAIT)
    finally:
        await worker.close()
    return worker


async def feed(api: Api, event_type: str | None = None) -> list[dict[str, Any]]:
    """Every event in the tenant's GET /v1/events, following the cursor."""
    out: list[dict[str, Any]] = []
    params: dict[str, Any] = {"limit": 100}
    if event_type:
        params["type"] = event_type
    while True:
        r = await api.get("/v1/events", params=params)
        assert r.status_code == 200, r.text
        body = r.json()
        out += body["data"]
        if not body["has_more"]:
            return out
        params["cursor"] = body["next_cursor"]


async def outbox_event_id(owner: AsyncEngine, tenant_id: uuid.UUID, event_type: str, subject_id: str) -> str:
    async with owner.connect() as conn:
        row = (
            await conn.execute(
                text("SELECT id FROM outbox WHERE tenant_id = :t AND event_type = :e AND subject_id = :s"),
                {"t": tenant_id, "e": event_type, "s": uuid.UUID(subject_id)},
            )
        ).one()
    return str(row.id)


async def dispatched(owner: AsyncEngine, event_id: str) -> bool:
    async with owner.connect() as conn:
        at = (
            await conn.execute(text("SELECT dispatched_at FROM outbox WHERE id = :i"), {"i": uuid.UUID(event_id)})
        ).scalar_one()
    return at is not None


async def undispatch(owner: AsyncEngine, event_id: str) -> None:
    """What a relay that crashed after enqueueing but before its commit leaves behind."""
    async with owner.begin() as conn:
        await conn.execute(text("UPDATE outbox SET dispatched_at = NULL WHERE id = :i"), {"i": uuid.UUID(event_id)})


async def handled_by(owner: AsyncEngine, event_id: str) -> list[str]:
    async with owner.connect() as conn:
        rows = await conn.execute(
            text("SELECT handler FROM processed_events WHERE id = :i ORDER BY handler"), {"i": uuid.UUID(event_id)}
        )
        return list(rows.scalars())


async def published_count(owner: AsyncEngine, event_id: str) -> int:
    async with owner.connect() as conn:
        n = await conn.execute(text("SELECT count(*) FROM events WHERE id = :i"), {"i": uuid.UUID(event_id)})
        return int(n.scalar_one())


async def invoice_created(api: Api, owner: AsyncEngine) -> tuple[dict[str, Any], str]:
    """Create a client and an invoice through the API; returns the invoice and its invoice.created event id."""
    invoice = await api.new_invoice((await api.new_client())["id"])
    return invoice, await outbox_event_id(owner, api.tenant_id, "invoice.created", invoice["id"])


class _Clock:
    def now(self) -> datetime:
        return datetime.now(UTC)


async def wait_until(predicate: Any, what: str, limit: float = WAIT) -> None:
    """Poll `predicate` (state in PostgreSQL or Redis, which cannot signal us) until true, or fail."""

    async def loop() -> None:
        while not await predicate():  # noqa: ASYNC110 - polling another process's state
            await asyncio.sleep(0.02)

    try:
        await asyncio.wait_for(loop(), limit)
    except TimeoutError:
        raise AssertionError(f"timed out waiting for {what}") from None


async def listening(owner: AsyncEngine) -> bool:
    async with owner.connect() as conn:
        n = await conn.execute(
            text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND query LIKE 'LISTEN %arbridge_outbox%' AND state = 'idle'"
            )
        )
        return bool(n.scalar_one())
