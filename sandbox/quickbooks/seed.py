"""Seeding: a new company's chart of accounts, terms and item, plus customers and invoices for tests.

Single records go through the same rules as the API (so seeded data is valid data). `bulk` builds records
directly for benchmarks: tens of thousands of invoices in well under a second, balances computed once.
Seeding queues no webhook events unless asked (`emit=True`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from sandbox.quickbooks import entities
from sandbox.quickbooks.store import Company, Record
from sandbox.quickbooks.transactions import refresh_customer_balance
from sandbox.quickbooks.util import as_json_number, local_date, money

CHART = (
    # role, Name, AccountType, AccountSubType
    ("accounts_receivable", "Accounts Receivable (A/R)", "Accounts Receivable", "AccountsReceivable"),
    ("undeposited_funds", "Undeposited Funds", "Other Current Asset", "UndepositedFunds"),
    ("checking", "Checking", "Bank", "Checking"),
    ("merchant_fees", "Merchant Account Fees", "Expense", "BankCharges"),
    ("sales", "Sales", "Income", "SalesOfProductIncome"),
)


@contextlib.contextmanager
def events(company: Company, emit: bool) -> Iterator[None]:
    before, company.emit_events = company.emit_events, emit
    try:
        yield
    finally:
        company.emit_events = before


def chart_of_accounts(company: Company) -> None:
    with events(company, False):
        for role, name, account_type, subtype in CHART:
            body = {"Name": name, "AccountType": account_type, "AccountSubType": subtype}
            company.account_ids[role] = entities.create(company, "Account", body)["Id"]
        for name, days in (("Due on receipt", 0), ("Net 15", 15), ("Net 30", 30)):
            entities.create(company, "Term", {"Name": name, "Type": "STANDARD", "DueDays": days})
        item = {"Name": "Services", "Type": "Service", "IncomeAccountRef": company.account_ref("sales")}
        company.account_ids["services_item"] = entities.create(company, "Item", item)["Id"]


def customer(company: Company, name: str, email: str | None = None, emit: bool = False, **extra: Any) -> Record:
    body: dict[str, Any] = {"DisplayName": name, **extra}
    if email:
        body["PrimaryEmailAddr"] = {"Address": email}
    with events(company, emit):
        return entities.create(company, "Customer", body)


def sales_line(company: Company, amount: Any, description: str = "Managed services") -> dict[str, Any]:
    item = company.records["Item"][company.account_ids["services_item"]]
    return {
        "Amount": amount,
        "DetailType": "SalesItemLineDetail",
        "Description": description,
        "SalesItemLineDetail": {"ItemRef": {"value": item["Id"], "name": item["Name"]}, "Qty": 1, "UnitPrice": amount},
    }


def invoice(
    company: Company, customer_id: str, amount: Any, doc_number: str | None = None, emit: bool = False, **extra: Any
) -> Record:
    body: dict[str, Any] = {"CustomerRef": {"value": customer_id}, "Line": [sales_line(company, amount)], **extra}
    if doc_number is not None:
        body["DocNumber"] = doc_number
    with events(company, emit):
        return entities.create(company, "Invoice", body)


def payment(company: Company, customer_id: str, applied: dict[str, Any], emit: bool = False, **extra: Any) -> Record:
    """A payment of exactly the amounts applied, unless TotalAmt is given; lands in Undeposited Funds."""
    lines = [
        {"Amount": amount, "LinkedTxn": [{"TxnId": invoice_id, "TxnType": "Invoice"}]}
        for invoice_id, amount in applied.items()
    ]
    total = extra.pop("TotalAmt", sum((money(a) for a in applied.values()), Decimal(0)))
    body = {"CustomerRef": {"value": customer_id}, "TotalAmt": as_json_number(money(total)), "Line": lines, **extra}
    with events(company, emit):
        return entities.create(company, "Payment", body)


def bulk(company: Company, customers: int, invoices_per_customer: int, amount: Any = 100) -> list[str]:
    """Many customers with open invoices, built directly (no per-record validation); returns customer ids."""
    item = company.records["Item"][company.account_ids["services_item"]]
    price = as_json_number(money(amount))
    today = local_date(company.now(), company.tz)
    due = (date.fromisoformat(today) + timedelta(days=30)).isoformat()
    customer_ids = []
    with events(company, False):
        for _ in range(customers):
            name = f"Bulk Customer {company.next_id}"
            cust = company.store("Customer", _bulk_customer(company, name), created=True)
            company.names["Customer"][name.lower()] = cust["Id"]
            customer_ids.append(cust["Id"])
            for _ in range(invoices_per_customer):
                rec = _bulk_invoice(company, cust, item, price, today, due)
                company.store("Invoice", rec, created=True)
                company.doc_numbers["Invoice"][rec["DocNumber"]] = rec["Id"]
                company.link_customer(cust["Id"], "Invoice", rec["Id"])
            refresh_customer_balance(company, cust["Id"])
    return customer_ids


def _bulk_customer(company: Company, name: str) -> dict[str, Any]:
    return {
        "Id": company.new_id(), "DisplayName": name, "FullyQualifiedName": name, "Active": True, "Balance": 0,
        "BalanceWithJobs": 0, "CurrencyRef": company.currency_ref(), "Taxable": False, "Job": False,
        "BillWithParent": False, "PreferredDeliveryMethod": "Print",
    }  # fmt: skip


def _bulk_invoice(company: Company, cust: Record, item: Record, price: Any, today: str, due: str) -> dict[str, Any]:
    while str(company.next_doc_number) in company.doc_numbers["Invoice"]:
        company.next_doc_number += 1
    line = {"Id": "1", "LineNum": 1, "Amount": price, "DetailType": "SalesItemLineDetail",
            "SalesItemLineDetail": {"ItemRef": {"value": item["Id"], "name": item["Name"]}, "Qty": 1,
                                    "UnitPrice": price}}  # fmt: skip
    subtotal = {"Amount": price, "DetailType": "SubTotalLineDetail", "SubTotalLineDetail": {}}
    return {
        "Id": company.new_id(), "DocNumber": str(company.next_doc_number), "TxnDate": today, "DueDate": due,
        "CustomerRef": {"value": cust["Id"], "name": cust["DisplayName"]}, "Line": [line, subtotal],
        "TotalAmt": price, "Balance": price, "LinkedTxn": [], "CurrencyRef": company.currency_ref(),
        "AllowOnlineACHPayment": False, "AllowOnlineCreditCardPayment": False, "AllowIPNPayment": False,
        "EmailStatus": "NotSet", "PrintStatus": "NotSet",
    }  # fmt: skip
