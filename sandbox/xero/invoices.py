"""Invoices: create (PUT), create-or-update (POST, matched by InvoiceID or InvoiceNumber), status rules.

Lifecycle: DRAFT/SUBMITTED -> AUTHORISED -> PAID (only through payments) or VOIDED (only while nothing is
paid); DRAFT/SUBMITTED -> DELETED. PAID, VOIDED and DELETED invoices cannot be modified.
Messages: [V] Xero's own (spec examples); [S] seen in public client code and forums; [U] sandbox wording.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any
from uuid import UUID

from .contacts import add_new_contact, mark_customer, resolve_contact
from .context import (
    Outcome,
    WriteContext,
    date_field,
    failed,
    find_target,
    line_amount_types,
    parse_lines,
    text,
    totals,
)
from .models import Invoice
from .render import invoice_json

TYPES = ("ACCREC", "ACCPAY")
CREATE_STATUSES = ("DRAFT", "SUBMITTED", "AUTHORISED")
TRANSITIONS = {
    "DRAFT": {"DRAFT", "SUBMITTED", "AUTHORISED", "DELETED"},
    "SUBMITTED": {"DRAFT", "SUBMITTED", "AUTHORISED", "DELETED"},
    "AUTHORISED": {"AUTHORISED", "VOIDED"},
}
FINAL = ("PAID", "VOIDED", "DELETED")
NUMBER_TAKEN = "Invoice # must be unique."  # [V]
NOT_FOR_CREATION = "Invoice not of valid status for creation"  # [S]
NOT_FOR_MODIFICATION = "Invoice not of valid status for modification"  # [S]
HAS_PAYMENTS = "This document cannot be edited as it has a payment or credit note allocated to it."  # [S]


def write_invoice(ctx: WriteContext, item: dict[str, Any], *, path_id: UUID | None, create_only: bool) -> Outcome:
    target = find_target(ctx.org.invoices, item.get("invoiceid"), path_id, create_only=create_only, label="Invoice")
    number = text(item, "invoicenumber")
    if target is None and number and not create_only and number in ctx.org.invoice_numbers:
        target = ctx.org.invoices[ctx.org.invoice_numbers[number]]  # POST may address an invoice by number
    if isinstance(target, str):
        return failed(target)
    return _create(ctx, item) if target is None else _update(ctx, target, item)


def _number_error(ctx: WriteContext, kind: str, number: str | None, own: UUID | None) -> str | None:
    if kind == "ACCREC" and number and ctx.org.invoice_numbers.get(number, own) != own:
        return NUMBER_TAKEN
    return None


def _create(ctx: WriteContext, item: dict[str, Any]) -> Outcome:
    errors: list[str] = []
    kind = (text(item, "type") or "").upper()
    if kind not in TYPES:
        errors.append("Invoice Type must be ACCREC or ACCPAY")  # [U] wording; other types are not emulated
    status = (text(item, "status") or "DRAFT").upper()
    if status not in CREATE_STATUSES:
        errors.append(NOT_FOR_CREATION)
    contact_id, contact_error, new_contact = resolve_contact(ctx, item)
    errors += [contact_error] if contact_error else []
    day = date_field(item, "date", "Date", errors) or ctx.today
    due = date_field(item, "duedate", "DueDate", errors)
    amount_types = line_amount_types(item, "Exclusive", errors)
    lines, line_errors = parse_lines(ctx, item.get("lineitems"), need_accounts=status == "AUTHORISED")
    errors += line_errors
    number = text(item, "invoicenumber")
    errors += [e] if (e := _number_error(ctx, kind, number, None)) else []
    if errors or contact_id is None:
        return failed(*errors)
    if kind == "ACCREC" and not number:
        number = ctx.org.next_invoice_number()
    invoice = Invoice(
        invoice_id=ctx.new_id(),
        type=kind,
        contact_id=contact_id,
        number=number or "",
        status=status,
        date=day,
        due_date=due,
        line_items=lines,
        totals=totals(lines, amount_types),
        currency=(text(item, "currencycode") or ctx.org.base_currency).upper(),
        updated=ctx.now,
        reference=text(item, "reference") or "",
        line_amount_types=amount_types,
        sent_to_contact=bool(item.get("senttocontact", False)),
        url=text(item, "url"),
    )
    _commit(ctx, invoice, new_contact, previous=None)
    return Outcome(invoice_json(ctx.org, invoice))


def _update(ctx: WriteContext, current: Invoice, item: dict[str, Any]) -> Outcome:
    errors: list[str] = []
    status = (text(item, "status") or current.status).upper()
    if status != current.status and status not in TRANSITIONS.get(current.status, set()):
        errors.append(NOT_FOR_MODIFICATION)
    if current.status == "AUTHORISED" and current.amount_paid > 0 and (status == "VOIDED" or "lineitems" in item):
        errors.append(HAS_PAYMENTS)
    contact_id, new_contact = current.contact_id, None
    if "contact" in item:
        found, contact_error, new_contact = resolve_contact(ctx, item)
        errors += [contact_error] if contact_error else []
        contact_id = found or current.contact_id
    amount_types = line_amount_types(item, current.line_amount_types, errors)
    lines = current.line_items
    if "lineitems" in item:
        lines, line_errors = parse_lines(ctx, item["lineitems"], need_accounts=status == "AUTHORISED")
        errors += line_errors
    number = text(item, "invoicenumber") or current.number
    errors += [e] if (e := _number_error(ctx, current.type, number, current.invoice_id)) else []
    candidate = replace(
        current,
        status=status,
        contact_id=contact_id,
        number=number,
        date=date_field(item, "date", "Date", errors) or current.date,
        due_date=date_field(item, "duedate", "DueDate", errors) or current.due_date,
        line_items=lines,
        line_amount_types=amount_types,
        totals=totals(lines, amount_types),
        reference=(text(item, "reference") or "") if "reference" in item else current.reference,
        sent_to_contact=bool(item.get("senttocontact", current.sent_to_contact)),
        url=text(item, "url") or current.url,
    )
    if current.status in FINAL and candidate != current:
        errors.append(NOT_FOR_MODIFICATION)
    if errors:
        return failed(*dict.fromkeys(errors))
    invoice = replace(candidate, updated=ctx.now)
    _commit(ctx, invoice, new_contact, previous=current)
    return Outcome(invoice_json(ctx.org, invoice))


def _commit(ctx: WriteContext, invoice: Invoice, new_contact: Any, previous: Invoice | None) -> None:
    add_new_contact(ctx, new_contact)
    if previous is not None and previous.number != invoice.number:
        ctx.org.invoice_numbers.pop(previous.number, None)
    if invoice.type == "ACCREC":
        ctx.org.invoice_numbers[invoice.number] = invoice.invoice_id
    ctx.org.invoices[invoice.invoice_id] = invoice
    mark_customer(ctx, invoice.contact_id, invoice.type)
    ctx.emit("INVOICE", "CREATE" if previous is None else "UPDATE", invoice.invoice_id)
