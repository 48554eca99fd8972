"""GraphQL for the card surcharge policy and the quote a payer sees before paying: the same use cases as
/v1/payments/surcharge-policy and /v1/payments/surcharge-quote (domain/usecases/surcharges.py), with the same
scopes. Expected failures are union members: `ValidationError` (an invalid policy, a bad amount or currency, a
malformed id), `NotFound` (a client or method that is not this tenant's), `PaymentUnavailable` (Stripe not
connected: the policy lives on the Stripe connection). A surcharge the rules refuse is not a failure of the
quote (it answers surcharge 0 and the `reason`), only of a payment that asks for one (`SurchargeNotAllowed`)."""

# strawberry.field(...) with arguments is typed as returning Any; the resolvers themselves are typed.
# mypy: disable-error-code="untyped-decorator"

from __future__ import annotations

from typing import Annotated

import strawberry

from api.graphql.context import Info, forbidden
from api.graphql.payment_types import PaymentUnavailable
from api.graphql.resolving import validation_error
from api.graphql.surcharge_types import SurchargePolicy, SurchargePolicyInput, SurchargeQuote, SurchargeQuoteInput
from api.graphql.types import NotFound, ValidationError
from domain import errors
from domain.auth import Forbidden, Scope
from domain.payments import PaymentRefused
from domain.usecases import surcharges as uc

SurchargePolicyResult = Annotated[SurchargePolicy | PaymentUnavailable, strawberry.union("SurchargePolicyResult")]
SetSurchargePolicyResult = Annotated[
    SurchargePolicy | ValidationError | PaymentUnavailable, strawberry.union("SetSurchargePolicyResult")
]
SurchargeQuoteResult = Annotated[
    SurchargeQuote | ValidationError | NotFound | PaymentUnavailable, strawberry.union("SurchargeQuoteResult")
]


def _not_connected(exc: PaymentRefused) -> PaymentUnavailable:
    return PaymentUnavailable(message=exc.message, retry=False)


@strawberry.type
class SurchargeQuery:
    @strawberry.field(description="The card surcharge policy. Scope invoices:read.")
    async def surcharge_policy(self, info: Info) -> SurchargePolicyResult:
        ctx = info.context
        try:
            async with ctx.uow() as uow:
                policy = await uc.get_policy(uow, ctx.principal)
        except Forbidden as exc:
            raise forbidden(exc) from exc
        except PaymentRefused as exc:
            return _not_connected(exc)
        return SurchargePolicy.of(policy)

    @strawberry.field(
        description="Quote the surcharge for paying `amount` with a client's stored method: what the payer must be "
        "shown before paying. Scope invoices:read."
    )
    async def surcharge_quote(self, info: Info, input: SurchargeQuoteInput) -> SurchargeQuoteResult:
        ctx = info.context
        try:
            ctx.principal.require(Scope.INVOICES_READ)  # before the input is looked at
            client_id, method_id = input.ids()
            async with ctx.uow() as uow:
                quote = await uc.quote(
                    uow, ctx.principal, ctx.services.clock, client_id, method_id, input.amount, input.currency
                )
        except Forbidden as exc:
            raise forbidden(exc) from exc
        except errors.ValidationFailed as exc:
            return validation_error(exc)
        except errors.NotFound as exc:
            missing = input.client_id if exc.kind == "client" else input.payment_method_id
            return NotFound(message=exc.message, id=missing)
        except PaymentRefused as exc:
            return _not_connected(exc)
        return SurchargeQuote.of(quote)


@strawberry.type
class SurchargeMutation:
    @strawberry.mutation(
        description="Set the card surcharge policy. Scope admin. Surcharges apply to credit cards only, within the "
        "card networks' caps, the payer's state law and the cost of acceptance."
    )
    async def set_surcharge_policy(self, info: Info, input: SurchargePolicyInput) -> SetSurchargePolicyResult:
        ctx = info.context
        try:
            ctx.principal.require(Scope.ADMIN)  # before the input is looked at
            wanted = input.policy()
            async with ctx.uow() as uow:
                saved = await uc.set_policy(uow, ctx.principal, ctx.services.clock, wanted)
                await uow.commit()
        except Forbidden as exc:
            raise forbidden(exc) from exc
        except errors.ValidationFailed as exc:
            return validation_error(exc)
        except PaymentRefused as exc:
            return _not_connected(exc)
        return SurchargePolicy.of(saved)
