"""GraphQL for refunds: the same use cases as /v1/refunds (domain/usecases/refunds.py).

`refundPayment` answers what happened as a union member: `Refund` (succeeded, or pending until the bank
confirms), `RefundFailed` (Stripe refused it), `RefundRefused` (the payment did not succeed, or is refunded in
full), `ValidationError`, `NotFound`, `PaymentUnavailable`. Its `idempotencyKey` is required: the same key
answers the same refund and never refunds twice."""

# strawberry.field(...) with arguments is typed as returning Any; the resolvers themselves are typed.
# mypy: disable-error-code="untyped-decorator"

from __future__ import annotations

import datetime as dt
from enum import Enum
from typing import Annotated

import strawberry

from adapters.db.uow import SqlUnitOfWork
from adapters.stripe.gateway import StripeGateway
from api.graphql.context import Info, forbidden
from api.graphql.inputs import lookup_id, parse_id
from api.graphql.payment_types import PaymentAllocation, PaymentUnavailable
from api.graphql.resolving import page_request, read, validation_error
from api.graphql.scalars import MinorUnits
from api.graphql.types import Connection, Money, NotFound, ValidationError, connection_of
from api.rest.idempotency import MAX_KEY_LENGTH
from domain import errors
from domain.auth import Forbidden, Scope
from domain.refunds import Refund as RefundEntity
from domain.refunds import RefundRefused as RefundRefusedError
from domain.refunds import RefundStatus as DomainRefundStatus
from domain.usecases import refunds as uc


@strawberry.enum(description="Where a refund is.")
class RefundStatus(Enum):
    STARTED = "started"  # recorded; Stripe's answer not recorded yet
    PENDING = "pending"  # the bank has not confirmed it yet (ACH)
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"


@strawberry.enum(description="Why the payer is refunded (Stripe's reasons).")
class RefundReason(Enum):
    DUPLICATE = "duplicate"
    FRAUDULENT = "fraudulent"
    REQUESTED_BY_CUSTOMER = "requested_by_customer"


@strawberry.type(description="Money given back on a payment: the invoice part per invoice plus the surcharge part.")
class Refund:
    id: strawberry.ID
    payment_id: strawberry.ID
    status: RefundStatus
    amount: Money = strawberry.field(description="What goes back to the payer, surcharge part included.")
    surcharge: Money = strawberry.field(description="The surcharge part, pro-rated on the amount refunded.")
    invoices: list[PaymentAllocation]
    reason: RefundReason | None
    reopen_invoices: bool = strawberry.field(description="Whether the invoices are owed again by their parts.")
    failure_reason: str | None
    stripe_refund_id: str | None
    created_at: dt.datetime
    updated_at: dt.datetime

    @staticmethod
    def of(r: RefundEntity) -> Refund:
        def money(amount: int) -> Money:
            return Money(amount=MinorUnits(amount), currency=r.currency)

        return Refund(
            id=strawberry.ID(str(r.id)),
            payment_id=strawberry.ID(str(r.payment_id)),
            status=RefundStatus(r.status.value),
            amount=money(r.amount),
            surcharge=money(r.surcharge),
            invoices=[PaymentAllocation(invoice_id=strawberry.ID(str(a.invoice_id)), amount=money(a.amount))
                      for a in r.allocations],
            reason=RefundReason(r.reason) if r.reason else None,
            reopen_invoices=r.reopen_invoices,
            failure_reason=r.failure_reason,
            stripe_refund_id=r.stripe_refund_id,
            created_at=r.created_at,
            updated_at=r.updated_at,
        )  # fmt: skip


@strawberry.type(description="Stripe did not make the refund; nothing else changed.")
class RefundFailed:
    message: str
    refund: Refund


@strawberry.type(
    description="The payment cannot be refunded: it did not succeed, is disputed (or lost to a dispute), or is "
    "refunded in full."
)
class RefundRefused:
    message: str


