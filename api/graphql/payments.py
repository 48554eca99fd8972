"""GraphQL for payment methods and payments: the same use cases as /v1/payment-methods and /v1/payments
(domain/usecases/payment_methods.py, domain/usecases/payments.py).

`payInvoice` answers what happened as a union member a client can branch on: `Payment` (succeeded, or
processing for ACH), `PaymentDeclined`, `AuthenticationRequired`, `ValidationError`, `PaymentUnavailable`.
Its `idempotencyKey` is required: the same key answers the same payment and never charges twice."""

# strawberry.field(...) with arguments is typed as returning Any; the resolvers themselves are typed.
# mypy: disable-error-code="untyped-decorator"

from __future__ import annotations

import datetime as dt
from enum import Enum
from typing import Annotated

import strawberry

from adapters.db.uow import SqlUnitOfWork
from adapters.stripe.gateway import StripeGateway
from adapters.stripe.methods import StripeMethods
from api.graphql.context import Info, forbidden
from api.graphql.inputs import lookup_id, parse_id
from api.graphql.resolving import page_request, read, validation_error
from api.graphql.scalars import MinorUnits
from api.graphql.types import Connection, InvalidState, Money, NotFound, ValidationError, connection_of
from api.rest.idempotency import MAX_KEY_LENGTH
from api.rest.payments import same_request
from domain import errors
from domain.auth import Forbidden, Scope
from domain.payment_gateway import GatewayUnavailable
from domain.payments import Allocation, PaymentRefused, PayRequest
from domain.payments import Payment as PaymentEntity
from domain.payments import PaymentMethod as PaymentMethodEntity
from domain.payments import PaymentStatus as DomainPaymentStatus
from domain.usecases import payment_methods as methods_uc
from domain.usecases import payments as uc
from domain.usecases.payment_methods import SetupStarted

# -- enums ------------------------------------------------------------------------------------------------


@strawberry.enum
class PaymentMethodKind(Enum):
    CARD = "card"
    US_BANK_ACCOUNT = "us_bank_account"


@strawberry.enum(description="Where a payment is.")
class PaymentStatus(Enum):
    STARTED = "started"  # recorded; Stripe's answer not recorded yet
    PROCESSING = "processing"
    REQUIRES_ACTION = "requires_action"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"


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

    def command(self) -> PayRequest:
        v = errors.Validator()
        v.check(0 < len(self.idempotency_key) <= MAX_KEY_LENGTH, "idempotencyKey", f"1 to {MAX_KEY_LENGTH} characters")
        v.raise_if_any()
        parts = [
            Allocation(parse_id(a.invoice_id, f"invoices[{i}].invoiceId"), a.amount)
            for i, a in enumerate(self.invoices)
        ]
        method = parse_id(self.payment_method_id, "paymentMethodId") if self.payment_method_id else None
        return PayRequest(parse_id(self.client_id, "clientId"), parts, self.currency.upper(), method)


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
    Payment | PaymentDeclined | AuthenticationRequired | ValidationError | PaymentUnavailable,
    strawberry.union("PayInvoiceResult"),
]

_NOT_CONFIGURED = "Stripe is not configured on this deployment."
_STRIPE_DOWN = "Stripe could not be reached; try again in a few seconds."


def _methods_gateway(info: Info) -> StripeMethods | None:
    client = info.context.services.vendors.stripe
    return StripeMethods(client) if client is not None else None


def _unavailable(message: str, retry: bool = False) -> PaymentUnavailable:
    return PaymentUnavailable(message=message, retry=retry)


def _paid(payment: PaymentEntity) -> Payment | PaymentDeclined | AuthenticationRequired:
    node = Payment.of(payment)
    if payment.status in (DomainPaymentStatus.FAILED, DomainPaymentStatus.CANCELED):
        message = payment.failure_message or "The payment was declined."
        return PaymentDeclined(message=message, decline_code=payment.decline_code, payment=node)
    if payment.status is DomainPaymentStatus.REQUIRES_ACTION:
        message = payment.failure_message or "Your bank needs you to confirm this payment."
        return AuthenticationRequired(message=message, payment=node)
    return node


