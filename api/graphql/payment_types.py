"""GraphQL types of payment methods and payments (the resolvers are in api/graphql/payments.py)."""

# mypy: disable-error-code="untyped-decorator"

from __future__ import annotations

import datetime as dt
from enum import Enum
from typing import Annotated

import strawberry

from api.graphql.inputs import parse_id
from api.graphql.scalars import MinorUnits
from api.graphql.surcharge_types import SurchargeNotAllowed
from api.graphql.types import InvalidState, Money, NotFound, ValidationError
from api.rest.idempotency import MAX_KEY_LENGTH
from domain import errors
from domain.payments import Allocation, PayRequest
from domain.payments import Payment as PaymentEntity
from domain.payments import PaymentMethod as PaymentMethodEntity
from domain.usecases.payment_methods import SetupStarted

# -- enums ------------------------------------------------------------------------------------------------


@strawberry.enum
class PaymentMethodKind(Enum):
    CARD = "card"
    US_BANK_ACCOUNT = "us_bank_account"


@strawberry.enum(
    description="Where a payment is. Once SUCCEEDED, its dispute moves it: DISPUTED while a chargeback is open, "
    "SUCCEEDED again when won, DISPUTE_LOST when lost (the invoices are owed again), RETURNED for an ACH debit "
    "returned after it settled."
)
class PaymentStatus(Enum):
    STARTED = "started"  # recorded; Stripe's answer not recorded yet
    PROCESSING = "processing"
    REQUIRES_ACTION = "requires_action"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"
    DISPUTED = "disputed"  # a chargeback is open: its amount is held until the card network decides
    DISPUTE_LOST = "dispute_lost"  # the chargeback was lost: the invoices are owed again
    RETURNED = "returned"  # an ACH debit the bank returned after it had settled


# -- objects ----------------------------------------------------------------------------------------------


@strawberry.type(description="A client's stored card or bank account (a Stripe PaymentMethod).")
class PaymentMethod:
    id: strawberry.ID
    client_id: strawberry.ID
    kind: PaymentMethodKind
    brand: str | None
    funding: str | None = strawberry.field(description="credit, debit, prepaid or unknown (cards).")
    last4: str | None
    exp_month: int | None
    exp_year: int | None
    bank_name: str | None
    is_default: bool = strawberry.field(description="Used by payments that name no method.")
    created_at: dt.datetime
    updated_at: dt.datetime

    @staticmethod
    def of(m: PaymentMethodEntity) -> PaymentMethod:
        return PaymentMethod(
            id=strawberry.ID(str(m.id)),
            client_id=strawberry.ID(str(m.client_id)),
            kind=PaymentMethodKind(m.kind.value),
            brand=m.brand,
            funding=m.funding,
            last4=m.last4,
            exp_month=m.exp_month,
            exp_year=m.exp_year,
            bank_name=m.bank_name,
            is_default=m.is_default,
            created_at=m.created_at,
            updated_at=m.updated_at,
        )


@strawberry.type(description="What a payment pays on one invoice (surcharge excluded).")
class PaymentAllocation:
    invoice_id: strawberry.ID
    amount: Money


@strawberry.type(description="An attempt to collect on one or several invoices.")
class Payment:
    id: strawberry.ID
    client_id: strawberry.ID
    status: PaymentStatus
    amount: Money = strawberry.field(description="What was charged, surcharge included.")
    surcharge: Money
    invoices: list[PaymentAllocation]
    payment_method_id: strawberry.ID | None
    kind: PaymentMethodKind
    decline_code: str | None = strawberry.field(description="The issuer's reason for a decline.")
    failure_code: str | None
    failure_message: str | None = strawberry.field(description="For the payer, in plain words.")
    stripe_payment_intent_id: str | None
    created_at: dt.datetime
    updated_at: dt.datetime

    @staticmethod
    def of(p: PaymentEntity) -> Payment:
        def money(amount: int) -> Money:
            return Money(amount=MinorUnits(amount), currency=p.currency)

        return Payment(
            id=strawberry.ID(str(p.id)),
            client_id=strawberry.ID(str(p.client_id)),
            status=PaymentStatus(p.status.value),
            amount=money(p.amount),
            surcharge=money(p.surcharge),
            invoices=[PaymentAllocation(invoice_id=strawberry.ID(str(a.invoice_id)), amount=money(a.amount))
                      for a in p.allocations],
            payment_method_id=strawberry.ID(str(p.method_id)) if p.method_id else None,
            kind=PaymentMethodKind(p.kind.value),
            decline_code=p.decline_code,
            failure_code=p.failure_code,
            failure_message=p.failure_message,
            stripe_payment_intent_id=p.stripe_payment_intent_id,
            created_at=p.created_at,
            updated_at=p.updated_at,
        )  # fmt: skip


