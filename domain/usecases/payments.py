"""Paying invoices with a stored method, without ever charging twice.

Three steps, each its own transaction, in the style of Brandur Leach's idempotency keys:
1. record the attempt (invoices locked, amounts checked against what is owed and what other attempts hold);
2. ask Stripe, with an idempotency key derived from the attempt: asked again, Stripe answers with the same
   PaymentIntent instead of charging again;
3. record the answer under the attempt's row lock; a webhook that got there first has already done it.
A crash anywhere leaves an attempt that the same request (same Idempotency-Key) resumes from its recovery point.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any, Protocol

from domain import ledger
from domain.auth import Principal, Scope
from domain.connections import Connection, Provider
from domain.errors import FieldError, NotFound, ValidationFailed
from domain.events import DomainEvent
from domain.ids import new_id
from domain.invoices import Invoice, status_for
from domain.ledger import Ledger
from domain.pagination import Page, PageRequest
from domain.payment_gateway import ChargeOutcome, ChargeRequest, GatewayUnavailable, PaymentGateway
from domain.payments import (
    Payment,
    PaymentMethod,
    PaymentRefused,
    PaymentStatus,
    PayRequest,
    RecoveryPoint,
    check_allocations,
)
from domain.ports import Clock, ConnectionsUnitOfWork
from domain.usecases.surcharges import decision_for, surcharge_policy_of

PAYMENT_SUCCEEDED = "payment.succeeded"
PAYMENT_FAILED = "payment.failed"
PAYMENT_PROCESSING = "payment.processing"
PAYMENT_REQUIRES_ACTION = "payment.requires_action"
INVOICE_PAID = "invoice.paid"
INVOICE_PAYMENT_APPLIED = "invoice.payment_applied"

_EVENT_FOR = {
    PaymentStatus.SUCCEEDED: PAYMENT_SUCCEEDED,
    PaymentStatus.FAILED: PAYMENT_FAILED,
    PaymentStatus.PROCESSING: PAYMENT_PROCESSING,
    PaymentStatus.REQUIRES_ACTION: PAYMENT_REQUIRES_ACTION,
}


class PaymentStore(Protocol):
    async def get(self, payment_id: uuid.UUID, *, for_update: bool = False) -> Payment | None: ...

    async def by_request_key(self, key: str) -> Payment | None: ...

    async def list_page(self, page: PageRequest, client_id: uuid.UUID | None = None) -> Page[Payment]: ...

    async def held(self, invoice_ids: list[uuid.UUID]) -> dict[uuid.UUID, int]: ...

    async def add(self, p: Payment) -> None: ...

    async def update(self, p: Payment, now: datetime) -> None: ...

    async def method(self, method_id: uuid.UUID) -> PaymentMethod | None: ...

    async def default_method(self, client_id: uuid.UUID) -> PaymentMethod | None: ...

    async def customer(self, client_id: uuid.UUID, account: str) -> str | None: ...

    async def add_customer(self, client_id: uuid.UUID, account: str, customer: str, now: datetime) -> None: ...

    async def add_method(self, m: PaymentMethod) -> PaymentMethod: ...

    async def methods(self, client_id: uuid.UUID) -> list[PaymentMethod]: ...

    async def expiring(self, year: int, month: int) -> list[PaymentMethod]: ...

    async def make_default(self, m: PaymentMethod, now: datetime) -> None: ...

    async def remove_method(self, m: PaymentMethod, now: datetime) -> None: ...

    async def in_flight(self, method_id: uuid.UUID) -> bool: ...

    async def lock_request_key(self, key: str) -> None:
        """Serialise requests carrying this Idempotency-Key until the transaction ends."""

    async def receive_event(
        self, event_id: str, event_type: str, account: str | None, payload: dict[str, Any], now: datetime
    ) -> uuid.UUID | None:
        """Keep a Stripe event; None when this event id was received before."""

    async def event_payload(self, row_id: uuid.UUID) -> dict[str, Any] | None: ...


class PaymentsUnitOfWork(ConnectionsUnitOfWork, Protocol):
    @property
    def payments(self) -> PaymentStore: ...

    @property
    def ledger(self) -> Ledger: ...


UowFactory = Callable[[], PaymentsUnitOfWork]


class PaymentPending(Exception):
    """Stripe's answer is not known yet; the same request (same key) later finds out without charging twice."""

    def __init__(self, payment: Payment) -> None:
        super().__init__("the payment's outcome is not known yet")
        self.payment = payment


def snapshot(p: Payment) -> dict[str, Any]:
    return {
        "id": str(p.id),
        "client_id": str(p.client_id),
        "status": p.status.value,
        "amount": p.amount,
        "surcharge": p.surcharge,
        "currency": p.currency,
        "invoices": [{"invoice_id": str(a.invoice_id), "amount": a.amount} for a in p.allocations],
        "decline_code": p.decline_code,
    }