@strawberry.type
class PaymentQuery:
    @strawberry.field(description="A client's stored payment methods, the default first. Scope invoices:read.")
    async def payment_methods(self, info: Info, client_id: strawberry.ID) -> list[PaymentMethod]:
        async def run() -> list[PaymentMethod]:
            async with info.context.uow() as uow:
                found = await methods_uc.list_methods(uow, info.context.principal, parse_id(client_id, "clientId"))
            return [PaymentMethod.of(m) for m in found]

        return await read(run)

    @strawberry.field(description="Cards of every client that stop working within `days`. Scope invoices:read.")
    async def expiring_cards(self, info: Info, days: int = 30) -> list[PaymentMethod]:
        async def run() -> list[PaymentMethod]:
            if not 1 <= days <= 366:
                raise errors.ValidationFailed([errors.FieldError("days", "must be 1 to 366")])
            async with info.context.uow() as uow:
                found = await methods_uc.expiring_cards(uow, info.context.principal, info.context.services.clock, days)
            return [PaymentMethod.of(m) for m in found]

        return await read(run)

    @strawberry.field(description="Payments, newest first, optionally one client's. Scope invoices:read.")
    async def payments(
        self, info: Info, first: int = 50, after: str | None = None, client_id: strawberry.ID | None = None
    ) -> Connection[Payment]:
        async def run() -> Connection[Payment]:
            client = parse_id(client_id, "clientId") if client_id else None
            async with info.context.uow() as uow:
                page = await uc.list_payments(uow, info.context.principal, page_request(first, after), client)
            return connection_of(page, Payment.of)

        return await read(run)

    @strawberry.field(description="One payment, or null when there is none with this id. Scope invoices:read.")
    async def payment(self, info: Info, id: strawberry.ID) -> Payment | None:
        async def run() -> Payment | None:
            try:
                async with info.context.uow() as uow:
                    return Payment.of(await uc.get_payment(uow, info.context.principal, lookup_id(id)))
            except errors.NotFound:
                return None

        return await read(run)


