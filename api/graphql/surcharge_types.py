"""GraphQL types of the card surcharge policy and quote (the resolvers are in api/graphql/surcharges.py).
Field for field what REST's /v1/payments/surcharge-policy and /v1/payments/surcharge-quote carry."""

from __future__ import annotations

import datetime as dt
import uuid
from enum import Enum

import strawberry

from api.graphql.inputs import parse_id
from api.graphql.scalars import MinorUnits
from api.graphql.types import Money
from domain import errors
from domain.surcharge import SurchargePolicy as SurchargePolicyEntity
from domain.usecases.surcharges import Quote


@strawberry.enum(description="Why a card payment carries a surcharge (the first four) or none (the others).")
class SurchargeReason(Enum):
    OK = "ok"
    CAPPED_BY_STATE = "capped_by_state"  # lowered to the payer's state cap (Colorado)
    CAPPED_BY_BRAND = "capped_by_brand"  # lowered to the card brand's cap
    CAPPED_BY_COST = "capped_by_cost"  # lowered to the MSP's cost of accepting the card
    ACH = "ach"
    NOT_ENABLED = "not_enabled"
    NOTICE_PERIOD = "notice_period"  # opted in, but the 30 days after notifying the acquirer have not passed
    DEBIT_CARD = "debit_card"
    PREPAID_CARD = "prepaid_card"
    UNKNOWN_FUNDING = "unknown_funding"
    CLIENT_EXEMPT = "client_exempt"
    STATE_PROHIBITED = "state_prohibited"
    STATE_OPT_IN_REQUIRED = "state_opt_in_required"
    LOCATION_UNKNOWN = "location_unknown"
    COUNTRY_NOT_SUPPORTED = "country_not_supported"


@strawberry.enum(description="A receipt line: the amount paid on the invoices, the surcharge, the total charged.")
class ReceiptLineKind(Enum):
    PAYMENT = "payment"
    SURCHARGE = "surcharge"
    TOTAL = "total"


@strawberry.type(
    description="The MSP's card surcharge policy. Off unless `enabled`; rates in basis points (300 = 3%); fixed "
    "parts in minor units of `currency`. Surcharging starts 30 days after `noticeGivenOn`."
)
class SurchargePolicy:
    enabled: bool
    rate_bps: int
    fixed_minor: MinorUnits
    cost_of_acceptance_bps: int = strawberry.field(description="The MSP's processing cost: no surcharge exceeds it.")
    cost_of_acceptance_fixed_minor: MinorUnits
    currency: str
    notice_given_on: dt.date | None = strawberry.field(description="The day the acquirer was told.")
    merchant_country: str
    california_opt_in: bool
    oklahoma_override: bool = strawberry.field(
        description="Legal sign-off that Oklahoma's contested ban does not apply."
    )
    exempt_client_ids: list[strawberry.ID]

    @staticmethod
    def of(p: SurchargePolicyEntity) -> SurchargePolicy:
        return SurchargePolicy(
            enabled=p.enabled, rate_bps=p.rate_bps, fixed_minor=MinorUnits(p.fixed_minor),
            cost_of_acceptance_bps=p.cost_of_acceptance_bps,
            cost_of_acceptance_fixed_minor=MinorUnits(p.cost_of_acceptance_fixed_minor), currency=p.currency,
            notice_given_on=p.notice_given_on, merchant_country=p.merchant_country,
            california_opt_in=p.california_opt_in, oklahoma_override=p.oklahoma_override,
            exempt_client_ids=[strawberry.ID(str(c)) for c in sorted(p.exempt_client_ids)],
        )  # fmt: skip


@strawberry.input(description="The whole policy: what is left out takes its default (as REST's PUT).")
class SurchargePolicyInput:
    enabled: bool = False
    rate_bps: int = 0
    fixed_minor: MinorUnits = MinorUnits(0)
    cost_of_acceptance_bps: int = 0
    cost_of_acceptance_fixed_minor: MinorUnits = MinorUnits(0)
    currency: str = "USD"
    notice_given_on: dt.date | None = None
    merchant_country: str = "US"
    california_opt_in: bool = False
    oklahoma_override: bool = False
    exempt_client_ids: list[strawberry.ID] = strawberry.field(default_factory=list)

    def policy(self) -> SurchargePolicyEntity:
        """Checked by the use case (SurchargePolicy.validated); here only what cannot be a policy at all."""
        exempt = frozenset(parse_id(c, f"exemptClientIds[{i}]") for i, c in enumerate(self.exempt_client_ids))
        return SurchargePolicyEntity(
            self.enabled, self.rate_bps, self.fixed_minor, self.cost_of_acceptance_bps,
            self.cost_of_acceptance_fixed_minor, self.currency.upper(), self.notice_given_on,
            self.merchant_country.upper(), self.california_opt_in, self.oklahoma_override, exempt,
        )  # fmt: skip


@strawberry.input
class SurchargeQuoteInput:
    client_id: strawberry.ID
    payment_method_id: strawberry.ID = strawberry.field(description="One of the client's stored methods.")
    amount: MinorUnits = strawberry.field(description="What is being paid on the invoices, surcharge excluded.")
    currency: str

    def ids(self) -> tuple[uuid.UUID, uuid.UUID]:
        """The client's and the method's ids, both checked, so a caller learns of every malformed one at once."""
        v, found = errors.Validator(), []
        for raw, name in ((self.client_id, "clientId"), (self.payment_method_id, "paymentMethodId")):
            try:
                found.append(parse_id(raw, name))
            except errors.ValidationFailed as exc:
                v.errors += exc.errors
        v.raise_if_any()
        return found[0], found[1]


@strawberry.type
class ReceiptLine:
    kind: ReceiptLineKind
    label: str
    amount: Money


@strawberry.type(
    description="What the payer must be shown before paying by card: the surcharge (0 when none may apply), the "
    "total card price, the disclosure text and the receipt lines. Send `surcharge` with `payInvoice` once the "
    "payer accepted it."
)
class SurchargeQuote:
    surcharge: Money
    total: Money = strawberry.field(description="What the card is charged, surcharge included.")
    reason: SurchargeReason
    message: str = strawberry.field(description="Why there is (or is not) a surcharge, in plain words.")
    disclosure: str | None = strawberry.field(description="Show it before payment; null when no surcharge applies.")
    receipt: list[ReceiptLine]

    @staticmethod
    def of(q: Quote) -> SurchargeQuote:
        d = q.decision

        def money(amount: int, currency: str) -> Money:
            return Money(amount=MinorUnits(amount), currency=currency)

        lines = [ReceiptLine(kind=ReceiptLineKind(r.kind), label=r.label, amount=money(r.amount, r.currency))
                 for r in q.receipt]  # fmt: skip
        return SurchargeQuote(
            surcharge=money(d.amount, d.currency), total=money(d.total, d.currency),
            reason=SurchargeReason(d.reason.value), message=d.message, disclosure=q.disclosure, receipt=lines,
        )  # fmt: skip


@strawberry.type(
    description="The payment asked for a surcharge the rules refuse (`reason`: a debit or prepaid card, the "
    "payer's state, ACH, ...); nothing was charged. Pay without one."
)
class SurchargeNotAllowed:
    message: str
    reason: SurchargeReason
