"""Per-entity rules for the name lists (Customer, Account, Term, Item) and the base every entity shares.

A `Kind` validates a candidate record and fills in what QuickBooks computes (`prepare`), then keeps the
company's indexes right (`after_write`). The generic create/update/delete flow lives in `entities.py`.
Field lists are the properties Intuit documents for each entity; any other top-level property is refused
with Fault 2010, as QuickBooks does, so a misspelt field fails in tests instead of vanishing silently.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from sandbox.quickbooks import errors
from sandbox.quickbooks.store import Company, Record
from sandbox.quickbooks.util import BadAmount, as_json_number, local_date, money

ADDRESSES = frozenset({"BillAddr", "ShipAddr", "ShipFromAddr"})


class Kind:
    name = ""
    fields: frozenset[str] = frozenset()  # writable properties
    computed: frozenset[str] = frozenset()  # read-only: accepted on input, then recomputed
    operations: frozenset[str] = frozenset()  # "delete", "void" (Invoice), "voidpayment" (Payment)

    def prepare(self, company: Company, rec: dict[str, Any], previous: Record | None, body: Record) -> Any:
        """Validate `rec` (the record as it would be saved) and fill computed fields; return context for
        after_write. `body` is the request as sent, for checks on what the caller supplied."""
        return None

    def guard_change(self, company: Company, previous: dict[str, Any], action: str) -> None:
        """Refuse an update, delete or void (`action`) of this record, e.g. of a deposited payment."""

    def after_write(self, company: Company, rec: dict[str, Any], previous: Record | None, ctx: Any) -> None:
        pass

    def before_delete(self, company: Company, rec: dict[str, Any]) -> None:
        pass

    def after_delete(self, company: Company, rec: dict[str, Any]) -> None:
        pass

    def void(self, company: Company, rec: dict[str, Any]) -> None:
        raise errors.unsupported_operation("void")


# -- helpers shared with transactions.py ------------------------------------------------------------------


def amount_of(value: Any, element: str) -> Decimal:
    try:
        return money(value)
    except BadAmount as exc:
        if value is None:
            raise errors.required_missing(element) from exc
        raise errors.unsupported_property(element) from exc


def txn_date(company: Company, value: Any, element: str) -> str:
    """A YYYY-MM-DD date as sent, defaulting to today in the company's time zone."""
    if value is None:
        return local_date(company.now(), company.tz)
    try:
        return date.fromisoformat(str(value)).isoformat()
    except ValueError as exc:
        raise errors.unsupported_property(element) from exc


def named_ref(record: dict[str, Any], name_field: str = "Name") -> dict[str, str]:
    return {"value": record["Id"], "name": record[name_field]}


def unique_name(company: Company, entity: str, name: str, self_id: str | None, label: str) -> None:
    holder = company.names[entity].get(name.strip().lower())
    if holder is not None and holder != self_id:
        raise errors.duplicate_name(label)


def reindex_name(company: Company, entity: str, field: str, rec: Record, previous: Record | None) -> None:
    index = company.names[entity]
    if previous is not None:
        index.pop(str(previous[field]).strip().lower(), None)
    index[str(rec[field]).strip().lower()] = rec["Id"]


def default_active(rec: dict[str, Any]) -> None:
    rec["Active"] = rec.get("Active", True) is not False


# -- the name lists ------------------------------------------------------------------------------------

DELETED_SUFFIX = " (deleted)"


