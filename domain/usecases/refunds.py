"""Refunding a succeeded payment, in full or in part, without ever refunding twice.

The same three steps as paying (domain/usecases/payments.py), each its own transaction:
1. record the refund (`started`), under the payment's row lock, checked against what is still refundable;
2. ask Stripe, with an idempotency key derived from the refund (a resumed refund first looks for the refund
   by its metadata, in case Stripe's key has expired meanwhile);
3. record the answer under the refund's row lock; a webhook that got there first has already done it.
On success, what of each invoice part is still unapplied (collected when the invoice no longer owed it) goes
back first, out of `unapplied_payments`, touching no invoice; the rest re-opens the invoices (or, with
`reopen_invoices=False`, they stay paid and the ledger writes it off to the contra-revenue `refunds`); the
ledger is posted once, and the outbox says so.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Protocol, cast

from domain import ledger
from domain.auth import Principal, Scope
from domain.errors import NotFound
from domain.events import DomainEvent
from domain.ids import new_id
from domain.invoices import InvoiceStatus, status_for
from domain.pagination import Page, PageRequest
from domain.payment_gateway import GatewayUnavailable, PaymentGateway, RefundOutcome, RefundRequest
from domain.payments import Payment
from domain.ports import Clock
from domain.refunds import Refund, RefundKeyReused, RefundStatus, check_reason, plan_refund, split_off_unapplied
from domain.usecases.payment_ports import PaymentsUnitOfWork, UowFactory
from domain.usecases.payments import INVOICE_PAID, INVOICE_PAYMENT_APPLIED

REFUND_EVENT = "refund.{}"  # refund.pending, refund.succeeded, refund.failed, refund.canceled
INVOICE_PAYMENT_REVERSED = "invoice.payment_reversed"


class RefundStore(Protocol):
    async def get(self, refund_id: uuid.UUID, *, for_update: bool = False) -> Refund | None: ...

    async def by_request_key(self, key: str) -> Refund | None: ...

    async def of_payment(self, payment_id: uuid.UUID) -> list[Refund]: ...

    async def unsettled_for_intent(self, payment_intent: str) -> list[tuple[Refund, str]]:
        """Refunds still started or pending of the payment with this PaymentIntent, with the payment's
        connected account."""

    async def list_page(self, page: PageRequest, payment_id: uuid.UUID | None = None) -> Page[Refund]: ...

    async def add(self, r: Refund) -> None: ...

    async def update(self, r: Refund, now: datetime) -> None: ...


class RefundsUnitOfWork(PaymentsUnitOfWork, Protocol):
    @property
    def refunds(self) -> RefundStore: ...


class RefundPending(Exception):
    """Stripe's answer is not known yet; the same request (same key) later finds out without refunding twice."""

    def __init__(self, refund: Refund) -> None:
        super().__init__("the refund's outcome is not known yet")
        self.refund = refund


def with_refunds(uow: PaymentsUnitOfWork) -> RefundsUnitOfWork:
    """The Stripe event handlers are given payments' units of work; ours (the composition root's) hold refunds."""
    assert hasattr(uow, "refunds"), "the unit of work has no refunds"
    return cast(RefundsUnitOfWork, uow)


def snapshot(r: Refund) -> dict[str, Any]:
    return {
        "id": str(r.id),
        "payment_id": str(r.payment_id),
        "status": r.status.value,
        "amount": r.amount,
        "surcharge": r.surcharge,
        "currency": r.currency,
        "invoices": [{"invoice_id": str(a.invoice_id), "amount": a.amount} for a in r.allocations],
        "reopen_invoices": r.reopen_invoices,
        "failure_reason": r.failure_reason,
    }


def _same_request(r: Refund, payment_id: uuid.UUID, amount: int | None, reason: str | None, reopen: bool) -> bool:
    same_amount = amount is None or amount == r.invoice_amount  # None: "all that was left" when first asked
    return r.payment_id == payment_id and same_amount and r.reason == reason and r.reopen_invoices == reopen


