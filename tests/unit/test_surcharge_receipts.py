"""The surcharge on the receipt, and given back with refunds (domain/surcharge_receipts.py)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.errors import ValidationFailed
from domain.money import MAX_MINOR
from domain.surcharge import (
    decide,
)
from domain.surcharge_receipts import ReceiptLine, prorated_surcharge_refund, receipt_lines
from tests.unit.test_surcharge import NJ, POLICY, TODAY, VISA, _p

# --- receipt ----------------------------------------------------------------------------------------------------


def test_receipt_itemises_the_surcharge() -> None:
    d = decide(POLICY, VISA, NJ, 10_000, "USD", on=TODAY)
    assert receipt_lines(d) == [
        ReceiptLine("payment", "Invoice payment", 10_000, "USD"),
        ReceiptLine("surcharge", "Credit card surcharge (3%)", 300, "USD"),
        ReceiptLine("total", "Total charged", 10_300, "USD"),
    ]
    capped = decide(_p(rate_bps=290, fixed_minor=30, cost_of_acceptance_bps=400), VISA, NJ, 100_000, "USD", on=TODAY)
    assert [ln.label for ln in receipt_lines(capped)][1] == "Credit card surcharge (2.93%)"


def test_receipt_without_surcharge_has_no_surcharge_line() -> None:
    d = decide(POLICY, None, NJ, 10_000, "USD", on=TODAY)
    assert [ln.kind for ln in receipt_lines(d)] == ["payment", "total"]
    assert receipt_lines(d)[-1].amount == 10_000


# --- refunds ----------------------------------------------------------------------------------------------------


def test_full_refund_returns_the_whole_surcharge() -> None:
    assert prorated_surcharge_refund(300, 10_000, 10_000) == 300


def test_partial_refunds_are_pro_rated_and_sum_exactly() -> None:
    # 100 cents of surcharge on 30,000: thirds are 33.33 each; the cumulative rounding makes 33 + 34 + 33.
    parts, amount_done, surcharge_done = [], 0, 0
    for refund in (10_000, 10_000, 10_000):
        part = prorated_surcharge_refund(
            100, 30_000, refund, already_refunded_amount=amount_done, already_refunded_surcharge=surcharge_done
        )
        parts.append(part)
        amount_done += refund
        surcharge_done += part
    assert parts == [33, 34, 33] and sum(parts) == 100


def test_half_refund_rounds_half_up() -> None:
    assert prorated_surcharge_refund(301, 10_000, 5_000) == 151  # 150.5
    assert prorated_surcharge_refund(0, 10_000, 5_000) == 0
    assert prorated_surcharge_refund(0, 0, 0) == 0


def test_refund_after_an_out_of_line_earlier_refund_never_overpays() -> None:
    # An earlier refund gave back more surcharge than its share: the next part tops up to the share, never beyond.
    assert prorated_surcharge_refund(300, 10_000, 5_000, already_refunded_amount=0, already_refunded_surcharge=300) == 0
    assert (
        prorated_surcharge_refund(300, 10_000, 5_000, already_refunded_amount=5_000, already_refunded_surcharge=200)
        == 100
    )


@pytest.mark.parametrize(
    ("args", "kwargs", "field"),
    [
        ((300, 10_000, 10_001), {}, "refund_amount"),
        ((300, 10_000, 5_000), {"already_refunded_amount": 5_001}, "refund_amount"),
        ((300, 10_000, -1), {}, "refund_amount"),
        ((300, 10_000, 1), {"already_refunded_surcharge": 301}, "already_refunded_surcharge"),
        ((5, 0, 0), {}, "surcharge_collected"),
    ],
)
def test_bad_refunds_are_refused(args: tuple[int, int, int], kwargs: dict[str, int], field: str) -> None:
    with pytest.raises(ValidationFailed) as e:
        prorated_surcharge_refund(*args, **kwargs)
    assert field in [err.field for err in e.value.errors]


@st.composite
def _refund_plan(draw: st.DrawFn) -> tuple[int, int, list[int], bool]:
    amount = draw(st.integers(min_value=1, max_value=MAX_MINOR))
    surcharge = draw(st.integers(min_value=0, max_value=amount * 4 // 100))
    cuts = sorted(draw(st.lists(st.integers(min_value=0, max_value=amount), max_size=12)))
    whole = draw(st.booleans())
    ends = [*cuts, amount] if whole else cuts
    parts = [b - a for a, b in zip([0, *ends], ends, strict=False)]
    return amount, surcharge, parts, whole


@given(_refund_plan())
def test_refund_parts_never_exceed_the_surcharge_and_sum_to_it_when_all_is_refunded(
    plan: tuple[int, int, list[int], bool],
) -> None:
    amount, surcharge, parts, whole = plan
    amount_done = surcharge_done = 0
    for refund in parts:
        part = prorated_surcharge_refund(
            surcharge, amount, refund, already_refunded_amount=amount_done, already_refunded_surcharge=surcharge_done
        )
        assert part >= 0
        assert abs(Decimal(part) - Decimal(surcharge * refund) / amount) < 1  # within a minor unit of pro rata
        amount_done += refund
        surcharge_done += part
        assert surcharge_done <= surcharge
    if whole:
        assert surcharge_done == surcharge
