"""REST: /v1/payment-methods (a client's stored methods) and /v1/payments (paying invoices with them).

POST /v1/payments is not wrapped in the generic Idempotency-Key replay layer (idempotency.py): that layer
keeps the key claimed in the request's transaction while the work runs and stores the response in it, but
paying commits its attempt before asking Stripe and records Stripe's answer in a transaction of its own
(domain/usecases/payments.py). The use case is idempotent by the key itself, so the key is required and
passed straight to it: a retry with the same key answers the same payment, resuming it if need be.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

import msgspec
import stripe
from litestar import Controller, Request, Response, delete, get, post
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import Parameter

from adapters.db.uow import SqlUnitOfWork
from adapters.stripe.gateway import StripeGateway
from adapters.stripe.methods import StripeMethods
from api.rest.clients import Cursor, Limit
from api.rest.idempotency import required_key
from api.rest.payment_schemas import (
    FinishSetupIn,
    PayIn,
    PaymentList,
    PaymentMethodList,
    PaymentMethodOut,
    PaymentOut,
    SetupMethodIn,
    SetupOut,
)
from api.rest.problems import Problem
from api.rest.security import services_of
from api.services import Services
from domain.auth import Principal, Scope
from domain.pagination import PageRequest
from domain.payments import Payment, PaymentStatus
from domain.usecases import payment_methods as methods_uc
from domain.usecases import payments as uc

IdempotencyKey = Annotated[
    str | None,
    Parameter(
        header="Idempotency-Key",
        description="Required. A retry with the same key answers the same payment and never charges twice.",
    ),
]
ClientId = Annotated[uuid.UUID | None, Parameter(description="Required: the client whose methods to list.")]
Days = Annotated[int, Parameter(ge=1, le=366, description="Cards that stop working within this many days.")]


def stripe_sdk(services: Services) -> stripe.StripeClient:
    """The platform's Stripe client, or a problem when this deployment has no Stripe keys."""
    client = services.vendors.stripe
    if client is None:
        raise Problem(409, "provider_not_configured", "Stripe is not configured on this deployment.")
    return client


class PaymentMethodController(Controller):
    path = "/v1/payment-methods"
    tags = ["payment methods"]

    @post(
        "/setup",
        status_code=201,
        summary="Start saving a payment method",
        description="Scope `payments:write`. Makes the client's Stripe customer (once) and a SetupIntent for "
        "off-session use. With `payment_method` (a PaymentMethod id from Stripe.js) it is confirmed at once: "
        "`status` `succeeded` and the saved method in `payment_method`; a bank account confirmed at once needs "
        "`mandate`. Otherwise, or when the bank asks the payer to authenticate (`requires_action`), confirm "
        "with Stripe.js using `client_secret`, then call `.../finish`. A card refused when saved answers 201 "
        "with `requires_payment_method` and `failure_message`.",
    )
    async def setup(
        self, request: Request[Any, Any, Any], data: SetupMethodIn, principal: Principal, uow: SqlUnitOfWork
    ) -> SetupOut:
        services = services_of(request.app.state)
        principal.require(Scope.PAYMENTS_WRITE)  # before saying whether Stripe is configured
        gateway = StripeMethods(stripe_sdk(services))
        started = await methods_uc.start_setup(
            uow, gateway, principal, services.clock, data.client_id, data.kind, data.payment_method,
            data.mandate_pair(),
        )  # fmt: skip
        return SetupOut.of(started)

    @post(
        "/setup/{setup_intent_id:str}/finish",
        status_code=201,
        summary="Finish saving a payment method",
        description="Scope `payments:write`. Reads the SetupIntent back once Stripe.js confirmed it and saves "
        "the method (the client's first becomes its default). 409 `invalid_state` while it is not succeeded.",
    )
    async def finish(
        self,
        request: Request[Any, Any, Any],
        setup_intent_id: str,
        data: FinishSetupIn,
        principal: Principal,
        uow: SqlUnitOfWork,
    ) -> PaymentMethodOut:
        services = services_of(request.app.state)
        principal.require(Scope.PAYMENTS_WRITE)
        gateway = StripeMethods(stripe_sdk(services))
        method = await methods_uc.finish_setup(uow, gateway, principal, services.clock, data.client_id, setup_intent_id)
        return PaymentMethodOut.of(method)

    @get("/", summary="List a client's payment methods", description="The default first. Scope `invoices:read`.")
    async def list_all(self, principal: Principal, uow: SqlUnitOfWork, client_id: ClientId = None) -> PaymentMethodList:
        if client_id is None:  # checked here, not by Litestar, so that a request without a token hears 401 first
            raise Problem(
                400,
                "validation_failed",
                "client_id is required.",
                errors=[{"field": "client_id", "message": "required"}],
            )
        methods = await methods_uc.list_methods(uow, principal, client_id)
        return PaymentMethodList([PaymentMethodOut.of(m) for m in methods])

    @get(
        "/expiring",
        summary="Cards about to expire",
        description="Cards of every client that stop working within `days` (30 by default), so new ones can be "
        "asked for before autopay fails. Scope `invoices:read`.",
    )
    async def expiring(
        self, request: Request[Any, Any, Any], principal: Principal, uow: SqlUnitOfWork, days: Days = 30
    ) -> PaymentMethodList:
        clock = services_of(request.app.state).clock
        methods = await methods_uc.expiring_cards(uow, principal, clock, days)
        return PaymentMethodList([PaymentMethodOut.of(m) for m in methods])

    @post(
        "/{method_id:uuid}/default",
        status_code=200,
        summary="Make a payment method the client's default",
        description="Scope `payments:write`. Payments without `payment_method_id` use the default.",
    )
    async def make_default(
        self, request: Request[Any, Any, Any], method_id: uuid.UUID, principal: Principal, uow: SqlUnitOfWork
    ) -> PaymentMethodOut:
        clock = services_of(request.app.state).clock
        return PaymentMethodOut.of(await methods_uc.make_default(uow, principal, clock, method_id))

    @delete(
        "/{method_id:uuid}",
        summary="Remove a payment method",
        description="Scope `payments:write`. Detaches it at Stripe. 409 `invalid_state` while a payment with it "
        "is in progress (an ACH debit still settling).",
    )
    async def remove(
        self, request: Request[Any, Any, Any], method_id: uuid.UUID, principal: Principal, uow: SqlUnitOfWork
    ) -> None:
        services = services_of(request.app.state)
        principal.require(Scope.PAYMENTS_WRITE)
        gateway = StripeMethods(stripe_sdk(services))
        await methods_uc.remove_method(uow, gateway, principal, services.clock, method_id)


