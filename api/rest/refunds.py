"""REST: /v1/refunds (giving back all or part of a succeeded payment, its surcharge pro-rated).

Like POST /v1/payments, POST /v1/refunds takes the Idempotency-Key straight to the use case rather than through
the generic replay layer: refunding commits its refund before asking Stripe and records the answer in a
transaction of its own (domain/usecases/refunds.py), and is idempotent by the key itself.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import Parameter

from adapters.db.uow import SqlUnitOfWork
from adapters.stripe.gateway import StripeGateway
from api.rest.clients import Cursor, Limit
from api.rest.idempotency import required_key
from api.rest.payment_schemas import AllocationOut
from api.rest.payments import stripe_sdk
from api.rest.problems import Problem
from api.rest.security import services_of
from domain.auth import Principal, Scope
from domain.pagination import PageRequest
from domain.refunds import Refund, RefundStatus
from domain.usecases import refunds as uc

IdempotencyKey = Annotated[
    str | None,
    Parameter(
        header="Idempotency-Key",
        description="Required. A retry with the same key answers the same refund and never refunds twice.",
    ),
]


class RefundIn(msgspec.Struct, forbid_unknown_fields=True):
    payment_id: uuid.UUID
    # The invoice part in minor units, surcharge excluded; left out: everything still refundable.
    amount: int | None = None
    reason: Literal["duplicate", "fraudulent", "requested_by_customer"] | None = None
    # False: the invoices stay paid and the refund is written off (the contra-revenue account `refunds`).
    reopen_invoices: bool = True


class RefundOut(msgspec.Struct):
    """`amount` is what goes back to the payer, `surcharge` (the pro-rated surcharge part) included; `invoices`
    the invoice part per invoice. `status`: succeeded, pending (the bank has not confirmed it yet: ACH),
    failed (`failure_reason`), canceled, or started (Stripe's answer not recorded yet)."""

    id: uuid.UUID
    payment_id: uuid.UUID
    status: str
    amount: int
    surcharge: int
    currency: str
    invoices: list[AllocationOut]
    reason: str | None
    reopen_invoices: bool
    failure_reason: str | None
    stripe_refund_id: str | None
    created_at: datetime
    updated_at: datetime
    object: str = "refund"

    @staticmethod
    def of(r: Refund) -> RefundOut:
        return RefundOut(
            id=r.id,
            payment_id=r.payment_id,
            status=r.status.value,
            amount=r.amount,
            surcharge=r.surcharge,
            currency=r.currency,
            invoices=[AllocationOut(a.invoice_id, a.amount) for a in r.allocations],
            reason=r.reason,
            reopen_invoices=r.reopen_invoices,
            failure_reason=r.failure_reason,
            stripe_refund_id=r.stripe_refund_id,
            created_at=r.created_at,
            updated_at=r.updated_at,
        )


class RefundList(msgspec.Struct):
    data: list[RefundOut]
    has_more: bool
    next_cursor: str | None
    object: str = "list"


def _answer(refund: Refund) -> Response[bytes]:
    body = RefundOut.of(refund)
    if refund.status in (RefundStatus.FAILED, RefundStatus.CANCELED):
        detail = f"Stripe did not make the refund: {refund.failure_reason or refund.status.value}."
        raise Problem(409, "refund_failed", detail, refund=body)
    return Response(msgspec.json.encode(body), status_code=201, media_type="application/json")


class RefundController(Controller):
    path = "/v1/refunds"
    tags = ["refunds"]

    @post(
        "/",
        summary="Refund a payment",
        description="Scope `payments:write`. Gives back `amount` (the invoice part, minor units; left out: all "
        "that is still refundable) of a succeeded payment, with the surcharge part pro-rated (several partial "
        "refunds give back exactly the surcharge in total). Split across the payment's invoices pro rata to "
        "what each can still get back. With `reopen_invoices` (the default) the invoices are owed again by "
        "their parts; otherwise they stay paid and the refund is written off. `Idempotency-Key` is required "
        "(400 without it): the same key answers the same refund and never refunds twice; reused with another "
        "body, 422 `idempotency_key_reused`. Answers 201 `succeeded` or `pending` (ACH: until the bank "
        "confirms; a webhook settles it), 409 `refund_refused` (the payment did not succeed, or is refunded "
        "in full), 409 `refund_failed` (Stripe refused it; the failed refund in `refund`), 422 for an amount "
        "above what is refundable, 503 `refund_pending` when Stripe's answer is not known yet (retry with the "
        "same key).",
        responses={409: ResponseSpec(None, description="`refund_refused` or `refund_failed`.")},
    )
    async def refund(
        self,
        request: Request[Any, Any, Any],
        data: RefundIn,
        principal: Principal,
        idempotency_key: IdempotencyKey = None,
    ) -> Response[RefundOut]:
        services = services_of(request.app.state)
        principal.require(Scope.PAYMENTS_WRITE)  # before the key is looked up
        idempotency_key = required_key(idempotency_key, "refund")
        gateway = StripeGateway(stripe_sdk(services))

        def uow_factory() -> SqlUnitOfWork:
            return services.uow(principal.tenant_id)

        refund = await uc.refund_payment(
            uow_factory, gateway, principal, services.clock, data.payment_id, data.amount, idempotency_key,
            data.reason, data.reopen_invoices,
        )  # fmt: skip
        return _answer(refund)  # type: ignore[return-value]

    @get("/{refund_id:uuid}", summary="Get a refund", description="Scope `invoices:read`.")
    async def get_one(self, refund_id: uuid.UUID, principal: Principal, uow: SqlUnitOfWork) -> RefundOut:
        return RefundOut.of(await uc.get_refund(uow, principal, refund_id))

    @get("/", summary="List refunds", description="Newest first, optionally one payment's. Scope `invoices:read`.")
    async def list_all(
        self,
        principal: Principal,
        uow: SqlUnitOfWork,
        limit: Limit = None,
        cursor: Cursor = None,
        payment_id: uuid.UUID | None = None,
    ) -> RefundList:
        page = await uc.list_refunds(uow, principal, PageRequest.build(limit, cursor), payment_id)
        return RefundList([RefundOut.of(r) for r in page.items], page.has_more, page.next_cursor)
