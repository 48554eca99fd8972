"""The ledger: per tenant, double-entry, append-only. One constructor per business event.

Sign convention: an entry's `amount` is signed minor units, debit positive and credit negative, so a transaction
balances when its entries sum to zero in each currency, and an account's stored balance is the plain sum of its
entries (debit-positive). `natural_balance` turns that into the way a person reads it (revenue positive).

Choices, so the books read the way the MSP's accountant expects (domain.md §5):
- A payment lands gross in `stripe_clearing` (Undeposited Funds): the invoice part credits AR per invoice, the
  surcharge part credits `surcharge_income`. The processing fee comes off clearing separately, and a payout
  moves what is left to `bank`, so a payout equals the bank line to the cent.
  An invoice part that finds no balance left (the invoice was paid meanwhile by other means, e.g. in the
  PSA) credits the liability `unapplied_payments` instead of AR: AR never falls below what invoices owe.
- Refunds and lost disputes take the money out of clearing and reverse the surcharge part (pro-rated by the
  caller) out of `surcharge_income`. For the invoice part the caller says what happened to the invoice:
  `reopen_invoices=True` re-debits AR (the invoice balance is owed again, so AR keeps equal to the sum of open
  invoice balances); `False` debits the contra-revenue account `refunds` (a refund) or the expense
  `dispute_losses` (a chargeback written off), leaving the invoice settled. Revenue itself is never debited:
  what was invoiced stays visible beside what was given back.
- A disputed amount moves from clearing to `disputes` (funds held) while open, with the dispute fee to
  `dispute_fees`; won, it comes back to clearing (with the fee if Stripe returns it); lost, see above, except
  that a part the payer had been refunded already is a plain loss (`dispute_losses`): no invoice owes it.
- Each transaction carries an idempotency key (`kind:source id`), unique per tenant: recording the same event
  twice (a webhook delivered twice) is a no-op. A dispute closes once: won and lost share one key.
- Mistakes are never edited: `reversal_of` posts the mirror image, linked to the original.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from domain.errors import DomainError
from domain.ids import new_id
from domain.money import MAX_MINOR, is_currency


class InvalidPosting(DomainError):
    """A ledger transaction that may not be recorded (bad amount, unknown account, ...)."""

    code = "invalid_ledger_posting"


class UnbalancedTransaction(InvalidPosting):
    code = "unbalanced_ledger_transaction"


class KeyReused(InvalidPosting):
    """An idempotency key recorded before with different entries: one event cannot say two things."""

    code = "ledger_key_reused"


class AccountType(StrEnum):
    ASSET = "asset"
    LIABILITY = "liability"
    EQUITY = "equity"
    INCOME = "income"
    EXPENSE = "expense"


@dataclass(frozen=True)
class Account:
    code: str
    name: str
    type: AccountType
    contra: bool = False  # normal balance opposite to its type's (refunds: a debit-normal income account)

    @property
    def debit_normal(self) -> bool:
        return (self.type in (AccountType.ASSET, AccountType.EXPENSE)) != self.contra


A = AccountType
# The default chart, created per tenant and currency on first use.
CHART: dict[str, Account] = {
    a.code: a
    for a in (
        Account("accounts_receivable", "Accounts receivable", A.ASSET),
        Account("stripe_clearing", "Stripe clearing (undeposited funds)", A.ASSET),
        Account("bank", "Bank", A.ASSET),
        Account("disputes", "Funds held in disputes", A.ASSET),
        Account("sales_tax_payable", "Sales tax payable", A.LIABILITY),
        Account("unapplied_payments", "Unapplied payments (owed to payers)", A.LIABILITY),
        Account("revenue", "Revenue", A.INCOME),
        Account("surcharge_income", "Card surcharge income", A.INCOME),
        Account("refunds", "Refunds (contra revenue)", A.INCOME, contra=True),
        Account("processing_fees", "Payment processing fees", A.EXPENSE),
        Account("dispute_fees", "Dispute fees", A.EXPENSE),
        Account("dispute_losses", "Chargebacks lost", A.EXPENSE),
    )
}
AR, CLEARING, BANK, DISPUTES = "accounts_receivable", "stripe_clearing", "bank", "disputes"
REVENUE, SURCHARGE, REFUNDS, SALES_TAX = "revenue", "surcharge_income", "refunds", "sales_tax_payable"
FEES, DISPUTE_FEES, DISPUTE_LOSSES = "processing_fees", "dispute_fees", "dispute_losses"
UNAPPLIED = "unapplied_payments"


def natural_balance(account: str, signed: int) -> int:
    """A debit-positive balance as a person reads it: positive when on the account's normal side."""
    return signed if CHART[account].debit_normal else -signed