class CustomerKind(Kind):
    name = "Customer"
    fields = frozenset(
        "DisplayName Title GivenName MiddleName FamilyName Suffix CompanyName PrintOnCheckName Active "
        "PrimaryPhone AlternatePhone Mobile Fax PrimaryEmailAddr WebAddr BillAddr ShipAddr Notes Job "
        "BillWithParent ParentRef Level Taxable OpenBalanceDate CurrencyRef PreferredDeliveryMethod ResaleNum "
        "SalesTermRef PaymentMethodRef DefaultTaxCodeRef TaxExemptionReasonId CustomerTypeRef "
        "PrimaryTaxIdentifier BusinessNumber GSTIN GSTRegistrationType IsProject Source".split()
    )
    computed = frozenset({"Balance", "BalanceWithJobs", "FullyQualifiedName", "V4IDPseudonym"})

    def prepare(self, company: Company, rec: dict[str, Any], previous: Record | None, body: Record) -> None:
        given = " ".join(str(rec[k]) for k in ("GivenName", "MiddleName", "FamilyName") if rec.get(k))
        name = str(rec.get("DisplayName") or given or rec.get("CompanyName") or "").strip()
        if not name:
            raise errors.required_missing("DisplayName")
        default_active(rec)
        # QuickBooks renames a customer it deactivates to "<name> (deleted)" and frees the plain name [U].
        if not rec["Active"] and not name.endswith(DELETED_SUFFIX):
            name += DELETED_SUFFIX
        elif rec["Active"] and name.endswith(DELETED_SUFFIX):
            name = name.removesuffix(DELETED_SUFFIX)
        unique_name(company, "Customer", name, rec.get("Id"), "customer, vendor or employee")
        rec["DisplayName"] = rec["FullyQualifiedName"] = name
        if rec.get("SalesTermRef"):
            rec["SalesTermRef"] = named_ref(company.ref_target("Term", rec["SalesTermRef"], "SalesTerm"))
        rec.setdefault("CurrencyRef", company.currency_ref())
        # Balance is the company's to compute (transactions.refresh_customer_balance), never the caller's.
        rec["Balance"] = rec["BalanceWithJobs"] = previous["Balance"] if previous else 0
        rec.setdefault("Taxable", False)
        rec.setdefault("Job", False)
        rec.setdefault("BillWithParent", False)
        rec.setdefault("PreferredDeliveryMethod", "Print")

    def after_write(self, company: Company, rec: Record, previous: Record | None, ctx: Any) -> None:
        reindex_name(company, "Customer", "DisplayName", rec, previous)


ACCOUNT_TYPES = {
    "Bank": ("Asset", "Checking"),
    "Other Current Asset": ("Asset", "OtherCurrentAssets"),
    "Fixed Asset": ("Asset", "OtherFixedAssets"),
    "Other Asset": ("Asset", "OtherLongTermAssets"),
    "Accounts Receivable": ("Asset", "AccountsReceivable"),
    "Accounts Payable": ("Liability", "AccountsPayable"),
    "Credit Card": ("Liability", "CreditCard"),
    "Other Current Liability": ("Liability", "OtherCurrentLiabilities"),
    "Long Term Liability": ("Liability", "OtherLongTermLiabilities"),
    "Equity": ("Equity", "OwnersEquity"),
    "Income": ("Revenue", "ServiceFeeIncome"),
    "Other Income": ("Revenue", "OtherMiscellaneousIncome"),
    "Cost of Goods Sold": ("Expense", "SuppliesMaterialsCogs"),
    "Expense": ("Expense", "OtherMiscellaneousServiceCost"),
    "Other Expense": ("Expense", "OtherMiscellaneousExpense"),
}


