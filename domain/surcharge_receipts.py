"""After a surcharged payment: the receipt's itemised lines, and the surcharge given back with a refund."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from domain.errors import Validator
from domain.money import MAX_MINOR, round_minor
from domain.surcharge import SurchargeDecision


@dataclass(frozen=True)
class ReceiptLine:
    kind: str  # "payment", "surcharge" or "total"
    label: str
    amount: int  # minor units
    currency: str


def receipt_lines(decision: SurchargeDecision) -> list[ReceiptLine]:
    """The receipt's money lines: the amount paid, the surcharge itemised with its rate, the total charged."""
    cur = decision.currency
    lines = [ReceiptLine("payment", "Invoice payment", decision.base_amount, cur)]
    if decision.amount:
        lines.append(ReceiptLine("surcharge", f"Credit card surcharge ({decision.rate_text})", decision.amount, cur))
    lines.append(ReceiptLine("total", "Total charged", decision.total, cur))
    return lines


def prorated_surcharge_refund(
    surcharge_collected: int,
    amount_collected: int,
    refund_amount: int,
    *,
    already_refunded_amount: int = 0,
    already_refunded_surcharge: int = 0,
) -> int:
    """The surcharge to give back with a refund of `refund_amount` (amounts exclude the surcharge).

    Pro-rated on the cumulative amount refunded, rounded half-up: the surcharge refunded so far is always the
    rounded share of everything refunded so far, so partial refunds never return more than was collected, and
    refunding the whole amount, in any number of parts, returns the whole surcharge.
    """
    v = Validator()
    v.check(0 <= surcharge_collected <= MAX_MINOR, "surcharge_collected", "must be 0 or more, within limits")
    v.check(0 <= amount_collected <= MAX_MINOR, "amount_collected", "must be 0 or more, within limits")
    v.check(amount_collected > 0 or surcharge_collected == 0, "surcharge_collected", "must be 0 when nothing was paid")
    v.check(refund_amount >= 0, "refund_amount", "must be 0 or more")
    v.check(already_refunded_amount >= 0, "already_refunded_amount", "must be 0 or more")
    v.check(
        0 <= already_refunded_surcharge <= surcharge_collected,
        "already_refunded_surcharge",
        "must be 0 to the surcharge collected",
    )
    v.check(
        already_refunded_amount + refund_amount <= amount_collected,
        "refund_amount",
        "exceeds what is left to refund",
    )
    v.raise_if_any()
    if amount_collected == 0:
        return 0
    refunded = already_refunded_amount + refund_amount
    due_so_far = round_minor(Decimal(surcharge_collected * refunded) / amount_collected)
    return max(0, due_so_far - already_refunded_surcharge)
