"""Card surcharges: whether one may be added to a payment, how much, and what the payer is told.

Every rule here comes from `domain.md` §3 (US unless stated). Where the sources leave room, the rule takes
the conservative reading: no surcharge, or the lower one.

- Credit cards only. Debit and prepaid cards, cards whose funding is unknown, and bank payments (ACH) are never
  surcharged.
- The tenant opts in (`SurchargePolicy.enabled`) and surcharges only from 30 days after it notified its acquirer.
- Caps, all computed per transaction on the amount paid before the surcharge:
  - Visa: 3% (2.4% in Canada). Discover and every other brand get Visa's cap (a conservative choice: their own
    rules are no stricter than the cost of acceptance, but they are not in the table).
  - Mastercard: 4%.
  - American Express: not above what the other brands carry, i.e. the lowest of their caps.
  - The cost of acceptance (Visa's merchant discount rate, Mastercard's cost of acceptance, New York's "card
    company's charge", Colorado's merchant fee): the MSP's processing cost, a percentage plus an optional fixed
    part. It is computed on the amount before the surcharge, which understates the real cost slightly.
  - Colorado: 2%.
- The payer's state law applies, whether the payer is a business or a consumer (B2B is not exempt). Prohibited:
  CT, ME, MA, PR, and OK unless the tenant has legal sign-off (`oklahoma_override`). California needs an explicit
  tenant opt-in (sources conflict). Canada: Quebec is prohibited (its consumer protection law, beyond the table).
  Payers elsewhere, or whose state is unknown, are not surcharged: their law is not encoded here.
- The pass-through trap: "2.9% + $0.30" exceeds 3% on any invoice under about $300. A policy may ask for a fixed
  part, but every cap applies to each transaction, so the surcharge never exceeds cap x amount.
- Rounding: the requested surcharge rounds half-up to the minor unit like every amount; the caps round down, so
  the result never exceeds a cap even by a fraction of a minor unit.
- Disclosure before payment (domain/surcharge_disclosure.py), itemised on the receipt and pro-rated on partial
  refunds (domain/surcharge_receipts.py).

For Stripe: `SurchargeDecision.total` is the PaymentIntent `amount` (it includes the surcharge) and
`SurchargeDecision.amount` its `amount_details.surcharge.amount`; check `payment_method.card.funding`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import date, timedelta
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal
from enum import StrEnum
from typing import TYPE_CHECKING

from domain.errors import DomainError, Validator
from domain.money import MAX_MINOR, is_currency, round_minor

if TYPE_CHECKING:
    from domain.clients import Client

NOTICE_PERIOD = timedelta(days=30)  # tell the acquirer 30 days before surcharging
MAX_RATE_BPS = 400  # the highest cap of any brand (Mastercard): a higher rate could never apply

VISA_CAP_BPS = 300
CANADA_CAP_BPS = 240  # Visa Canada; applied to every brand in Canada (conservative)
MASTERCARD_CAP_BPS = 400
STATE_CAPS_BPS: dict[str, int] = {"CO": 200}
PROHIBITED_STATES = frozenset({"CT", "ME", "MA", "OK", "PR"})
OVERRIDABLE_STATES = frozenset({"OK"})  # contested ban: prohibited until the tenant overrides with legal sign-off
OPT_IN_STATES = frozenset({"CA"})  # sources conflict: only with the tenant's explicit opt-in
PROHIBITED_CANADIAN_PROVINCES = frozenset({"QC"})
US_TERRITORIES = frozenset({"PR", "GU", "VI", "AS", "MP"})  # ISO 3166 codes that are US states for this rule

_BPS = Decimal(10_000)
BRAND_NAMES = {
    "visa": "Visa",
    "mastercard": "Mastercard",
    "amex": "American Express",
    "discover": "Discover",
    "diners": "Diners Club",
    "jcb": "JCB",
    "unionpay": "UnionPay",
}
_BRAND_ALIASES = {"american_express": "amex", "americanexpress": "amex", "master_card": "mastercard"}
_PROVINCE_ALIASES = {"QUEBEC": "QC", "QUÉBEC": "QC"}


class SurchargeReason(StrEnum):
    """Why a decision came out as it did. Stable: callers branch on it and store it with the payment."""

    OK = "ok"  # surcharged at the tenant's rate
    CAPPED_BY_STATE = "capped_by_state"  # surcharged, lowered to the payer's state cap (Colorado)
    CAPPED_BY_BRAND = "capped_by_brand"  # surcharged, lowered to the card brand's cap
    CAPPED_BY_COST = "capped_by_cost"  # surcharged, lowered to the tenant's cost of acceptance
    ACH = "ach"
    NOT_ENABLED = "not_enabled"
    NOTICE_PERIOD = "notice_period"  # opted in, but the 30 days after notifying the acquirer have not passed
    DEBIT_CARD = "debit_card"
    PREPAID_CARD = "prepaid_card"
    UNKNOWN_FUNDING = "unknown_funding"
    CLIENT_EXEMPT = "client_exempt"
    STATE_PROHIBITED = "state_prohibited"
    STATE_OPT_IN_REQUIRED = "state_opt_in_required"
    LOCATION_UNKNOWN = "location_unknown"  # no country, or no state/province where one decides the law
    COUNTRY_NOT_SUPPORTED = "country_not_supported"

    @property
    def surcharges(self) -> bool:
        """True when the rule allows a surcharge (possibly lowered by a cap), False when it refuses one."""
        return self in _SURCHARGING


_SURCHARGING = frozenset(
    {
        SurchargeReason.OK,
        SurchargeReason.CAPPED_BY_STATE,
        SurchargeReason.CAPPED_BY_BRAND,
        SurchargeReason.CAPPED_BY_COST,
    }
)


class SurchargeNotAllowed(DomainError):
    """A payment asked for a surcharge the rules refuse (a debit card, a payer in a prohibited state, ...)."""

    code = "surcharge_not_allowed"

    def __init__(self, reason: SurchargeReason, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class SurchargePolicy:
    """A tenant's surcharge settings. The default surcharges nothing."""

    enabled: bool = False  # the tenant opted in
    rate_bps: int = 0  # the surcharge the MSP asks for, in basis points (300 = 3%)
    fixed_minor: int = 0  # plus a fixed part per payment ("2.9% + 30c" pass-through), in `currency`
    cost_of_acceptance_bps: int = 0  # the MSP's processing cost (merchant discount rate); a cap
    cost_of_acceptance_fixed_minor: int = 0  # its fixed part per payment (Stripe's 30c), in `currency`
    currency: str = "USD"  # the currency of both fixed parts; payments in another currency get no fixed part
    notice_given_on: date | None = None  # when the acquirer was told; surcharging starts 30 days later
    merchant_country: str = "US"  # Canada's cap applies to Canadian merchants as well as Canadian payers
    california_opt_in: bool = False
    oklahoma_override: bool = False  # legal sign-off that Oklahoma's contested ban does not apply
    exempt_client_ids: frozenset[uuid.UUID] = frozenset()

    @property
    def starts_on(self) -> date | None:
        """The first day a surcharge may be added, or None while the acquirer has not been notified."""
        return None if self.notice_given_on is None else self.notice_given_on + NOTICE_PERIOD

    def validated(self) -> SurchargePolicy:
        v = Validator()
        v.check(
            0 <= self.rate_bps <= MAX_RATE_BPS,
            "rate_bps",
            f"must be 0 to {MAX_RATE_BPS} basis points ({MAX_RATE_BPS // 100}%, the highest cap of any card brand)",
        )
        v.check(0 <= self.fixed_minor <= MAX_MINOR, "fixed_minor", "must be 0 or more minor units, within limits")
        v.check(0 <= self.cost_of_acceptance_bps <= 10_000, "cost_of_acceptance_bps", "must be 0 to 10000 basis points")
        v.check(
            0 <= self.cost_of_acceptance_fixed_minor <= MAX_MINOR,
            "cost_of_acceptance_fixed_minor",
            "must be 0 or more minor units, within limits",
        )
        currency = self.currency.upper()
        v.check(is_currency(currency), "currency", f"{self.currency!r} is not an ISO 4217 currency code")
        country = self.merchant_country.strip().upper()
        v.check(len(country) == 2 and country.isalpha(), "merchant_country", "must be an ISO 3166-1 alpha-2 code")
        if self.enabled:
            v.check(self.rate_bps > 0 or self.fixed_minor > 0, "rate_bps", "set a rate to surcharge")
            v.check(
                self.cost_of_acceptance_bps > 0 or self.cost_of_acceptance_fixed_minor > 0,
                "cost_of_acceptance_bps",
                "set the processing cost: no surcharge may exceed it",
            )
            v.check(
                self.notice_given_on is not None,
                "notice_given_on",
                "tell the acquirer 30 days before surcharging, then record the date",
            )
        v.raise_if_any()
        return replace(self, currency=currency, merchant_country=country)


