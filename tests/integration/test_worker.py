"""The event worker against real PostgreSQL and Redis: every committed event is handled exactly once,
whatever happens to the worker running it (killed, stopped, its database statement failing).

The worker runs either in this process (arq burst mode, for the plain paths) or as a real `python -m workers`
subprocess (for kills and signals). A job is held mid-flight without any hook in production code: the test
inserts the event's own row into `events` in a transaction it keeps open, so the worker's publish
(INSERT ... ON CONFLICT DO NOTHING) waits on that row lock, after the handler's claim in the same transaction.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from arq.constants import in_progress_key_prefix, result_key_prefix
from arq.jobs import deserialize_result
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from adapters.queue.relay import relay_once
from domain.usecases.events import BY_TYPE, FOR_ALL
from tests.conftest import Api
from tests.integration import outbox_support
from tests.integration.outbox_support import (
    WAIT,
    Queue,
    feed,
    handled_by,
    invoice_created,
    published_count,
    run_burst_worker,
    wait_until,
)

queue = outbox_support.queue  # the fixture: a queue of the test's own
ROOT = Path(__file__).resolve().parents[2]


def handlers_for(event_type: str) -> list[str]:
    return sorted(name for name, _ in FOR_ALL + BY_TYPE.get(event_type, []))


# --- 2. a committed event is relayed and handled exactly once --------------------------------------


async def test_committed_event_is_relayed_and_handled_once(
    tenant_a: Api,
    engine: AsyncEngine,
    owner: AsyncEngine,
    queue: Queue,
) -> None:
    invoice, event_id = await invoice_created(tenant_a, owner)
    assert await feed(tenant_a) == []  # nothing in the feed before the worker ran

    assert await relay_once(engine, queue.redis, queue.name) == 2  # client.created, invoice.created
    assert event_id in await queue.job_ids()
    worker = await run_burst_worker(queue)

    assert (worker.jobs_complete, worker.jobs_failed, worker.jobs_retried) == (2, 0, 0)
    assert await queue.job_ids() == []
    events = await feed(tenant_a, "invoice.created")
    assert [e["id"] for e in events] == [event_id]
    assert events[0]["subject_id"] == invoice["id"]
    assert events[0]["data"]["total"] == invoice["total"]
    assert await handled_by(owner, event_id) == handlers_for("invoice.created")
    assert [e["type"] for e in await feed(tenant_a)] == ["invoice.created", "client.created"]


# --- 4. a worker dies mid-job ----------------------------------------------------------------------


def start_worker_process(q: Queue, log: Path) -> subprocess.Popen[bytes]:
    """`python -m workers` (jobs and the relay), configured from the environment like in production."""
    s = q.settings
    env = {
        **os.environ,
        "DATABASE_URL": s.database_url,
        "APP_DATABASE_URL": s.app_database_url,
        "REDIS_URL": s.redis_url,
        "ARBRIDGE_ENCRYPTION_KEYS": s.encryption_keys,
        "ARBRIDGE_QUEUE": q.name,
        "ARBRIDGE_STATE_DIR": str(log.parent),
    }
    with log.open("ab") as out:
        return subprocess.Popen([sys.executable, "-m", "workers"], cwd=ROOT, env=env, stdout=out, stderr=out)


async def stop(proc: subprocess.Popen[bytes], sig: int = signal.SIGKILL) -> int:
    if proc.poll() is None:
        proc.send_signal(sig)
    return await asyncio.wait_for(asyncio.to_thread(proc.wait), WAIT)


class HeldPublish:
    """Holds the row the worker's publish will insert, in an open owner transaction: the job then waits
    inside its own transaction, after claiming its handler. `release()` rolls our row back."""

    def __init__(self, owner: AsyncEngine, event_id: str) -> None:
        self.owner = owner
        self.event_id = uuid.UUID(event_id)
        self.conn: AsyncConnection | None = None

    async def __aenter__(self) -> HeldPublish:
        self.conn = await self.owner.connect()
        await self.conn.begin()
        await self.conn.execute(
            text(
                "INSERT INTO events (tenant_id, id, event_type, subject_id, data, occurred_at) "
                "SELECT tenant_id, id, event_type, subject_id, payload, occurred_at FROM outbox WHERE id = :i"
            ),
            {"i": self.event_id},
        )
        return self

    async def release(self) -> None:
        if self.conn is not None:
            await self.conn.rollback()
            await self.conn.close()
            self.conn = None

    async def __aexit__(self, *exc: object) -> None:
        await self.release()

    async def waiting_backend(self) -> int:
        """The pid of the worker's backend once it waits on our row, having claimed its handler."""
        pids: list[int] = []

        async def blocked() -> bool:
            async with self.owner.connect() as conn:
                rows = await conn.execute(
                    text(
                        "SELECT a.pid FROM pg_stat_activity a WHERE a.datname = current_database() "
                        "AND a.wait_event_type = 'Lock' AND a.query LIKE 'INSERT INTO events %' "
                        "AND EXISTS (SELECT 1 FROM pg_locks l WHERE l.pid = a.pid "
                        "            AND l.relation = 'processed_events'::regclass)"
                    )
                )
                pids[:] = list(rows.scalars())
            return bool(pids)

        await wait_until(blocked, "the worker to claim the event and block on publishing it")
        assert len(pids) == 1, pids
        return pids[0]