def _answer(payment: Payment) -> Response[bytes]:
    body = PaymentOut.of(payment)
    if payment.status in (PaymentStatus.FAILED, PaymentStatus.CANCELED):
        raise Problem(
            402,
            "payment_declined",
            payment.failure_message or "The payment was declined.",
            decline_code=payment.decline_code,
            failure_code=payment.failure_code,
            payment=body,
        )
    status = 202 if payment.status is PaymentStatus.REQUIRES_ACTION else 201
    return Response(msgspec.json.encode(body), status_code=status, media_type="application/json")


class PaymentController(Controller):
    path = "/v1/payments"
    tags = ["payments"]

    @post(
        "/",
        summary="Pay invoices",
        description="Scope `payments:write`. Charges a stored method off-session (the client's default when "
        "`payment_method_id` is left out) for one or several invoices, each in full or in part. "
        "`Idempotency-Key` is required (400 without it): the same key answers the same payment and never "
        "charges twice; reused with another body, 422 `idempotency_key_reused`. Answers 201 `succeeded` or "
        "`processing` (ACH: paid once the bank settles it), 202 `requires_action` (the payer must pay "
        "on-session and confirm with their bank), 402 `payment_declined` (the failed payment in `payment`, "
        "the issuer's `decline_code`), 422 for an amount above what is owed, another currency, or a void "
        "invoice, 503 `payment_pending` when Stripe's answer is not known yet (retry with the same key).",
        responses={
            202: ResponseSpec(PaymentOut, description="The payer must authenticate with their bank, on-session."),
        },
    )
    async def pay(
        self,
        request: Request[Any, Any, Any],
        data: PayIn,
        principal: Principal,
        idempotency_key: IdempotencyKey = None,
    ) -> Response[PaymentOut]:
        services = services_of(request.app.state)
        principal.require(Scope.PAYMENTS_WRITE)  # before the key is looked up
        idempotency_key = required_key(idempotency_key, "charge")
        gateway = StripeGateway(stripe_sdk(services))
        command = data.command()
        async with services.uow(principal.tenant_id) as uow:
            earlier = await uow.payments.by_request_key(idempotency_key)
        if earlier is not None and not earlier.answers(command):
            raise Problem(422, "idempotency_key_reused", "This Idempotency-Key was used with a different payment.")

        def uow_factory() -> SqlUnitOfWork:
            return services.uow(principal.tenant_id)

        payment = await uc.pay(uow_factory, gateway, principal, services.clock, command, idempotency_key)
        return _answer(payment)  # type: ignore[return-value]

    @get(
        "/{payment_id:uuid}",
        summary="Get a payment",
        description="Scope `invoices:read`. Once `succeeded`, its dispute moves `status`: `disputed` while a "
        "chargeback is open, `succeeded` again when won, `dispute_lost` when lost (its invoices are owed again), "
        "`returned` for an ACH debit returned after it settled (GET /v1/disputes?payment_id= has the details).",
    )
    async def get_one(self, payment_id: uuid.UUID, principal: Principal, uow: SqlUnitOfWork) -> PaymentOut:
        return PaymentOut.of(await uc.get_payment(uow, principal, payment_id))

    @get("/", summary="List payments", description="Newest first, optionally one client's. Scope `invoices:read`.")
    async def list_all(
        self,
        principal: Principal,
        uow: SqlUnitOfWork,
        limit: Limit = None,
        cursor: Cursor = None,
        client_id: uuid.UUID | None = None,
    ) -> PaymentList:
        page = await uc.list_payments(uow, principal, PageRequest.build(limit, cursor), client_id)
        return PaymentList([PaymentOut.of(p) for p in page.items], page.has_more, page.next_cursor)
