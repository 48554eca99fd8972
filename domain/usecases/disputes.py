"""Disputes (card chargebacks) and ACH debits returned after they settled: what they do to the payment's
invoices and to the books.

Stripe's events are only hints: every `charge.dispute.*` event re-reads the dispute and brings our state up to
what it says now, in one transaction under the payment's row lock, so duplicates and any order are harmless:
- the dispute row is unique by Stripe's id and never moves back from `won`/`lost`;
- the ledger keys (`dispute_opened:<id>`, `dispute_closed:<id>`) post each step once, and the invoices are
  reopened only by the transaction that recorded the loss.
Funds withdrawn: `dispute_opened` (held in `disputes`, the fee to `dispute_fees`). Won: `dispute_won` (back to
clearing). Lost: `dispute_lost` with the invoices reopened (AR owed again, `amount_paid` reduced) by what the
payer still had paid on each after the payment's refunds; a refunded part disputed again is a plain loss, and
a part no invoice received (the payment's unapplied cash, owed to the payer) leaves `unapplied_payments` first.

An ACH return after settlement arrives from Stripe as a dispute on the bank debit that opens already lost
(Nacha returns have no appeal), with the same $15 fee; it goes the same way, announced as `payment.returned`.
The payment's own status follows (domain/payments.py `status_after_dispute`): `disputed` while a chargeback is
open, `succeeded` again when won, `dispute_lost` when lost, `returned` for an ACH debit returned late.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, cast

from domain import ledger
from domain.auth import Principal, Scope
from domain.events import DomainEvent
from domain.ids import new_id
from domain.invoices import InvoiceStatus, status_for
from domain.pagination import Page, PageRequest
from domain.payment_gateway import DisputeFacts, PaymentGateway
from domain.payments import Payment, status_after_dispute
from domain.ports import Clock
from domain.refunds import Refund, remaining_per_invoice, split_off_unapplied
from domain.usecases.payment_ports import PaymentsUnitOfWork
from domain.usecases.payments import settle
from domain.usecases.refunds import unapplied_available, with_refunds

PAYMENT_DISPUTED = "payment.disputed"
PAYMENT_RETURNED = "payment.returned"  # an ACH debit returned after it settled
DISPUTE_WON = "payment.dispute_won"
DISPUTE_LOST = "payment.dispute_lost"
INVOICE_PAYMENT_REVERSED = "invoice.payment_reversed"
CLOSED = frozenset({"won", "lost"})
EVENTS = frozenset(
    {
        "charge.dispute.created",
        "charge.dispute.updated",
        "charge.dispute.closed",
        "charge.dispute.funds_withdrawn",
        "charge.dispute.funds_reinstated",
    }
)


@dataclass
class Dispute:
    id: uuid.UUID
    payment_id: uuid.UUID
    stripe_dispute_id: str
    currency: str
    amount: int
    fee: int
    reason: str | None
    status: str  # Stripe's: needs_response, under_review, won, lost, ...
    created_at: datetime
    updated_at: datetime


class DisputeStore(Protocol):
    async def save_dispute(self, d: Dispute) -> Dispute:
        """Insert, or update the row with this Stripe id (a closed one keeps its status); the stored row."""

    async def disputes(self, page: PageRequest, payment_id: uuid.UUID | None = None) -> Page[Dispute]: ...

    async def match_payments(self, ids: Sequence[uuid.UUID], intents: Sequence[str]) -> dict[str, uuid.UUID]:
        """Our payments among these ids and PaymentIntent ids: {str(payment id) or intent id: payment id}."""


class DisputesUnitOfWork(PaymentsUnitOfWork, Protocol):
    @property
    def disputes_payouts(self) -> DisputeStore: ...


def store_of(uow: PaymentsUnitOfWork) -> DisputeStore:
    # Stripe event handlers are typed with the payments unit of work; the SQL one carries this store too.
    return cast(DisputesUnitOfWork, uow).disputes_payouts


def _uuid(value: str | None) -> uuid.UUID | None:
    try:
        return uuid.UUID(value) if value else None
    except ValueError:
        return None


async def _find_payment(uow: PaymentsUnitOfWork, facts: DisputeFacts) -> uuid.UUID | None:
    """Ours by the PaymentIntent's metadata, else by the PaymentIntent id we recorded."""
    ids = [i] if (i := _uuid(facts.payment_id)) else []
    found = await store_of(uow).match_payments(ids, [facts.payment_intent] if facts.payment_intent else [])
    return found.get(facts.payment_id or "") or found.get(facts.payment_intent or "")


