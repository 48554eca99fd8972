"""Pure rules of disputed payments: the payment's status a dispute leaves, what a lost dispute takes back once
the payment's refunds are set aside, and its ledger posting."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from domain import ledger
from domain.ids import new_id
from domain.payments import Allocation, MethodKind, Payment, PaymentStatus, RecoveryPoint, status_after_dispute
from domain.refunds import Refund, RefundStatus
from domain.usecases.disputes import TakenBack, split_disputed

NOW = datetime(2026, 11, 27, tzinfo=UTC)
A, B = new_id(), new_id()
S = PaymentStatus


@pytest.mark.parametrize(
    ("current", "dispute", "bank_debit", "after"),
    [
        (S.SUCCEEDED, "needs_response", False, S.DISPUTED),
        (S.SUCCEEDED, "under_review", False, S.DISPUTED),
        (S.SUCCEEDED, "warning_needs_response", False, S.SUCCEEDED),  # an inquiry: nothing withdrawn
        (S.SUCCEEDED, "some_new_status", False, S.DISPUTED),  # unknown: treated as held
        (S.DISPUTED, "under_review", False, S.DISPUTED),
        (S.DISPUTED, "won", False, S.SUCCEEDED),
        (S.DISPUTED, "lost", False, S.DISPUTE_LOST),
        (S.SUCCEEDED, "lost", False, S.DISPUTE_LOST),  # its events overtaken: lost before seen open
        (S.SUCCEEDED, "lost", True, S.RETURNED),  # an ACH debit returned after it settled
        (S.DISPUTED, "lost", True, S.RETURNED),
        (S.DISPUTE_LOST, "won", False, S.DISPUTE_LOST),  # a loss is final
        (S.DISPUTE_LOST, "needs_response", False, S.DISPUTE_LOST),
        (S.RETURNED, "under_review", True, S.RETURNED),
    ],
)
def test_the_status_a_dispute_leaves(current: S, dispute: str, bank_debit: bool, after: S) -> None:
    assert status_after_dispute(current, dispute, bank_debit=bank_debit) is after


def test_only_collected_payments_are_moved_by_their_dispute() -> None:
    assert {s for s in S if s.collected} == {S.SUCCEEDED, S.DISPUTED, S.DISPUTE_LOST, S.RETURNED}


def _payment(surcharge: int = 300) -> Payment:
    parts = [Allocation(A, 6_000), Allocation(B, 4_000)]
    return Payment(
        new_id(), new_id(), None, MethodKind.CARD, "USD", 10_000 + surcharge, surcharge, parts, S.SUCCEEDED,
        RecoveryPoint.FINISHED, None, "acct_1", NOW, NOW,
    )  # fmt: skip


def _refund(p: Payment, a: int, b: int, surcharge: int, status: RefundStatus = RefundStatus.SUCCEEDED) -> Refund:
    parts = [x for x in (Allocation(A, a), Allocation(B, b)) if x.amount]
    return Refund(new_id(), p.id, "USD", a + b + surcharge, surcharge, parts, status, None, True, None, NOW, NOW)


def test_what_is_left_after_a_partial_refund_is_taken_from_what_each_invoice_still_has_paid() -> None:
    p = _payment()
    refunds = [_refund(p, 3_000, 2_000, 150)]
    assert split_disputed(p, 5_150, refunds) == TakenBack({A: 3_000, B: 2_000}, 150, 0)
    # Part of it: the surcharge left pro rata (150 x 2060 / 5150 = 60), then the invoices in order.
    assert split_disputed(p, 2_060, refunds) == TakenBack({A: 2_000}, 60, 0)


def test_a_refunded_part_disputed_again_is_owed_by_no_invoice() -> None:
    p = _payment()
    refunds = [_refund(p, 3_000, 2_000, 150)]
    assert split_disputed(p, 10_300, refunds) == TakenBack({A: 3_000, B: 2_000}, 150, 5_150)
    everything = [_refund(p, 6_000, 4_000, 300)]
    assert split_disputed(p, 10_300, everything) == TakenBack({}, 0, 10_300)


def test_refunds_that_gave_nothing_back_are_ignored_and_those_in_flight_are_not() -> None:
    p = _payment(surcharge=0)
    failed = _refund(p, 6_000, 0, 0, RefundStatus.FAILED)
    canceled = _refund(p, 0, 4_000, 0, RefundStatus.CANCELED)
    assert split_disputed(p, 10_000, [failed, canceled]) == TakenBack({A: 6_000, B: 4_000}, 0, 0)
    pending = _refund(p, 0, 4_000, 0, RefundStatus.PENDING)  # it reopens B's part itself when it succeeds
    assert split_disputed(p, 10_000, [pending]) == TakenBack({A: 6_000}, 0, 4_000)


def test_the_lost_posting_puts_a_refunded_part_disputed_again_to_chargeback_losses() -> None:
    def sides(tx: ledger.LedgerTransaction) -> dict[str, int]:
        out: dict[str, int] = {}
        for e in tx.entries:
            out[e.account] = out.get(e.account, 0) + e.amount
        return out

    d, p = new_id(), new_id()
    tx = ledger.dispute_lost(
        d, payment_id=p, allocations={A: 3_000, B: 2_000}, surcharge=150, refunded_before=5_150, currency="USD",
        reopen_invoices=True, occurred_at=NOW,
    )  # fmt: skip
    assert sides(tx) == {"accounts_receivable": 5_000, "surcharge_income": 150, "dispute_losses": 5_150,
                         "disputes": -10_300}  # fmt: skip
    only_loss = ledger.dispute_lost(
        d, payment_id=p, allocations={}, refunded_before=10_300, currency="USD", reopen_invoices=True,
        occurred_at=NOW,
    )  # fmt: skip
    assert sides(only_loss) == {"dispute_losses": 10_300, "disputes": -10_300}
    with pytest.raises(ledger.InvalidPosting):  # something must be taken back
        ledger.dispute_lost(d, payment_id=p, allocations={}, currency="USD", reopen_invoices=True, occurred_at=NOW)
    with pytest.raises(ledger.InvalidPosting):
        ledger.dispute_lost(
            d, payment_id=p, allocations={A: 1}, refunded_before=-1, currency="USD", reopen_invoices=True,
            occurred_at=NOW,
        )  # fmt: skip
