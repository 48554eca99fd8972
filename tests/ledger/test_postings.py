"""Each posting constructor: balanced per currency, the right accounts on the right sides, bad input refused."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from domain import ledger as L
from domain.ledger import Entry, InvalidPosting, Kind, LedgerTransaction, Reference, UnbalancedTransaction

AT = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
INV1, INV2 = uuid.uuid4(), uuid.uuid4()
PAY = uuid.uuid4()


def sides(tx: LedgerTransaction) -> dict[str, int]:
    """Signed total per account (debit positive), for compact assertions."""
    out: dict[str, int] = {}
    for e in tx.entries:
        out[e.account] = out.get(e.account, 0) + e.amount
    return out


def test_invoice_issued_debits_receivable_and_credits_revenue_and_tax() -> None:
    tx = L.invoice_issued(INV1, amount=12_000, tax=2_000, currency="USD", occurred_at=AT, external_id="INV-7")
    assert sides(tx) == {"accounts_receivable": 12_000, "revenue": -10_000, "sales_tax_payable": -2_000}
    assert tx.totals() == {"USD": 0}
    assert tx.entries[0].invoice_id == INV1
    assert tx.key == f"invoice_issued:{INV1}"
    assert tx.reference == Reference("invoice", INV1, "INV-7")
    assert sides(L.invoice_issued(INV1, amount=500, currency="USD", occurred_at=AT)) == {
        "accounts_receivable": 500,
        "revenue": -500,
    }


def test_payment_succeeded_gross_to_clearing_receivable_per_invoice_and_surcharge_income() -> None:
    tx = L.payment_succeeded(
        PAY, allocations={INV1: 7_000, INV2: 3_000}, surcharge=300, amount=10_300, currency="USD", occurred_at=AT
    )
    assert [(e.account, e.amount, e.invoice_id) for e in tx.entries] == [
        ("stripe_clearing", 10_300, None),
        ("accounts_receivable", -7_000, INV1),
        ("accounts_receivable", -3_000, INV2),
        ("surcharge_income", -300, None),
    ]
    assert tx.kind is Kind.PAYMENT_SUCCEEDED and tx.key == f"payment_succeeded:{PAY}"
    assert tx.reference.type == "payment"
    with pytest.raises(InvalidPosting, match="allocations plus the surcharge"):
        L.payment_succeeded(PAY, allocations={INV1: 7_000}, surcharge=300, amount=7_000, currency="USD", occurred_at=AT)


def test_processing_fee_is_an_expense_out_of_clearing_keyed_on_the_balance_transaction() -> None:
    tx = L.processing_fee(PAY, fee=329, currency="USD", occurred_at=AT, balance_transaction="txn_1")
    assert sides(tx) == {"processing_fees": 329, "stripe_clearing": -329}
    assert tx.key == "processing_fee:txn_1"
    assert L.processing_fee(PAY, fee=1, currency="USD", occurred_at=AT).key == f"processing_fee:{PAY}"


@pytest.mark.parametrize(("reopen", "account"), [(True, "accounts_receivable"), (False, "refunds")])
def test_refund_reverses_surcharge_pro_rata_and_reopens_or_credits(reopen: bool, account: str) -> None:
    tx = L.refund(
        uuid.uuid4(), payment_id=PAY, allocations={INV1: 5_000}, surcharge=150, currency="USD",
        reopen_invoices=reopen, occurred_at=AT,
    )  # fmt: skip
    assert sides(tx) == {account: 5_000, "surcharge_income": 150, "stripe_clearing": -5_150}
    assert tx.reference == Reference("payment", PAY)
    assert all(e.invoice_id == INV1 for e in tx.entries if e.account == account)


def test_dispute_opened_holds_the_funds_and_charges_the_fee() -> None:
    d = uuid.uuid4()
    tx = L.dispute_opened(d, payment_id=PAY, amount=10_300, fee=1_500, currency="USD", occurred_at=AT)
    assert sides(tx) == {"disputes": 10_300, "dispute_fees": 1_500, "stripe_clearing": -11_800}
    assert tx.key == f"dispute_opened:{d}"


def test_dispute_won_reinstates_funds_and_returned_fee() -> None:
    d = uuid.uuid4()
    tx = L.dispute_won(d, payment_id=PAY, amount=10_300, fee_returned=1_500, currency="USD", occurred_at=AT)
    assert sides(tx) == {"stripe_clearing": 11_800, "disputes": -10_300, "dispute_fees": -1_500}
    assert sides(L.dispute_won(d, payment_id=PAY, amount=10, currency="USD", occurred_at=AT)) == {
        "stripe_clearing": 10,
        "disputes": -10,
    }


@pytest.mark.parametrize(("reopen", "account"), [(True, "accounts_receivable"), (False, "dispute_losses")])
def test_dispute_lost_releases_held_funds(reopen: bool, account: str) -> None:
    d = uuid.uuid4()
    tx = L.dispute_lost(
        d, payment_id=PAY, allocations={INV1: 10_000}, surcharge=300, currency="USD", reopen_invoices=reopen,
        occurred_at=AT,
    )  # fmt: skip
    assert sides(tx) == {account: 10_000, "surcharge_income": 300, "disputes": -10_300}


def test_a_dispute_closes_once_won_or_lost() -> None:
    d = uuid.uuid4()
    won = L.dispute_won(d, payment_id=PAY, amount=10, currency="USD", occurred_at=AT)
    lost = L.dispute_lost(
        d, payment_id=PAY, allocations={INV1: 10}, currency="USD", reopen_invoices=True, occurred_at=AT
    )
    assert won.key == lost.key == f"dispute_closed:{d}"
    assert (won.kind, lost.kind) == (Kind.DISPUTE_WON, Kind.DISPUTE_LOST)


def test_payment_returned_reopens_receivable() -> None:
    tx = L.payment_returned(PAY, allocations={INV1: 4_000, INV2: 1_000}, currency="USD", occurred_at=AT)
    assert sides(tx) == {"accounts_receivable": 5_000, "stripe_clearing": -5_000}


def test_payout_and_failed_payout() -> None:
    p = uuid.uuid4()
    assert sides(L.payout(p, amount=9_000, currency="USD", occurred_at=AT)) == {
        "bank": 9_000,
        "stripe_clearing": -9_000,
    }
    failed = L.payout_failed(p, amount=9_000, currency="USD", occurred_at=AT)
    assert sides(failed) == {"bank": -9_000, "stripe_clearing": 9_000}
    assert failed.key != L.payout(p, amount=9_000, currency="USD", occurred_at=AT).key


def test_reversal_mirrors_the_original_and_links_to_it() -> None:
    original = L.invoice_issued(INV1, amount=1_000, currency="USD", occurred_at=AT)
    rev = L.reversal_of(original, occurred_at=AT)
    assert rev.reverses == original.id and rev.key == f"reversal:{original.id}"
    assert [e.amount for e in rev.entries] == [-e.amount for e in original.entries]
    assert L.balances_from([original, rev]) == {("accounts_receivable", "USD"): 0, ("revenue", "USD"): 0}


def test_natural_balance_reads_income_positive_and_contra_revenue_negative() -> None:
    assert L.natural_balance("revenue", -500) == 500
    assert L.natural_balance("stripe_clearing", 500) == 500
    assert L.natural_balance("refunds", 200) == 200  # contra revenue: debit-normal
    assert L.CHART["refunds"].debit_normal and not L.CHART["revenue"].debit_normal


# --- validation -------------------------------------------------------------------------------------------


def _tx(*entries: Entry, at: datetime = AT) -> LedgerTransaction:
    return LedgerTransaction(Kind.REVERSAL, "k:1", Reference("payment", PAY), at, entries)


def test_unbalanced_transactions_are_refused_per_currency() -> None:
    with pytest.raises(UnbalancedTransaction):
        _tx(L.debit("bank", 100, "USD"), L.credit("stripe_clearing", 99, "USD"))
    # balanced in total but not per currency
    with pytest.raises(UnbalancedTransaction):
        _tx(L.debit("bank", 100, "USD"), L.credit("stripe_clearing", 100, "EUR"))
    ok = _tx(
        L.debit("bank", 100, "USD"), L.credit("stripe_clearing", 100, "USD"),
        L.debit("bank", 7, "EUR"), L.credit("stripe_clearing", 7, "EUR"),
    )  # fmt: skip
    assert ok.totals() == {"USD": 0, "EUR": 0}


@pytest.mark.parametrize(
    "entries",
    [
        (Entry("bank", 0, "USD"), Entry("stripe_clearing", 0, "USD")),  # zero entries
        (Entry("bank", 1.5, "USD"), Entry("stripe_clearing", -1.5, "USD")),  # type: ignore[arg-type]
        (Entry("bank", True, "USD"), Entry("stripe_clearing", -1, "USD")),  # bool is not an amount
        (Entry("petty_cash", 1, "USD"), Entry("stripe_clearing", -1, "USD")),  # unknown account
        (Entry("bank", 1, "XXX"), Entry("stripe_clearing", -1, "XXX")),  # unknown currency
        (Entry("bank", 10**14, "USD"), Entry("stripe_clearing", -(10**14), "USD")),  # beyond MAX_MINOR
        (Entry("bank", 1, "USD"),),  # a single entry
        (),
    ],
)
def test_bad_entries_are_refused(entries: tuple[Entry, ...]) -> None:
    with pytest.raises(InvalidPosting):
        _tx(*entries)


def test_naive_times_and_bad_amounts_are_refused() -> None:
    with pytest.raises(InvalidPosting, match="timezone"):
        _tx(L.debit("bank", 1, "USD"), L.credit("stripe_clearing", 1, "USD"), at=datetime(2026, 1, 1))
    for bad in (0, -5, 2.5, 10**14):
        with pytest.raises(InvalidPosting):
            L.payout(uuid.uuid4(), amount=bad, currency="USD", occurred_at=AT)  # type: ignore[arg-type]
    with pytest.raises(InvalidPosting):
        L.invoice_issued(INV1, amount=100, tax=101, currency="USD", occurred_at=AT)
    with pytest.raises(InvalidPosting):
        L.payment_succeeded(PAY, allocations={}, amount=0, currency="USD", occurred_at=AT)
    with pytest.raises(InvalidPosting):
        L.refund(uuid.uuid4(), payment_id=PAY, allocations={INV1: 10}, surcharge=-1, currency="USD",
                 reopen_invoices=True, occurred_at=AT)  # fmt: skip
    with pytest.raises(InvalidPosting, match="currency"):
        L.payout(uuid.uuid4(), amount=1, currency="usd", occurred_at=AT)