class Kind(StrEnum):
    INVOICE_ISSUED = "invoice_issued"
    PAYMENT_SUCCEEDED = "payment_succeeded"
    PAYMENT_RETURNED = "payment_returned"  # an ACH return after the payment had settled
    PROCESSING_FEE = "processing_fee"
    REFUND = "refund"
    DISPUTE_OPENED = "dispute_opened"
    DISPUTE_WON = "dispute_won"
    DISPUTE_LOST = "dispute_lost"
    PAYOUT = "payout"
    PAYOUT_FAILED = "payout_failed"
    REVERSAL = "reversal"


@dataclass(frozen=True)
class Entry:
    """One line of a transaction: debit when `amount` > 0, credit when < 0. `invoice_id` dimensions AR."""

    account: str
    amount: int
    currency: str
    invoice_id: uuid.UUID | None = None

    @property
    def side(self) -> str:
        return "debit" if self.amount > 0 else "credit"


def debit(account: str, amount: int, currency: str, invoice_id: uuid.UUID | None = None) -> Entry:
    return Entry(account, amount, currency, invoice_id)


def credit(account: str, amount: int, currency: str, invoice_id: uuid.UUID | None = None) -> Entry:
    return Entry(account, -amount, currency, invoice_id)


@dataclass(frozen=True)
class Reference:
    """What a transaction is about: ("invoice" | "payment" | "payout", our id, the provider's id if any)."""

    type: str
    id: uuid.UUID
    external_id: str | None = None


@dataclass(frozen=True)
class LedgerTransaction:
    """A balanced group of entries, valid by construction (the database checks the same rules again)."""

    kind: Kind
    key: str  # idempotency key, unique per tenant: "<kind or event>:<source id>"
    reference: Reference
    occurred_at: datetime
    entries: tuple[Entry, ...]
    id: uuid.UUID = field(default_factory=new_id)
    reverses: uuid.UUID | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.kind, Kind):
            raise InvalidPosting(f"unknown transaction kind {self.kind!r}")
        if not self.key or len(self.key) > 200:
            raise InvalidPosting("an idempotency key of 1 to 200 characters is required")
        if self.occurred_at.tzinfo is None:
            raise InvalidPosting("occurred_at must be timezone-aware")
        if len(self.entries) < 2:
            raise InvalidPosting("a transaction needs at least two entries")
        for e in self.entries:
            _check_entry(e)
        unbalanced = {c: s for c, s in self.totals().items() if s != 0}
        if unbalanced:
            raise UnbalancedTransaction(f"{self.kind}: debits and credits differ by {unbalanced}")

    def totals(self) -> dict[str, int]:
        """Sum of signed entries per currency (zero for a balanced transaction)."""
        out: dict[str, int] = {}
        for e in self.entries:
            out[e.currency] = out.get(e.currency, 0) + e.amount
        return out


def _check_entry(e: Entry) -> None:
    if e.account not in CHART:
        raise InvalidPosting(f"unknown account {e.account!r}")
    if type(e.amount) is not int:
        raise InvalidPosting(f"{e.account}: amounts are integer minor units, not {type(e.amount).__name__}")
    if e.amount == 0 or abs(e.amount) > MAX_MINOR:
        raise InvalidPosting(f"{e.account}: entry amount must be non-zero and at most {MAX_MINOR}")
    if not is_currency(e.currency):
        raise InvalidPosting(f"{e.account}: unknown currency {e.currency!r}")


