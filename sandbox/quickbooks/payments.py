"""Payment (money received against invoices) and Deposit (payments and fees moved into a bank account).

See transactions.py for how the money moves. Checks here that QuickBooks documents: a Payment needs
TotalAmt (Fault 6000, "You must set a transaction amount"); a deposited Payment cannot change (6540); a
Deposit line that links a payment but also says `DetailType: "DepositLineDetail"` must then carry
`DepositLineDetail.AccountRef` (the python-quickbooks pitfall in collections.md §3). Amount rules that are
business errors in QuickBooks but whose exact wording we could not confirm are Fault 6000 [U].
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sandbox.quickbooks import errors
from sandbox.quickbooks.kinds import Kind, amount_of, named_ref, txn_date
from sandbox.quickbooks.store import Company, Record
from sandbox.quickbooks.transactions import ZERO, customer_of, lines_of, reapply_invoice, refresh_customer_balance
from sandbox.quickbooks.util import as_json_number, money


def _link(line: dict[str, Any]) -> dict[str, Any] | None:
    links = line.get("LinkedTxn")
    if not links:
        return None
    if not isinstance(links, list) or len(links) != 1 or not isinstance(links[0], dict):
        raise errors.business("Each line must link exactly one transaction.", "Line.LinkedTxn")
    return links[0]


class PaymentKind(Kind):
    name = "Payment"
    fields = frozenset(
        "CustomerRef TotalAmt TxnDate PaymentRefNum PaymentMethodRef DepositToAccountRef ARAccountRef Line "
        "PrivateNote CurrencyRef ExchangeRate ProcessPayment CreditCardPayment TxnSource TransactionLocationType "
        "TxnStatus ProjectRef".split()
    )
    computed = frozenset({"UnappliedAmt", "LinkedTxn"})
    operations = frozenset({"delete", "voidpayment"})

    def prepare(self, company: Company, rec: dict[str, Any], previous: Record | None, body: Record) -> Record:
        customer = customer_of(company, rec)
        if rec.get("TotalAmt") is None:
            raise errors.business("You must set a transaction amount.", "TotalAmt")
        total = amount_of(rec["TotalAmt"], "TotalAmt")
        if total < 0:
            raise errors.business("The payment amount can't be negative.", "TotalAmt")
        applications = self._applications(company, rec, customer["Id"])
        applied = sum(applications.values(), ZERO)
        if applied > total:
            raise errors.business("The amounts applied exceed the payment amount.", "TotalAmt")
        rec["TotalAmt"], rec["UnappliedAmt"] = as_json_number(total), as_json_number(total - applied)
        rec.setdefault("Line", [])
        if rec.get("DepositToAccountRef"):
            rec["DepositToAccountRef"] = named_ref(
                company.ref_target("Account", rec["DepositToAccountRef"], "DepositToAccount")
            )
        else:
            rec["DepositToAccountRef"] = company.account_ref("undeposited_funds")
        if rec.get("ARAccountRef"):
            rec["ARAccountRef"] = named_ref(company.ref_target("Account", rec["ARAccountRef"], "ARAccount"))
        rec["TxnDate"] = txn_date(company, rec.get("TxnDate"), "TxnDate")
        rec.setdefault("CurrencyRef", company.currency_ref())
        rec.setdefault("ProcessPayment", False)
        return applications

    @staticmethod
    def _applications(company: Company, rec: dict[str, Any], customer_id: str) -> dict[str, Decimal]:
        """Invoice id -> amount this payment applies, checked against each invoice's open balance."""
        applications: dict[str, Decimal] = {}
        for line in rec.get("Line") or []:
            amount = amount_of(line.get("Amount"), "Line.Amount")
            link = _link(line)
            if link is None or amount < 0:
                raise errors.business("A payment line must apply a positive amount to an invoice.", "Line")
            if link.get("TxnType") != "Invoice":
                raise errors.business(f"Payments can only be applied to invoices here, not {link.get('TxnType')}.")
            invoice = company.find("Invoice", str(link.get("TxnId")))
            if invoice is None:
                raise errors.invalid_reference("Invoice", link.get("TxnId"))
            if invoice["CustomerRef"]["value"] != customer_id:
                raise errors.business("The invoice belongs to a different customer.", "Line.LinkedTxn")
            applications[invoice["Id"]] = applications.get(invoice["Id"], ZERO) + amount
            line["Amount"] = as_json_number(amount)
        own = rec.get("Id", "")
        for invoice_id, amount in applications.items():
            invoice = company.records["Invoice"][invoice_id]
            # What this payment already applies is still available to it on an update.
            open_balance = money(invoice["Balance"]) + company.applied.get(invoice_id, {}).get(own, ZERO)
            if amount > open_balance:
                raise errors.business(
                    f"The amount applied to invoice {invoice['DocNumber']} exceeds its open balance.", "Line.Amount"
                )
        return applications

    def guard_change(self, company: Company, previous: dict[str, Any], action: str) -> None:
        if previous["Id"] in company.deposit_of:
            raise errors.deposited("Payment")
        if action != "delete" and ("Payment", previous["Id"]) in company.voided:
            raise errors.business("A voided transaction can't be changed.")

    def after_write(self, company: Company, rec: Record, previous: Record | None, ctx: Any) -> None:
        applications: dict[str, Decimal] = ctx or {}
        touched = self._unapply(company, rec["Id"])
        for invoice_id, amount in applications.items():
            company.applied.setdefault(invoice_id, {})[rec["Id"]] = amount
        for invoice_id in sorted(touched | applications.keys(), key=int):
            reapply_invoice(company, invoice_id)
        customer_id = rec["CustomerRef"]["value"]
        company.link_customer(customer_id, "Payment", rec["Id"])
        if previous is not None and previous["CustomerRef"]["value"] != customer_id:
            company.by_customer.get(previous["CustomerRef"]["value"], set()).discard(("Payment", rec["Id"]))
            refresh_customer_balance(company, previous["CustomerRef"]["value"])
        refresh_customer_balance(company, customer_id)

    def after_delete(self, company: Company, rec: dict[str, Any]) -> None:
        for invoice_id in sorted(self._unapply(company, rec["Id"]), key=int):
            reapply_invoice(company, invoice_id)
        company.by_customer.get(rec["CustomerRef"]["value"], set()).discard(("Payment", rec["Id"]))
        refresh_customer_balance(company, rec["CustomerRef"]["value"])

    def void(self, company: Company, rec: dict[str, Any]) -> None:
        """operation=update&include=void: amounts go to zero and the invoices get their balance back."""
        rec["Line"], rec["TotalAmt"], rec["UnappliedAmt"], rec["PrivateNote"] = [], 0, 0, "Voided"
        company.voided.add(("Payment", rec["Id"]))

    @staticmethod
    def _unapply(company: Company, payment_id: str) -> set[str]:
        touched = set()
        for invoice_id, by_payment in company.applied.items():
            if by_payment.pop(payment_id, None) is not None:
                touched.add(invoice_id)
        return touched