async def _start(
    uow: RefundsUnitOfWork, clock: Clock, payment_id: uuid.UUID, amount: int | None, request_key: str | None,
    reason: str | None, reopen_invoices: bool,
) -> tuple[Refund, Payment, bool]:  # fmt: skip
    """Step 1: the refund, committed; True when new. The payment's row lock serialises refunds of one payment,
    so a concurrent request with the same key, waiting on it, finds the refund its twin recorded."""
    payment = await uow.payments.get(payment_id, for_update=True)
    if payment is None:
        raise NotFound("payment", payment_id)
    twin = await uow.refunds.by_request_key(request_key) if request_key else None
    if twin is not None:
        return twin, payment, False
    earlier = await uow.refunds.of_payment(payment.id)
    unapplied = await unapplied_available(uow, payment.id, earlier)
    allocations, surcharge = plan_refund(payment, earlier, amount, unapplied)
    now = clock.now()
    refund = Refund(
        id=new_id(), payment_id=payment.id, currency=payment.currency,
        amount=sum(a.amount for a in allocations) + surcharge, surcharge=surcharge, allocations=allocations,
        status=RefundStatus.STARTED, reason=reason, reopen_invoices=reopen_invoices, request_key=request_key,
        created_at=now, updated_at=now,
    )  # fmt: skip
    await uow.refunds.add(refund)
    await uow.commit()
    return refund, payment, True


async def refund_payment(
    uow_factory: UowFactory,
    gateway: PaymentGateway,
    principal: Principal,
    clock: Clock,
    payment_id: uuid.UUID,
    amount: int | None,
    request_key: str | None,
    reason: str | None = None,
    reopen_invoices: bool = True,
) -> Refund:
    """Refund `amount` (the invoice part, minor units; None: all still refundable) of a succeeded payment,
    with its pro-rated surcharge part. A refund Stripe refuses is a failed refund, not an error."""
    principal.require(Scope.PAYMENTS_WRITE)
    check_reason(reason)
    async with uow_factory() as base:
        uow = with_refunds(base)
        existing = await uow.refunds.by_request_key(request_key) if request_key else None
        if existing is None:
            refund, payment, fresh = await _start(uow, clock, payment_id, amount, request_key, reason, reopen_invoices)
        else:
            found = await uow.payments.get(existing.payment_id)
            assert found is not None, "a refund's payment is never deleted"
            refund, payment, fresh = existing, found, False
    if not fresh:  # a retry (or a concurrent twin) of a request with this key
        if not _same_request(refund, payment_id, amount, reason, reopen_invoices):
            raise RefundKeyReused()
        if refund.status is not RefundStatus.STARTED:
            return refund  # it completed (a pending one settles by webhook)
    account, intent = payment.stripe_account, str(payment.stripe_payment_intent_id)
    request = RefundRequest(
        account=account, payment_intent=intent, amount=refund.amount,
        idempotency_key=refund.stripe_idempotency_key(), refund_id=str(refund.id), reason=refund.reason,
    )  # fmt: skip
    try:
        outcome = None if fresh else await gateway.find_refund(account, intent, str(refund.id))
        outcome = outcome or await gateway.refund(request)
    except GatewayUnavailable:
        raise RefundPending(refund) from None
    return await record_refund(uow_factory, clock, refund.id, outcome)


async def record_refund(uow_factory: UowFactory, clock: Clock, refund_id: uuid.UUID, outcome: RefundOutcome) -> Refund:
    """Step 3 (and what a webhook does): apply Stripe's answer once, under the payment's and refund's row locks."""
    async with uow_factory() as base:
        uow = with_refunds(base)
        seen = await uow.refunds.get(refund_id)
        if seen is None:
            raise NotFound("refund", refund_id)
        # The payment's lock first (as when refunds are started): settling refunds of one payment one at a time
        # keeps two of them from giving back the same unapplied part.
        await uow.payments.get(seen.payment_id, for_update=True)
        refund = await uow.refunds.get(refund_id, for_update=True)
        assert refund is not None, "a refund is never deleted"
        await settle_refund(uow, clock, refund, outcome)
        await uow.commit()
        return refund


