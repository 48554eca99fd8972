"""Paying invoices with a stored method, without ever charging twice.

Three steps, two of them transactions, in the style of Brandur Leach's idempotency keys:
1. record the attempt (its request key and invoices locked, amounts checked against what is owed and what other
   attempts hold);
2. ask Stripe, with an idempotency key derived from the attempt: asked again, Stripe answers with the same
   PaymentIntent instead of charging again;
3. record the answer under the attempt's row lock; a webhook that got there first has already done it.
A crash anywhere leaves an attempt that the same request (same Idempotency-Key) resumes from its recovery point.

What is owed is checked at step 1, under the invoices' locks: a request for more is refused before anything is
charged. What lands between that check and Stripe's answer (a payment recorded in the PSA and synced, a void)
can no longer be refused: the money is collected. Step 3 then applies only what each invoice still owes, and
keeps the rest visibly as unapplied cash owed to the payer (a `payment.unapplied` event and the ledger's
`unapplied_payments`), so that what invoices received and what the ledger credits to AR always agree.

Each step asks its store for everything at once (`open_attempt`, `locked_for_settling`, `record_settlement`):
this is the hot path of autopay, and a round trip to PostgreSQL costs more than the work done in it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from domain import ledger
from domain.auth import Principal, Scope
from domain.errors import FieldError, NotFound, ValidationFailed
from domain.events import DomainEvent
from domain.ids import new_id
from domain.invoices import Invoice, status_for
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
from domain.ports import Clock
from domain.usecases.payment_ports import AttemptFacts, PaymentsUnitOfWork, Settlement, UowFactory
from domain.usecases.surcharges import decision_for, policy_from_json

PAYMENT_SUCCEEDED = "payment.succeeded"
PAYMENT_FAILED = "payment.failed"
PAYMENT_PROCESSING = "payment.processing"
PAYMENT_REQUIRES_ACTION = "payment.requires_action"
PAYMENT_UNAPPLIED = "payment.unapplied"  # collected for invoices that no longer owed it: held for the payer
INVOICE_PAID = "invoice.paid"
INVOICE_PAYMENT_APPLIED = "invoice.payment_applied"

_EVENT_FOR = {
    PaymentStatus.SUCCEEDED: PAYMENT_SUCCEEDED,
    PaymentStatus.FAILED: PAYMENT_FAILED,
    PaymentStatus.PROCESSING: PAYMENT_PROCESSING,
    PaymentStatus.REQUIRES_ACTION: PAYMENT_REQUIRES_ACTION,
}


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


async def _surcharge(
    uow: PaymentsUnitOfWork, clock: Clock, facts: AttemptFacts, method: PaymentMethod, request: PayRequest,
    amount: int,
) -> int:  # fmt: skip
    """The surcharge the payer accepted, checked against the rules now (it must match to the cent)."""
    if not request.surcharge:
        return 0
    client = await uow.clients.get(request.client_id)
    assert client is not None, "allocations were checked against the client's invoices"
    policy = policy_from_json(facts.stripe_settings.get("surcharge"))
    decision = decision_for(policy, client, method, amount, request.currency, clock.now().date())
    decision.raise_if_refused()
    if decision.amount != request.surcharge:
        raise ValidationFailed(
            [FieldError("surcharge", f"is {decision.amount} for this payment and method; show the disclosure again")]
        )
    return decision.amount


def _method_of(request: PayRequest, method: PaymentMethod | None) -> PaymentMethod:
    if request.method_id is None:
        if method is None:
            raise ValidationFailed([FieldError("payment_method_id", "the client has no default payment method")])
        return method
    if method is None or method.client_id != request.client_id or not method.active:
        raise ValidationFailed([FieldError("payment_method_id", "no such payment method for this client")])
    return method


@dataclass
class Attempt:
    """An attempt on its way to Stripe: the payment, and the customer and method to charge."""

    payment: Payment
    customer: str
    stripe_method: str
    resumed: bool = False  # recorded by an earlier request: it may have reached Stripe already


async def prepare_attempt(
    uow: PaymentsUnitOfWork, clock: Clock, request: PayRequest, request_key: str | None, facts: AttemptFacts
) -> Attempt:
    """Step 1's checks and the attempt they allow, not yet written. Raises PaymentRefused or ValidationFailed,
    having written nothing."""
    account = facts.stripe_account
    if not account:
        raise PaymentRefused("Stripe is not connected: connect it before taking payments.")
    method = _method_of(request, facts.method)
    if facts.customer is None:
        raise PaymentRefused("This client has no Stripe customer yet: add a payment method first.")
    check_allocations(request, facts.invoices, facts.held)
    now = clock.now()
    amount = sum(a.amount for a in request.allocations)
    surcharge = await _surcharge(uow, clock, facts, method, request, amount)
    payment = Payment(
        id=new_id(), client_id=request.client_id, method_id=method.id, kind=method.kind,
        currency=request.currency, amount=amount + surcharge, surcharge=surcharge,
        allocations=list(request.allocations),
        status=PaymentStatus.STARTED, recovery_point=RecoveryPoint.STARTED, request_key=request_key,
        stripe_account=account, created_at=now, updated_at=now,
    )  # fmt: skip
    return Attempt(payment, facts.customer, method.stripe_payment_method_id)


async def resume(uow: PaymentsUnitOfWork, existing: Payment) -> Attempt:
    """An attempt recorded before and not finished (its request retried, or a crash): charged again with the
    same idempotency key, after looking for what it may have created then."""
    method = await uow.payments.method(existing.method_id) if existing.method_id else None
    customer = await uow.payments.customer(existing.client_id, existing.stripe_account) or ""
    return Attempt(existing, customer, method.stripe_payment_method_id if method else "", resumed=True)


async def ask_stripe(gateway: PaymentGateway, attempt: Attempt) -> ChargeOutcome:
    """Step 2: the PaymentIntent, created (or found) with the attempt's idempotency key. Raises PaymentPending
    when Stripe cannot be reached: the attempt stays as it is, for the same request to resume."""
    payment = attempt.payment
    charge = ChargeRequest(
        account=payment.stripe_account, customer=attempt.customer, payment_method=attempt.stripe_method,
        amount=payment.amount, currency=payment.currency, idempotency_key=payment.stripe_idempotency_key(),
        payment_id=str(payment.id), surcharge=payment.surcharge,
    )  # fmt: skip
    try:
        # A resumed attempt may have reached Stripe long ago (its idempotency key lasts about a day): look first.
        found = await gateway.find_intent(charge) if attempt.resumed else None
        return found if found is not None else await gateway.charge(charge)
    except GatewayUnavailable:
        raise PaymentPending(payment) from None


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
        # Requests with one key queue on its lock, so the second finds the first's attempt (never a second one).
        facts = await uow.payments.open_attempt(request_key, request)
        existing = facts.existing
        if existing is None:  # step 1: the attempt, committed, holding its amounts
            attempt = await prepare_attempt(uow, clock, request, request_key, facts)
            await uow.payments.add(attempt.payment)
            await uow.commit()
        elif existing.recovery_point is RecoveryPoint.FINISHED:
            return existing  # a retry of a request that completed
        else:
            attempt = await resume(uow, existing)
    outcome = await ask_stripe(gateway, attempt)
    return await record_outcome(uow_factory, clock, attempt.payment.id, outcome)


async def record_outcome(
    uow_factory: UowFactory, clock: Clock, payment_id: uuid.UUID, outcome: ChargeOutcome
) -> Payment:
    """Step 3 (and what a webhook does): apply Stripe's answer once, under the attempt's row lock."""
    async with uow_factory() as uow:
        # Only a success touches the invoices: lock them with the payment (payment first, as everywhere).
        found = await uow.payments.locked_for_settling(
            payment_id, with_invoices=outcome.status is PaymentStatus.SUCCEEDED
        )
        if found is None:
            raise NotFound("payment", payment_id)
        payment, invoices = found
        await settle(uow, clock, payment, outcome, invoices)
        await uow.commit()
        return payment


async def settle(
    uow: PaymentsUnitOfWork, clock: Clock, payment: Payment, outcome: ChargeOutcome,
    invoices: dict[uuid.UUID, Invoice] | None = None,
) -> None:  # fmt: skip
    """Move `payment` (locked) to `outcome`; on success, pay its invoices. Idempotent, and never backwards:
    a late `processing` after `succeeded` changes nothing. `invoices`: the payment's invoices, already locked
    (after the payment); without them, a success locks them here."""
    if not moves(payment, outcome):
        return
    if outcome.status is PaymentStatus.SUCCEEDED and invoices is None:
        invoices = await uow.payments.lock_invoices(sorted({a.invoice_id for a in payment.allocations}))
    await uow.payments.record_settlement(settlement_of(uow.tenant_id, clock, payment, outcome, invoices or {}))


def moves(payment: Payment, outcome: ChargeOutcome) -> bool:
    """Whether `outcome` changes `payment`. Collected (succeeded, and whatever its dispute made of it since) or
    failed for good: nothing moves it back; the same status again, once recorded, changes nothing."""
    final = payment.status.collected or payment.status in (PaymentStatus.FAILED, PaymentStatus.CANCELED)
    return not (final or (payment.status is outcome.status and payment.recovery_point is RecoveryPoint.FINISHED))


def settlement_of(
    tenant_id: uuid.UUID, clock: Clock, payment: Payment, outcome: ChargeOutcome, invoices: dict[uuid.UUID, Invoice]
) -> Settlement:
    """What moving `payment` to `outcome` writes (call when `moves`); a success pays `invoices` (the payment's,
    locked), changing them in place, so a later settlement in the same transaction sees what this one left."""
    now = clock.now()
    payment.stripe_payment_intent_id = outcome.intent_id or payment.stripe_payment_intent_id
    payment.status = outcome.status
    payment.recovery_point = RecoveryPoint.FINISHED
    payment.failure_code, payment.decline_code = outcome.failure_code, outcome.decline_code
    payment.failure_message = outcome.message
    payment.updated_at = now
    kind = _EVENT_FOR.get(outcome.status, PAYMENT_FAILED)
    settlement = Settlement(payment, events=[DomainEvent(kind, tenant_id, payment.id, now, snapshot(payment))])
    if outcome.status is PaymentStatus.SUCCEEDED:
        _apply(tenant_id, payment, invoices, outcome, now, settlement)
    return settlement


def _apply(
    tenant_id: uuid.UUID, payment: Payment, invoices: dict[uuid.UUID, Invoice], outcome: ChargeOutcome,
    now: datetime, into: Settlement,
) -> None:  # fmt: skip
    """The payment's allocations reduce its invoices' balances, never below zero. What an invoice no longer owed
    (paid meanwhile by other means, e.g. in the PSA, or voided) is unapplied: owed to the payer, and the ledger
    credits exactly what each invoice received to AR. Postings come last in the settlement's writes: they lock
    the tenant's clearing and AR rows until commit, so they are held briefly."""
    applied: dict[uuid.UUID, int] = {}
    unapplied: dict[uuid.UUID, int] = {}
    for part in sorted(payment.allocations, key=lambda a: a.invoice_id):
        invoice = invoices.get(part.invoice_id)
        amount = min(part.amount, max(invoice.balance, 0)) if invoice is not None else 0
        if amount < part.amount:
            unapplied[part.invoice_id] = part.amount - amount
        if invoice is None or amount == 0:
            continue
        applied[invoice.id] = amount
        invoice.amount_paid += amount
        invoice.status = status_for(invoice.total, invoice.amount_paid)
        invoice.updated_at = now
        into.invoices.append(invoice)
        data = {"invoice_id": str(invoice.id), "payment_id": str(payment.id), "amount": amount,
                "balance": invoice.balance, "status": invoice.status.value}  # fmt: skip
        kind = INVOICE_PAID if invoice.balance == 0 else INVOICE_PAYMENT_APPLIED
        into.events.append(DomainEvent(kind, tenant_id, invoice.id, now, data))
    if unapplied:
        data = {"payment_id": str(payment.id), "client_id": str(payment.client_id), "currency": payment.currency,
                "amount": sum(unapplied.values()),
                "invoices": [{"invoice_id": str(i), "amount": a} for i, a in unapplied.items()]}  # fmt: skip
        into.events.append(DomainEvent(PAYMENT_UNAPPLIED, tenant_id, payment.id, now, data))
    # Recorded once per payment however often this runs (the ledger's idempotency keys).
    posting = ledger.payment_succeeded(
        payment.id, allocations=applied, amount=payment.amount, currency=payment.currency, occurred_at=now,
        surcharge=payment.surcharge, external_id=payment.stripe_payment_intent_id, unapplied=unapplied,
    )  # fmt: skip
    into.postings.append(posting)
    if outcome.fee:  # Stripe's fee, when the balance transaction came with the answer
        into.postings.append(
            ledger.processing_fee(payment.id, fee=outcome.fee, currency=payment.currency, occurred_at=now)
        )


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
