"""The accounting records one Xero organisation holds, and the organisation itself.

Records are frozen: a write builds a new record and swaps it into its table. That makes a batch
all-or-nothing for free (`Organisation.snapshot()` copies the tables' dicts, not the records), which is what
`summarizeErrors=true` needs.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from uuid import UUID

ZERO = Decimal("0.00")

# Account types Xero treats as bank accounts; payments may also go to any account with payments enabled.
BANK = "BANK"
ACCOUNT_CLASS = {
    "BANK": "ASSET", "CURRENT": "ASSET", "FIXED": "ASSET", "INVENTORY": "ASSET", "NONCURRENT": "ASSET",
    "PREPAYMENT": "ASSET", "DEPRECIATN": "EXPENSE", "DIRECTCOSTS": "EXPENSE", "EXPENSE": "EXPENSE",
    "OVERHEADS": "EXPENSE", "EQUITY": "EQUITY", "CURRLIAB": "LIABILITY", "LIABILITY": "LIABILITY",
    "TERMLIAB": "LIABILITY", "PAYG": "LIABILITY", "OTHERINCOME": "REVENUE", "REVENUE": "REVENUE", "SALES": "REVENUE",
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Contact:
    contact_id: UUID
    name: str
    updated: dt.datetime
    status: str = "ACTIVE"
    contact_number: str | None = None
    account_number: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    email: str | None = None
    is_customer: bool = False
    is_supplier: bool = False
    default_currency: str | None = None


@dataclass(frozen=True, slots=True)
class Account:
    account_id: UUID
    code: str
    name: str
    type: str
    updated: dt.datetime
    status: str = "ACTIVE"
    bank_account_number: str | None = None
    currency_code: str | None = None
    description: str | None = None
    tax_type: str = "NONE"
    enable_payments: bool = False
    system_account: str = ""

    @property
    def payable(self) -> bool:
        """Payments may be applied to bank accounts and to accounts with payments enabled."""
        return self.status == "ACTIVE" and (self.type == BANK or self.enable_payments)


@dataclass(frozen=True, slots=True)
class LineItem:
    line_item_id: UUID
    description: str | None
    quantity: Decimal | None
    unit_amount: Decimal | None
    line_amount: Decimal
    account_code: str | None
    tax_type: str = "NONE"
    tax_amount: Decimal = ZERO
    item_code: str | None = None


@dataclass(frozen=True, slots=True)
class Totals:
    sub_total: Decimal
    total_tax: Decimal
    total: Decimal


@dataclass(frozen=True, slots=True)
class Invoice:
    invoice_id: UUID
    type: str
    contact_id: UUID
    number: str
    status: str
    date: dt.date
    due_date: dt.date | None
    line_items: tuple[LineItem, ...]
    totals: Totals
    currency: str
    updated: dt.datetime
    reference: str = ""
    line_amount_types: str = "Exclusive"
    amount_paid: Decimal = ZERO
    amount_credited: Decimal = ZERO
    fully_paid_on: dt.date | None = None
    payment_ids: tuple[UUID, ...] = ()
    sent_to_contact: bool = False
    url: str | None = None

    @property
    def amount_due(self) -> Decimal:
        """Nothing is due on a voided or deleted invoice (Xero's own example shows VOIDED with AmountDue 0)."""
        if self.status in ("VOIDED", "DELETED"):
            return ZERO
        return self.totals.total - self.amount_paid - self.amount_credited


@dataclass(frozen=True, slots=True)
class Payment:
    payment_id: UUID
    invoice_id: UUID
    account_id: UUID
    date: dt.date
    amount: Decimal
    payment_type: str
    updated: dt.datetime
    status: str = "AUTHORISED"
    reference: str | None = None
    is_reconciled: bool = False


@dataclass(frozen=True, slots=True)
class BankTransaction:
    bank_transaction_id: UUID
    type: str
    contact_id: UUID
    bank_account_id: UUID
    date: dt.date
    line_items: tuple[LineItem, ...]
    totals: Totals
    currency: str
    updated: dt.datetime
    status: str = "AUTHORISED"
    reference: str | None = None
    line_amount_types: str = "Exclusive"
    is_reconciled: bool = False
    url: str | None = None


@dataclass
class StoredResponse:
    """The first answer given for an Idempotency-Key, replayed byte for byte."""

    fingerprint: str
    status: int
    body: bytes
    stored_at: dt.datetime


@dataclass
class Organisation:
    """One tenant: its chart of accounts and its records, keyed by Xero id."""

    tenant_id: UUID
    name: str
    base_currency: str
    created: dt.datetime
    contacts: dict[UUID, Contact] = field(default_factory=dict)
    accounts: dict[UUID, Account] = field(default_factory=dict)
    invoices: dict[UUID, Invoice] = field(default_factory=dict)
    payments: dict[UUID, Payment] = field(default_factory=dict)
    bank_transactions: dict[UUID, BankTransaction] = field(default_factory=dict)
    invoice_numbers: dict[str, UUID] = field(default_factory=dict)  # ACCREC numbers are unique per org
    invoice_seq: int = 0
    idempotency: dict[tuple[str, str], StoredResponse] = field(default_factory=dict)

    _TABLES = ("contacts", "accounts", "invoices", "payments", "bank_transactions", "invoice_numbers")

    def snapshot(self) -> dict[str, Any]:
        saved: dict[str, Any] = {name: dict(getattr(self, name)) for name in self._TABLES}
        saved["invoice_seq"] = self.invoice_seq
        return saved

    def restore(self, saved: dict[str, Any]) -> None:
        for name, value in saved.items():
            setattr(self, name, value)

    def account_by_code(self, code: str) -> Account | None:
        wanted = code.strip().upper()
        return next((a for a in self.accounts.values() if a.code.upper() == wanted and a.status != "DELETED"), None)

    def contact_by_name(self, name: str) -> Contact | None:
        return next((c for c in self.contacts.values() if c.name == name and c.status == "ACTIVE"), None)

    def contact_by_number(self, number: str) -> Contact | None:
        return next((c for c in self.contacts.values() if c.contact_number == number), None)

    def next_invoice_number(self) -> str:
        """`INV-0001` onwards, skipping numbers already taken (Xero's default invoice settings)."""
        while True:
            self.invoice_seq += 1
            number = f"INV-{self.invoice_seq:04d}"
            if number not in self.invoice_numbers:
                return number