@strawberry.type(
    description="A SetupIntent. SUCCEEDED: the method is saved (`paymentMethod`). Otherwise confirm it with "
    "Stripe.js using `clientSecret`, then call `finishPaymentMethodSetup`."
)
class PaymentMethodSetup:
    setup_intent_id: str
    status: str = strawberry.field(description="Stripe's SetupIntent status.")
    client_secret: str | None
    payment_method: PaymentMethod | None
    failure_message: str | None

    @staticmethod
    def of(s: SetupStarted) -> PaymentMethodSetup:
        return PaymentMethodSetup(
            setup_intent_id=s.setup_intent_id,
            status=s.status,
            client_secret=s.client_secret,
            payment_method=PaymentMethod.of(s.method) if s.method else None,
            failure_message=s.failure_message,
        )


@strawberry.type(description="The card or bank declined: the payment failed. Pay with another method.")
class PaymentDeclined:
    message: str = strawberry.field(description="For the payer, in plain words.")
    decline_code: str | None = strawberry.field(description="The issuer's reason (insufficient_funds, ...).")
    payment: Payment


@strawberry.type(description="The payer's bank wants them to confirm this payment: pay it on-session.")
class AuthenticationRequired:
    message: str
    payment: Payment


@strawberry.type(
    description="Payments cannot be taken just now (`retry`: ask again later with the same idempotency key) "
    "or here (Stripe not configured or not connected, or the client has no Stripe customer yet)."
)
class PaymentUnavailable:
    message: str
    retry: bool
    payment_id: strawberry.ID | None = strawberry.field(
        default=None, description="The attempt whose outcome is not known yet, when there is one."
    )


@strawberry.type
class PaymentMethodRemoved:
    id: strawberry.ID


# -- inputs -----------------------------------------------------------------------------------------------


@strawberry.input(description="The payer's acceptance of the ACH debit mandate.")
class MandateInput:
    ip_address: str
    user_agent: str


@strawberry.input
class SetupPaymentMethodInput:
    client_id: strawberry.ID
    kind: PaymentMethodKind
    payment_method: str | None = strawberry.field(
        default=None, description="A Stripe PaymentMethod id (from Stripe.js): the setup is confirmed at once."
    )
    mandate: MandateInput | None = strawberry.field(
        default=None, description="Required for a bank account confirmed at once."
    )


@strawberry.input
class PaymentAllocationInput:
    invoice_id: strawberry.ID
    amount: MinorUnits = strawberry.field(description="Surcharge excluded.")


@strawberry.input
class PayInvoiceInput:
    client_id: strawberry.ID
    currency: str
    invoices: list[PaymentAllocationInput]
    payment_method_id: strawberry.ID | None = strawberry.field(
        default=None, description="The client's default method when left out."
    )
    idempotency_key: str = strawberry.field(
        description="A new key per payment, the same one when retrying it: a retry never charges twice."
    )
    surcharge: MinorUnits | None = strawberry.field(
        default=None,
        description="The card surcharge the payer was shown (`surchargeQuote`) and accepted; left out: none.",
    )

    def command(self) -> PayRequest:
        v = errors.Validator()
        v.check(0 < len(self.idempotency_key) <= MAX_KEY_LENGTH, "idempotencyKey", f"1 to {MAX_KEY_LENGTH} characters")
        v.raise_if_any()
        parts = [
            Allocation(parse_id(a.invoice_id, f"invoices[{i}].invoiceId"), a.amount)
            for i, a in enumerate(self.invoices)
        ]
        method = parse_id(self.payment_method_id, "paymentMethodId") if self.payment_method_id else None
        client = parse_id(self.client_id, "clientId")
        return PayRequest(client, parts, self.currency.upper(), method, self.surcharge)


SetupPaymentMethodResult = Annotated[
    PaymentMethodSetup | ValidationError | NotFound | PaymentUnavailable, strawberry.union("SetupPaymentMethodResult")
]
FinishPaymentMethodSetupResult = Annotated[
    PaymentMethod | InvalidState | ValidationError | PaymentUnavailable,
    strawberry.union("FinishPaymentMethodSetupResult"),
]
SetDefaultPaymentMethodResult = Annotated[PaymentMethod | NotFound, strawberry.union("SetDefaultPaymentMethodResult")]
RemovePaymentMethodResult = Annotated[
    PaymentMethodRemoved | NotFound | InvalidState | PaymentUnavailable, strawberry.union("RemovePaymentMethodResult")
]
PayInvoiceResult = Annotated[
    Payment | PaymentDeclined | AuthenticationRequired | ValidationError | SurchargeNotAllowed | PaymentUnavailable,
    strawberry.union("PayInvoiceResult"),
]
