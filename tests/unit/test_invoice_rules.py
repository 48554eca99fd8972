"""Domain rules for invoices, against no database."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from domain.errors import InvalidState, ValidationFailed
from domain.invoices import Invoice, InvoiceLine, InvoiceStatus, NewInvoice, NewInvoiceLine, status_for, totals_of

NOW = datetime(2026, 11, 25, tzinfo=UTC)


def _invoice(lines: list[tuple[str, int, int]], paid: int = 0) -> Invoice:
    ls = [InvoiceLine.priced(uuid.uuid4(), i, "x", Decimal(q), u, t) for i, (q, u, t) in enumerate(lines)]
    subtotal, tax = totals_of(ls)
    total = subtotal + tax
    return Invoice(
        uuid.uuid4(),
        uuid.uuid4(),
        uuid.uuid4(),
        "INV-1",
        "USD",
        date(2026, 11, 1),
        date(2026, 12, 1),
        ls,
        subtotal,
        tax,
        paid,
        status_for(total, paid),
        None,
        NOW,
        NOW,
    )


@pytest.mark.parametrize(
    ("total", "paid", "status"),
    [
        (100, 0, InvoiceStatus.OPEN),
        (100, 1, InvoiceStatus.PARTIALLY_PAID),
        (100, 100, InvoiceStatus.PAID),
        (0, 0, InvoiceStatus.PAID),
    ],
)
def test_status_follows_amounts(total: int, paid: int, status: InvoiceStatus) -> None:
    assert status_for(total, paid) is status


def test_line_amounts_round_half_up_and_totals_add_up() -> None:
    inv = _invoice([("1.5", 1999, 0), ("0.3333", 100, 7), ("3", 333, 0)])
    assert [ln.amount for ln in inv.lines] == [2999, 33, 999]
    assert inv.subtotal == 2999 + 33 + 999 and inv.tax_total == 7
    assert inv.total == inv.subtotal + inv.tax_total == inv.balance


def test_void_rules() -> None:
    inv = _invoice([("1", 1000, 0)])
    inv.void(NOW)
    assert inv.status is InvoiceStatus.VOID and inv.balance == 0 and inv.voided_at == NOW
    with pytest.raises(InvalidState):
        inv.void(NOW)
    paid = _invoice([("1", 1000, 0)], paid=400)
    with pytest.raises(InvalidState, match="refund"):
        paid.void(NOW)
    assert paid.status is InvoiceStatus.PARTIALLY_PAID


def _new(**kw: object) -> NewInvoice:
    base: dict[str, object] = {
        "client_id": uuid.uuid4(),
        "number": " INV-9 ",
        "currency": "usd",
        "issue_date": date(2026, 11, 1),
        "due_date": date(2026, 12, 1),
        "lines": [NewInvoiceLine("Support", Decimal(2), 5000)],
    }
    base.update(kw)
    return NewInvoice(**base)  # type: ignore[arg-type]


def test_validation_normalises() -> None:
    v = _new().validated()
    assert v.number == "INV-9" and v.currency == "USD"


@pytest.mark.parametrize(
    ("kw", "field"),
    [
        ({"currency": "ABC"}, "currency"),
        ({"number": "  "}, "number"),
        ({"due_date": date(2026, 10, 1)}, "due_date"),
        ({"lines": []}, "lines"),
        ({"lines": [NewInvoiceLine("x", Decimal("NaN"), 1)]}, "lines[0].quantity"),
        ({"lines": [NewInvoiceLine("x", Decimal("1e7"), 1)]}, "lines[0].quantity"),
        ({"lines": [NewInvoiceLine("x", Decimal(1), -1)]}, "lines[0].unit_amount"),
        ({"lines": [NewInvoiceLine("x", Decimal(1_000_000), 10**13)]}, "lines[0]"),
        ({"lines": [NewInvoiceLine("x", Decimal(1), 10**13)] * 2}, "lines"),
    ],
)
def test_validation_rejects(kw: dict[str, object], field: str) -> None:
    with pytest.raises(ValidationFailed) as exc:
        _new(**kw).validated()
    assert field in [e.field for e in exc.value.errors]
