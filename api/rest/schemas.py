"""REST request and response bodies (msgspec Structs). Requests reject unknown fields."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import msgspec

from domain.clients import Address, Client, NewClient
from domain.invoices import Invoice, NewInvoice, NewInvoiceLine


class _In(msgspec.Struct, forbid_unknown_fields=True):
    pass


class AddressIn(_In):
    line1: str | None = None
    line2: str | None = None
    city: str | None = None
    state: str | None = None
    postal_code: str | None = None
    country: str | None = None


class CreateClientIn(_In):
    name: str
    billing_email: str | None = None
    address: AddressIn | None = None

    def command(self) -> NewClient:
        a = self.address or AddressIn()
        return NewClient(
            self.name, self.billing_email, Address(a.line1, a.line2, a.city, a.state, a.postal_code, a.country)
        )


class InvoiceLineIn(_In):
    description: str
    unit_amount: int  # minor units
    quantity: Decimal = Decimal(1)
    tax_amount: int = 0


class CreateInvoiceIn(_In):
    client_id: uuid.UUID
    number: str
    currency: str
    issue_date: date
    due_date: date
    lines: list[InvoiceLineIn]
    memo: str | None = None

    def command(self) -> NewInvoice:
        return NewInvoice(
            client_id=self.client_id,
            number=self.number,
            currency=self.currency,
            issue_date=self.issue_date,
            due_date=self.due_date,
            lines=[NewInvoiceLine(ln.description, ln.quantity, ln.unit_amount, ln.tax_amount) for ln in self.lines],
            memo=self.memo,
        )


class AddressOut(msgspec.Struct):
    line1: str | None
    line2: str | None
    city: str | None
    state: str | None
    postal_code: str | None
    country: str | None


class ClientOut(msgspec.Struct):
    id: uuid.UUID
    name: str
    billing_email: str | None
    address: AddressOut
    created_at: datetime
    updated_at: datetime
    object: str = "client"

    @staticmethod
    def of(c: Client) -> ClientOut:
        a = c.address
        return ClientOut(
            c.id,
            c.name,
            c.billing_email,
            AddressOut(a.line1, a.line2, a.city, a.state, a.postal_code, a.country),
            c.created_at,
            c.updated_at,
        )


class InvoiceLineOut(msgspec.Struct):
    id: uuid.UUID
    description: str
    quantity: Decimal
    unit_amount: int
    amount: int
    tax_amount: int


class InvoiceOriginOut(msgspec.Struct):
    """A synced invoice's PSA record: `number_issue` ("missing" or "duplicate") keeps payments from being matched
    to it until the number is fixed in the PSA; `contract_billed` makes it eligible for contract-based autopay."""

    source: str
    external_id: str
    number_issue: str | None
    contract_billed: bool


class InvoiceOut(msgspec.Struct):
    """Amounts are integers in the currency's minor unit (cents for USD)."""

    id: uuid.UUID
    number: str
    client_id: uuid.UUID
    currency: str
    status: str
    issue_date: date
    due_date: date
    subtotal: int
    tax_total: int
    total: int
    amount_paid: int
    balance: int
    memo: str | None
    lines: list[InvoiceLineOut]
    created_at: datetime
    updated_at: datetime
    voided_at: datetime | None
    origin: InvoiceOriginOut | None  # null for invoices issued in arbridge
    object: str = "invoice"

    @staticmethod
    def of(i: Invoice) -> InvoiceOut:
        o = i.origin
        return InvoiceOut(
            id=i.id,
            number=i.number,
            client_id=i.client_id,
            currency=i.currency,
            status=i.status.value,
            issue_date=i.issue_date,
            due_date=i.due_date,
            subtotal=i.subtotal,
            tax_total=i.tax_total,
            total=i.total,
            amount_paid=i.amount_paid,
            balance=i.balance,
            memo=i.memo,
            lines=[
                InvoiceLineOut(ln.id, ln.description, ln.quantity, ln.unit_amount, ln.amount, ln.tax_amount)
                for ln in i.lines
            ],
            created_at=i.created_at,
            updated_at=i.updated_at,
            voided_at=i.voided_at,
            origin=InvoiceOriginOut(o.source, o.external_id, o.number_issue, o.contract_billed) if o else None,
        )


class EventOut(msgspec.Struct):
    id: uuid.UUID
    type: str
    subject_id: uuid.UUID
    data: dict[str, Any]
    occurred_at: datetime
    object: str = "event"


class ClientList(msgspec.Struct):
    data: list[ClientOut]
    has_more: bool
    next_cursor: str | None
    object: str = "list"


class InvoiceList(msgspec.Struct):
    data: list[InvoiceOut]
    has_more: bool
    next_cursor: str | None
    object: str = "list"


class EventList(msgspec.Struct):
    data: list[EventOut]
    has_more: bool
    next_cursor: str | None
    object: str = "list"


class TokenOut(msgspec.Struct):
    access_token: str
    token_type: str
    expires_in: int
    scope: str
