"""REST bodies for payment methods and payments. Requests reject unknown fields; amounts are integers in the
currency's minor unit."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

import msgspec

from domain.payments import Allocation, Payment, PaymentMethod, PayRequest
from domain.usecases.payment_methods import SetupStarted


class _In(msgspec.Struct, forbid_unknown_fields=True):
    pass


class MandateIn(_In):
    """The payer's acceptance of the ACH debit mandate: their browser's IP address and user agent."""

    ip_address: str
    user_agent: str


class SetupMethodIn(_In):
    client_id: uuid.UUID
    kind: Literal["card", "us_bank_account"]
    # A Stripe PaymentMethod id (from Stripe.js, or a test method such as pm_card_visa): confirmed at once.
    payment_method: str | None = None
    mandate: MandateIn | None = None  # required for a bank account confirmed at once

    def mandate_pair(self) -> tuple[str, str] | None:
        return (self.mandate.ip_address, self.mandate.user_agent) if self.mandate else None


class FinishSetupIn(_In):
    client_id: uuid.UUID


class AllocationIn(_In):
    invoice_id: uuid.UUID
    amount: int  # minor units, surcharge excluded


class PayIn(_In):
    client_id: uuid.UUID
    currency: str
    invoices: list[AllocationIn]
    payment_method_id: uuid.UUID | None = None  # the client's default method when left out
    # The card surcharge the payer was shown (POST /v1/payments/surcharge-quote) and accepted; left out: none.
    surcharge: int | None = None

    def command(self) -> PayRequest:
        parts = [Allocation(a.invoice_id, a.amount) for a in self.invoices]
        return PayRequest(self.client_id, parts, self.currency.upper(), self.payment_method_id, self.surcharge)


class PaymentMethodOut(msgspec.Struct):
    id: uuid.UUID
    client_id: uuid.UUID
    kind: str  # card | us_bank_account
    brand: str | None
    funding: str | None  # credit | debit | prepaid | unknown (cards)
    last4: str | None
    exp_month: int | None
    exp_year: int | None
    bank_name: str | None
    is_default: bool
    stripe_payment_method_id: str
    created_at: datetime
    updated_at: datetime
    object: str = "payment_method"

    @staticmethod
    def of(m: PaymentMethod) -> PaymentMethodOut:
        return PaymentMethodOut(
            id=m.id,
            client_id=m.client_id,
            kind=m.kind.value,
            brand=m.brand,
            funding=m.funding,
            last4=m.last4,
            exp_month=m.exp_month,
            exp_year=m.exp_year,
            bank_name=m.bank_name,
            is_default=m.is_default,
            stripe_payment_method_id=m.stripe_payment_method_id,
            created_at=m.created_at,
            updated_at=m.updated_at,
        )


class PaymentMethodList(msgspec.Struct):
    data: list[PaymentMethodOut]
    object: str = "list"


class SetupOut(msgspec.Struct):
    """`status` is Stripe's SetupIntent status. `succeeded`: the method is saved (`payment_method`).
    `requires_action` or `requires_payment_method`: confirm with Stripe.js using `client_secret`, then finish."""

    setup_intent_id: str
    status: str
    client_secret: str | None
    payment_method: PaymentMethodOut | None
    failure_message: str | None
    object: str = "payment_method_setup"

    @staticmethod
    def of(s: SetupStarted) -> SetupOut:
        method = PaymentMethodOut.of(s.method) if s.method is not None else None
        return SetupOut(s.setup_intent_id, s.status, s.client_secret, method, s.failure_message)


class AllocationOut(msgspec.Struct):
    invoice_id: uuid.UUID
    amount: int


class PaymentOut(msgspec.Struct):
    """`amount` is what was charged, `surcharge` included. `status`: succeeded, processing (ACH, until the bank
    settles it), requires_action (the payer must confirm with their bank, on-session), failed, canceled, or
    started (Stripe's answer not recorded yet); after it succeeded: disputed (a chargeback is open, its amount
    held), dispute_lost (the invoices are owed again), returned (an ACH debit returned after it settled), or
    succeeded again when a dispute is won (GET /v1/disputes?payment_id= has the details)."""

    id: uuid.UUID
    client_id: uuid.UUID
    status: str
    amount: int
    surcharge: int
    currency: str
    invoices: list[AllocationOut]
    payment_method_id: uuid.UUID | None
    kind: str  # card | us_bank_account
    decline_code: str | None
    failure_code: str | None
    failure_message: str | None  # for the payer
    stripe_payment_intent_id: str | None
    created_at: datetime
    updated_at: datetime
    object: str = "payment"

    @staticmethod
    def of(p: Payment) -> PaymentOut:
        return PaymentOut(
            id=p.id,
            client_id=p.client_id,
            status=p.status.value,
            amount=p.amount,
            surcharge=p.surcharge,
            currency=p.currency,
            invoices=[AllocationOut(a.invoice_id, a.amount) for a in p.allocations],
            payment_method_id=p.method_id,
            kind=p.kind.value,
            decline_code=p.decline_code,
            failure_code=p.failure_code,
            failure_message=p.failure_message,
            stripe_payment_intent_id=p.stripe_payment_intent_id,
            created_at=p.created_at,
            updated_at=p.updated_at,
        )


class PaymentList(msgspec.Struct):
    data: list[PaymentOut]
    has_more: bool
    next_cursor: str | None
    object: str = "list"