class DepositKind(Kind):
    name = "Deposit"
    fields = frozenset(
        "DepositToAccountRef TxnDate Line CashBack PrivateNote CurrencyRef ExchangeRate DepartmentRef TxnSource "
        "GlobalTaxCalculation TxnTaxDetail TransactionLocationType".split()
    )
    computed = frozenset({"TotalAmt", "HomeTotalAmt"})
    operations = frozenset({"delete"})

    def prepare(self, company: Company, rec: dict[str, Any], previous: Record | None, body: Record) -> set[str]:
        if not rec.get("DepositToAccountRef"):
            raise errors.required_missing("DepositToAccountRef")
        bank = company.ref_target("Account", rec["DepositToAccountRef"], "DepositToAccount")
        if bank.get("AccountType") != "Bank":
            raise errors.business("Select a bank account for this deposit.", "DepositToAccountRef")
        rec["DepositToAccountRef"] = named_ref(bank)
        payments: set[str] = set()
        total = ZERO
        for number, line in enumerate(lines_of(rec), start=1):
            amount = amount_of(line.get("Amount"), "Line.Amount")
            link = _link(line)
            if link is not None:
                self._check_linked(company, rec, line, link, amount, payments)
            else:
                self._check_direct(company, line)
            line["Amount"], line["Id"], line["LineNum"] = as_json_number(amount), str(number), number
            total += amount
        cash_back = rec.get("CashBack")
        if cash_back:
            account = company.ref_target("Account", cash_back.get("AccountRef"), "CashBack.AccountRef")
            back = amount_of(cash_back.get("Amount"), "CashBack.Amount")
            rec["CashBack"] = {**cash_back, "AccountRef": named_ref(account), "Amount": as_json_number(back)}
            total -= back
        if "TotalAmt" in body and amount_of(body["TotalAmt"], "TotalAmt") != total:
            # QuickBooks computes TotalAmt; a caller that sends a different one has mis-summed its lines [U].
            raise errors.business(f"TotalAmt does not equal the sum of the lines less cash back ({total}).", "TotalAmt")
        if total < 0:
            raise errors.business("The deposit total can't be negative.", "TotalAmt")
        rec["TotalAmt"] = as_json_number(total)
        rec["TxnDate"] = txn_date(company, rec.get("TxnDate"), "TxnDate")
        rec.setdefault("CurrencyRef", company.currency_ref())
        return payments

    def _check_linked(
        self, company: Company, rec: Record, line: Record, link: Record, amount: Decimal, seen: set[str]
    ) -> None:
        if line.get("DetailType") == "DepositLineDetail" and not (line.get("DepositLineDetail") or {}).get(
            "AccountRef"
        ):
            raise errors.required_missing("Line.DepositLineDetail.AccountRef")
        if link.get("TxnType") != "Payment":
            raise errors.business(f"Deposits can only link payments here, not {link.get('TxnType')}.")
        payment = company.find("Payment", str(link.get("TxnId")))
        if payment is None:
            raise errors.invalid_reference("Payment", link.get("TxnId"))
        if payment["DepositToAccountRef"]["value"] != company.account_ids["undeposited_funds"]:
            raise errors.business(f"Payment {payment['Id']} is not in Undeposited Funds.", "Line.LinkedTxn")
        holder = company.deposit_of.get(payment["Id"])
        if payment["Id"] in seen or (holder is not None and holder != rec.get("Id")):
            raise errors.business(f"Payment {payment['Id']} has already been deposited.", "Line.LinkedTxn")
        if amount != money(payment["TotalAmt"]):
            raise errors.business(f"The line amount must equal payment {payment['Id']}'s amount.", "Line.Amount")
        seen.add(payment["Id"])

    def _check_direct(self, company: Company, line: Record) -> None:
        if line.get("DetailType") != "DepositLineDetail":
            raise errors.required_missing("Line.DetailType")
        detail = line.get("DepositLineDetail") or {}
        if not detail.get("AccountRef"):
            raise errors.required_missing("Line.DepositLineDetail.AccountRef")
        account = company.ref_target("Account", detail["AccountRef"], "Line.DepositLineDetail.AccountRef")
        line["DepositLineDetail"] = {**detail, "AccountRef": named_ref(account)}

    def after_write(self, company: Company, rec: Record, previous: Record | None, ctx: Any) -> None:
        self.after_delete(company, rec)
        for payment_id in ctx or ():
            company.deposit_of[payment_id] = rec["Id"]

    def after_delete(self, company: Company, rec: dict[str, Any]) -> None:
        for payment_id in [p for p, d in company.deposit_of.items() if d == rec["Id"]]:
            del company.deposit_of[payment_id]
