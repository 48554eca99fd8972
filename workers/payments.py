"""Payment work in the worker: acting on Stripe's webhook events (the API only verified and kept them)."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from typing import Any

from adapters.db.driver_uow import DriverUnitOfWork
from adapters.stripe.gateway import StripeGateway
from domain.usecases import stripe_events

log = logging.getLogger("arbridge.payments")


def payments_units_of_work(ctx: dict[str, Any], tenant_id: uuid.UUID) -> Callable[[], DriverUnitOfWork]:
    """The worker's payments units of work: SqlUnitOfWork's, each transaction begun on the driver in one round
    trip (adapters/db/driver_uow.py). A payment is two short transactions around a Stripe call, so the round
    trip saved is a large share of its database time."""
    return lambda: DriverUnitOfWork(ctx["engine"], tenant_id, ctx["ring"])


async def stripe_event_received(ctx: dict[str, Any], tenant_id: uuid.UUID, data: dict[str, Any]) -> None:
    client = ctx["vendor_flows"].stripe
    if client is None:
        log.warning("a Stripe event for tenant %s, but Stripe is not configured here", tenant_id)
        return
    did = await stripe_events.act(
        payments_units_of_work(ctx, tenant_id), StripeGateway(client), ctx["clock"], uuid.UUID(data["inbox_id"])
    )
    log.info("stripe event %s for tenant %s: %s", data.get("stripe_event_id"), tenant_id, did)
