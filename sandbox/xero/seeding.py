"""Putting records straight into an organisation: for tests, the dev run and benchmarks.

Seeded records are "already there": they raise no webhook events. Single records go through the same rules
as the API (so a seeded payment really pays its invoice); `seed_invoices` builds records directly so that
tens of thousands load in well under a second.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from .context import WriteContext, parse_lines, totals
from .formats import lower_keys
from .models import Account, Contact, Invoice, LineItem, Organisation, Totals
from .payments import create_payment

if TYPE_CHECKING:
    from .state import XeroState

# A small chart in the shape of Xero's demo company. 970 has payments enabled because Xero's own payment
# example pays into it; 090 is the bank account payouts land in.
DEFAULT_CHART: tuple[tuple[str, str, str, dict[str, Any]], ...] = (
    ("090", "Business Bank Account", "BANK", {"bank_account_number": "0123456789"}),
    ("200", "Sales", "REVENUE", {}),
    ("260", "Other Revenue", "REVENUE", {}),
    ("310", "Cost of Goods Sold", "DIRECTCOSTS", {}),
    ("404", "Bank Fees", "EXPENSE", {}),
    ("610", "Accounts Receivable", "CURRENT", {"system_account": "DEBTORS"}),
    ("800", "Accounts Payable", "CURRLIAB", {"system_account": "CREDITORS"}),
    ("970", "Owner A Funds Introduced", "EQUITY", {"enable_payments": True}),
)


class SeedError(ValueError):
    """A seeding call the API itself would have refused."""


def add_account(state: XeroState, org: Organisation, code: str, name: str, kind: str, **extra: Any) -> Account:
    if kind == "BANK":
        extra.setdefault("currency_code", org.base_currency)
    account = Account(state.new_id(), code, name, kind, state.now(), **extra)
    org.accounts[account.account_id] = account
    return account


def add_contact(state: XeroState, org: Organisation, name: str, **extra: Any) -> Contact:
    contact = Contact(state.new_id(), name, state.now(), **extra)
    org.contacts[contact.contact_id] = contact
    return contact


def add_invoice(
    state: XeroState, org: Organisation, contact: Contact, amount: Decimal | str | None = None, *,
    lines: list[dict[str, Any]] | None = None, status: str = "AUTHORISED", kind: str = "ACCREC",
    number: str | None = None, day: date | None = None, due: date | None = None, reference: str = "",
) -> Invoice:  # fmt: skip
    """One invoice with `lines` (API-shaped dicts) or a single line of `amount` to account 200. An invoice
    becomes PAID only through payments (`add_payment`), so PAID cannot be seeded directly."""
    if status not in ("DRAFT", "SUBMITTED", "AUTHORISED", "VOIDED", "DELETED"):
        raise SeedError(f"cannot seed an invoice as {status}; seed it AUTHORISED and add payments")
    ctx = WriteContext(org, state.now(), state.new_id)
    raw = lines or [{"Description": "Services", "Quantity": 1, "UnitAmount": str(amount), "AccountCode": "200"}]
    parsed, errors = parse_lines(ctx, lower_keys(raw), need_accounts=False)
    if errors:
        raise SeedError("; ".join(errors))
    number = number or (org.next_invoice_number() if kind == "ACCREC" else "")
    today = ctx.today
    invoice = Invoice(
        state.new_id(), kind, contact.contact_id, number, status, day or today, due or (day or today) + timedelta(30),
        parsed, totals(parsed, "Exclusive"), org.base_currency, state.now(), reference=reference,
    )  # fmt: skip
    org.invoices[invoice.invoice_id] = invoice
    if kind == "ACCREC":
        org.invoice_numbers[number] = invoice.invoice_id
    return invoice


def add_payment(
    state: XeroState, org: Organisation, invoice: Invoice, amount: Decimal | str, *, account_code: str = "090",
    day: date | None = None,
) -> dict[str, Any]:  # fmt: skip
    """Pay through the API's own rule; returns the payment as the API renders it."""
    ctx = WriteContext(org, state.now(), state.new_id)
    item = {"invoice": {"invoiceid": str(invoice.invoice_id)}, "account": {"code": account_code},
            "amount": Decimal(str(amount)), "date": (day or ctx.today).isoformat()}  # fmt: skip
    outcome = create_payment(ctx, item, path_id=None, create_only=True)
    if outcome.errors or outcome.doc is None:
        raise SeedError("; ".join(outcome.errors))
    return outcome.doc


def seed_invoices(
    state: XeroState, org: Organisation, count: int, *, contacts: int = 50, amount: Decimal | str = "100.00",
    status: str = "AUTHORISED",
) -> list[Invoice]:  # fmt: skip
    """Bulk: `count` single-line ACCREC invoices spread over `contacts` new contacts."""
    people = [add_contact(state, org, f"Bulk Customer {i + 1:05d}", is_customer=True) for i in range(contacts)]
    value = Decimal(str(amount)).quantize(Decimal("0.01"))
    now, today = state.now(), state.now().date()
    made = []
    for i in range(count):
        line = LineItem(state.new_id(), "Services", Decimal("1.0000"), value, value, "200")
        number = org.next_invoice_number()
        invoice = Invoice(
            state.new_id(), "ACCREC", people[i % contacts].contact_id, number, status, today, today + timedelta(30),
            (line,), Totals(value, Decimal("0.00"), value), org.base_currency, now,
        )  # fmt: skip
        org.invoices[invoice.invoice_id] = invoice
        org.invoice_numbers[number] = invoice.invoice_id
        made.append(invoice)
    return made
