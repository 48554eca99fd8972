"""GraphQL for payment methods and payments: the same use cases as /v1/payment-methods and /v1/payments
(domain/usecases/payment_methods.py, domain/usecases/payments.py).

`payInvoice` answers what happened as a union member a client can branch on: `Payment` (succeeded, or
processing for ACH), `PaymentDeclined`, `AuthenticationRequired`, `ValidationError`, `SurchargeNotAllowed` (a
surcharge asked for where the rules refuse one), `PaymentUnavailable`.
Its `idempotencyKey` is required: the same key answers the same payment and never charges twice."""

# strawberry.field(...) with arguments is typed as returning Any; the resolvers themselves are typed.
# mypy: disable-error-code="untyped-decorator"

from __future__ import annotations

import strawberry

from adapters.db.uow import SqlUnitOfWork
from adapters.stripe.gateway import StripeGateway
from adapters.stripe.methods import StripeMethods
from api.graphql.context import Info, forbidden
from api.graphql.inputs import lookup_id, parse_id
from api.graphql.payment_types import (
    AuthenticationRequired,
    FinishPaymentMethodSetupResult,
    PayInvoiceInput,
    PayInvoiceResult,
    Payment,
    PaymentDeclined,
    PaymentMethod,
    PaymentMethodRemoved,
    PaymentMethodSetup,
    PaymentUnavailable,
    RemovePaymentMethodResult,
    SetDefaultPaymentMethodResult,
    SetupPaymentMethodInput,
    SetupPaymentMethodResult,
)
from api.graphql.resolving import page_request, read, validation_error
from api.graphql.surcharge_types import SurchargeNotAllowed, SurchargeReason
from api.graphql.types import Connection, InvalidState, NotFound, connection_of
from domain import errors
from domain.auth import Forbidden, Scope
from domain.payment_gateway import GatewayUnavailable
from domain.payments import Payment as PaymentEntity
from domain.payments import PaymentRefused
from domain.payments import PaymentStatus as DomainPaymentStatus
from domain.surcharge import SurchargeNotAllowed as SurchargeRefused
from domain.usecases import payment_methods as methods_uc
from domain.usecases import payments as uc

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
            if earlier is not None and not earlier.answers(command):
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
        except SurchargeRefused as exc:
            return SurchargeNotAllowed(message=exc.message, reason=SurchargeReason(exc.reason.value))
        except PaymentRefused as exc:
            return _unavailable(exc.message)
        except uc.PaymentPending as exc:
            message = "Stripe's answer is not known yet: retry with the same idempotency key."
            return PaymentUnavailable(message=message, retry=True, payment_id=strawberry.ID(str(exc.payment.id)))
        return _paid(payment)