async def settle_refund(uow: RefundsUnitOfWork, clock: Clock, refund: Refund, outcome: RefundOutcome) -> None:
    """Move `refund` (locked) to `outcome`. Idempotent and never backwards, except that a succeeded refund
    that Stripe later reports failed (the card's bank sent it back) has its effects undone."""
    was = refund.status
    if was in (RefundStatus.FAILED, RefundStatus.CANCELED) or was is outcome.status:
        return
    if was is RefundStatus.SUCCEEDED and outcome.status is RefundStatus.PENDING:
        return  # a late `pending` after `succeeded`
    now = clock.now()
    refund.stripe_refund_id = outcome.stripe_refund_id or refund.stripe_refund_id
    refund.status = outcome.status
    refund.failure_reason = outcome.failure_reason
    await uow.refunds.update(refund, now)
    events = [DomainEvent(REFUND_EVENT.format(refund.status.value), uow.tenant_id, refund.id, now, snapshot(refund))]
    if refund.status is RefundStatus.SUCCEEDED:
        reopened, unapplied = await _split_unapplied(uow, refund)
        events += await _reopen(uow, refund, reopened, now)
        await uow.ledger.record(_posting(refund, reopened, unapplied, now))
    elif was is RefundStatus.SUCCEEDED:
        events += await _undo(uow, refund, now)
    for event in events:
        await uow.outbox.add(event)


async def unapplied_left(uow: PaymentsUnitOfWork, payment_id: uuid.UUID) -> dict[uuid.UUID, int]:
    """Per invoice, what of the payment is still in `unapplied_payments`, as its ledger entries say (the
    payment's `payment_succeeded` credit, less what refunds and a lost dispute gave back, plus reversals)."""
    left: dict[uuid.UUID, int] = {}
    for e in await uow.ledger.entries_of(ledger.Reference("payment", payment_id)):
        if e.account == ledger.UNAPPLIED and e.invoice_id is not None:
            left[e.invoice_id] = left.get(e.invoice_id, 0) - e.amount  # a liability: credits add to it
    return left


async def unapplied_available(
    uow: PaymentsUnitOfWork, payment_id: uuid.UUID, refunds: list[Refund]
) -> dict[uuid.UUID, int]:
    """`unapplied_left`, less what the payment's refunds in flight will take from it first when they settle."""
    unapplied = await unapplied_left(uow, payment_id)
    for r in refunds:
        if r.status in (RefundStatus.STARTED, RefundStatus.PENDING):
            for a in r.allocations:
                unapplied[a.invoice_id] = unapplied.get(a.invoice_id, 0) - a.amount
    return unapplied


async def _split_unapplied(uow: RefundsUnitOfWork, refund: Refund) -> tuple[dict[uuid.UUID, int], dict[uuid.UUID, int]]:
    """`refund`'s invoice parts: (what re-opens the invoices, what leaves the payment's unapplied cash). What is
    still unapplied is read from the ledger, so a refund that failed after succeeding hands its part back; the
    caller holds the payment's lock, so no other refund reads it meanwhile."""
    parts = {a.invoice_id: a.amount for a in refund.allocations}
    return split_off_unapplied(parts, await unapplied_left(uow, refund.payment_id))


def _posting(
    refund: Refund, reopened: dict[uuid.UUID, int], unapplied: dict[uuid.UUID, int], now: datetime
) -> ledger.LedgerTransaction:
    """Clearing credited by what went back; `unapplied_payments` debited by the unapplied parts; AR re-debited
    per invoice by the rest (or the contra-revenue `refunds` when the invoices stay paid), surcharge income
    debited by the surcharge part. Keyed on the refund: once."""
    return ledger.refund(
        refund.id,
        payment_id=refund.payment_id,
        allocations=reopened,
        currency=refund.currency,
        reopen_invoices=refund.reopen_invoices,
        occurred_at=now,
        surcharge=refund.surcharge,
        external_id=refund.stripe_refund_id,
        unapplied=unapplied,
    )


async def _reopen(
    uow: RefundsUnitOfWork, refund: Refund, reopened: dict[uuid.UUID, int], now: datetime
) -> list[DomainEvent]:
    """The refund's re-opening parts are owed again on their invoices (unless they stay paid)."""
    if not refund.reopen_invoices:
        return []
    events = []
    for invoice_id, amount in sorted(reopened.items()):  # one lock order: no deadlocks
        invoice = await uow.invoices.get(invoice_id, for_update=True)
        if invoice is None:
            continue
        reversed_ = min(amount, invoice.amount_paid)
        invoice.amount_paid -= reversed_
        if invoice.status is not InvoiceStatus.VOID:
            invoice.status = status_for(invoice.total, invoice.amount_paid)
        invoice.updated_at = now
        await uow.invoices.update_state(invoice)
        data = {"invoice_id": str(invoice.id), "refund_id": str(refund.id), "payment_id": str(refund.payment_id),
                "amount": reversed_, "balance": invoice.balance, "status": invoice.status.value}  # fmt: skip
        events.append(DomainEvent(INVOICE_PAYMENT_REVERSED, uow.tenant_id, invoice.id, now, data))
    return events


