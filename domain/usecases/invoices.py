"""Use cases for invoices: issue, read, list, void."""

from __future__ import annotations

import uuid

from domain.auth import Principal, Scope
from domain.errors import FieldError, NotFound, ValidationFailed
from domain.events import INVOICE_CREATED, INVOICE_VOIDED, DomainEvent
from domain.ids import new_id
from domain.invoices import Invoice, InvoiceFilter, InvoiceLine, NewInvoice, status_for, totals_of
from domain.pagination import Page, PageRequest
from domain.ports import Clock, UnitOfWork
from domain.snapshots import invoice_snapshot


async def create_invoice(uow: UnitOfWork, principal: Principal, clock: Clock, new: NewInvoice) -> Invoice:
    principal.require(Scope.INVOICES_WRITE)
    new = new.validated()
    if await uow.clients.get(new.client_id) is None:
        # Another tenant's client reads as absent: the answer is the same as for a made-up id.
        raise ValidationFailed([FieldError("client_id", f"no client with id {new.client_id}")])
    now = clock.now()
    lines = [
        InvoiceLine.priced(new_id(), i, ln.description.strip(), ln.quantity, ln.unit_amount, ln.tax_amount)
        for i, ln in enumerate(new.lines)
    ]
    subtotal, tax_total = totals_of(lines)
    invoice = Invoice(
        tenant_id=uow.tenant_id,
        id=new_id(),
        client_id=new.client_id,
        number=new.number,
        currency=new.currency,
        issue_date=new.issue_date,
        due_date=new.due_date,
        lines=lines,
        subtotal=subtotal,
        tax_total=tax_total,
        amount_paid=0,
        status=status_for(subtotal + tax_total, 0),
        memo=new.memo,
        created_at=now,
        updated_at=now,
    )
    await uow.invoices.add(invoice)
    await uow.outbox.add(DomainEvent(INVOICE_CREATED, uow.tenant_id, invoice.id, now, invoice_snapshot(invoice)))
    return invoice


async def get_invoice(uow: UnitOfWork, principal: Principal, invoice_id: uuid.UUID) -> Invoice:
    principal.require(Scope.INVOICES_READ)
    invoice = await uow.invoices.get(invoice_id)
    if invoice is None:
        raise NotFound("invoice", invoice_id)
    return invoice


async def list_invoices(
    uow: UnitOfWork, principal: Principal, where: InvoiceFilter, page: PageRequest
) -> Page[Invoice]:
    principal.require(Scope.INVOICES_READ)
    return await uow.invoices.list_page(where, page)


async def void_invoice(uow: UnitOfWork, principal: Principal, clock: Clock, invoice_id: uuid.UUID) -> Invoice:
    principal.require(Scope.INVOICES_WRITE)
    # Lock the row: a payment recorded concurrently must not slip in between our check and the void.
    invoice = await uow.invoices.get(invoice_id, for_update=True)
    if invoice is None:
        raise NotFound("invoice", invoice_id)
    now = clock.now()
    invoice.void(now)
    await uow.invoices.update_state(invoice)
    await uow.outbox.add(DomainEvent(INVOICE_VOIDED, uow.tenant_id, invoice.id, now, invoice_snapshot(invoice)))
    return invoice