@strawberry.input
class RefundPaymentInput:
    payment_id: strawberry.ID
    amount: MinorUnits | None = strawberry.field(
        default=None, description="The invoice part, surcharge excluded; left out: all that is still refundable."
    )
    reason: RefundReason | None = None
    reopen_invoices: bool = strawberry.field(
        default=True, description="False: the invoices stay paid and the refund is written off."
    )
    idempotency_key: str = strawberry.field(
        description="A new key per refund, the same one when retrying it: a retry never refunds twice."
    )


RefundPaymentResult = Annotated[
    Refund | RefundFailed | RefundRefused | ValidationError | NotFound | PaymentUnavailable,
    strawberry.union("RefundPaymentResult"),
]


def _refunded(refund: RefundEntity) -> Refund | RefundFailed:
    node = Refund.of(refund)
    if refund.status in (DomainRefundStatus.FAILED, DomainRefundStatus.CANCELED):
        message = f"Stripe did not make the refund: {refund.failure_reason or refund.status.value}."
        return RefundFailed(message=message, refund=node)
    return node


@strawberry.type
class RefundQuery:
    @strawberry.field(description="Refunds, newest first, optionally one payment's. Scope invoices:read.")
    async def refunds(
        self, info: Info, first: int = 50, after: str | None = None, payment_id: strawberry.ID | None = None
    ) -> Connection[Refund]:
        async def run() -> Connection[Refund]:
            payment = parse_id(payment_id, "paymentId") if payment_id else None
            async with info.context.uow() as uow:
                page = await uc.list_refunds(uow, info.context.principal, page_request(first, after), payment)
            return connection_of(page, Refund.of)

        return await read(run)

    @strawberry.field(description="One refund, or null when there is none with this id. Scope invoices:read.")
    async def refund(self, info: Info, id: strawberry.ID) -> Refund | None:
        async def run() -> Refund | None:
            try:
                async with info.context.uow() as uow:
                    return Refund.of(await uc.get_refund(uow, info.context.principal, lookup_id(id)))
            except errors.NotFound:
                return None

        return await read(run)


@strawberry.type
class RefundMutation:
    # The refund use case commits itself (in several steps, around the Stripe call).

    @strawberry.mutation(
        description="Refund all or part of a succeeded payment, its surcharge pro-rated. Scope payments:write."
    )
    async def refund_payment(self, info: Info, input: RefundPaymentInput) -> RefundPaymentResult:
        ctx = info.context
        services, principal = ctx.services, ctx.principal
        try:
            principal.require(Scope.PAYMENTS_WRITE)
            v = errors.Validator()
            key = input.idempotency_key
            v.check(0 < len(key) <= MAX_KEY_LENGTH, "idempotencyKey", f"1 to {MAX_KEY_LENGTH} characters")
            v.raise_if_any()
            payment_id = parse_id(input.payment_id, "paymentId")
            if services.vendors.stripe is None:
                return PaymentUnavailable(message="Stripe is not configured on this deployment.", retry=False)

            def uow_factory() -> SqlUnitOfWork:
                return services.uow(principal.tenant_id)

            reason = input.reason.value if input.reason else None
            refund = await uc.refund_payment(
                uow_factory, StripeGateway(services.vendors.stripe), principal, services.clock, payment_id,
                input.amount, key, reason, input.reopen_invoices,
            )  # fmt: skip
        except Forbidden as exc:
            raise forbidden(exc) from exc
        except errors.ValidationFailed as exc:
            return validation_error(exc)
        except errors.NotFound:
            return NotFound(message=f"No payment with id {input.payment_id}.", id=input.payment_id)
        except RefundRefusedError as exc:
            return RefundRefused(message=exc.message)
        except uc.RefundPending as exc:
            message = f"Stripe's answer is not known yet: retry refund {exc.refund.id} with the same idempotency key."
            return PaymentUnavailable(message=message, retry=True)
        return _refunded(refund)
