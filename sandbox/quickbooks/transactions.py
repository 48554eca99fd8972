"""Rules for the transactions we post: Invoice, Payment and Deposit.

Money flows the way QuickBooks books it:
- a Payment's `Line[].LinkedTxn` to an Invoice applies that amount to the invoice, so `Invoice.Balance`
  falls (and the invoice itself changes: new SyncToken, LastUpdatedTime, an Update event) [U for the bump];
  what the lines do not apply stays on the payment as `UnappliedAmt`, a credit for the customer;
- a Payment without `DepositToAccountRef` lands in Undeposited Funds; a Deposit moves such payments to a
  bank account through `Line[].LinkedTxn` (`TxnType: "Payment"`), and books fees as `DepositLineDetail`
  lines (negative amounts) or `CashBack`. Deposit `TotalAmt` is computed from the lines;
- a deposited payment cannot be changed or deleted until the deposit releases it (Fault 6540).
"""

from __future__ import annotations

import copy
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from sandbox.quickbooks import errors
from sandbox.quickbooks.kinds import Kind, amount_of, named_ref, txn_date
from sandbox.quickbooks.store import Company, Record
from sandbox.quickbooks.util import as_json_number, money

ZERO = Decimal("0.00")
DOC_NUMBER_MAX = 21
INVOICE_LINE_TYPES = frozenset({"SalesItemLineDetail", "DiscountLineDetail", "DescriptionOnly", "SubTotalLineDetail"})


def lines_of(rec: dict[str, Any]) -> list[dict[str, Any]]:
    lines = rec.get("Line")
    if not isinstance(lines, list) or not lines or not all(isinstance(x, dict) for x in lines):
        raise errors.required_missing("Line")
    return lines


def customer_of(company: Company, rec: dict[str, Any]) -> dict[str, Any]:
    if not rec.get("CustomerRef"):
        raise errors.required_missing("CustomerRef")
    customer = company.ref_target("Customer", rec["CustomerRef"], "Customer")
    rec["CustomerRef"] = named_ref(customer, "DisplayName")
    return customer


def refresh_customer_balance(company: Company, customer_id: str) -> None:
    """Customer.Balance = open invoice balances less unapplied payment credit (no SyncToken bump [U])."""
    customer = company.find("Customer", customer_id)
    if customer is None:
        return
    total = ZERO
    for entity, id_ in company.by_customer.get(customer_id, ()):
        rec = company.find(entity, id_)
        if rec is not None:
            total += money(rec["Balance"]) if entity == "Invoice" else -money(rec.get("UnappliedAmt", 0))
    customer["Balance"] = customer["BalanceWithJobs"] = as_json_number(total)


def reapply_invoice(company: Company, invoice_id: str) -> None:
    """Recompute Balance and LinkedTxn of an invoice after payments changed; save it only if it moved."""
    invoice = company.find("Invoice", invoice_id)
    if invoice is None:
        return
    applied = company.applied.get(invoice_id, {})
    balance = as_json_number(money(invoice["TotalAmt"]) - sum(applied.values(), ZERO))
    linked = [{"TxnId": pid, "TxnType": "Payment"} for pid in sorted(applied, key=int)]
    if invoice["Balance"] == balance and invoice.get("LinkedTxn", []) == linked:
        return
    updated = copy.deepcopy(invoice)
    updated["Balance"], updated["LinkedTxn"] = balance, linked
    company.store("Invoice", updated, created=False)
    company.record_event("Invoice", invoice_id, "Update")


