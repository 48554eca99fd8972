"""GraphQL input types and their translation to domain commands."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import strawberry

from api.graphql.scalars import MinorUnits
from api.graphql.types import InvoiceStatus
from domain.clients import Address, NewClient
from domain.errors import FieldError, ValidationFailed
from domain.invoices import InvoiceFilter, NewInvoice, NewInvoiceLine
from domain.invoices import InvoiceStatus as DomainStatus


def parse_id(raw: str, field: str) -> uuid.UUID:
    try:
        return uuid.UUID(raw)
    except ValueError:
        raise ValidationFailed([FieldError(field, "is not an id")]) from None


# Never issued (ids are time-ordered UUIDs), so it names nothing in any tenant.
_NO_ID = uuid.UUID(int=0)


def lookup_id(raw: str) -> uuid.UUID:
    """The id to look up for `raw`. A malformed id names no object, exactly like an unknown or another
    tenant's id; looking up the nil UUID sends it down the same path (scope check, then "absent")."""
    try:
        return uuid.UUID(raw)
    except ValueError:
        return _NO_ID


@strawberry.input
class AddressInput:
    line1: str | None = None
    line2: str | None = None
    city: str | None = None
    state: str | None = None
    postal_code: str | None = None
    country: str | None = None


@strawberry.input
class CreateClientInput:
    name: str
    billing_email: str | None = None
    address: AddressInput | None = None

    def command(self) -> NewClient:
        a = self.address or AddressInput()
        return NewClient(
            self.name, self.billing_email, Address(a.line1, a.line2, a.city, a.state, a.postal_code, a.country)
        )


@strawberry.input
class InvoiceLineInput:
    description: str
    unit_amount: MinorUnits
    quantity: Decimal = Decimal(1)
    tax_amount: MinorUnits = MinorUnits(0)


@strawberry.input
class CreateInvoiceInput:
    client_id: strawberry.ID
    number: str
    currency: str
    issue_date: dt.date
    due_date: dt.date
    lines: list[InvoiceLineInput]
    memo: str | None = None

    def command(self) -> NewInvoice:
        return NewInvoice(
            client_id=parse_id(self.client_id, "clientId"),
            number=self.number,
            currency=self.currency,
            issue_date=self.issue_date,
            due_date=self.due_date,
            lines=[NewInvoiceLine(ln.description, ln.quantity, ln.unit_amount, ln.tax_amount) for ln in self.lines],
            memo=self.memo,
        )


@strawberry.input(description="Every field given must match (AND).")
class InvoiceFilterInput:
    status: InvoiceStatus | None = None
    client_id: strawberry.ID | None = None
    due_before: dt.date | None = strawberry.field(default=None, description="Due strictly before this date.")
    due_after: dt.date | None = strawberry.field(default=None, description="Due strictly after this date.")
    updated_since: dt.datetime | None = strawberry.field(
        default=None, description="Changed at or after this instant (ISO 8601 with offset), for incremental sync."
    )

    def filter(self) -> InvoiceFilter:
        since = self.updated_since
        if since is not None and since.utcoffset() is None:
            # A local time with no offset is ambiguous by up to a day; asking beats guessing UTC.
            raise ValidationFailed([FieldError("filter.updatedSince", "must include a UTC offset, e.g. Z")])
        return InvoiceFilter(
            status=DomainStatus(self.status.value) if self.status else None,
            client_id=parse_id(self.client_id, "filter.clientId") if self.client_id else None,
            due_before=self.due_before,
            due_after=self.due_after,
            updated_since=self.updated_since,
        )
