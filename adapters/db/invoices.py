"""Invoices repository: invoice rows plus their lines, loaded per page in one extra query."""

from __future__ import annotations

import uuid
from collections import defaultdict
from typing import Any

from sqlalchemy import and_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from adapters.db.tables import invoice_lines, invoices
from domain.errors import DuplicateInvoiceNumber
from domain.invoices import Invoice, InvoiceFilter, InvoiceLine, InvoiceStatus, tidy_quantity
from domain.pagination import Page, PageRequest, page_of

_INVOICE_COLUMNS = [c for c in invoices.c if c.name != "balance"]


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
        return _to_invoice(row._mapping, lines.get(invoice_id, []))

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
        conds = []
        if where.status is not None:
            conds.append(invoices.c.status == where.status.value)
        if where.client_id is not None:
            conds.append(invoices.c.client_id == where.client_id)
        if where.due_before is not None:
            conds.append(invoices.c.due_date < where.due_before)
        if where.due_after is not None:
            conds.append(invoices.c.due_date > where.due_after)
        if where.updated_since is not None:
            conds.append(invoices.c.updated_at >= where.updated_since)
        if page.after is not None:
            conds.append(invoices.c.id < page.after)
        q = self._scoped().order_by(invoices.c.id.desc()).limit(page.limit + 1)
        if conds:
            q = q.where(and_(*conds))
        rows = (await self.conn.execute(q)).all()
        lines = await self._lines([r.id for r in rows[: page.limit]])
        return page_of([_to_invoice(r._mapping, lines.get(r.id, [])) for r in rows], page.limit)

    async def _lines(self, invoice_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[InvoiceLine]]:
        if not invoice_ids:
            return {}
        q = (
            select(invoice_lines)
            .where(invoice_lines.c.tenant_id == self.tenant_id, invoice_lines.c.invoice_id.in_(invoice_ids))
            .order_by(invoice_lines.c.invoice_id, invoice_lines.c.position)
        )
        by_invoice: dict[uuid.UUID, list[InvoiceLine]] = defaultdict(list)
        for r in await self.conn.execute(q):
            by_invoice[r.invoice_id].append(
                InvoiceLine(r.id, r.position, r.description, tidy_quantity(r.quantity), r.unit_amount, r.tax_amount)
            )
        return by_invoice


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
    return Invoice(
        tenant_id=r["tenant_id"],
        id=r["id"],
        client_id=r["client_id"],
        number=r["number"],
        currency=r["currency"],
        issue_date=r["issue_date"],
        due_date=r["due_date"],
        lines=lines,
        amount_paid=r["amount_paid"],
        status=InvoiceStatus(r["status"]),
        memo=r["memo"],
        created_at=r["created_at"],
        updated_at=r["updated_at"],
        voided_at=r["voided_at"],
    )
