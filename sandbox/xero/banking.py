"""The chart of accounts (PUT /Accounts) and spend/receive money (BankTransactions).

Payout deposits and processor fees are recorded later as RECEIVE and SPEND bank transactions against a
BANK account (see collections.md §4), so those two types are emulated; the overpayment, prepayment and
transfer types are refused with a validation error. Messages: [V] Xero's own; [U] sandbox wording.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any
from uuid import UUID

from .contacts import add_new_contact, resolve_contact
from .context import (
    Outcome,
    WriteContext,
    as_uuid,
    date_field,
    failed,
    find_target,
    line_amount_types,
    parse_lines,
    ref,
    text,
    totals,
)
from .models import ACCOUNT_CLASS, BANK, Account, BankTransaction
from .render import account_json, bank_transaction_json

BANK_TYPES = ("RECEIVE", "SPEND")


def create_account(ctx: WriteContext, item: dict[str, Any], *, path_id: UUID | None, create_only: bool) -> Outcome:
    org, errors = ctx.org, []
    kind = (text(item, "type") or "").upper()
    code, name = (text(item, "code") or "").strip(), (text(item, "name") or "").strip()
    if kind not in ACCOUNT_CLASS:
        errors.append(f"Account Type '{kind}' is not valid")  # [U]
    if not name:
        errors.append("Please enter a Name.")  # [U], modelled on [V] below
    elif any(a.name.lower() == name.lower() for a in org.accounts.values()):
        errors.append("Please enter a unique Name.")  # [V]
    if not code and kind != BANK:
        errors.append("Please enter a Code.")  # [U]
    elif len(code) > 10:
        errors.append("Code must be 10 characters or fewer")  # [U] (spec: max length 10)
    elif code and org.account_by_code(code):
        errors.append("Please enter a unique Code.")  # [U]
    if kind == BANK and not text(item, "bankaccountnumber"):
        errors.append("Bank Account Number is required for bank accounts")  # [U]
    if errors:
        return failed(*errors)
    account = Account(
        account_id=ctx.new_id(),
        code=code,
        name=name,
        type=kind,
        updated=ctx.now,
        bank_account_number=text(item, "bankaccountnumber"),
        currency_code=text(item, "currencycode") or (org.base_currency if kind == BANK else None),
        description=text(item, "description"),
        tax_type=text(item, "taxtype") or "NONE",
        enable_payments=bool(item.get("enablepaymentstoaccount", False)),
    )
    org.accounts[account.account_id] = account
    return Outcome(account_json(account))


def _bank_account(ctx: WriteContext, item: dict[str, Any], current: UUID | None) -> tuple[UUID | None, str | None]:
    given = ref(item, "bankaccount")
    if not given:
        return (current, None) if current else (None, "A BankAccount must be specified")  # [U]
    account_id = as_uuid(given.get("accountid"))
    code = text(given, "code")
    account = ctx.org.accounts.get(account_id) if account_id else (ctx.org.account_by_code(code) if code else None)
    if account is None or account.type != BANK or account.status != "ACTIVE":
        return None, "The BankAccount must be an active account of type BANK"  # [U]
    return account.account_id, None


def write_bank_transaction(
    ctx: WriteContext, item: dict[str, Any], *, path_id: UUID | None, create_only: bool
) -> Outcome:
    current = find_target(
        ctx.org.bank_transactions, item.get("banktransactionid"), path_id, create_only=create_only,
        label="BankTransaction",
    )  # fmt: skip
    if isinstance(current, str):
        return failed(current)
    errors: list[str] = []
    kind = (text(item, "type") or (current.type if current else "")).upper()
    if kind not in BANK_TYPES:
        errors.append("Type must be RECEIVE or SPEND")  # [U]; other bank transaction types are not emulated
    status = (text(item, "status") or (current.status if current else "AUTHORISED")).upper()
    if status not in (("AUTHORISED", "DELETED") if current else ("AUTHORISED",)):
        errors.append(f"Status '{status}' is not valid for this bank transaction")  # [U]
    contact_id, new_contact = (current.contact_id if current else None), None
    if current is None or "contact" in item:
        contact_id, contact_error, new_contact = resolve_contact(ctx, item)
        errors += [contact_error] if contact_error else []
    bank_id, bank_error = _bank_account(ctx, item, current.bank_account_id if current else None)
    errors += [bank_error] if bank_error else []
    amount_types = line_amount_types(item, current.line_amount_types if current else "Exclusive", errors)
    lines = current.line_items if current else ()
    if "lineitems" in item or current is None:
        lines, line_errors = parse_lines(ctx, item.get("lineitems"), need_accounts=True)
        errors += line_errors or ([] if lines else ["At least one line item is required"])  # [U]
    day = date_field(item, "date", "Date", errors) or (current.date if current else ctx.today)
    if errors or contact_id is None or bank_id is None:
        return failed(*errors)
    fields = {
        "type": kind, "contact_id": contact_id, "bank_account_id": bank_id, "date": day, "line_items": lines,
        "totals": totals(lines, amount_types), "line_amount_types": amount_types, "status": status,
        "updated": ctx.now,
        "reference": text(item, "reference") if "reference" in item else (current.reference if current else None),
        "is_reconciled": bool(item.get("isreconciled", current.is_reconciled if current else False)),
        "url": text(item, "url") or (current.url if current else None),
    }  # fmt: skip
    if current is None:
        record = BankTransaction(bank_transaction_id=ctx.new_id(), currency=ctx.org.base_currency, **fields)
    else:
        record = replace(current, **fields)
    add_new_contact(ctx, new_contact)
    ctx.org.bank_transactions[record.bank_transaction_id] = record
    return Outcome(bank_transaction_json(ctx.org, record))
