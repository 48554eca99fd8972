"""Refunds: giving back all or part of a succeeded payment, its surcharge pro-rated.

A refund is recorded before Stripe is asked, then moves through statuses:

    started -> succeeded | pending (ACH: until the bank confirms; card refunds rarely) | failed | canceled
    pending -> succeeded | failed | canceled
    succeeded -> failed (rare: the card's bank sent it back, Stripe's `refund.failed`): its effects are undone

`started` is the one recovery point: Stripe's answer is not recorded yet, and the same request (same
Idempotency-Key) asks Stripe again with the idempotency key derived from the refund, which cannot refund twice.

What a refund gives back (`plan_refund`):
- the invoice part: more than 0 and at most what is still refundable, i.e. the payment's invoice amount less
  the invoice parts of its earlier refunds that did not fail or get canceled (those in flight included, so
  concurrent refunds never give back more than was paid);
- the surcharge part: pro-rated on the cumulative invoice part (`prorated_surcharge_refund`), so the surcharge
  parts of several refunds add up to exactly the surcharge once everything is refunded, and never more;
- across the payment's invoices: pro rata to what each invoice can still get back, remainders by the largest
  fraction (ties in the payment's invoice order); what is still unapplied on them (collected when they no
  longer owed it) is split first, so a refund gives that back before it re-opens any invoice. The parts sum
  exactly to the invoice part, none exceeds what its invoice can get back, and refunding what is left always
  returns exactly each invoice's remainder.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from domain.errors import FieldError, InvalidState, ValidationFailed
from domain.payments import Allocation, Payment, PaymentStatus
from domain.surcharge_receipts import prorated_surcharge_refund

# Stripe's refund reasons (anything else it refuses).
REASONS = ("duplicate", "fraudulent", "requested_by_customer")


class RefundStatus(StrEnum):
    STARTED = "started"  # recorded; Stripe's answer not yet recorded
    PENDING = "pending"  # Stripe accepted it; the money has not reached the payer yet (ACH)
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"

    @property
    def counts(self) -> bool:
        """Whether it gives (or may still give) money back: failed and canceled refunds gave nothing."""
        return self not in (RefundStatus.FAILED, RefundStatus.CANCELED)


@dataclass
class Refund:
    id: uuid.UUID
    payment_id: uuid.UUID
    currency: str
    amount: int  # given back to the payer, surcharge part included
    surcharge: int  # the surcharge part
    allocations: list[Allocation]  # the invoice part, per invoice
    status: RefundStatus
    reason: str | None
    reopen_invoices: bool
    request_key: str | None
    created_at: datetime
    updated_at: datetime
    stripe_refund_id: str | None = None
    failure_reason: str | None = None

    @property
    def invoice_amount(self) -> int:
        return self.amount - self.surcharge

    def stripe_idempotency_key(self) -> str:
        """Derived from the refund, so a resumed refund reaches the same Stripe refund."""
        return f"arbridge-refund-{self.id}"


class RefundRefused(InvalidState):
    """The payment cannot be refunded in its state (not succeeded, or refunded in full already)."""

    code = "refund_refused"


class RefundKeyReused(ValidationFailed):
    code = "idempotency_key_reused"

    def __init__(self) -> None:
        super().__init__([FieldError("idempotency_key", "was used with a different refund")])


def refundable(payment: Payment, earlier: Sequence[Refund]) -> int:
    """What of the payment's invoice amount can still be refunded."""
    return payment.invoice_amount - sum(r.invoice_amount for r in earlier if r.status.counts)


def check_reason(reason: str | None) -> None:
    if reason is not None and reason not in REASONS:
        raise ValidationFailed([FieldError("reason", f"must be one of {', '.join(REASONS)}")])