def _amount(name: str, value: int, *, zero_ok: bool = False) -> int:
    if type(value) is not int:
        raise InvalidPosting(f"{name}: amounts are integer minor units")
    if value < 0 or (value == 0 and not zero_ok) or value > MAX_MINOR:
        raise InvalidPosting(f"{name}: must be {'0 or more' if zero_ok else 'positive'} and at most {MAX_MINOR}")
    return value


def _allocations(allocations: Mapping[uuid.UUID, int]) -> list[tuple[uuid.UUID, int]]:
    if not allocations:
        raise InvalidPosting("allocations: at least one invoice is required")
    return [(inv, _amount(f"allocations[{inv}]", amt)) for inv, amt in allocations.items()]


def _tx(
    kind: Kind, source: object, ref: Reference, at: datetime, entries: Iterable[Entry], event: str | None = None
) -> LedgerTransaction:
    """`event` names the key when several kinds share one (a dispute closes once, won or lost)."""
    return LedgerTransaction(kind, f"{event or kind}:{source}", ref, at, tuple(entries))


def _payment(payment_id: uuid.UUID, external_id: str | None) -> Reference:
    return Reference("payment", payment_id, external_id)


def invoice_issued(
    invoice_id: uuid.UUID, *, amount: int, currency: str, occurred_at: datetime, tax: int = 0,
    external_id: str | None = None,
) -> LedgerTransaction:  # fmt: skip
    """AR debited by the invoice total; revenue credited net of tax, sales tax payable by the tax."""
    _amount("amount", amount)
    if _amount("tax", tax, zero_ok=True) > amount:
        raise InvalidPosting("tax: cannot exceed the invoice amount")
    entries = [debit(AR, amount, currency, invoice_id)]
    entries += [credit(REVENUE, amount - tax, currency)] if amount > tax else []
    entries += [credit(SALES_TAX, tax, currency)] if tax else []
    return _tx(Kind.INVOICE_ISSUED, invoice_id, Reference("invoice", invoice_id, external_id), occurred_at, entries)


def payment_succeeded(
    payment_id: uuid.UUID, *, allocations: Mapping[uuid.UUID, int], amount: int, currency: str,
    occurred_at: datetime, surcharge: int = 0, external_id: str | None = None,
    unapplied: Mapping[uuid.UUID, int] | None = None,
) -> LedgerTransaction:  # fmt: skip
    """The gross amount to clearing; AR credited per invoice paid, surcharge income by the surcharge.
    `unapplied`: per invoice, what was collected for it but found no balance left (paid meanwhile by other
    means): owed to the payer, in `unapplied_payments`, until refunded or applied elsewhere."""
    extra = [(inv, _amount(f"unapplied[{inv}]", a)) for inv, a in (unapplied or {}).items()]
    parts = _allocations(allocations) if allocations or not extra else []
    invoice_parts = sum(a for _, a in parts) + sum(a for _, a in extra)
    if _amount("amount", amount) != invoice_parts + _amount("surcharge", surcharge, zero_ok=True):
        raise InvalidPosting("amount: must equal the invoice allocations plus the surcharge")
    entries = [debit(CLEARING, amount, currency)]
    entries += [credit(AR, a, currency, inv) for inv, a in parts]
    entries += [credit(UNAPPLIED, a, currency, inv) for inv, a in extra]
    entries += [credit(SURCHARGE, surcharge, currency)] if surcharge else []
    return _tx(Kind.PAYMENT_SUCCEEDED, payment_id, _payment(payment_id, external_id), occurred_at, entries)


def payment_returned(
    payment_id: uuid.UUID, *, allocations: Mapping[uuid.UUID, int], currency: str, occurred_at: datetime,
    external_id: str | None = None,
) -> LedgerTransaction:  # fmt: skip
    """An ACH debit returned after it settled: the money leaves clearing and the invoices are owed again.
    ACH is never surcharged, so there is no surcharge part."""
    parts = _allocations(allocations)
    entries = [debit(AR, a, currency, inv) for inv, a in parts]
    entries.append(credit(CLEARING, sum(a for _, a in parts), currency))
    return _tx(Kind.PAYMENT_RETURNED, payment_id, _payment(payment_id, external_id), occurred_at, entries)


