"""The accounting endpoints the sandbox emulates, and what each one allows.

| resource         | GET list (paged?) | GET /{id}            | PUT           | POST           | POST /{id}      |
| Invoices         | yes (paged)       | InvoiceID or number  | create        | create/update  | update          |
| Contacts         | yes (paged)       | ContactID or number  | create        | create/update  | update          |
| Payments         | yes (paged)       | PaymentID            | create (many) | create (one)   | delete          |
| BankTransactions | yes (paged)       | BankTransactionID    | create        | create/update  | update          |
| Accounts         | yes (all, no page)| AccountID            | create (one)  | -              | -               |

Scopes: the broad `accounting.transactions` / `.contacts` / `.settings` scopes, or the granular ones Xero
requires of apps created from March 2026 (`accounting.invoices`, `.payments`, `.banktransactions`); a
`.read` scope allows GET only.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from .banking import create_account, write_bank_transaction
from .contacts import write_contact
from .context import Outcome, as_uuid
from .http import Request
from .invoices import write_invoice
from .models import Organisation
from .payments import create_payment, delete_payment
from .render import (
    ACCOUNT_FIELDS,
    BANK_TRANSACTION_FIELDS,
    CONTACT_FIELDS,
    INVOICE_FIELDS,
    PAYMENT_FIELDS,
    Getter,
    account_json,
    bank_transaction_json,
    contact_json,
    invoice_json,
    payment_json,
)

Writer = Callable[..., Outcome]
Predicate = Callable[[Any], bool]


@dataclass(frozen=True)
class Resource:
    key: str  # the envelope's array key, e.g. "Invoices"
    type_name: str  # as named in QueryParseException messages
    table: Callable[[Organisation], dict[UUID, Any]]
    fields: Mapping[str, Getter]
    render: Callable[[Organisation, Any], dict[str, Any]]
    scopes: frozenset[str]  # write scopes; each also reads, and so does its ".read" form
    error_flag: str | None = None  # the per-item boolean Xero sets on a failed item of a batch
    paged: bool = True
    put: Writer | None = None
    post: Writer | None = None
    post_id: Writer | None = None
    single_body: bool = False  # PUT /Accounts takes one Account object
    find_by_number: Callable[[Organisation, str], Any] | None = None
    filters: Callable[[Request], list[Predicate]] = lambda _req: []

    def allows(self, scopes: frozenset[str], write: bool) -> bool:
        wanted = self.scopes if write else self.scopes | {f"{s}.read" for s in self.scopes}
        return bool(wanted & scopes)


def _csv(req: Request, name: str) -> list[str] | None:
    raw = req.param(name)
    if raw is None:
        return None
    return [v.strip().strip('"') for v in raw.split(",") if v.strip().strip('"')]


def _ids(req: Request, name: str) -> set[UUID] | None:
    values = _csv(req, name)
    return None if values is None else {u for u in (as_uuid(v) for v in values) if u is not None}


def _invoice_filters(req: Request) -> list[Predicate]:
    preds: list[Predicate] = []
    if (ids := _ids(req, "IDs")) is not None:
        preds.append(lambda i: i.invoice_id in ids)
    if (numbers := _csv(req, "InvoiceNumbers")) is not None:
        preds.append(lambda i: i.number in numbers)
    if (contacts := _ids(req, "ContactIDs")) is not None:
        preds.append(lambda i: i.contact_id in contacts)
    if (statuses := _csv(req, "Statuses")) is not None:
        wanted = {s.upper() for s in statuses}
        preds.append(lambda i: i.status in wanted)
    return preds


def _contact_filters(req: Request) -> list[Predicate]:
    preds: list[Predicate] = []
    if (ids := _ids(req, "IDs")) is not None:
        preds.append(lambda c: c.contact_id in ids)
    if (req.param("includeArchived") or "").lower() != "true":
        preds.append(lambda c: c.status != "ARCHIVED")
    if term := (req.param("searchTerm") or "").lower():
        preds.append(lambda c: any(term in (v or "").lower() for v in (c.name, c.first_name, c.last_name,
                                                                      c.email, c.contact_number)))  # fmt: skip
    return preds


def _invoice_by_number(org: Organisation, number: str) -> Any:
    found = org.invoice_numbers.get(number)
    return org.invoices.get(found) if found else None


TRANSACTIONS = frozenset({"accounting.transactions"})
RESOURCES: dict[str, Resource] = {
    "invoices": Resource(
        "Invoices", "Invoice", lambda o: o.invoices, INVOICE_FIELDS, invoice_json,
        TRANSACTIONS | {"accounting.invoices"}, "HasErrors", put=write_invoice, post=write_invoice,
        post_id=write_invoice, find_by_number=_invoice_by_number, filters=_invoice_filters,
    ),
    "contacts": Resource(
        "Contacts", "Contact", lambda o: o.contacts, CONTACT_FIELDS, lambda _o, c: contact_json(c),
        frozenset({"accounting.contacts"}), "HasValidationErrors", put=write_contact, post=write_contact,
        post_id=write_contact, find_by_number=lambda o, n: o.contact_by_number(n), filters=_contact_filters,
    ),
    "payments": Resource(
        "Payments", "Payment", lambda o: o.payments, PAYMENT_FIELDS, payment_json,
        TRANSACTIONS | {"accounting.payments"}, "HasValidationErrors", put=create_payment, post=create_payment,
        post_id=delete_payment,
    ),
    "banktransactions": Resource(
        "BankTransactions", "BankTransaction", lambda o: o.bank_transactions, BANK_TRANSACTION_FIELDS,
        bank_transaction_json, TRANSACTIONS | {"accounting.banktransactions"}, None, put=write_bank_transaction,
        post=write_bank_transaction, post_id=write_bank_transaction,
    ),
    "accounts": Resource(
        "Accounts", "Account", lambda o: o.accounts, ACCOUNT_FIELDS, lambda _o, a: account_json(a),
        frozenset({"accounting.settings"}), None, paged=False, put=create_account, single_body=True,
    ),
}  # fmt: skip