async def on_dispute_event(
    uow_factory: Callable[[], PaymentsUnitOfWork], gateway: PaymentGateway, clock: Clock, payload: dict[str, Any]
) -> str:
    """A `charge.dispute.*` event: re-read the dispute and record what it says now."""
    obj = (payload.get("data") or {}).get("object") or {}
    account = payload.get("account") or ""
    facts = await gateway.dispute(account, str(obj["id"]))
    async with uow_factory() as uow:
        payment_id = await _find_payment(uow, facts)
        payment = await uow.payments.get(payment_id) if payment_id else None
    if payment is None:
        return "not ours"
    # Disputed means it succeeded; a dispute event that overtook the payment's own events settles it first.
    outcome, intent = None, payment.stripe_payment_intent_id or facts.payment_intent
    if not payment.status.collected and intent:
        outcome = await gateway.intent(account, intent)
    async with uow_factory() as uow:
        locked = await uow.payments.get(payment.id, for_update=True)
        assert locked is not None, "payments are never deleted"
        if outcome is not None and not locked.status.collected:
            await settle(uow, clock, locked, outcome)
        if not locked.status.collected:
            await uow.commit()  # whatever the PaymentIntent said
            return f"payment {locked.id} is {locked.status.value}: nothing was collected to dispute"
        dispute = await apply_dispute(uow, clock, locked, facts)
        await uow.commit()
    return f"dispute {dispute.stripe_dispute_id} on payment {payment.id} {dispute.status}"


async def apply_dispute(uow: PaymentsUnitOfWork, clock: Clock, payment: Payment, facts: DisputeFacts) -> Dispute:
    """Bring the dispute row, the ledger and the invoices up to `facts`, `payment` locked. Idempotent."""
    now = clock.now()
    fresh = Dispute(
        new_id(), payment.id, facts.id, facts.currency, facts.amount, facts.fee, facts.reason, facts.status,
        now, now,
    )  # fmt: skip
    dispute = await store_of(uow).save_dispute(fresh)
    withdrawn = facts.withdrawn > 0 or dispute.status == "lost"
    if withdrawn and await _opened(uow, payment, dispute, facts, now):
        kind = PAYMENT_RETURNED if facts.bank_debit else PAYMENT_DISPUTED
        await uow.outbox.add(DomainEvent(kind, uow.tenant_id, payment.id, now, _snapshot(dispute)))
    if dispute.status == "won" and await uow.ledger.find(f"dispute_opened:{dispute.id}"):
        won = ledger.dispute_won(
            dispute.id, payment_id=payment.id, amount=dispute.amount, currency=dispute.currency, occurred_at=now,
            fee_returned=facts.fee_returned, external_id=dispute.stripe_dispute_id,
        )  # fmt: skip
        if await uow.ledger.record(won):
            await uow.outbox.add(DomainEvent(DISPUTE_WON, uow.tenant_id, payment.id, now, _snapshot(dispute)))
    elif dispute.status == "lost":
        await _lost(uow, payment, dispute, now)
    status = status_after_dispute(payment.status, dispute.status, bank_debit=facts.bank_debit)
    if status is not payment.status:
        payment.status = status
        await uow.payments.update(payment, now)
    return dispute


async def _opened(
    uow: PaymentsUnitOfWork, payment: Payment, dispute: Dispute, facts: DisputeFacts, now: datetime
) -> bool:
    posting = ledger.dispute_opened(
        dispute.id, payment_id=payment.id, amount=dispute.amount, currency=dispute.currency, occurred_at=now,
        fee=facts.fee, external_id=dispute.stripe_dispute_id,
    )  # fmt: skip
    return await uow.ledger.record(posting)