async def _undo(uow: RefundsUnitOfWork, refund: Refund, now: datetime) -> list[DomainEvent]:
    """A succeeded refund that failed after all: the money is back, so its posting is reversed and the
    invoices it re-opened are paid again by the payment."""
    posted = await uow.ledger.find(f"{ledger.Kind.REFUND}:{refund.id}")  # the key `ledger.refund` gives it
    if posted is None:
        return []
    await uow.ledger.record(ledger.reversal_of(posted, occurred_at=now))
    if not refund.reopen_invoices:
        return []
    # Only what re-opened the invoices (AR re-debited) is paid again; an unapplied part is back in
    # `unapplied_payments` by the reversal, and never was the invoice's.
    reopened = {e.invoice_id: e.amount for e in posted.entries if e.account == ledger.AR and e.invoice_id}
    events = []
    for invoice_id, amount in sorted(reopened.items()):
        invoice = await uow.invoices.get(invoice_id, for_update=True)
        if invoice is None or invoice.status is InvoiceStatus.VOID:
            continue
        applied = min(amount, invoice.total - invoice.amount_paid)
        invoice.amount_paid += applied
        invoice.status = status_for(invoice.total, invoice.amount_paid)
        invoice.updated_at = now
        await uow.invoices.update_state(invoice)
        data = {"invoice_id": str(invoice.id), "payment_id": str(refund.payment_id), "amount": applied,
                "balance": invoice.balance, "status": invoice.status.value}  # fmt: skip
        kind = INVOICE_PAID if invoice.balance == 0 else INVOICE_PAYMENT_APPLIED
        events.append(DomainEvent(kind, uow.tenant_id, invoice.id, now, data))
    return events


# -- Stripe's webhook events ------------------------------------------------------------------------------


async def on_stripe_refund_event(
    uow_factory: UowFactory, gateway: PaymentGateway, clock: Clock, payload: dict[str, Any]
) -> str:
    """A refund (refund.*) or a charge's refunds (charge.refunded, charge.refund.updated) changed: record
    what Stripe says now about each of our refunds concerned (re-read: events arrive in any order)."""
    obj = (payload.get("data") or {}).get("object") or {}
    wanted: list[tuple[uuid.UUID, str | None, str, str]] = []  # ours, Stripe's, the PaymentIntent, the account
    if obj.get("object") == "refund":
        ours = (obj.get("metadata") or {}).get("arbridge_refund_id")
        if not ours:
            return "not ours"
        account = str(payload.get("account") or "")
        wanted.append((uuid.UUID(str(ours)), str(obj["id"]), str(obj.get("payment_intent") or ""), account))
    elif obj.get("payment_intent"):
        intent = str(obj["payment_intent"])
        async with uow_factory() as base:
            unsettled = await with_refunds(base).refunds.unsettled_for_intent(intent)
        wanted += [(r.id, r.stripe_refund_id, intent, account) for r, account in unsettled]
    done = []
    for refund_id, stripe_id, intent, account in wanted:
        if stripe_id:
            outcome: RefundOutcome | None = await gateway.refund_state(account, stripe_id)
        else:  # our API call has not recorded Stripe's answer yet
            outcome = await gateway.find_refund(account, intent, str(refund_id))
        if outcome is None:
            continue
        try:
            refund = await record_refund(uow_factory, clock, refund_id, outcome)
        except NotFound:
            continue
        done.append(f"refund {refund.id} {refund.status.value}")
    return "; ".join(done) or "nothing to record"


# What Stripe's events about refunds are handled with (registered in stripe_events.HANDLERS).
REFUND_EVENTS = ("refund.created", "refund.updated", "refund.failed", "charge.refunded", "charge.refund.updated")


async def get_refund(uow: RefundsUnitOfWork, principal: Principal, refund_id: uuid.UUID) -> Refund:
    principal.require(Scope.INVOICES_READ)
    found = await uow.refunds.get(refund_id)
    if found is None:
        raise NotFound("refund", refund_id)
    return found


async def list_refunds(
    uow: RefundsUnitOfWork, principal: Principal, page: PageRequest, payment_id: uuid.UUID | None = None
) -> Page[Refund]:
    principal.require(Scope.INVOICES_READ)
    return await uow.refunds.list_page(page, payment_id)
