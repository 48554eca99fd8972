"""What the payer reads before paying by card: the surcharge notice at the point of entry and, with an amount,
the surcharge and the total card price (domain.md §3). It states what the rules in domain/surcharge.py allow,
so it uses their caps and refusals rather than restating them."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from domain.money import MINOR_UNITS
from domain.surcharge import (
    BRAND_NAMES,
    STATE_CAPS_BPS,
    CardFacts,
    Payer,
    SurchargePolicy,
    brand_cap_bps,
    decide,
    highest_brand_cap_bps,
    payer_refusal,
    percent,
    policy_refusal,
)


def disclosure_text(
    policy: SurchargePolicy,
    payer: Payer,
    *,
    on: date,
    brand: str | None = None,
    amount_minor: int | None = None,
    currency: str | None = None,
) -> str | None:
    """What the payer reads before paying, or None when no card payment of theirs can carry a surcharge.

    Without an amount it is the notice at the point of entry; with one (in `currency`, default the policy's) it
    also states the surcharge and the total card price, as New York requires. `brand` narrows it to one brand.
    """
    policy = policy.validated()
    if (policy_refusal(policy, on) or payer_refusal(policy, payer)) is not None:
        return None
    card_brand = CardFacts(brand, "credit").normalised_brand if brand else None
    brand_name = f" ({BRAND_NAMES.get(card_brand, card_brand.title())})" if card_brand else ""
    _, state = payer.location()
    # The highest percentage any transaction can reach, ignoring caps that carry a fixed part.
    ceilings = [brand_cap_bps(card_brand, policy, payer) if card_brand else highest_brand_cap_bps(policy, payer)]
    ceilings += [STATE_CAPS_BPS[state]] if state in STATE_CAPS_BPS else []
    ceilings += [] if policy.cost_of_acceptance_fixed_minor else [policy.cost_of_acceptance_bps]
    ceiling = min(ceilings)
    if policy.fixed_minor:
        rate = f"{percent(policy.rate_bps)} plus " if policy.rate_bps else ""
        what = f"{rate}{_money(policy.fixed_minor, policy.currency)}, never more than {percent(ceiling)} of the amount"
    else:
        exact = card_brand is not None and not policy.cost_of_acceptance_fixed_minor
        what = f"{'' if exact else 'up to '}{percent(min(policy.rate_bps, ceiling))} of the amount"
    parts = [
        f"Paying by credit card{brand_name} adds a surcharge of {what}.",
        "Only credit cards carry it: debit cards, prepaid cards and bank payments (ACH) are never surcharged.",
        "It is never more than what accepting the card costs us.",
    ]
    if amount_minor is not None:
        parts.append(_price_sentence(policy, payer, card_brand, amount_minor, currency or policy.currency, on))
    elif state == "NY":
        parts.append("The total price by credit card, surcharge included, is shown before you pay.")
    if state == "CO":
        parts.append(
            "Colorado (statutory summary, C.R.S. 5-2-212): a surcharge on credit or charge card payments may not "
            "exceed 2% of the purchase, or the seller's card processing fee if that is lower; only one surcharge "
            "applies per purchase; none applies to payment by cash, check, debit card or gift card; the receipt "
            "shows the surcharge as a separate line."
        )
    return " ".join(parts)


def _price_sentence(
    policy: SurchargePolicy, payer: Payer, brand: str | None, amount: int, currency: str, on: date
) -> str:
    brands = [brand] if brand else ["visa", "mastercard", "amex", "discover"]
    decisions = [decide(policy, CardFacts(b, "credit"), payer, amount, currency, on=on) for b in brands]
    surcharge, currency = max(d.amount for d in decisions), decisions[0].currency
    at_most = "" if brand else "at most "
    return (
        f"On this payment of {_money(amount, currency)} the surcharge is {at_most}{_money(surcharge, currency)}: "
        f"the total price by credit card is {at_most}{_money(amount + surcharge, currency)}."
    )


def _money(minor: int, currency: str) -> str:
    exponent = MINOR_UNITS[currency]
    return f"{currency} {Decimal(minor).scaleb(-exponent):,.{exponent}f}"