def processing_fee(
    payment_id: uuid.UUID, *, fee: int, currency: str, occurred_at: datetime, balance_transaction: str | None = None
) -> LedgerTransaction:
    """Stripe's fee, read from the charge's balance transaction: fee expense debited, clearing credited.
    Keyed on the balance transaction when given (a payment can carry more than one), else on the payment."""
    entries = [debit(FEES, _amount("fee", fee), currency), credit(CLEARING, fee, currency)]
    source = balance_transaction or payment_id
    return _tx(Kind.PROCESSING_FEE, source, _payment(payment_id, balance_transaction), occurred_at, entries)


def _give_back(
    kind: Kind, source: uuid.UUID, payment_id: uuid.UUID, allocations: Mapping[uuid.UUID, int], surcharge: int,
    currency: str, reopen_invoices: bool, written_off_to: str, funds_from: str, at: datetime, ext: str | None,
    lost: int = 0, unapplied: Mapping[uuid.UUID, int] | None = None,
) -> LedgerTransaction:  # fmt: skip
    """`lost`: money that leaves with no invoice part (a refunded part disputed again), to `dispute_losses`.
    `unapplied`: per invoice, what no invoice received (see payment_succeeded), out of `unapplied_payments`."""
    _amount("lost", lost, zero_ok=True)
    _amount("surcharge", surcharge, zero_ok=True)
    held = [(inv, _amount(f"unapplied[{inv}]", a)) for inv, a in (unapplied or {}).items()]
    # No invoice part is possible (a charge disputed after it was refunded in full), but something must go back.
    parts = _allocations(allocations) if allocations or not (lost or surcharge or held) else []
    account = AR if reopen_invoices else written_off_to
    entries = [debit(account, a, currency, inv) for inv, a in parts]
    entries += [debit(UNAPPLIED, a, currency, inv) for inv, a in held]
    entries += [debit(SURCHARGE, surcharge, currency)] if surcharge else []
    entries += [debit(DISPUTE_LOSSES, lost, currency)] if lost else []
    entries.append(credit(funds_from, sum(a for _, a in parts + held) + surcharge + lost, currency))
    event = "dispute_closed" if kind is Kind.DISPUTE_LOST else None
    return _tx(kind, source, _payment(payment_id, ext), at, entries, event)


def refund(
    refund_id: uuid.UUID, *, payment_id: uuid.UUID, allocations: Mapping[uuid.UUID, int], currency: str,
    reopen_invoices: bool, occurred_at: datetime, surcharge: int = 0, external_id: str | None = None,
    unapplied: Mapping[uuid.UUID, int] | None = None,
) -> LedgerTransaction:  # fmt: skip
    """Money given back from clearing. The surcharge part (pro-rated by the caller) reverses surcharge income;
    `unapplied` leaves `unapplied_payments` (no invoice received it); the invoice part (`allocations`) re-opens
    AR or, with `reopen_invoices=False`, goes to the contra-revenue `refunds`."""
    return _give_back(
        Kind.REFUND, refund_id, payment_id, allocations, surcharge, currency, reopen_invoices, REFUNDS, CLEARING,
        occurred_at, external_id, unapplied=unapplied,
    )  # fmt: skip


def dispute_opened(
    dispute_id: uuid.UUID, *, payment_id: uuid.UUID, amount: int, currency: str, occurred_at: datetime,
    fee: int = 0, external_id: str | None = None,
) -> LedgerTransaction:  # fmt: skip
    """Stripe withdraws the disputed amount (held in `disputes` until decided) and the dispute fee."""
    entries = [debit(DISPUTES, _amount("amount", amount), currency)]
    entries += [debit(DISPUTE_FEES, fee, currency)] if _amount("fee", fee, zero_ok=True) else []
    entries.append(credit(CLEARING, amount + fee, currency))
    return _tx(Kind.DISPUTE_OPENED, dispute_id, _payment(payment_id, external_id), occurred_at, entries)