async def _lost(uow: PaymentsUnitOfWork, payment: Payment, dispute: Dispute, now: datetime) -> None:
    """The held funds are gone: the invoices are owed again (AR re-debited, `amount_paid` reduced) by what the
    payer still had paid on them; what had been refunded already is not owed twice, and what no invoice ever
    received (the payment's unapplied cash, owed to the payer) only settles that debt: it re-opens nothing."""
    refunds = await with_refunds(uow).refunds.of_payment(payment.id)
    taken = split_disputed(payment, dispute.amount, refunds)
    parts, unapplied = split_off_unapplied(taken.invoices, await unapplied_available(uow, payment.id, refunds))
    posting = ledger.dispute_lost(
        dispute.id, payment_id=payment.id, allocations=parts, currency=dispute.currency, reopen_invoices=True,
        occurred_at=now, surcharge=taken.surcharge, refunded_before=taken.refunded_before,
        external_id=dispute.stripe_dispute_id, unapplied=unapplied,
    )  # fmt: skip
    # Closed before: the invoices were reopened then. Looked up, not just recorded again: the split may differ
    # by now (a refund in flight has failed since, or the posting predates these rules), and a key recorded
    # with other entries is refused, which would fail every later event about this dispute.
    if await uow.ledger.find(posting.key) is not None or not await uow.ledger.record(posting):
        return
    for invoice_id in sorted(parts):  # one lock order: no deadlocks
        invoice = await uow.invoices.get(invoice_id, for_update=True)
        if invoice is None:
            continue
        reopened = min(parts[invoice_id], invoice.amount_paid)
        invoice.amount_paid -= reopened
        if invoice.status is not InvoiceStatus.VOID:
            invoice.status = status_for(invoice.total, invoice.amount_paid)
        invoice.updated_at = now
        await uow.invoices.update_state(invoice)
        data = {"invoice_id": str(invoice.id), "payment_id": str(payment.id), "dispute_id": str(dispute.id),
                "amount": reopened, "balance": invoice.balance, "status": invoice.status.value}  # fmt: skip
        await uow.outbox.add(DomainEvent(INVOICE_PAYMENT_REVERSED, uow.tenant_id, invoice.id, now, data))
    await uow.outbox.add(DomainEvent(DISPUTE_LOST, uow.tenant_id, payment.id, now, _snapshot(dispute)))


@dataclass(frozen=True)
class TakenBack:
    """What a lost dispute takes back: from each invoice, from the surcharge, and of what had been refunded."""

    invoices: dict[uuid.UUID, int]
    surcharge: int
    refunded_before: int  # refunded to the payer already, and taken again by the network: owed by no invoice


def split_disputed(payment: Payment, amount: int, refunds: Sequence[Refund] = ()) -> TakenBack:
    """What a disputed `amount` (at most the payment's) takes back, summing to it. First what the payer still
    has paid once the payment's refunds are set aside (those that did not fail or get canceled, in flight
    included: each reopens its own invoice parts when it succeeds): the surcharge left pro rata (rounded half
    up), the rest from what is left of each invoice's part, in allocation order. Beyond that, a charge disputed
    after a refund takes the refunded money a second time."""
    amount = min(amount, payment.amount)
    counted = [r for r in refunds if r.status.counts]
    left = remaining_per_invoice(payment, counted)
    surcharge_left = payment.surcharge - sum(r.surcharge for r in counted)
    still_paid = sum(a.amount for a in left) + surcharge_left
    covered = min(amount, still_paid)
    surcharge = (2 * surcharge_left * covered + still_paid) // (2 * still_paid) if still_paid else 0
    rest, parts = covered - surcharge, {}
    for a in left:
        take = min(a.amount, rest)
        if take > 0:
            parts[a.invoice_id] = take
            rest -= take
    return TakenBack(parts, surcharge, amount - covered)


def _snapshot(d: Dispute) -> dict[str, Any]:
    return {
        "id": str(d.id), "payment_id": str(d.payment_id), "stripe_dispute_id": d.stripe_dispute_id,
        "amount": d.amount, "fee": d.fee, "currency": d.currency, "reason": d.reason, "status": d.status,
    }  # fmt: skip


async def list_disputes(
    uow: DisputesUnitOfWork, principal: Principal, page: PageRequest, payment_id: uuid.UUID | None = None
) -> Page[Dispute]:
    """Newest first; one payment's, or every one."""
    principal.require(Scope.INVOICES_READ)
    return await uow.disputes_payouts.disputes(page, payment_id)
