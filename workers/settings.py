"""The worker's composition root: arq settings, the engine, and the outbox relay running beside the jobs."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from arq import cron, func

from adapters.clock import SystemClock
from adapters.config import Settings
from adapters.crypto import KeyRing
from adapters.db.engine import app_engine
from adapters.queue.arq_queue import HANDLE_LONG_EVENT, redis_settings
from adapters.queue.relay import run_relay
from adapters.vendor_flows import build_vendor_flows
from workers.claims import ClaimingWorker
from workers.halosync import SYNC_JOB_TIMEOUT, schedule_halopsa_syncs
from workers.jobs import charge_invoices, handle_event, purge_idempotency_keys, refresh_idle_connections
from workers.payments import RUN_JOB_PREFIX, RUN_JOB_TIMEOUT, RUNS_AT_ONCE, run_slots

# arq's defaults (10 jobs at a time, polling every 0.5 s) cap a worker near 20 jobs/s. Our jobs wait on
# PostgreSQL and vendors' HTTP APIs, so one worker runs many at once and polls often.
MAX_JOBS = 200
POLL_DELAY = 0.05
QUEUE_READ_LIMIT = 400


async def _startup(ctx: dict[str, Any]) -> None:
    settings: Settings = ctx["settings"]
    ctx["engine"] = app_engine(settings, pool_size=20)
    ctx["clock"] = SystemClock()
    ctx["ring"] = KeyRing(settings.encryption_keys)
    ctx["vendor_flows"] = build_vendor_flows(settings, ctx["clock"], ctx.get("vendor_transport"))
    ctx["payment_runs"] = run_slots()
    if ctx.get("run_relay", True):
        listen_dsn = settings.app_database_url.replace("postgresql+asyncpg://", "postgresql://")
        ctx["relay"] = asyncio.create_task(run_relay(ctx["engine"], ctx["redis"], settings.queue_name, listen_dsn))


async def _shutdown(ctx: dict[str, Any]) -> None:
    relay = ctx.get("relay")
    if relay is not None:
        relay.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await relay
    await ctx["vendor_flows"].http.aclose()
    await ctx["engine"].dispose()


def build_worker(
    settings: Settings, *, burst: bool = False, run_relay_task: bool = True, **overrides: Any
) -> ClaimingWorker:
    options: dict[str, Any] = {
        "functions": [
            handle_event,
            func(handle_event, name=HANDLE_LONG_EVENT, timeout=SYNC_JOB_TIMEOUT),
            func(charge_invoices, timeout=RUN_JOB_TIMEOUT),
        ],
        "cron_jobs": [
            cron(purge_idempotency_keys, minute={0, 30}, run_at_startup=False),
            # Daily, off the hour: keeps idle connections' refresh tokens alive.
            cron(refresh_idle_connections, hour={3}, minute={17}, run_at_startup=False),
            # Each tenant's own interval (hourly by default) is checked every 5 minutes.
            cron(schedule_halopsa_syncs, minute=set(range(0, 60, 5)), run_at_startup=False),
        ],
        "queue_name": settings.queue_name,
        "redis_settings": redis_settings(settings.redis_url),
        "on_startup": _startup,
        "on_shutdown": _shutdown,
        "ctx": {"settings": settings, "run_relay": run_relay_task},
        "max_jobs": MAX_JOBS,
        "poll_delay": POLL_DELAY,
        "queue_read_limit": QUEUE_READ_LIMIT,
        "max_tries": 10,
        "job_timeout": 120,  # long work (HaloPSA syncs) runs as handle_long_event, with its own timeout
        "keep_result": 24 * 3600,  # the job-id dedup window for relayed events
        "burst": burst,
        "handle_signals": False,
        "lanes": {RUN_JOB_PREFIX: RUNS_AT_ONCE},
    }
    options.update(overrides)
    return ClaimingWorker(**options)
