"""Invoices repository: invoice rows plus their lines, loaded per page in one extra query."""

from __future__ import annotations

import functools
import uuid
from collections import defaultdict
from decimal import Decimal
from typing import Any

from sqlalchemy import any_, bindparam, select
from sqlalchemy.dialects.postgresql import ARRAY, UUID
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from adapters.db.driver import DriverSelect
from adapters.db.tables import invoice_lines, invoices
from domain.errors import DuplicateInvoiceNumber
from domain.invoices import Invoice, InvoiceFilter, InvoiceLine, InvoiceOrigin, InvoiceStatus, tidy_quantity
from domain.pagination import Page, PageRequest, page_of

# What an Invoice entity holds, in table order (the sync's bookkeeping columns are the sync store's business).
_NOT_READ = {"balance", "content_hash", "agreement_external_ids", "external_modified_at"}
_INVOICE_COLUMNS = [c for c in invoices.c if c.name not in _NOT_READ]


class SqlInvoiceRepository:
    def __init__(self, conn: AsyncConnection, tenant_id: uuid.UUID) -> None:
        self.conn = conn
        self.tenant_id = tenant_id

    def _scoped(self) -> Any:
        return select(*_INVOICE_COLUMNS).where(invoices.c.tenant_id == self.tenant_id)

    async def add(self, invoice: Invoice) -> None:
        # A savepoint keeps the surrounding transaction usable when the number is taken.
        try:
            async with self.conn.begin_nested():
                await self.conn.execute(invoices.insert().values(**_invoice_row(invoice)))
        except IntegrityError as exc:
            if "invoices_tenant_id_number_key" in str(exc.orig):
                raise DuplicateInvoiceNumber(invoice.number) from exc
            raise
        await self.conn.execute(
            invoice_lines.insert(),
            [
                {
                    "tenant_id": invoice.tenant_id,
                    "id": ln.id,
                    "invoice_id": invoice.id,
                    "position": ln.position,
                    "description": ln.description,
                    "quantity": ln.quantity,
                    "unit_amount": ln.unit_amount,
                    "amount": ln.amount,
                    "tax_amount": ln.tax_amount,
                }
                for ln in invoice.lines
            ],
        )

    async def get(self, invoice_id: uuid.UUID, *, for_update: bool = False) -> Invoice | None:
        q = self._scoped().where(invoices.c.id == invoice_id)
        if for_update:
            q = q.with_for_update()
        row = (await self.conn.execute(q)).first()
        if row is None:
            return None
        lines = await self._lines([invoice_id])
        return _to_invoice(row, lines.get(invoice_id, []))

    async def update_state(self, invoice: Invoice) -> None:
        await self.conn.execute(
            invoices.update()
            .where(invoices.c.tenant_id == self.tenant_id, invoices.c.id == invoice.id)
            .values(
                status=invoice.status.value,
                amount_paid=invoice.amount_paid,
                updated_at=invoice.updated_at,
                voided_at=invoice.voided_at,
            )
        )

    async def list_page(self, where: InvoiceFilter, page: PageRequest) -> Page[Invoice]:
        filters = {
            "status": where.status.value if where.status else None,
            "client_id": where.client_id,
            "due_before": where.due_before,
            "due_after": where.due_after,
            "updated_since": where.updated_since,
            "after": page.after,
        }
        params: dict[str, Any] = {k: v for k, v in filters.items() if v is not None}
        params |= {"tenant_id": self.tenant_id, "limit": page.limit + 1}
        rows = await _list_statement(tuple(n for n in _FILTERS if n in params)).fetch(self.conn, params)
        lines = await self._lines([r[1] for r in rows[: page.limit]])
        return page_of([_to_invoice(r, lines.get(r[1], [])) for r in rows], page.limit)

    async def _lines(self, invoice_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[InvoiceLine]]:
        if not invoice_ids:
            return {}
        by_invoice: dict[uuid.UUID, list[InvoiceLine]] = defaultdict(list)
        rows = await _LINES.fetch(self.conn, {"tenant_id": self.tenant_id, "ids": invoice_ids})
        for invoice_id, line_id, position, description, quantity, unit_amount, tax_amount, amount in rows:
            by_invoice[invoice_id].append(
                InvoiceLine(line_id, position, description, _tidy(quantity), unit_amount, tax_amount, amount)
            )
        return by_invoice