@dataclass(frozen=True)
class CardFacts:
    """What the card network says about a card (Stripe: `payment_method.card.brand` and `.funding`)."""

    brand: str  # visa, mastercard, amex, discover, diners, jcb, unionpay, unknown, ...
    funding: str  # credit, debit, prepaid, unknown

    @property
    def normalised_brand(self) -> str:
        b = self.brand.strip().lower()
        return _BRAND_ALIASES.get(b, b)


@dataclass(frozen=True)
class Payer:
    """Who pays, and where: the payer's state or province law applies."""

    country: str | None  # ISO 3166-1 alpha-2
    state: str | None = None  # US: the two-letter USPS code; Canada: the province
    client_id: uuid.UUID | None = None
    exempt: bool = False  # exempted for this payment, beside the policy's exempt clients
    business: bool = False  # recorded for clarity: most state laws do not exempt business payers, nor does this

    @staticmethod
    def of(client: Client, *, exempt: bool = False, business: bool = False) -> Payer:
        return Payer(client.address.country, client.address.state, client.id, exempt, business)

    def location(self) -> tuple[str | None, str | None]:
        """(country, state), upper-cased; US territories filed as their own country become US states."""
        country = self.country.strip().upper() if self.country else None
        state = self.state.strip().upper() if self.state else None
        if country in US_TERRITORIES:
            return "US", country
        if country == "CA" and state is not None:
            state = _PROVINCE_ALIASES.get(state, state)
        return country, state