def dispute_won(
    dispute_id: uuid.UUID, *, payment_id: uuid.UUID, amount: int, currency: str, occurred_at: datetime,
    fee_returned: int = 0, external_id: str | None = None,
) -> LedgerTransaction:  # fmt: skip
    """The disputed amount is reinstated to clearing, with the fee when Stripe returns it."""
    back = _amount("amount", amount) + _amount("fee_returned", fee_returned, zero_ok=True)
    entries = [debit(CLEARING, back, currency), credit(DISPUTES, amount, currency)]
    entries += [credit(DISPUTE_FEES, fee_returned, currency)] if fee_returned else []
    ref = _payment(payment_id, external_id)
    return _tx(Kind.DISPUTE_WON, dispute_id, ref, occurred_at, entries, "dispute_closed")


def dispute_lost(
    dispute_id: uuid.UUID, *, payment_id: uuid.UUID, allocations: Mapping[uuid.UUID, int], currency: str,
    reopen_invoices: bool, occurred_at: datetime, surcharge: int = 0, refunded_before: int = 0,
    external_id: str | None = None, unapplied: Mapping[uuid.UUID, int] | None = None,
) -> LedgerTransaction:  # fmt: skip
    """The held funds are gone for good: the invoice part re-opens AR or is written off to `dispute_losses`,
    the surcharge part reverses surcharge income, the `unapplied` part (cash no invoice received, owed to the
    payer, who has now taken it back) leaves `unapplied_payments`. `refunded_before` is the part the payer had
    been refunded already (a charge may be disputed in full after a partial refund): the invoices were settled
    for it by the refund, so none owes it again and it goes to `dispute_losses`. All parts together must equal
    the disputed amount."""
    return _give_back(
        Kind.DISPUTE_LOST, dispute_id, payment_id, allocations, surcharge, currency, reopen_invoices,
        DISPUTE_LOSSES, DISPUTES, occurred_at, external_id, refunded_before, unapplied,
    )  # fmt: skip


def payout(
    payout_id: uuid.UUID, *, amount: int, currency: str, occurred_at: datetime, external_id: str | None = None
) -> LedgerTransaction:
    """Stripe pays out to the MSP's bank: bank debited, clearing credited (one bank deposit in the books)."""
    entries = [debit(BANK, _amount("amount", amount), currency), credit(CLEARING, amount, currency)]
    return _tx(Kind.PAYOUT, payout_id, Reference("payout", payout_id, external_id), occurred_at, entries)


def payout_failed(
    payout_id: uuid.UUID, *, amount: int, currency: str, occurred_at: datetime, external_id: str | None = None
) -> LedgerTransaction:
    """A payout the bank bounced: the money is back in the Stripe balance."""
    entries = [debit(CLEARING, _amount("amount", amount), currency), credit(BANK, amount, currency)]
    return _tx(Kind.PAYOUT_FAILED, payout_id, Reference("payout", payout_id, external_id), occurred_at, entries)


def reversal_of(original: LedgerTransaction, *, occurred_at: datetime) -> LedgerTransaction:
    """The correction of a mistaken transaction: the mirror image of its entries, linked to it. Once only."""
    mirrored = tuple(Entry(e.account, -e.amount, e.currency, e.invoice_id) for e in original.entries)
    return LedgerTransaction(
        Kind.REVERSAL, f"reversal:{original.id}", original.reference, occurred_at, mirrored, reverses=original.id
    )


Balances = dict[tuple[str, str], int]  # (account code, currency) -> debit-positive balance


def balances_from(transactions: Sequence[LedgerTransaction]) -> Balances:
    """The balances a list of transactions adds up to (what the stored balances must equal)."""
    out: Balances = {}
    for tx in transactions:
        for e in tx.entries:
            out[(e.account, e.currency)] = out.get((e.account, e.currency), 0) + e.amount
    return out
