"""The MSP's card surcharge policy, and the quote a payer sees (and accepts) before paying with a card."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

import msgspec
from litestar import Controller, Request, get, post, put

from adapters.db.uow import SqlUnitOfWork
from api.rest.security import services_of
from domain.auth import Principal
from domain.surcharge import SurchargePolicy
from domain.usecases import surcharges as uc


class SurchargePolicyBody(msgspec.Struct, forbid_unknown_fields=True):
    """Off unless `enabled`. Rates in basis points (300 = 3%); fixed parts in minor units of `currency`.
    Surcharging starts 30 days after `notice_given_on` (the day the acquirer was told)."""

    enabled: bool = False
    rate_bps: int = 0
    fixed_minor: int = 0
    cost_of_acceptance_bps: int = 0
    cost_of_acceptance_fixed_minor: int = 0
    currency: str = "USD"
    notice_given_on: date | None = None
    merchant_country: str = "US"
    california_opt_in: bool = False
    oklahoma_override: bool = False
    exempt_client_ids: list[uuid.UUID] = msgspec.field(default_factory=list)
    object: str = "surcharge_policy"

    def policy(self) -> SurchargePolicy:
        return SurchargePolicy(
            self.enabled, self.rate_bps, self.fixed_minor, self.cost_of_acceptance_bps,
            self.cost_of_acceptance_fixed_minor, self.currency.upper(), self.notice_given_on,
            self.merchant_country.upper(), self.california_opt_in, self.oklahoma_override,
            frozenset(self.exempt_client_ids),
        )  # fmt: skip

    @staticmethod
    def of(p: SurchargePolicy) -> SurchargePolicyBody:
        return SurchargePolicyBody(
            p.enabled, p.rate_bps, p.fixed_minor, p.cost_of_acceptance_bps, p.cost_of_acceptance_fixed_minor,
            p.currency, p.notice_given_on, p.merchant_country, p.california_opt_in, p.oklahoma_override,
            sorted(p.exempt_client_ids),
        )  # fmt: skip


class QuoteIn(msgspec.Struct, forbid_unknown_fields=True):
    client_id: uuid.UUID
    payment_method_id: uuid.UUID
    amount: int  # minor units, what is being paid on the invoices
    currency: str


class ReceiptLineOut(msgspec.Struct):
    kind: str  # payment | surcharge | total
    label: str
    amount: int
    currency: str


class QuoteOut(msgspec.Struct):
    surcharge: int  # send it as `surcharge` with POST /v1/payments once the payer accepted it
    total: int
    reason: str  # why there is (or is not) a surcharge: ok, debit_card, state_prohibited, ach, ...
    message: str
    disclosure: str | None  # show it before payment; null when no surcharge applies
    receipt: list[ReceiptLineOut]
    object: str = "surcharge_quote"


class SurchargeController(Controller):
    path = "/v1/payments"
    tags = ["payments"]

    @get("/surcharge-policy", summary="The card surcharge policy", description="Scope `invoices:read`.")
    async def get_policy(self, principal: Principal, uow: SqlUnitOfWork) -> SurchargePolicyBody:
        return SurchargePolicyBody.of(await uc.get_policy(uow, principal))

    @put(
        "/surcharge-policy",
        summary="Set the card surcharge policy",
        description="Scope `admin`. Surcharges apply to credit cards only, within the card networks' caps, the "
        "payer's state law and the cost of acceptance (domain/surcharge.py).",
    )
    async def set_policy(
        self, request: Request[Any, Any, Any], principal: Principal, uow: SqlUnitOfWork, data: SurchargePolicyBody
    ) -> SurchargePolicyBody:
        clock = services_of(request.app.state).clock
        saved = await uc.set_policy(uow, principal, clock, data.policy())
        await uow.commit()
        return SurchargePolicyBody.of(saved)

    @post(
        "/surcharge-quote",
        status_code=200,
        summary="Quote the surcharge for a card payment",
        description="Scope `invoices:read`. What a payer must be shown before paying: the surcharge (0 when none "
        "may apply), the total card price, the disclosure text and the receipt lines.",
    )
    async def quote(
        self, request: Request[Any, Any, Any], principal: Principal, uow: SqlUnitOfWork, data: QuoteIn
    ) -> QuoteOut:
        clock = services_of(request.app.state).clock
        q = await uc.quote(uow, principal, clock, data.client_id, data.payment_method_id, data.amount, data.currency)
        d = q.decision
        lines = [ReceiptLineOut(r.kind, r.label, r.amount, r.currency) for r in q.receipt]
        return QuoteOut(d.amount, d.total, d.reason.value, d.message, q.disclosure, lines)