async def backend_gone(owner: AsyncEngine, pid: int) -> bool:
    async with owner.connect() as conn:
        n = await conn.execute(text("SELECT count(*) FROM pg_stat_activity WHERE pid = :p"), {"p": pid})
        return bool(n.scalar_one() == 0)


def log_tail(log: Path) -> str:
    return log.read_text(errors="replace")[-3000:] if log.exists() else "(no log)"


@pytest.fixture
def worker_log(tmp_path: Path) -> Path:
    return tmp_path / "worker.log"


async def test_worker_killed_mid_job_still_handles_the_event_once(
    tenant_a: Api,
    owner: AsyncEngine,
    queue: Queue,
    worker_log: Path,
) -> None:
    invoice, event_id = await invoice_created(tenant_a, owner)
    in_progress = in_progress_key_prefix + event_id
    first = second = None
    try:
        async with HeldPublish(owner, event_id) as held:
            first = start_worker_process(queue, worker_log)  # its relay sends the event, its job picks it up
            pid = await held.waiting_backend()
            assert await queue.redis.exists(in_progress), log_tail(worker_log)
            assert await stop(first, signal.SIGKILL) == -signal.SIGKILL
        # Our row is gone; the dead worker's backend wakes, finds its client gone, and rolls back.
        await wait_until(lambda: backend_gone(owner, pid), "PostgreSQL to end the dead worker's session")
        assert await handled_by(owner, event_id) == []  # the claim died with the worker ...
        assert await published_count(owner, event_id) == 0  # ... together with its effect

        # arq hands the job to another worker only once the dead one's in-progress key expires, which is
        # job_timeout + 10 s (130 s with our settings). Fast-forward that clock rather than wait.
        assert (await queue.redis.pttl(in_progress)) > 60_000
        await queue.redis.pexpire(in_progress, 1)

        second = start_worker_process(queue, worker_log)
        await wait_until(lambda: queue.redis.exists(result_key_prefix + event_id), "the second worker's run")
        result = deserialize_result(await queue.redis.get(result_key_prefix + event_id))
        assert result.success, (result.result, log_tail(worker_log))
        assert result.job_try == 2
        assert sorted(result.result) == handlers_for("invoice.created")  # the handlers ran again, to the end
    finally:
        for proc in (first, second):
            if proc is not None:
                await stop(proc, signal.SIGKILL)

    assert [e["id"] for e in await feed(tenant_a, "invoice.created")] == [event_id]
    assert await published_count(owner, event_id) == 1
    assert await handled_by(owner, event_id) == handlers_for("invoice.created")
    assert invoice["id"] == (await feed(tenant_a, "invoice.created"))[0]["subject_id"]


async def test_worker_stopped_by_sigterm_hands_its_job_back_at_once(
    tenant_a: Api,
    owner: AsyncEngine,
    queue: Queue,
    worker_log: Path,
) -> None:
    """A deploy stops workers with SIGTERM: the worker exits cleanly, and a job it had in flight goes back
    to the queue for the next worker now, not after the 130 s in-progress timeout."""
    _, event_id = await invoice_created(tenant_a, owner)
    proc = None
    try:
        async with HeldPublish(owner, event_id) as held:
            proc = start_worker_process(queue, worker_log)
            await held.waiting_backend()
            code = await stop(proc, signal.SIGTERM)
            assert code == 0, log_tail(worker_log)
    finally:
        if proc is not None:
            await stop(proc, signal.SIGKILL)
    assert not await queue.redis.exists(in_progress_key_prefix + event_id), log_tail(worker_log)
    assert await handled_by(owner, event_id) == []
    assert event_id in await queue.job_ids()

    worker = await run_burst_worker(queue)
    # The stopped worker may also have had the client's event in flight (it claims the jobs it has room for
    # at once): that one came back too.
    assert worker.jobs_failed == 0 and worker.jobs_complete in (1, 2)
    assert [e["id"] for e in await feed(tenant_a, "invoice.created")] == [event_id]
    assert await handled_by(owner, event_id) == handlers_for("invoice.created")


# --- a job whose database work fails part-way is retried, not dropped -------------------------------


@pytest.mark.parametrize("failure", ["pg_cancel_backend", "pg_terminate_backend"])
async def test_job_failing_on_the_database_is_retried_until_handled(
    failure: str,
    tenant_a: Api,
    engine: AsyncEngine,
    owner: AsyncEngine,
    queue: Queue,
) -> None:
    """A statement cancelled, or a connection dropped (failover, restart), mid-job. The relay has already
    marked the event dispatched, so if arq gave up on the job the event would never be handled."""
    _, event_id = await invoice_created(tenant_a, owner)
    assert await relay_once(engine, queue.redis, queue.name) == 2

    async def break_the_job() -> None:
        async with HeldPublish(owner, event_id) as held:
            pid = await held.waiting_backend()
            async with owner.connect() as conn:
                assert (await conn.execute(text(f"SELECT {failure}(:p)"), {"p": pid})).scalar_one()

    breaker = asyncio.create_task(break_the_job())
    worker = await run_burst_worker(queue)
    await breaker

    assert (worker.jobs_complete, worker.jobs_failed) == (2, 0)
    assert worker.jobs_retried == 1
    assert [e["id"] for e in await feed(tenant_a, "invoice.created")] == [event_id]
    assert await published_count(owner, event_id) == 1
    assert await handled_by(owner, event_id) == handlers_for("invoice.created")
