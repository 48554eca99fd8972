"""Handling an outbox event: each registered handler runs once per event, whatever the redeliveries.

A handler's effects and its claim commit in one transaction, so an event job that runs twice (the relay
re-sent it, a worker died mid-job) changes nothing the second time.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable

from domain import ledger
from domain.auth import Principal, Scope
from domain.events import DomainEvent
from domain.pagination import Page, PageRequest
from domain.ports import EventUnitOfWork

Handler = Callable[[EventUnitOfWork, DomainEvent], Awaitable[None]]


async def publish_to_feed(uow: EventUnitOfWork, event: DomainEvent) -> None:
    """Make the event visible in the tenant's feed (GET /v1/events)."""
    await uow.events.publish(event)


async def post_invoice_issued(uow: EventUnitOfWork, event: DomainEvent) -> None:
    """The ledger: an issued invoice is owed (AR) and earned (revenue). Once per invoice (the ledger's key)."""
    total = int(event.data.get("total") or 0)
    if total <= 0:
        return  # nothing owed, nothing to post
    tax = int(event.data.get("tax_total") or 0)
    posting = ledger.invoice_issued(
        event.subject_id, amount=total, currency=str(event.data["currency"]), occurred_at=event.occurred_at,
        tax=min(tax, total), external_id=event.data.get("external_id"),
    )  # fmt: skip
    await uow.ledger.record(posting)


# Handlers for every event type, then per type. Later capabilities (HaloPSA write-back, postings to the
# books, reminders) register here.
FOR_ALL: list[tuple[str, Handler]] = [("publish_to_feed", publish_to_feed)]
BY_TYPE: dict[str, list[tuple[str, Handler]]] = {
    "invoice.created": [("post_invoice_issued", post_invoice_issued)],
    "invoice.synced": [("post_invoice_issued", post_invoice_issued)],
}


async def handle_event(uow: EventUnitOfWork, event_id: uuid.UUID) -> list[str]:
    """Run the handlers not yet run for the event; returns their names. Caller commits."""
    event = await uow.events.outbox_event(event_id)
    if event is None:
        return []
    ran = []
    for name, handler in FOR_ALL + BY_TYPE.get(event.type, []):
        if await uow.events.claim(event.id, name):
            await handler(uow, event)
            ran.append(name)
    return ran


async def list_events(
    uow: EventUnitOfWork, principal: Principal, page: PageRequest, event_type: str | None = None
) -> Page[DomainEvent]:
    principal.require(Scope.EVENTS_READ)
    return await uow.events.list_page(page, event_type)