async def _stripe(uow: PaymentsUnitOfWork) -> Connection:
    connection = await uow.connections.by_provider(Provider.STRIPE)
    if connection is None or not connection.external_id:
        raise PaymentRefused("Stripe is not connected: connect it before taking payments.")
    return connection


async def _surcharge(
    uow: PaymentsUnitOfWork, clock: Clock, connection: Connection, method: PaymentMethod, request: PayRequest,
    amount: int,
) -> int:  # fmt: skip
    """The surcharge the payer accepted, checked against the rules now (it must match to the cent)."""
    if not request.surcharge:
        return 0
    client = await uow.clients.get(request.client_id)
    assert client is not None, "allocations were checked against the client's invoices"
    policy = surcharge_policy_of(connection)
    decision = decision_for(policy, client, method, amount, request.currency, clock.now().date())
    decision.raise_if_refused()
    if decision.amount != request.surcharge:
        raise ValidationFailed(
            [FieldError("surcharge", f"is {decision.amount} for this payment and method; show the disclosure again")]
        )
    return decision.amount


async def _method_for(uow: PaymentsUnitOfWork, request: PayRequest) -> PaymentMethod:
    if request.method_id is None:
        method = await uow.payments.default_method(request.client_id)
        if method is None:
            raise ValidationFailed([FieldError("payment_method_id", "the client has no default payment method")])
        return method
    method = await uow.payments.method(request.method_id)
    if method is None or method.client_id != request.client_id or not method.active:
        raise ValidationFailed([FieldError("payment_method_id", "no such payment method for this client")])
    return method


async def _start(
    uow: PaymentsUnitOfWork, clock: Clock, request: PayRequest, request_key: str | None
) -> tuple[Payment, str, str]:
    """Step 1: the attempt, committed, holding its amounts. Returns it with the customer and method ids."""
    connection = await _stripe(uow)
    account = str(connection.external_id)
    method = await _method_for(uow, request)
    customer = await uow.payments.customer(request.client_id, account)
    if customer is None:
        raise PaymentRefused("This client has no Stripe customer yet: add a payment method first.")
    invoices: dict[uuid.UUID, Invoice] = {}
    for invoice_id in sorted({a.invoice_id for a in request.allocations}):  # one lock order: no deadlocks
        found = await uow.invoices.get(invoice_id, for_update=True)
        if found is not None:
            invoices[invoice_id] = found
    held = await uow.payments.held(list(invoices))
    check_allocations(request, invoices, held)
    now = clock.now()
    amount = sum(a.amount for a in request.allocations)
    surcharge = await _surcharge(uow, clock, connection, method, request, amount)
    payment = Payment(
        id=new_id(), client_id=request.client_id, method_id=method.id, kind=method.kind,
        currency=request.currency, amount=amount + surcharge, surcharge=surcharge,
        allocations=list(request.allocations),
        status=PaymentStatus.STARTED, recovery_point=RecoveryPoint.STARTED, request_key=request_key,
        stripe_account=account, created_at=now, updated_at=now,
    )  # fmt: skip
    await uow.payments.add(payment)
    await uow.commit()
    return payment, customer, method.stripe_payment_method_id


async def pay(
    uow_factory: UowFactory,
    gateway: PaymentGateway,
    principal: Principal,
    clock: Clock,
    request: PayRequest,
    request_key: str | None,
) -> Payment:
    """Pay invoices with a stored method (off-session). A decline is a failed payment, not an error."""
    principal.require(Scope.PAYMENTS_WRITE)
    async with uow_factory() as uow:
        if request_key:
            # Requests with one key queue here, so the second finds the first's attempt (never a second one).
            await uow.payments.lock_request_key(request_key)
        existing = await uow.payments.by_request_key(request_key) if request_key else None
        if existing is None:
            payment, customer, stripe_method = await _start(uow, clock, request, request_key)
        else:
            if existing.recovery_point is RecoveryPoint.FINISHED:
                return existing  # a retry of a request that completed
            payment = existing
            method = await uow.payments.method(existing.method_id) if existing.method_id else None
            customer = await uow.payments.customer(existing.client_id, existing.stripe_account) or ""
            stripe_method = method.stripe_payment_method_id if method else ""
    charge = ChargeRequest(
        account=payment.stripe_account, customer=customer, payment_method=stripe_method, amount=payment.amount,
        currency=payment.currency, idempotency_key=payment.stripe_idempotency_key(), payment_id=str(payment.id),
        surcharge=payment.surcharge,
    )  # fmt: skip
    try:
        # A resumed attempt may have reached Stripe long ago (its idempotency key lasts about a day): look first.
        found = await gateway.find_intent(charge) if existing is not None else None
        outcome = found if found is not None else await gateway.charge(charge)
    except GatewayUnavailable:
        raise PaymentPending(payment) from None
    return await record_outcome(uow_factory, clock, payment.id, outcome)


