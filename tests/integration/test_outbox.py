"""The outbox relay against real PostgreSQL and Redis: only committed events leave, each as one arq job."""

from __future__ import annotations

import asyncio
import uuid

from arq.constants import job_key_prefix, result_key_prefix
from arq.jobs import deserialize_result
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.db.outbox import lock_pending
from adapters.db.uow import SqlUnitOfWork
from adapters.queue.arq_queue import enqueue_event
from adapters.queue.relay import relay_once
from domain.auth import ALL_SCOPES, Principal
from domain.clients import NewClient
from domain.usecases.clients import create_client
from domain.usecases.events import BY_TYPE, FOR_ALL
from tests.conftest import Api
from tests.integration.outbox_support import (
    Queue,
    _Clock,
    dispatched,
    feed,
    handled_by,
    invoice_created,
    outbox_event_id,
    published_count,
    queue,
    run_burst_worker,
    undispatch,
)

_ = queue  # the fixture


# --- 1. a rolled-back transaction enqueues nothing ------------------------------------------------

INVOICE_CREATED_HANDLERS = sorted(name for name, _ in FOR_ALL + BY_TYPE.get("invoice.created", []))


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
    assert await handled_by(owner, event_id) == INVOICE_CREATED_HANDLERS

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
    assert await handled_by(owner, event_id) == INVOICE_CREATED_HANDLERS


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
        assert await handled_by(owner, event_id) == INVOICE_CREATED_HANDLERS


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