class InvoiceKind(Kind):
    name = "Invoice"
    fields = frozenset(
        "DocNumber TxnDate DueDate ShipDate CustomerRef CustomerMemo BillAddr ShipAddr ShipFromAddr BillEmail "
        "BillEmailCc BillEmailBcc SalesTermRef Line TxnTaxDetail CurrencyRef ExchangeRate EmailStatus PrintStatus "
        "AllowOnlineACHPayment AllowOnlineCreditCardPayment AllowIPNPayment AllowOnlinePayment ApplyTaxAfterDiscount "
        "DepartmentRef ClassRef CustomField PrivateNote GlobalTaxCalculation TrackingNum ShipMethodRef Deposit "
        "DepositToAccountRef TxnSource TransactionLocationType FreeFormAddress TaxExemptionRef ProjectRef "
        "DeliveryInfo RecurDataRef".split()
    )
    computed = frozenset({"TotalAmt", "Balance", "HomeBalance", "HomeTotalAmt", "LinkedTxn", "InvoiceLink"})
    operations = frozenset({"delete", "void"})

    def prepare(self, company: Company, rec: dict[str, Any], previous: Record | None, body: Record) -> None:
        customer = customer_of(company, rec)
        lines: list[Record] = []
        subtotal = discount = ZERO
        for raw in lines_of(rec):
            detail_type = raw.get("DetailType")
            if detail_type == "SubTotalLineDetail":
                continue  # QuickBooks writes its own subtotal line
            if detail_type is None:
                raise errors.required_missing("Line.DetailType")
            if detail_type not in INVOICE_LINE_TYPES:
                raise errors.unsupported_property(f"Line.DetailType={detail_type}")
            line = copy.deepcopy(raw)
            amount = self._line_amount(company, line, subtotal)
            line["Amount"] = as_json_number(amount)
            if detail_type == "DiscountLineDetail":
                discount += amount
            else:
                subtotal += amount
            line["Id"], line["LineNum"] = str(len(lines) + 1), len(lines) + 1
            lines.append(line)
        sub: Record = {"Amount": as_json_number(subtotal), "DetailType": "SubTotalLineDetail", "SubTotalLineDetail": {}}
        rec["Line"] = [*lines, sub]
        total = subtotal - discount
        by_payment = company.applied.get(rec.get("Id", ""), {})
        applied = sum(by_payment.values(), ZERO)
        if total < applied:
            raise errors.business("The invoice total can't be less than the payments applied to it.", "TotalAmt")
        rec["TotalAmt"], rec["Balance"] = as_json_number(total), as_json_number(total - applied)
        self._numbering(company, rec, previous)
        rec["TxnDate"] = txn_date(company, rec.get("TxnDate"), "TxnDate")
        term_ref = rec.get("SalesTermRef") or customer.get("SalesTermRef")
        due_days = 0
        if term_ref:
            term = company.ref_target("Term", term_ref, "SalesTerm")
            rec["SalesTermRef"], due_days = named_ref(term), int(term.get("DueDays") or 0)
        if rec.get("DueDate") is None:
            rec["DueDate"] = (date.fromisoformat(rec["TxnDate"]) + timedelta(days=due_days)).isoformat()
        rec["DueDate"] = txn_date(company, rec["DueDate"], "DueDate")
        rec["LinkedTxn"] = [{"TxnId": pid, "TxnType": "Payment"} for pid in sorted(by_payment, key=int)]
        rec.setdefault("CurrencyRef", company.currency_ref())
        for flag in ("AllowOnlineACHPayment", "AllowOnlineCreditCardPayment", "AllowIPNPayment"):
            rec.setdefault(flag, False)
        rec.setdefault("EmailStatus", "NotSet")
        rec.setdefault("PrintStatus", "NotSet")

    def _line_amount(self, company: Company, line: dict[str, Any], subtotal: Decimal) -> Decimal:
        kind = line["DetailType"]
        if kind == "SalesItemLineDetail":
            detail = line.setdefault("SalesItemLineDetail", {})
            if detail.get("ItemRef"):
                detail["ItemRef"] = named_ref(company.ref_target("Item", detail["ItemRef"], "Item"))
            if "Amount" not in line and "Qty" in detail and "UnitPrice" in detail:
                return money(Decimal(str(detail["Qty"])) * money(detail["UnitPrice"]))
        if kind == "DiscountLineDetail":
            detail = line.setdefault("DiscountLineDetail", {})
            if detail.get("PercentBased") and "Amount" not in line:
                return money(subtotal * Decimal(str(detail.get("DiscountPercent", 0))) / 100)
        if kind == "DescriptionOnly" and "Amount" not in line:
            return ZERO
        amount = amount_of(line.get("Amount"), "Line.Amount")
        if amount < 0 and kind != "DescriptionOnly":
            raise errors.business("Line amounts on an invoice can't be negative.", "Line.Amount")
        return amount

    def _numbering(self, company: Company, rec: dict[str, Any], previous: Record | None) -> None:
        number = rec.get("DocNumber")
        if number in (None, "") or not company.settings.custom_txn_numbers:
            # Without custom numbers QuickBooks numbers the form itself; an update keeps its number.
            if previous is not None and previous.get("DocNumber"):
                rec["DocNumber"] = previous["DocNumber"]
                return
            while str(company.next_doc_number) in company.doc_numbers["Invoice"]:
                company.next_doc_number += 1
            rec["DocNumber"] = str(company.next_doc_number)
            return
        number = str(number)
        if len(number) > DOC_NUMBER_MAX:
            raise errors.QBOError(
                "6000",
                "A business validation error has occurred while processing your request",
                "Business Validation Error: String length is either shorter or longer than supported by "
                f"specification. Min:0 Max:{DOC_NUMBER_MAX} supported. Supplied length:{len(number)}",
                "DocNumber",
            )
        holder = company.doc_numbers["Invoice"].get(number)
        if holder is not None and holder != rec.get("Id") and company.settings.warn_duplicate_doc_number:
            raise errors.duplicate_doc_number(number, "Invoice", holder)
        rec["DocNumber"] = number

    def guard_change(self, company: Company, previous: dict[str, Any], action: str) -> None:
        if action != "delete" and ("Invoice", previous["Id"]) in company.voided:
            raise errors.business("A voided transaction can't be changed.")

    def after_write(self, company: Company, rec: Record, previous: Record | None, ctx: Any) -> None:
        index = company.doc_numbers["Invoice"]
        if previous is not None and index.get(previous.get("DocNumber", "")) == rec["Id"]:
            del index[previous["DocNumber"]]
        index.setdefault(rec["DocNumber"], rec["Id"])
        customer_id = rec["CustomerRef"]["value"]
        company.link_customer(customer_id, "Invoice", rec["Id"])
        if previous is not None and previous["CustomerRef"]["value"] != customer_id:
            company.by_customer.get(previous["CustomerRef"]["value"], set()).discard(("Invoice", rec["Id"]))
            refresh_customer_balance(company, previous["CustomerRef"]["value"])
        refresh_customer_balance(company, customer_id)

    def before_delete(self, company: Company, rec: dict[str, Any]) -> None:
        # QuickBooks' UI offers to unlink payments first; the sandbox refuses instead [U].
        if company.applied.get(rec["Id"]):
            raise errors.business("This invoice has payments applied to it. Remove the payments first.")

    def after_delete(self, company: Company, rec: dict[str, Any]) -> None:
        if company.doc_numbers["Invoice"].get(rec["DocNumber"]) == rec["Id"]:
            del company.doc_numbers["Invoice"][rec["DocNumber"]]
        company.by_customer.get(rec["CustomerRef"]["value"], set()).discard(("Invoice", rec["Id"]))
        refresh_customer_balance(company, rec["CustomerRef"]["value"])

    def void(self, company: Company, rec: dict[str, Any]) -> None:
        """operation=void: the invoice stays, with every amount zeroed and "Voided" in the memo."""
        self.before_delete(company, rec)
        for line in rec["Line"]:
            line["Amount"] = 0
            detail = line.get("SalesItemLineDetail")
            if detail is not None:
                detail.update({k: 0 for k in ("Qty", "UnitPrice") if k in detail})
        rec["TotalAmt"] = rec["Balance"] = 0
        rec["PrivateNote"] = "Voided"
        company.voided.add(("Invoice", rec["Id"]))