def plan_refund(
    payment: Payment, earlier: Sequence[Refund], amount: int | None, unapplied: Mapping[uuid.UUID, int] | None = None
) -> tuple[list[Allocation], int]:
    """The invoice parts and the surcharge part of refunding `amount` (the invoice part; None: all that is
    left) of `payment`, given its earlier refunds and what of it is still `unapplied` per invoice (owed to the
    payer: no invoice received it), which goes back first. Raises RefundRefused or ValidationFailed."""
    if payment.status is not PaymentStatus.SUCCEEDED:
        raise RefundRefused(f"Only a succeeded payment can be refunded; this one is {payment.status.value}.")
    left = refundable(payment, earlier)
    if amount is None:
        if left <= 0:
            raise RefundRefused("This payment has been refunded in full already.")
        amount = left
    elif amount <= 0:
        raise ValidationFailed([FieldError("amount", "must be more than 0")])
    elif amount > left:
        raise ValidationFailed([FieldError("amount", f"is more than the {left} still refundable on this payment")])
    counted = [r for r in earlier if r.status.counts]
    surcharge = prorated_surcharge_refund(
        payment.surcharge,
        payment.invoice_amount,
        amount,
        already_refunded_amount=sum(r.invoice_amount for r in counted),
        already_refunded_surcharge=sum(r.surcharge for r in counted),
    )
    return split_unapplied_first(amount, remaining_per_invoice(payment, counted), unapplied or {}), surcharge


def split_unapplied_first(
    amount: int, remaining: Sequence[Allocation], unapplied: Mapping[uuid.UUID, int]
) -> list[Allocation]:
    """`amount` across invoices: first over what is still unapplied on them (pro rata), then the rest over what
    each can still get back (pro rata, as `split`), so a refund re-opens no invoice while unapplied cash is left."""
    held = [Allocation(a.invoice_id, min(a.amount, max(unapplied.get(a.invoice_id, 0), 0))) for a in remaining]
    first = min(amount, sum(h.amount for h in held))
    parts = {p.invoice_id: p.amount for p in split(first, held)} if first else {}
    if amount > first:  # all that was unapplied is taken: the rest within what each invoice has left
        others = [Allocation(a.invoice_id, a.amount - parts.get(a.invoice_id, 0)) for a in remaining]
        for p in split(amount - first, others):
            parts[p.invoice_id] = parts.get(p.invoice_id, 0) + p.amount
    return [Allocation(a.invoice_id, parts[a.invoice_id]) for a in remaining if parts.get(a.invoice_id)]


def split_off_unapplied(
    parts: Mapping[uuid.UUID, int], unapplied: Mapping[uuid.UUID, int]
) -> tuple[dict[uuid.UUID, int], dict[uuid.UUID, int]]:
    """Money going back to the payer, per invoice (`parts`), split into what re-opens each invoice and what comes
    out of the cash still `unapplied` on it (collected when the invoice no longer owed it: the invoice never
    received it). The unapplied cash goes first: the payer's claim on it is settled before any invoice is owed
    again. Returns (reopened, unapplied), zero parts left out."""
    reopened: dict[uuid.UUID, int] = {}
    held: dict[uuid.UUID, int] = {}
    for invoice_id, amount in parts.items():
        taken = min(amount, max(unapplied.get(invoice_id, 0), 0))
        if taken:
            held[invoice_id] = taken
        if amount > taken:
            reopened[invoice_id] = amount - taken
    return reopened, held


def remaining_per_invoice(payment: Payment, counted: Sequence[Refund]) -> list[Allocation]:
    """What each invoice of the payment can still get back, in the payment's invoice order."""
    given: dict[uuid.UUID, int] = {}
    for r in counted:
        for a in r.allocations:
            given[a.invoice_id] = given.get(a.invoice_id, 0) + a.amount
    return [Allocation(a.invoice_id, a.amount - given.get(a.invoice_id, 0)) for a in payment.allocations]


def split(amount: int, remaining: Sequence[Allocation]) -> list[Allocation]:
    """`amount` across invoices pro rata to `remaining` (largest remainder), zero parts left out.

    Each share is floor(amount x r / total) plus at most 1; a share gets the 1 only when its fraction is
    non-zero, so it stays within r whenever amount <= total."""
    total = sum(a.amount for a in remaining)
    if not 0 < amount <= total:
        raise ValueError(f"cannot split {amount} over {total}")
    floors = [(a.invoice_id, amount * a.amount // total, amount * a.amount % total) for a in remaining]
    short = amount - sum(f for _, f, _ in floors)
    ranked = sorted(range(len(floors)), key=lambda i: (-floors[i][2], i))
    bumped = set(ranked[:short])
    parts = [Allocation(inv, f + (1 if i in bumped else 0)) for i, (inv, f, _) in enumerate(floors)]
    return [p for p in parts if p.amount > 0]
