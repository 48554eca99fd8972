"""Acting on Stripe's webhook events in the worker (the API only verified and kept them)."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from adapters.db.uow import SqlUnitOfWork
from adapters.stripe.gateway import StripeGateway
from domain.usecases import stripe_events

log = logging.getLogger("arbridge.payments")


async def stripe_event_received(ctx: dict[str, Any], tenant_id: uuid.UUID, data: dict[str, Any]) -> None:
    client = ctx["vendor_flows"].stripe
    if client is None:
        log.warning("a Stripe event for tenant %s, but Stripe is not configured here", tenant_id)
        return
    did = await stripe_events.act(
        lambda: SqlUnitOfWork(ctx["engine"], tenant_id, ctx["ring"]),
        StripeGateway(client),
        ctx["clock"],
        uuid.UUID(data["inbox_id"]),
    )
    log.info("stripe event %s for tenant %s: %s", data.get("stripe_event_id"), tenant_id, did)
