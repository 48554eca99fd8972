"""The outbox relay: moves committed outbox rows to the job queue.

Rows are locked while being relayed (other relays skip them) and marked dispatched in the same
transaction. A crash after enqueueing but before the commit re-sends those rows later: arq's job-id
dedup and the handlers' claims make that harmless.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import asyncpg
from arq.connections import ArqRedis
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.db.outbox import lock_pending, mark_dispatched
from adapters.queue.arq_queue import enqueue_event

log = logging.getLogger("arbridge.relay")
BATCH = 500


async def relay_once(engine: AsyncEngine, redis: ArqRedis, queue_name: str, batch: int = BATCH) -> int:
    async with engine.begin() as conn:
        pending = await lock_pending(conn, batch)
        if not pending:
            return 0
        for event in pending:
            await enqueue_event(redis, queue_name, str(event.tenant_id), str(event.id), event.event_type)
        await mark_dispatched(conn, pending)
    return len(pending)


async def run_relay(
    engine: AsyncEngine, redis: ArqRedis, queue_name: str, listen_dsn: str | None, idle_poll: float = 1.0
) -> None:
    """Relay forever: wake on NOTIFY arbridge_outbox (sent at commit), poll as a fallback."""
    wake = asyncio.Event()
    listener: asyncpg.Connection | None = None
    if listen_dsn:
        try:
            listener = await asyncpg.connect(listen_dsn)
            await listener.add_listener("arbridge_outbox", lambda *_: wake.set())
        except (OSError, asyncpg.PostgresError) as exc:
            log.warning("relay: LISTEN unavailable (%s); polling only", exc)
    try:
        while True:
            # Clear before the pass, not after: a NOTIFY that arrives during the pass is for a row the pass
            # may not have seen (committed after its snapshot), so it must start another pass at once.
            wake.clear()
            try:
                while await relay_once(engine, redis, queue_name) == BATCH:
                    pass  # a full batch: more may be waiting
            except Exception as exc:  # noqa: BLE001 - Redis, PostgreSQL or anything else: log it and go on
                # This loop lives as long as the worker and nobody awaits it: if it ended, events would pile
                # up unsent, silently, until the next restart. The rows stay pending and are retried.
                log.warning("relay: %s: %s; retrying", type(exc).__name__, exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), timeout=idle_poll)
    finally:
        if listener is not None:
            await listener.close()