class AccountKind(Kind):
    name = "Account"
    fields = frozenset(
        "Name AcctNum SubAccount ParentRef Description Active Classification AccountType AccountSubType "
        "CurrencyRef TaxCodeRef OpeningBalance OpeningBalanceDate TxnLocationType AccountAlias".split()
    )
    computed = frozenset({"CurrentBalance", "CurrentBalanceWithSubAccounts", "FullyQualifiedName"})

    def prepare(self, company: Company, rec: dict[str, Any], previous: Record | None, body: Record) -> None:
        name = str(rec.get("Name") or "").strip()
        if not name:
            raise errors.required_missing("Name")
        if ":" in name or '"' in name:
            raise errors.business("The account name can't contain a colon or double quotes.", "Name")
        unique_name(company, "Account", name, rec.get("Id"), "account")
        account_type = rec.get("AccountType")
        if account_type is None:
            raise errors.required_missing("AccountType")
        if account_type not in ACCOUNT_TYPES:
            raise errors.QBOError("2170", "Invalid Enumeration", f"Invalid Enumeration : {account_type}", "AccountType")
        classification, subtype = ACCOUNT_TYPES[account_type]
        rec["Name"] = rec["FullyQualifiedName"] = name
        rec["Classification"] = classification
        rec.setdefault("AccountSubType", subtype)
        rec.setdefault("SubAccount", False)
        rec["CurrentBalance"] = rec["CurrentBalanceWithSubAccounts"] = previous["CurrentBalance"] if previous else 0
        rec.setdefault("CurrencyRef", company.currency_ref())
        default_active(rec)

    def after_write(self, company: Company, rec: Record, previous: Record | None, ctx: Any) -> None:
        reindex_name(company, "Account", "Name", rec, previous)


class TermKind(Kind):
    name = "Term"
    fields = frozenset(
        "Name Active Type DueDays DiscountPercent DiscountDays DayOfMonthDue DueNextMonthDays "
        "DiscountDayOfMonth".split()
    )

    def prepare(self, company: Company, rec: dict[str, Any], previous: Record | None, body: Record) -> None:
        name = str(rec.get("Name") or "").strip()
        if not name:
            raise errors.required_missing("Name")
        unique_name(company, "Term", name, rec.get("Id"), "term")
        rec["Name"] = name
        rec.setdefault("Type", "STANDARD")
        if rec["Type"] == "STANDARD":
            rec.setdefault("DueDays", 0)
        default_active(rec)

    def after_write(self, company: Company, rec: Record, previous: Record | None, ctx: Any) -> None:
        reindex_name(company, "Term", "Name", rec, previous)


ITEM_TYPES = frozenset({"Service", "NonInventory", "Inventory", "Category", "Group"})


class ItemKind(Kind):
    name = "Item"
    fields = frozenset(
        "Name Sku Description Active SubItem ParentRef Level Taxable SalesTaxIncluded UnitPrice Type "
        "IncomeAccountRef PurchaseDesc PurchaseCost ExpenseAccountRef AssetAccountRef TrackQtyOnHand QtyOnHand "
        "InvStartDate PurchaseTaxIncluded SalesTaxCodeRef PurchaseTaxCodeRef".split()
    )
    computed = frozenset({"FullyQualifiedName"})

    def prepare(self, company: Company, rec: dict[str, Any], previous: Record | None, body: Record) -> None:
        name = str(rec.get("Name") or "").strip()
        if not name:
            raise errors.required_missing("Name")
        unique_name(company, "Item", name, rec.get("Id"), "item")
        rec["Name"] = rec["FullyQualifiedName"] = name
        rec.setdefault("Type", "Service")
        if rec["Type"] not in ITEM_TYPES:
            raise errors.QBOError("2170", "Invalid Enumeration", f"Invalid Enumeration : {rec['Type']}", "Type")
        if rec["Type"] in {"Service", "NonInventory", "Inventory"}:
            if not rec.get("IncomeAccountRef"):
                raise errors.required_missing("IncomeAccountRef")
            rec["IncomeAccountRef"] = named_ref(company.ref_target("Account", rec["IncomeAccountRef"], "Account"))
        if "UnitPrice" in rec:
            rec["UnitPrice"] = as_json_number(amount_of(rec["UnitPrice"], "UnitPrice"))
        rec.setdefault("UnitPrice", 0)
        rec.setdefault("Taxable", False)
        rec.setdefault("TrackQtyOnHand", False)
        default_active(rec)

    def after_write(self, company: Company, rec: Record, previous: Record | None, ctx: Any) -> None:
        reindex_name(company, "Item", "Name", rec, previous)
