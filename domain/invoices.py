"""Invoices and their lines. Status and balance are derived from lines and payments, never set directly."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from domain.errors import InvalidState, Validator
from domain.money import MAX_MINOR, is_currency, round_minor

MAX_LINES = 500
MAX_QUANTITY = Decimal(1_000_000)


def tidy_quantity(q: Decimal) -> Decimal:
    """25.0000 -> 25 and 1.5000 -> 1.5 (never 2.5E+1): how people write quantities on an invoice."""
    return q.quantize(Decimal(1)) if q == q.to_integral_value() else q.normalize()


class InvoiceStatus(StrEnum):
    OPEN = "open"  # nothing paid yet
    PARTIALLY_PAID = "partially_paid"
    PAID = "paid"  # balance is zero
    VOID = "void"  # cancelled: nothing is owed and nothing may be collected


def totals_of(lines: list[InvoiceLine]) -> tuple[int, int]:
    """(subtotal, tax_total) of an invoice's lines. Lines are fixed once issued, so this runs once, at issue."""
    return sum(ln.amount for ln in lines), sum(ln.tax_amount for ln in lines)


def status_for(total: int, amount_paid: int) -> InvoiceStatus:
    if amount_paid >= total:
        return InvoiceStatus.PAID
    return InvoiceStatus.PARTIALLY_PAID if amount_paid > 0 else InvoiceStatus.OPEN


@dataclass(frozen=True)
class InvoiceLine:
    id: uuid.UUID
    position: int
    description: str
    quantity: Decimal
    unit_amount: int  # minor units
    tax_amount: int  # minor units, for the whole line
    amount: int  # quantity x unit_amount, rounded once when the line is priced; excludes tax

    @staticmethod
    def priced(
        id: uuid.UUID, position: int, description: str, quantity: Decimal, unit_amount: int, tax_amount: int
    ) -> InvoiceLine:
        """A new line: quantity x unit price, rounded half-up to the minor unit (stored, never recomputed)."""
        amount = round_minor(quantity * unit_amount)
        return InvoiceLine(id, position, description, quantity, unit_amount, tax_amount, amount)

    @property
    def total(self) -> int:
        return self.amount + self.tax_amount


SOURCE_NAMES = {"halopsa": "HaloPSA"}


@dataclass(frozen=True)
class InvoiceOrigin:
    """Where a synced invoice came from (HaloPSA) and what the sync found about it."""

    source: str  # "halopsa"
    external_id: str  # the PSA's own id
    # "missing" or "duplicate": the number cannot identify the invoice, so no payment is matched to it
    number_issue: str | None = None
    contract_billed: bool = False  # bills an agreement whose subtype the MSP chose as contract-billed


@dataclass
class Invoice:
    tenant_id: uuid.UUID
    id: uuid.UUID
    client_id: uuid.UUID
    number: str
    currency: str
    issue_date: date
    due_date: date
    lines: list[InvoiceLine]
    subtotal: int  # sum of line amounts, fixed once issued (see totals_of)
    tax_total: int  # sum of line taxes
    amount_paid: int
    status: InvoiceStatus
    memo: str | None
    created_at: datetime
    updated_at: datetime
    voided_at: datetime | None = None
    origin: InvoiceOrigin | None = None  # None: issued in arbridge

    @property
    def total(self) -> int:
        return self.subtotal + self.tax_total

    @property
    def balance(self) -> int:
        """What is still owed. A void invoice owes nothing."""
        return 0 if self.status is InvoiceStatus.VOID else self.total - self.amount_paid

    def void(self, now: datetime) -> None:
        if self.origin is not None:
            raise InvalidState(
                f"Invoice {self.number} comes from {SOURCE_NAMES.get(self.origin.source, self.origin.source)}; "
                "void it there and the sync follows."
            )
        if self.status is InvoiceStatus.VOID:
            raise InvalidState(f"Invoice {self.number} is already void.")
        if self.amount_paid > 0:
            raise InvalidState(
                f"Invoice {self.number} has payments recorded against it; refund them before voiding it."
            )
        self.status = InvoiceStatus.VOID
        self.voided_at = now
        self.updated_at = now


@dataclass(frozen=True)
class NewInvoiceLine:
    description: str
    quantity: Decimal
    unit_amount: int
    tax_amount: int = 0


@dataclass(frozen=True)
class NewInvoice:
    client_id: uuid.UUID
    number: str
    currency: str
    issue_date: date
    due_date: date
    lines: list[NewInvoiceLine] = field(default_factory=list)
    memo: str | None = None

    def validated(self) -> NewInvoice:
        v = Validator()
        number = self.number.strip()
        v.check(0 < len(number) <= 64, "number", "must be 1 to 64 characters")
        currency = self.currency.upper()
        v.check(is_currency(currency), "currency", f"{self.currency!r} is not an ISO 4217 currency code")
        v.check(self.due_date >= self.issue_date, "due_date", "must not be before issue_date")
        v.check(1 <= len(self.lines) <= MAX_LINES, "lines", f"must hold 1 to {MAX_LINES} lines")
        v.check(self.memo is None or len(self.memo) <= 2000, "memo", "must be at most 2000 characters")
        total = 0
        for i, line in enumerate(self.lines):
            total += _check_line(line, f"lines[{i}]", v)
        v.check(total <= MAX_MINOR, "lines", "the invoice total is too large")
        v.raise_if_any()
        return replace(self, number=number, currency=currency)


def _check_line(line: NewInvoiceLine, at: str, v: Validator) -> int:
    """Validate one line; returns its total in minor units (0 when invalid) for the invoice-level cap."""
    v.check(0 < len(line.description.strip()) <= 500, f"{at}.description", "must be 1 to 500 characters")
    q = line.quantity
    ok_q = v.check(
        q.is_finite() and Decimal(0) < q <= MAX_QUANTITY and q == q.quantize(Decimal("0.0001")),
        f"{at}.quantity",
        "must be above 0, at most 1,000,000, with at most 4 decimal places",
    )
    ok_u = v.check(
        0 <= line.unit_amount <= MAX_MINOR, f"{at}.unit_amount", "must be 0 or more minor units, within limits"
    )
    ok_t = v.check(
        0 <= line.tax_amount <= MAX_MINOR, f"{at}.tax_amount", "must be 0 or more minor units, within limits"
    )
    if not (ok_q and ok_u and ok_t):
        return 0
    amount = round_minor(q * line.unit_amount)
    if not v.check(amount <= MAX_MINOR, f"{at}", "quantity x unit_amount is too large"):
        return 0
    return amount + line.tax_amount


@dataclass(frozen=True)
class InvoiceFilter:
    status: InvoiceStatus | None = None
    client_id: uuid.UUID | None = None
    due_before: date | None = None  # due strictly before this date
    due_after: date | None = None  # due strictly after this date
    updated_since: datetime | None = None  # updated at or after this instant