async def record_outcome(
    uow_factory: UowFactory, clock: Clock, payment_id: uuid.UUID, outcome: ChargeOutcome
) -> Payment:
    """Step 3 (and what a webhook does): apply Stripe's answer once, under the attempt's row lock."""
    async with uow_factory() as uow:
        payment = await uow.payments.get(payment_id, for_update=True)
        if payment is None:
            raise NotFound("payment", payment_id)
        await settle(uow, clock, payment, outcome)
        await uow.commit()
        return payment


async def settle(uow: PaymentsUnitOfWork, clock: Clock, payment: Payment, outcome: ChargeOutcome) -> None:
    """Move `payment` (locked) to `outcome`; on success, pay its invoices. Idempotent, and never backwards:
    a late `processing` after `succeeded` changes nothing."""
    final = payment.status in (PaymentStatus.SUCCEEDED, PaymentStatus.FAILED, PaymentStatus.CANCELED)
    if final or (payment.status is outcome.status and payment.recovery_point is RecoveryPoint.FINISHED):
        return
    now = clock.now()
    payment.stripe_payment_intent_id = outcome.intent_id or payment.stripe_payment_intent_id
    payment.status = outcome.status
    payment.recovery_point = RecoveryPoint.FINISHED
    payment.failure_code, payment.decline_code = outcome.failure_code, outcome.decline_code
    payment.failure_message = outcome.message
    await uow.payments.update(payment, now)
    events = [
        DomainEvent(_EVENT_FOR.get(outcome.status, PAYMENT_FAILED), uow.tenant_id, payment.id, now, snapshot(payment))
    ]
    if outcome.status is PaymentStatus.SUCCEEDED:
        events += await _apply(uow, payment, now)
    for event in events:
        await uow.outbox.add(event)
    if outcome.status is PaymentStatus.SUCCEEDED:
        # Last: the postings lock the tenant's clearing and AR rows until commit, so hold them briefly.
        await _post(uow, payment, outcome, now)


async def _post(uow: PaymentsUnitOfWork, payment: Payment, outcome: ChargeOutcome, now: datetime) -> None:
    """The ledger: the gross amount to clearing against AR (and surcharge income), then Stripe's fee when it
    is known. Recorded once per payment however often this runs (the ledger's idempotency keys)."""
    allocations = {a.invoice_id: a.amount for a in payment.allocations}
    posting = ledger.payment_succeeded(
        payment.id,
        allocations=allocations,
        amount=payment.amount,
        currency=payment.currency,
        occurred_at=now,
        surcharge=payment.surcharge,
        external_id=payment.stripe_payment_intent_id,
    )
    await uow.ledger.record(posting)
    if outcome.fee:
        await uow.ledger.record(
            ledger.processing_fee(payment.id, fee=outcome.fee, currency=payment.currency, occurred_at=now)
        )


async def _apply(uow: PaymentsUnitOfWork, payment: Payment, now: datetime) -> list[DomainEvent]:
    """The payment's allocations reduce its invoices' balances (checked again: never below zero)."""
    events = []
    for part in sorted(payment.allocations, key=lambda a: a.invoice_id):
        invoice = await uow.invoices.get(part.invoice_id, for_update=True)
        if invoice is None:
            continue
        applied = min(part.amount, invoice.total - invoice.amount_paid)
        invoice.amount_paid += applied
        invoice.status = status_for(invoice.total, invoice.amount_paid)
        invoice.updated_at = now
        await uow.invoices.update_state(invoice)
        data = {"invoice_id": str(invoice.id), "payment_id": str(payment.id), "amount": applied,
                "balance": invoice.balance, "status": invoice.status.value}  # fmt: skip
        kind = INVOICE_PAID if invoice.balance == 0 else INVOICE_PAYMENT_APPLIED
        events.append(DomainEvent(kind, uow.tenant_id, invoice.id, now, data))
    return events


async def get_payment(uow: PaymentsUnitOfWork, principal: Principal, payment_id: uuid.UUID) -> Payment:
    principal.require(Scope.INVOICES_READ)
    found = await uow.payments.get(payment_id)
    if found is None:
        raise NotFound("payment", payment_id)
    return found


async def list_payments(
    uow: PaymentsUnitOfWork, principal: Principal, page: PageRequest, client_id: uuid.UUID | None = None
) -> Page[Payment]:
    principal.require(Scope.INVOICES_READ)
    return await uow.payments.list_page(page, client_id)
