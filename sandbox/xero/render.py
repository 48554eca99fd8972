"""How each record looks on the wire (Xero's PascalCase JSON), and which fields `where`/`order` may name.

Field names in `where` are matched case-insensitively, as Xero's .NET query parser does; the getters return
plain Python values (str, UUID, Decimal, date, bool) that `where.py` compares.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from .formats import date_string, ms_date, ms_datetime
from .models import ACCOUNT_CLASS, Account, BankTransaction, Contact, Invoice, LineItem, Organisation, Payment

RATE = Decimal("1.000000")  # single-currency sandbox: every rate is 1, written as Xero writes it


def _drop_none(doc: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in doc.items() if v is not None}


def contact_json(c: Contact) -> dict[str, Any]:
    return _drop_none({
        "ContactID": c.contact_id, "ContactNumber": c.contact_number, "AccountNumber": c.account_number,
        "ContactStatus": c.status, "Name": c.name, "FirstName": c.first_name, "LastName": c.last_name,
        "EmailAddress": c.email, "Addresses": [], "Phones": [], "UpdatedDateUTC": ms_datetime(c.updated),
        "ContactGroups": [], "IsSupplier": c.is_supplier, "IsCustomer": c.is_customer,
        "DefaultCurrency": c.default_currency, "ContactPersons": [], "HasAttachments": False,
        "HasValidationErrors": False,
    })  # fmt: skip


def contact_ref(org: Organisation, contact_id: Any) -> dict[str, Any]:
    """The contact summary embedded in invoices and bank transactions."""
    c = org.contacts.get(contact_id)
    ref = {"ContactID": contact_id, "Name": c.name if c else None, "ContactNumber": c.contact_number if c else None}
    return {**_drop_none(ref), "Addresses": [], "Phones": [], "ContactGroups": [], "ContactPersons": [],
            "HasValidationErrors": False}  # fmt: skip


def account_json(a: Account) -> dict[str, Any]:
    return _drop_none({
        "AccountID": a.account_id, "Code": a.code, "Name": a.name, "Status": a.status, "Type": a.type,
        "TaxType": a.tax_type, "Description": a.description, "Class": ACCOUNT_CLASS.get(a.type),
        "SystemAccount": a.system_account, "EnablePaymentsToAccount": a.enable_payments,
        "ShowInExpenseClaims": False, "BankAccountNumber": a.bank_account_number,
        "BankAccountType": "BANK" if a.type == "BANK" else "", "CurrencyCode": a.currency_code,
        "ReportingCode": None, "HasAttachments": False, "UpdatedDateUTC": ms_datetime(a.updated),
        "AddToWatchlist": False,
    })  # fmt: skip


def line_json(li: LineItem) -> dict[str, Any]:
    return _drop_none({
        "LineItemID": li.line_item_id, "Description": li.description, "Quantity": li.quantity,
        "UnitAmount": li.unit_amount, "ItemCode": li.item_code, "AccountCode": li.account_code,
        "TaxType": li.tax_type, "TaxAmount": li.tax_amount, "LineAmount": li.line_amount, "Tracking": [],
    })  # fmt: skip


def payment_summary(p: Payment) -> dict[str, Any]:
    return _drop_none({
        "PaymentID": p.payment_id, "Date": ms_date(p.date), "Amount": p.amount, "Reference": p.reference,
        "CurrencyRate": RATE, "HasAccount": False, "HasValidationErrors": False,
    })  # fmt: skip


def invoice_json(org: Organisation, inv: Invoice, *, lines: bool = True) -> dict[str, Any]:
    payments = [payment_summary(org.payments[pid]) for pid in inv.payment_ids if pid in org.payments]
    return _drop_none({
        "Type": inv.type, "InvoiceID": inv.invoice_id, "InvoiceNumber": inv.number, "Reference": inv.reference,
        "Payments": payments, "CreditNotes": [], "Prepayments": [], "Overpayments": [],
        "AmountDue": inv.amount_due, "AmountPaid": inv.amount_paid, "AmountCredited": inv.amount_credited,
        "SentToContact": inv.sent_to_contact, "CurrencyRate": RATE, "IsDiscounted": False, "HasAttachments": False,
        "HasErrors": False, "Contact": contact_ref(org, inv.contact_id),
        "DateString": date_string(inv.date), "Date": ms_date(inv.date),
        "DueDateString": date_string(inv.due_date) if inv.due_date else None,
        "DueDate": ms_date(inv.due_date) if inv.due_date else None,
        "Status": inv.status, "LineAmountTypes": inv.line_amount_types,
        "LineItems": [line_json(li) for li in inv.line_items] if lines else None,
        "SubTotal": inv.totals.sub_total, "TotalTax": inv.totals.total_tax, "Total": inv.totals.total,
        "UpdatedDateUTC": ms_datetime(inv.updated), "CurrencyCode": inv.currency,
        "FullyPaidOnDate": ms_date(inv.fully_paid_on) if inv.fully_paid_on else None, "Url": inv.url,
    })  # fmt: skip


def payment_json(org: Organisation, p: Payment) -> dict[str, Any]:
    inv = org.invoices.get(p.invoice_id)
    acc = org.accounts.get(p.account_id)
    invoice = invoice_json(org, inv, lines=False) if inv else {"InvoiceID": p.invoice_id}
    invoice.pop("Payments", None)  # Xero nests a summary of the invoice, not its payment list
    account = {"AccountID": p.account_id, "Code": acc.code, "Name": acc.name} if acc else {"AccountID": p.account_id}
    return _drop_none({
        "PaymentID": p.payment_id, "Date": ms_date(p.date), "BankAmount": p.amount, "Amount": p.amount,
        "Reference": p.reference, "CurrencyRate": RATE, "PaymentType": p.payment_type, "Status": p.status,
        "UpdatedDateUTC": ms_datetime(p.updated), "HasAccount": True, "IsReconciled": p.is_reconciled,
        "Account": account, "Invoice": invoice, "HasValidationErrors": False,
    })  # fmt: skip


def bank_transaction_json(org: Organisation, bt: BankTransaction) -> dict[str, Any]:
    acc = org.accounts.get(bt.bank_account_id)
    bank = {"AccountID": bt.bank_account_id, "Code": acc.code, "Name": acc.name} if acc else {}
    return _drop_none({
        "BankTransactionID": bt.bank_transaction_id, "Type": bt.type, "Contact": contact_ref(org, bt.contact_id),
        "BankAccount": bank, "IsReconciled": bt.is_reconciled, "DateString": date_string(bt.date),
        "Date": ms_date(bt.date), "Reference": bt.reference, "CurrencyCode": bt.currency, "CurrencyRate": RATE,
        "Status": bt.status, "LineAmountTypes": bt.line_amount_types,
        "LineItems": [line_json(li) for li in bt.line_items], "SubTotal": bt.totals.sub_total,
        "TotalTax": bt.totals.total_tax, "Total": bt.totals.total, "UpdatedDateUTC": ms_datetime(bt.updated),
        "HasAttachments": False, "Url": bt.url,
    })  # fmt: skip


Getter = Callable[[Any], Any]

INVOICE_FIELDS: dict[str, Getter] = {
    "invoiceid": lambda i: i.invoice_id, "type": lambda i: i.type, "status": lambda i: i.status,
    "invoicenumber": lambda i: i.number, "reference": lambda i: i.reference, "date": lambda i: i.date,
    "duedate": lambda i: i.due_date, "contact.contactid": lambda i: i.contact_id, "amountdue": lambda i: i.amount_due,
    "amountpaid": lambda i: i.amount_paid, "total": lambda i: i.totals.total, "subtotal": lambda i: i.totals.sub_total,
    "currencycode": lambda i: i.currency, "updateddateutc": lambda i: i.updated,
    "fullypaidondate": lambda i: i.fully_paid_on, "senttocontact": lambda i: i.sent_to_contact,
}  # fmt: skip

CONTACT_FIELDS: dict[str, Getter] = {
    "contactid": lambda c: c.contact_id, "name": lambda c: c.name, "contactnumber": lambda c: c.contact_number,
    "accountnumber": lambda c: c.account_number, "contactstatus": lambda c: c.status,
    "emailaddress": lambda c: c.email, "firstname": lambda c: c.first_name, "lastname": lambda c: c.last_name,
    "iscustomer": lambda c: c.is_customer, "issupplier": lambda c: c.is_supplier,
    "updateddateutc": lambda c: c.updated,
}  # fmt: skip

ACCOUNT_FIELDS: dict[str, Getter] = {
    "accountid": lambda a: a.account_id, "code": lambda a: a.code, "name": lambda a: a.name, "type": lambda a: a.type,
    "status": lambda a: a.status, "class": lambda a: ACCOUNT_CLASS.get(a.type),
    "enablepaymentstoaccount": lambda a: a.enable_payments, "bankaccountnumber": lambda a: a.bank_account_number,
    "currencycode": lambda a: a.currency_code, "systemaccount": lambda a: a.system_account,
    "updateddateutc": lambda a: a.updated,
}  # fmt: skip

PAYMENT_FIELDS: dict[str, Getter] = {
    "paymentid": lambda p: p.payment_id, "status": lambda p: p.status, "paymenttype": lambda p: p.payment_type,
    "date": lambda p: p.date, "amount": lambda p: p.amount, "reference": lambda p: p.reference,
    "isreconciled": lambda p: p.is_reconciled, "invoice.invoiceid": lambda p: p.invoice_id,
    "account.accountid": lambda p: p.account_id, "updateddateutc": lambda p: p.updated,
}  # fmt: skip

BANK_TRANSACTION_FIELDS: dict[str, Getter] = {
    "banktransactionid": lambda b: b.bank_transaction_id, "type": lambda b: b.type, "status": lambda b: b.status,
    "date": lambda b: b.date, "reference": lambda b: b.reference, "total": lambda b: b.totals.total,
    "contact.contactid": lambda b: b.contact_id, "bankaccount.accountid": lambda b: b.bank_account_id,
    "isreconciled": lambda b: b.is_reconciled, "currencycode": lambda b: b.currency,
    "updateddateutc": lambda b: b.updated,
}  # fmt: skip
