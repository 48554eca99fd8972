"""arq job functions: thin, idempotent, keyed on domain ids."""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta
from typing import Any

from arq import Retry

from adapters.db.connections import connections_due_for_refresh
from adapters.db.idempotency import purge_expired
from adapters.db.uow import SqlUnitOfWork
from adapters.vendor_flows import VendorFlows
from domain.halosync.runs import SYNC_REQUESTED
from domain.usecases.connections import CONNECTION_CONNECTED, keep_alive
from domain.usecases.events import handle_event as handle_event_use_case
from domain.usecases.stripe_events import STRIPE_EVENT_RECEIVED
from workers.halosync import halopsa_connected, sync_requested
from workers.payments import run_charges, run_items, stripe_event_received

log = logging.getLogger("arbridge.jobs")
MAX_RETRY_DELAY = 300.0


def retry_delay(job_try: int) -> float:
    """1 s, 2 s, 4 s, ... up to 5 min: with max_tries 10 a job rides out about 8 minutes of outage."""
    return float(min(2 ** (job_try - 1), MAX_RETRY_DELAY))


async def handle_event(ctx: dict[str, Any], tenant_id: str, event_id: str) -> list[str]:
    try:
        async with SqlUnitOfWork(ctx["engine"], uuid.UUID(tenant_id)) as uow:
            ran = await handle_event_use_case(uow, uuid.UUID(event_id))
            event = await uow.events.outbox_event(uuid.UUID(event_id))
            await uow.commit()
        # Long work runs after the claim has committed, outside its transaction; it is resumable, so a
        # redelivered job simply carries on (a finished run answers at once).
        if event is not None and event.type == SYNC_REQUESTED:
            await sync_requested(ctx, uuid.UUID(tenant_id), event.data)
        elif event is not None and event.type == STRIPE_EVENT_RECEIVED:
            await stripe_event_received(ctx, uuid.UUID(tenant_id), event.data)
        elif event is not None and event.type == CONNECTION_CONNECTED and event.data.get("provider") == "halopsa":
            await halopsa_connected(ctx, uuid.UUID(tenant_id))
    except Exception as exc:
        # arq retries a job only when it raises Retry; any other failure would finish it for good, and the
        # relay has already marked the event dispatched, so the event would never be handled. A rerun is
        # always safe (each handler's claim commits with its effects), so every failure is retried, with
        # backoff, until max_tries.
        delay = retry_delay(int(ctx.get("job_try", 1)))
        log.warning("event %s: %s: %s; retrying in %.0f s", event_id, type(exc).__name__, exc, delay)
        raise Retry(defer=delay) from exc
    return ran


async def charge_invoices(ctx: dict[str, Any], tenant_id: str, charges: list[dict[str, Any]]) -> dict[str, int]:
    """A run of off-session charges for one tenant: what autopay enqueues (workers/payments.py run_charges).
    Re-running it resumes each charge by its request key and never charges twice, so any failure is retried,
    except a malformed run (bad ids, repeated keys): it fails for good at once, since no retry can fix it."""
    tenant, items = uuid.UUID(tenant_id), run_items(charges)
    try:
        return await run_charges(ctx, tenant, items)
    except Exception as exc:
        delay = retry_delay(int(ctx.get("job_try", 1)))
        log.warning("payment run for %s: %s: %s; retrying in %.0f s", tenant_id, type(exc).__name__, exc, delay)
        raise Retry(defer=delay) from exc


async def purge_idempotency_keys(ctx: dict[str, Any]) -> int:
    return await purge_expired(ctx["engine"])


# A refresh token that expires within this window, or a connection idle this long, gets refreshed.
REFRESH_WINDOW = timedelta(days=14)
IDLE_LIMIT = timedelta(days=21)


async def refresh_idle_connections(ctx: dict[str, Any]) -> dict[str, int]:
    """Daily: keep every connection's refresh token alive. One failure never stops the others."""
    flows: VendorFlows = ctx["vendor_flows"]
    clock = ctx["clock"]
    now = clock.now()
    async with ctx["engine"].connect() as conn:
        due = await connections_due_for_refresh(conn, now + REFRESH_WINDOW, now - IDLE_LIMIT)
    counts = {"refreshed": 0, "needs_reauth": 0, "failed": 0}
    for tenant_id, connection_id in due:
        try:
            async with SqlUnitOfWork(ctx["engine"], tenant_id, ctx["ring"]) as uow:
                connection = await uow.connections.get(connection_id)
                flow = flows.for_provider(connection.provider) if connection else None
                if flow is None:
                    continue
            async with SqlUnitOfWork(ctx["engine"], tenant_id, ctx["ring"]) as uow:
                ok = await keep_alive(uow, clock, flow, connection_id)
            counts["refreshed" if ok else "needs_reauth"] += 1
        except Exception:
            log.exception("refreshing connection %s failed; the next run retries", connection_id)
            counts["failed"] += 1
    return counts