_TIDY: dict[Decimal, Decimal] = {}


def _tidy(quantity: Decimal) -> Decimal:
    """tidy_quantity, remembered per value: a page repeats a few quantities (1, 2, 0.5) over and over.

    Equal values tidy to the same Decimal (2.0000 and 2.00 both to 2), so keying on the value is sound; the
    store is emptied when it grows past a bound, so unusual quantities cannot make it grow without limit."""
    tidy = _TIDY.get(quantity)
    if tidy is None:
        if len(_TIDY) >= 1024:
            _TIDY.clear()
        tidy = _TIDY[quantity] = tidy_quantity(quantity)
    return tidy


# Statements are built once and take bind parameters, so SQLAlchemy's compiled cache (or, for the driver
# reads, their one compilation) and asyncpg's prepared statements are hit on every call (an IN list of n ids
# would be a new statement per page size).
_FILTERS = {
    "status": invoices.c.status == bindparam("status"),
    "client_id": invoices.c.client_id == bindparam("client_id"),
    "due_before": invoices.c.due_date < bindparam("due_before"),
    "due_after": invoices.c.due_date > bindparam("due_after"),
    "updated_since": invoices.c.updated_at >= bindparam("updated_since"),
    "after": invoices.c.id < bindparam("after"),
}


# The page and its lines are the hot reads: they run on the driver (driver.py).
@functools.cache
def _list_statement(active: tuple[str, ...]) -> DriverSelect:
    stmt = select(*_INVOICE_COLUMNS).where(invoices.c.tenant_id == bindparam("tenant_id"))
    for name in active:
        stmt = stmt.where(_FILTERS[name])
    return DriverSelect(stmt.order_by(invoices.c.id.desc()).limit(bindparam("limit")))


_LINES = DriverSelect(
    select(
        invoice_lines.c.invoice_id,
        invoice_lines.c.id,
        invoice_lines.c.position,
        invoice_lines.c.description,
        invoice_lines.c.quantity,
        invoice_lines.c.unit_amount,
        invoice_lines.c.tax_amount,
        invoice_lines.c.amount,
    )
    .where(
        invoice_lines.c.tenant_id == bindparam("tenant_id"),
        invoice_lines.c.invoice_id == any_(bindparam("ids", type_=ARRAY(UUID(as_uuid=True)))),
    )
    .order_by(invoice_lines.c.invoice_id, invoice_lines.c.position)
)


def _invoice_row(i: Invoice) -> dict[str, Any]:
    return {
        "tenant_id": i.tenant_id,
        "id": i.id,
        "client_id": i.client_id,
        "number": i.number,
        "currency": i.currency,
        "issue_date": i.issue_date,
        "due_date": i.due_date,
        "subtotal": i.subtotal,
        "tax_total": i.tax_total,
        "total": i.total,
        "amount_paid": i.amount_paid,
        "status": i.status.value,
        "memo": i.memo,
        "created_at": i.created_at,
        "updated_at": i.updated_at,
        "voided_at": i.voided_at,
    }


def _to_invoice(r: Any, lines: list[InvoiceLine]) -> Invoice:
    """Rows unpack by position, in the order of _INVOICE_COLUMNS (cheaper than mapping access per field)."""
    (
        tenant_id,
        id_,
        client_id,
        number,
        currency,
        issue_date,
        due_date,
        subtotal,
        tax_total,
        _total,
        amount_paid,
        status,
        memo,
        created_at,
        updated_at,
        voided_at,
        source,
        external_id,
        number_issue,
        contract_billed,
    ) = r
    origin = None if source == "arbridge" else InvoiceOrigin(source, external_id, number_issue, contract_billed)
    return Invoice(
        tenant_id=tenant_id,
        id=id_,
        client_id=client_id,
        number=number,
        currency=currency,
        issue_date=issue_date,
        due_date=due_date,
        lines=lines,
        subtotal=subtotal,
        tax_total=tax_total,
        amount_paid=amount_paid,
        status=InvoiceStatus(status),
        memo=memo,
        created_at=created_at,
        updated_at=updated_at,
        voided_at=voided_at,
        origin=origin,
    )
