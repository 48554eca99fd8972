"""Payments against invoices: create (PUT array / POST single) and delete (POST /Payments/{id} DELETED).

A payment needs the invoice (InvoiceID or InvoiceNumber), the account it is paid into (AccountID or Code;
a BANK account or one with EnablePaymentsToAccount), an Amount and a Date. It reduces AmountDue; at zero the
invoice becomes PAID with FullyPaidOnDate = the payment's date. Deleting a payment gives the amount back and
returns a PAID invoice to AUTHORISED. Messages: [V] Xero's own (spec examples); [U] sandbox wording.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from typing import Any
from uuid import UUID

from .context import MISSING, NotFound, Outcome, WriteContext, as_uuid, date_field, failed, ref, text
from .formats import money
from .models import Account, Invoice, Organisation, Payment
from .render import payment_json

OVERPAID = "Payment amount exceeds the amount outstanding on this document"  # [V]
NOT_AUTHORISED = "Payments can only be made against Authorised documents"  # [U]
BAD_ACCOUNT = "Account type is invalid for making a payment to/from"  # [U]
PAYMENT_TYPES = {"ACCREC": "ACCRECPAYMENT", "ACCPAY": "ACCPAYPAYMENT"}


def _invoice(org: Organisation, item: dict[str, Any]) -> Invoice | None:
    given = ref(item, "invoice")
    invoice_id = as_uuid(given.get("invoiceid"))
    if invoice_id is not None:
        return org.invoices.get(invoice_id)
    number = text(given, "invoicenumber") or text(item, "invoicenumber")
    found = org.invoice_numbers.get(number) if number else None
    return org.invoices.get(found) if found else None


def _account(org: Organisation, item: dict[str, Any]) -> Account | None:
    given = ref(item, "account")
    account_id = as_uuid(given.get("accountid"))
    if account_id is not None:
        return org.accounts.get(account_id)
    code = text(given, "code") or text(item, "code")
    return org.account_by_code(code) if code else None


def _checks(invoice: Invoice | None, account: Account | None, amount: Decimal | None) -> list[str]:
    errors = []
    if invoice is None:
        errors.append(MISSING)
    elif invoice.status != "AUTHORISED":
        errors.append(NOT_AUTHORISED)
    if account is None:
        errors.append("Account could not be found")  # [U]
    elif not account.payable:
        errors.append(BAD_ACCOUNT)
    if amount is None or amount <= 0:
        errors.append("Payment amount must be greater than zero")  # [U]
    elif invoice is not None and invoice.status == "AUTHORISED" and amount > invoice.amount_due:
        errors.append(OVERPAID)
    return errors


def create_payment(ctx: WriteContext, item: dict[str, Any], *, path_id: UUID | None, create_only: bool) -> Outcome:
    org = ctx.org
    invoice, account = _invoice(org, item), _account(org, item)
    amount = money(item.get("amount"))
    errors = _checks(invoice, account, amount)
    day = date_field(item, "date", "Date", errors)
    if day is None and not errors:
        errors.append("Date is required")  # [U]
    if errors or invoice is None or account is None or amount is None or day is None:
        return failed(*errors)
    payment = Payment(
        payment_id=ctx.new_id(),
        invoice_id=invoice.invoice_id,
        account_id=account.account_id,
        date=day,
        amount=amount,
        payment_type=PAYMENT_TYPES.get(invoice.type, "ACCRECPAYMENT"),
        updated=ctx.now,
        reference=text(item, "reference"),
        is_reconciled=bool(item.get("isreconciled", False)),
    )
    org.payments[payment.payment_id] = payment
    paid = invoice.amount_paid + amount
    settled = paid >= invoice.totals.total - invoice.amount_credited
    org.invoices[invoice.invoice_id] = replace(
        invoice,
        amount_paid=paid,
        payment_ids=(*invoice.payment_ids, payment.payment_id),
        status="PAID" if settled else invoice.status,
        fully_paid_on=day if settled else None,
        updated=ctx.now,
    )
    ctx.emit("INVOICE", "UPDATE", invoice.invoice_id)
    return Outcome(payment_json(org, payment))


def delete_payment(ctx: WriteContext, item: dict[str, Any], *, path_id: UUID | None, create_only: bool) -> Outcome:
    org = ctx.org
    payment = org.payments.get(path_id) if path_id else None
    if payment is None:
        raise NotFound("Payment")
    if (text(item, "status") or "").upper() != "DELETED":
        return failed("A payment can only be deleted: send Status DELETED")  # [U]
    if payment.status == "DELETED":
        return failed("This payment has already been deleted")  # [U]
    deleted = replace(payment, status="DELETED", updated=ctx.now)
    org.payments[payment.payment_id] = deleted
    invoice = org.invoices.get(payment.invoice_id)
    if invoice is not None:
        org.invoices[invoice.invoice_id] = replace(
            invoice,
            amount_paid=invoice.amount_paid - payment.amount,
            payment_ids=tuple(p for p in invoice.payment_ids if p != payment.payment_id),
            status="AUTHORISED" if invoice.status == "PAID" else invoice.status,
            fully_paid_on=None,
            updated=ctx.now,
        )
        ctx.emit("INVOICE", "UPDATE", invoice.invoice_id)
    return Outcome(payment_json(org, deleted))