@strawberry.type
class PaymentMutation:
    # The payment use cases commit themselves (paying commits in several steps, around the Stripe call).

    @strawberry.mutation(
        description="Start saving a card or bank account (a Stripe SetupIntent); confirmed at once when "
        "`paymentMethod` is given. Scope payments:write."
    )
    async def setup_payment_method(self, info: Info, input: SetupPaymentMethodInput) -> SetupPaymentMethodResult:
        ctx = info.context
        try:
            ctx.principal.require(Scope.PAYMENTS_WRITE)
            gateway = _methods_gateway(info)
            if gateway is None:
                return _unavailable(_NOT_CONFIGURED)
            client_id = parse_id(input.client_id, "clientId")
            mandate = (input.mandate.ip_address, input.mandate.user_agent) if input.mandate else None
            async with ctx.uow() as uow:
                started = await methods_uc.start_setup(
                    uow, gateway, ctx.principal, ctx.services.clock, client_id, input.kind.value,
                    input.payment_method, mandate,
                )  # fmt: skip
        except Forbidden as exc:
            raise forbidden(exc) from exc
        except errors.ValidationFailed as exc:
            return validation_error(exc)
        except errors.NotFound:
            return NotFound(message=f"No client with id {input.client_id}.", id=input.client_id)
        except PaymentRefused as exc:
            return _unavailable(exc.message)
        except GatewayUnavailable:
            return _unavailable(_STRIPE_DOWN, retry=True)
        return PaymentMethodSetup.of(started)

    @strawberry.mutation(description="Save the method of a SetupIntent that Stripe.js confirmed. Scope payments:write.")
    async def finish_payment_method_setup(
        self, info: Info, client_id: strawberry.ID, setup_intent_id: str
    ) -> FinishPaymentMethodSetupResult:
        ctx = info.context
        try:
            ctx.principal.require(Scope.PAYMENTS_WRITE)
            gateway = _methods_gateway(info)
            if gateway is None:
                return _unavailable(_NOT_CONFIGURED)
            client = parse_id(client_id, "clientId")
            async with ctx.uow() as uow:
                method = await methods_uc.finish_setup(
                    uow, gateway, ctx.principal, ctx.services.clock, client, setup_intent_id
                )
        except Forbidden as exc:
            raise forbidden(exc) from exc
        except errors.ValidationFailed as exc:
            return validation_error(exc)
        except errors.InvalidState as exc:
            return InvalidState(message=exc.message)
        except PaymentRefused as exc:
            return _unavailable(exc.message)
        except GatewayUnavailable:
            return _unavailable(_STRIPE_DOWN, retry=True)
        return PaymentMethod.of(method)

    @strawberry.mutation(description="Make a method its client's default. Scope payments:write.")
    async def set_default_payment_method(self, info: Info, id: strawberry.ID) -> SetDefaultPaymentMethodResult:
        ctx = info.context
        try:
            async with ctx.uow() as uow:
                method = await methods_uc.make_default(uow, ctx.principal, ctx.services.clock, lookup_id(id))
        except Forbidden as exc:
            raise forbidden(exc) from exc
        except errors.NotFound:
            return NotFound(message=f"No payment method with id {id}.", id=id)
        return PaymentMethod.of(method)

    @strawberry.mutation(
        description="Remove a method (detached at Stripe); refused while a payment with it is in progress. "
        "Scope payments:write."
    )
    async def remove_payment_method(self, info: Info, id: strawberry.ID) -> RemovePaymentMethodResult:
        ctx = info.context
        try:
            ctx.principal.require(Scope.PAYMENTS_WRITE)
            gateway = _methods_gateway(info)
            if gateway is None:
                return _unavailable(_NOT_CONFIGURED)
            async with ctx.uow() as uow:
                await methods_uc.remove_method(uow, gateway, ctx.principal, ctx.services.clock, lookup_id(id))
        except Forbidden as exc:
            raise forbidden(exc) from exc
        except errors.NotFound:
            return NotFound(message=f"No payment method with id {id}.", id=id)
        except errors.InvalidState as exc:
            return InvalidState(message=exc.message)
        except PaymentRefused as exc:
            return _unavailable(exc.message)
        except GatewayUnavailable:
            return _unavailable(_STRIPE_DOWN, retry=True)
        return PaymentMethodRemoved(id=id)

    @strawberry.mutation(
        description="Pay invoices, in full or in part, with a stored method (off-session). Scope payments:write."
    )
    async def pay_invoice(self, info: Info, input: PayInvoiceInput) -> PayInvoiceResult:
        ctx = info.context
        services, principal = ctx.services, ctx.principal
        try:
            principal.require(Scope.PAYMENTS_WRITE)
            command = input.command()
            if services.vendors.stripe is None:
                return _unavailable(_NOT_CONFIGURED)
            async with ctx.uow() as uow:
                earlier = await uow.payments.by_request_key(input.idempotency_key)
            if earlier is not None and not same_request(earlier, command):
                field = errors.FieldError("idempotencyKey", "was used with a different payment")
                raise errors.ValidationFailed([field])

            def uow_factory() -> SqlUnitOfWork:
                return services.uow(principal.tenant_id)

            gateway = StripeGateway(services.vendors.stripe)
            payment = await uc.pay(uow_factory, gateway, principal, services.clock, command, input.idempotency_key)
        except Forbidden as exc:
            raise forbidden(exc) from exc
        except errors.ValidationFailed as exc:
            return validation_error(exc)
        except PaymentRefused as exc:
            return _unavailable(exc.message)
        except uc.PaymentPending as exc:
            message = "Stripe's answer is not known yet: retry with the same idempotency key."
            return PaymentUnavailable(message=message, retry=True, payment_id=strawberry.ID(str(exc.payment.id)))
        return _paid(payment)
