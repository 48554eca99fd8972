"""Payments: stored methods, attempts to collect on invoices, and the rules for what may be paid.

An attempt is recorded before Stripe is asked to charge, then moves through recovery points:

    started --(PaymentIntent created or found by its idempotency key)--> intent_created --> finished

and through statuses:

    started -> succeeded | processing (ACH, until its webhook) | requires_action (3-D Secure) | failed
    processing -> succeeded | failed (an ACH return)
    succeeded -> disputed (a chargeback is open: its funds are held) -> succeeded (won) | dispute_lost
    succeeded | disputed -> returned (an ACH debit the bank returned after it had settled)

While `started` or `processing` it holds its amounts against the invoices it pays, so that concurrent
requests never collect more than an invoice's balance. Once collected (succeeded and after), only its dispute
moves it (`status_after_dispute`); the PaymentIntent's own events no longer do.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from domain.errors import DomainError, FieldError, ValidationFailed
from domain.invoices import Invoice, InvoiceStatus


class MethodKind(StrEnum):
    CARD = "card"
    BANK = "us_bank_account"


class PaymentStatus(StrEnum):
    STARTED = "started"  # recorded; Stripe's answer not yet recorded
    PROCESSING = "processing"  # ACH: the bank settles (or returns) within days
    REQUIRES_ACTION = "requires_action"  # the card's bank wants the payer present (3-D Secure)
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"
    DISPUTED = "disputed"  # collected, then charged back: the disputed amount is held until the network decides
    DISPUTE_LOST = "dispute_lost"  # the chargeback was lost: the money is gone and the invoices are owed again
    RETURNED = "returned"  # an ACH debit returned after it settled (Nacha returns are final): as a lost dispute

    @property
    def holds_balance(self) -> bool:
        return self in (PaymentStatus.STARTED, PaymentStatus.PROCESSING)

    @property
    def collected(self) -> bool:
        """The charge succeeded, whatever became of it since: Stripe's PaymentIntent says `succeeded` for ever,
        so its (late or repeated) events must not move the payment back to `succeeded`."""
        return self in _COLLECTED


_COLLECTED = frozenset(
    {PaymentStatus.SUCCEEDED, PaymentStatus.DISPUTED, PaymentStatus.DISPUTE_LOST, PaymentStatus.RETURNED}
)
# Stripe's inquiry statuses: a question from the card network, no funds withdrawn, the charge still refundable.
_INQUIRY = frozenset({"warning_needs_response", "warning_under_review", "warning_closed"})


def status_after_dispute(current: PaymentStatus, dispute_status: str, *, bank_debit: bool) -> PaymentStatus:
    """A collected payment's status given its dispute's (Stripe's) status. An inquiry changes nothing; an open
    chargeback makes it `disputed`; won, back to `succeeded`; lost, `dispute_lost` (`returned` for an ACH
    debit). A loss is final: no later word about the dispute moves the payment back."""
    if current in (PaymentStatus.DISPUTE_LOST, PaymentStatus.RETURNED):
        return current
    if dispute_status == "lost":
        return PaymentStatus.RETURNED if bank_debit else PaymentStatus.DISPUTE_LOST
    if dispute_status in _INQUIRY:
        return current
    if dispute_status == "won":
        return PaymentStatus.SUCCEEDED
    return PaymentStatus.DISPUTED  # needs_response, under_review, or a status Stripe adds later: held


class RecoveryPoint(StrEnum):
    STARTED = "started"
    INTENT_CREATED = "intent_created"
    FINISHED = "finished"


@dataclass
class PaymentMethod:
    id: uuid.UUID
    client_id: uuid.UUID
    stripe_payment_method_id: str
    kind: MethodKind
    brand: str | None
    funding: str | None  # credit | debit | prepaid | unknown (cards)
    last4: str | None
    exp_month: int | None
    exp_year: int | None
    bank_name: str | None
    is_default: bool
    active: bool
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class Allocation:
    invoice_id: uuid.UUID
    amount: int  # minor units, surcharge excluded


@dataclass
class Payment:
    id: uuid.UUID
    client_id: uuid.UUID
    method_id: uuid.UUID | None
    kind: MethodKind
    currency: str
    amount: int  # charged, surcharge included
    surcharge: int
    allocations: list[Allocation]
    status: PaymentStatus
    recovery_point: RecoveryPoint
    request_key: str | None
    stripe_account: str
    created_at: datetime
    updated_at: datetime
    stripe_payment_intent_id: str | None = None
    failure_code: str | None = None
    decline_code: str | None = None
    failure_message: str | None = None
    events: list[str] = field(default_factory=list)  # what changed in this unit of work, for the outbox

    @property
    def invoice_amount(self) -> int:
        return self.amount - self.surcharge

    def answers(self, r: PayRequest) -> bool:
        """Whether this attempt is the one `r` asks for (an Idempotency-Key reused for another payment is not)."""
        parts = {(a.invoice_id, a.amount) for a in self.allocations}
        wanted = {(a.invoice_id, a.amount) for a in r.allocations}
        same_method = r.method_id is None or r.method_id == self.method_id
        same_payer = self.client_id == r.client_id and self.currency == r.currency
        return same_payer and parts == wanted and same_method and (r.surcharge or 0) == self.surcharge

    def stripe_idempotency_key(self) -> str:
        """Derived from the attempt, so a resumed attempt reaches the same PaymentIntent."""
        return f"arbridge-payment-{self.id}"


class PaymentRefused(DomainError):
    """The payment cannot be attempted (a caller's mistake, not a decline)."""

    code = "payment_refused"


@dataclass(frozen=True)
class PayRequest:
    client_id: uuid.UUID
    allocations: list[Allocation]
    currency: str
    method_id: uuid.UUID | None  # None: the client's default method
    # The surcharge the payer was shown (quote_surcharge) and accepted; None or 0: no surcharge is added.
    surcharge: int | None = None


def check_allocations(request: PayRequest, invoices: dict[uuid.UUID, Invoice], held: dict[uuid.UUID, int]) -> None:
    """Every invoice exists, is the client's, is in the payment's currency, is not void, and the amount asked
    is more than zero and at most what is still owed once amounts held by other attempts are set aside."""
    errors: list[FieldError] = []
    if not request.allocations:
        errors.append(FieldError("invoices", "name at least one invoice"))
    seen: set[uuid.UUID] = set()
    for i, part in enumerate(request.allocations):
        at = f"invoices[{i}]"
        invoice = invoices.get(part.invoice_id)
        if part.invoice_id in seen:
            errors.append(FieldError(at, "the same invoice twice"))
            continue
        seen.add(part.invoice_id)
        if invoice is None or invoice.client_id != request.client_id:
            errors.append(FieldError(f"{at}.invoice_id", "no such invoice for this client"))
            continue
        if invoice.status is InvoiceStatus.VOID:
            errors.append(FieldError(at, f"invoice {invoice.number} is void: nothing can be paid on it"))
        elif invoice.currency != request.currency:
            errors.append(FieldError(f"{at}.currency", f"invoice {invoice.number} is in {invoice.currency}"))
        elif invoice.origin is not None and invoice.origin.number_issue is not None:
            errors.append(
                FieldError(at, f"invoice {invoice.number} has a {invoice.origin.number_issue} number; fix it first")
            )
        else:
            open_amount = invoice.balance - held.get(invoice.id, 0)
            if part.amount <= 0:
                errors.append(FieldError(f"{at}.amount", "must be more than 0"))
            elif part.amount > open_amount:
                errors.append(
                    FieldError(
                        f"{at}.amount",
                        f"is more than the {open_amount} still owed on invoice {invoice.number}"
                        + (" (other payments are in progress)" if held.get(invoice.id) else ""),
                    )
                )
    if errors:
        raise ValidationFailed(errors)
