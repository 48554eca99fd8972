"""Stripe's webhook events: kept once (an inbox unique by event id), then acted on by a worker.

Events arrive at least once and in any order, sometimes before the API call that caused them has returned.
So an event is only a hint: the worker re-reads the PaymentIntent from Stripe and records what it says now,
through the same `settle` the API uses, under the attempt's row lock.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from domain.events import DomainEvent
from domain.payment_gateway import PaymentGateway
from domain.ports import Clock
from domain.usecases import disputes, payouts, refunds
from domain.usecases.payment_ports import PaymentsUnitOfWork, UowFactory
from domain.usecases.payments import settle

STRIPE_EVENT_RECEIVED = "stripe.event_received"
# The events whose object is a PaymentIntent we may have started.
INTENT_EVENTS = frozenset(
    {
        "payment_intent.succeeded",
        "payment_intent.payment_failed",
        "payment_intent.processing",
        "payment_intent.requires_action",
        "payment_intent.canceled",
    }
)


async def receive(uow: PaymentsUnitOfWork, clock: Clock, event: dict[str, Any]) -> bool:
    """Keep a verified event and hand it to a worker (through the outbox). False for a redelivery.
    Caller commits."""
    now = clock.now()
    row = await uow.payments.receive_event(
        str(event["id"]), str(event.get("type", "")), event.get("account"), event, now
    )
    if row is None:
        return False
    data = {"inbox_id": str(row), "stripe_event_id": event["id"], "type": event.get("type")}
    await uow.outbox.add(DomainEvent(STRIPE_EVENT_RECEIVED, uow.tenant_id, row, now, data))
    return True


Handler = Callable[[UowFactory, PaymentGateway, Clock, dict[str, Any]], Awaitable[str]]


async def _payment_intent(
    uow_factory: UowFactory, gateway: PaymentGateway, clock: Clock, payload: dict[str, Any]
) -> str:
    """A PaymentIntent we may have started changed: record what it says now."""
    intent = (payload.get("data") or {}).get("object") or {}
    payment_id = (intent.get("metadata") or {}).get("arbridge_payment_id")
    if not payment_id:
        return "not ours"
    account = payload.get("account") or ""
    outcome = await gateway.intent(account, str(intent["id"]))  # now, not as the event saw it (unavailable: retried)
    async with uow_factory() as uow:
        payment = await uow.payments.get(uuid.UUID(payment_id), for_update=True)
        if payment is None:
            return "unknown payment"
        if payment.status.collected:
            # Its dispute moves it from here on (disputed, lost, won): a late or repeated `succeeded` must
            # neither undo that nor pay its invoices a second time.
            return f"payment {payment_id} is {payment.status.value}"
        await settle(uow, clock, payment, outcome)
        await uow.commit()
    return f"payment {payment_id} {outcome.status.value}"


# By Stripe event type. Refunds, disputes and payouts register their handlers here.
HANDLERS: dict[str, Handler] = {kind: _payment_intent for kind in INTENT_EVENTS}
HANDLERS.update({kind: refunds.on_stripe_refund_event for kind in refunds.REFUND_EVENTS})
HANDLERS.update({kind: disputes.on_dispute_event for kind in disputes.EVENTS})
HANDLERS.update({kind: payouts.on_payout_event for kind in payouts.EVENTS})


async def act(uow_factory: UowFactory, gateway: PaymentGateway, clock: Clock, inbox_id: uuid.UUID) -> str:
    """What the worker does with a kept event; returns what it did (for the job's log)."""
    async with uow_factory() as uow:
        payload = await uow.payments.event_payload(inbox_id)
    if payload is None:
        return "unknown event"
    kind = str(payload.get("type"))
    handler = HANDLERS.get(kind)
    if handler is None:
        return f"ignored {kind}"
    return f"{kind}: {await handler(uow_factory, gateway, clock, payload)}"