@dataclass(frozen=True)
class SurchargeDecision:
    reason: SurchargeReason
    amount: int  # the surcharge, minor units; 0 unless `reason.surcharges`
    base_amount: int  # what is being paid before the surcharge
    currency: str
    message: str  # for the payer or the MSP, in plain words

    @property
    def total(self) -> int:
        """What the card is charged: the base amount plus the surcharge (Stripe's PaymentIntent `amount`)."""
        return self.base_amount + self.amount

    @property
    def rate_text(self) -> str:
        """The surcharge as a percentage of the base amount, e.g. "3%" or "2.93%"."""
        return percent(Decimal(self.amount) * _BPS / self.base_amount) if self.base_amount else "0%"

    def raise_if_refused(self) -> None:
        """For a payment that asked for a surcharge: refuse it when the rules allow none."""
        if not self.reason.surcharges:
            raise SurchargeNotAllowed(self.reason, self.message)


def decide(
    policy: SurchargePolicy, card: CardFacts | None, payer: Payer, amount_minor: int, currency: str, *, on: date
) -> SurchargeDecision:
    """The surcharge for paying `amount_minor` with `card` (None: a bank payment, ACH) on day `on`."""
    policy = policy.validated()
    v = Validator()
    v.check(0 <= amount_minor <= MAX_MINOR, "amount", "must be 0 or more minor units, within limits")
    cur = currency.upper()
    v.check(is_currency(cur), "currency", f"{currency!r} is not an ISO 4217 currency code")
    v.raise_if_any()

    def refused(reason: SurchargeReason, message: str) -> SurchargeDecision:
        return SurchargeDecision(reason, 0, amount_minor, cur, message)

    if card is None:
        return refused(SurchargeReason.ACH, "Bank payments (ACH) are never surcharged.")
    refusal = policy_refusal(policy, on) or _card_refusal(card) or payer_refusal(policy, payer)
    if refusal is not None:
        return refused(*refusal)
    if amount_minor == 0:
        return SurchargeDecision(SurchargeReason.OK, 0, 0, cur, "Nothing to pay, so no surcharge.")

    fixed_applies = cur == policy.currency
    requested = Decimal(policy.rate_bps * amount_minor) / _BPS + (policy.fixed_minor if fixed_applies else 0)
    caps = _caps(policy, card.normalised_brand, payer, amount_minor, fixed_applies)
    lowest = min(cap for _, cap, _ in caps)
    amount = min(round_minor(requested), int(lowest.quantize(Decimal(1), rounding=ROUND_FLOOR)))
    if lowest < requested:
        reason, _, why = next(c for c in caps if c[1] == lowest)
        return SurchargeDecision(reason, amount, amount_minor, cur, f"Credit card surcharge lowered to {why}.")
    return SurchargeDecision(SurchargeReason.OK, amount, amount_minor, cur, "Credit card surcharge.")


# --- rules -----------------------------------------------------------------------------------------------------


def policy_refusal(policy: SurchargePolicy, on: date) -> tuple[SurchargeReason, str] | None:
    if not policy.enabled:
        return SurchargeReason.NOT_ENABLED, "Surcharging is not turned on."
    starts = policy.starts_on
    if starts is None:  # validated() refuses this when enabled; kept for a policy built without it
        return SurchargeReason.NOTICE_PERIOD, "Surcharging starts 30 days after notifying the acquirer."
    if on < starts:
        return SurchargeReason.NOTICE_PERIOD, f"Surcharging starts on {starts}, 30 days after notifying the acquirer."
    return None


def _card_refusal(card: CardFacts) -> tuple[SurchargeReason, str] | None:
    funding = card.funding.strip().lower()
    if funding == "credit":
        return None
    if funding == "debit":
        return SurchargeReason.DEBIT_CARD, "Debit cards are never surcharged, even when run as credit."
    if funding == "prepaid":
        return SurchargeReason.PREPAID_CARD, "Prepaid cards are never surcharged."
    return SurchargeReason.UNKNOWN_FUNDING, "The card may not be a credit card, so it is not surcharged."


def payer_refusal(policy: SurchargePolicy, payer: Payer) -> tuple[SurchargeReason, str] | None:
    if payer.exempt or (payer.client_id is not None and payer.client_id in policy.exempt_client_ids):
        return SurchargeReason.CLIENT_EXEMPT, "This client is exempt from surcharges."
    country, state = payer.location()
    if country is None or (country in {"US", "CA"} and state is None):
        return SurchargeReason.LOCATION_UNKNOWN, "The payer's state is unknown, so its surcharge law cannot be checked."
    if country == "CA":
        if state in PROHIBITED_CANADIAN_PROVINCES:
            return SurchargeReason.STATE_PROHIBITED, f"Surcharges are prohibited for payers in {state}."
        return None
    if country != "US":
        return SurchargeReason.COUNTRY_NOT_SUPPORTED, f"Surcharges are not offered to payers in {country}."
    if state in PROHIBITED_STATES and not (state in OVERRIDABLE_STATES and policy.oklahoma_override):
        return SurchargeReason.STATE_PROHIBITED, f"Surcharges are prohibited for payers in {state}."
    if state in OPT_IN_STATES and not policy.california_opt_in:
        return (
            SurchargeReason.STATE_OPT_IN_REQUIRED,
            f"Surcharges for payers in {state} need the MSP's explicit opt-in.",
        )
    return None


def _in_canada(policy: SurchargePolicy, payer: Payer) -> bool:
    return policy.merchant_country == "CA" or payer.location()[0] == "CA"


def brand_cap_bps(brand: str, policy: SurchargePolicy, payer: Payer) -> int:
    if _in_canada(policy, payer):
        return CANADA_CAP_BPS  # every brand, conservatively
    # Amex: not above the other brands, whose lowest cap is Visa's. Discover and the rest: Visa's cap.
    return MASTERCARD_CAP_BPS if brand == "mastercard" else VISA_CAP_BPS


def highest_brand_cap_bps(policy: SurchargePolicy, payer: Payer) -> int:
    return max(brand_cap_bps(b, policy, payer) for b in ("visa", "mastercard", "amex", "other"))


def _caps(
    policy: SurchargePolicy, brand: str, payer: Payer, amount: int, fixed_applies: bool
) -> list[tuple[SurchargeReason, Decimal, str]]:
    """Each cap on the surcharge, exact (not rounded), in the order that names the reason when several bind."""
    caps: list[tuple[SurchargeReason, Decimal, str]] = []
    _, state = payer.location()
    if state in STATE_CAPS_BPS:
        bps = STATE_CAPS_BPS[state]
        caps.append((SurchargeReason.CAPPED_BY_STATE, Decimal(bps * amount) / _BPS, f"{state}'s cap of {percent(bps)}"))
    bps = brand_cap_bps(brand, policy, payer)
    name = BRAND_NAMES.get(brand, "this card brand")
    why = f"the cap of {percent(bps)} for {name}" + (", not above other brands" if brand == "amex" else "")
    caps.append((SurchargeReason.CAPPED_BY_BRAND, Decimal(bps * amount) / _BPS, why))
    cost = Decimal(policy.cost_of_acceptance_bps * amount) / _BPS
    cost += policy.cost_of_acceptance_fixed_minor if fixed_applies else 0
    caps.append((SurchargeReason.CAPPED_BY_COST, cost, "the cost of accepting the card"))
    return caps


def percent(bps: Decimal | int) -> str:
    """Basis points as a percentage to two decimals at most: 300 -> "3%", 290 -> "2.9%"."""
    p = (Decimal(bps) / 100).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP).normalize()
    return f"{p:f}%"
