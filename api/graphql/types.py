"""GraphQL object types, built from domain entities."""

# strawberry.field(...) with arguments is typed as returning Any; the resolvers themselves are typed.
# mypy: disable-error-code="untyped-decorator"

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from enum import Enum
from typing import Annotated, Any, Generic, Protocol, TypeVar

import strawberry

from api.graphql.context import Info, forbidden
from api.graphql.scalars import MinorUnits
from domain.auth import Forbidden, Scope
from domain.clients import Client as ClientEntity
from domain.invoices import Invoice as InvoiceEntity
from domain.pagination import Page, encode_cursor


@strawberry.enum
class InvoiceStatus(Enum):
    OPEN = "open"
    PARTIALLY_PAID = "partially_paid"
    PAID = "paid"
    VOID = "void"


@strawberry.type
class Money:
    amount: MinorUnits
    currency: str


@strawberry.type
class Address:
    line1: str | None
    line2: str | None
    city: str | None
    state: str | None
    postal_code: str | None
    country: str | None


@strawberry.type
class Client:
    id: strawberry.ID
    name: str
    billing_email: str | None
    address: Address
    created_at: dt.datetime
    updated_at: dt.datetime

    @staticmethod
    def of(c: ClientEntity) -> Client:
        a = c.address
        return Client(
            id=strawberry.ID(str(c.id)),
            name=c.name,
            billing_email=c.billing_email,
            address=Address(
                line1=a.line1, line2=a.line2, city=a.city, state=a.state, postal_code=a.postal_code, country=a.country
            ),
            created_at=c.created_at,
            updated_at=c.updated_at,
        )


@strawberry.type
class InvoiceLine:
    id: strawberry.ID
    description: str
    quantity: Decimal
    unit_amount: Money
    amount: Money
    tax_amount: Money


@strawberry.type
class Invoice:
    id: strawberry.ID
    number: str
    currency: str
    status: InvoiceStatus
    issue_date: dt.date
    due_date: dt.date
    subtotal: Money
    tax_total: Money
    total: Money
    amount_paid: Money
    balance: Money
    memo: str | None
    lines: list[InvoiceLine]
    created_at: dt.datetime
    updated_at: dt.datetime
    voided_at: dt.datetime | None
    client_id: strawberry.Private[uuid.UUID]

    @strawberry.field(description="Who the invoice is billed to (batched per request). Scope clients:read.")
    async def client(self, info: Info) -> Client:
        # The loader reads the repository directly, not through a use case, so the scope is checked here:
        # invoices:read alone must not reveal client names and addresses.
        try:
            info.context.principal.require(Scope.CLIENTS_READ)
        except Forbidden as exc:
            raise forbidden(exc) from exc
        found = await info.context.client_loader.load(self.client_id)
        assert found is not None, "invoices reference their tenant's clients by foreign key"
        return Client.of(found)

    @staticmethod
    def of(i: InvoiceEntity) -> Invoice:
        def money(v: int) -> Money:
            return Money(amount=MinorUnits(v), currency=i.currency)

        return Invoice(
            id=strawberry.ID(str(i.id)),
            number=i.number,
            currency=i.currency,
            status=InvoiceStatus(i.status.value),
            issue_date=i.issue_date,
            due_date=i.due_date,
            subtotal=money(i.subtotal),
            tax_total=money(i.tax_total),
            total=money(i.total),
            amount_paid=money(i.amount_paid),
            balance=money(i.balance),
            memo=i.memo,
            lines=[
                InvoiceLine(
                    id=strawberry.ID(str(ln.id)),
                    description=ln.description,
                    quantity=ln.quantity,
                    unit_amount=money(ln.unit_amount),
                    amount=money(ln.amount),
                    tax_amount=money(ln.tax_amount),
                )
                for ln in i.lines
            ],
            created_at=i.created_at,
            updated_at=i.updated_at,
            voided_at=i.voided_at,
            client_id=i.client_id,
        )


N = TypeVar("N")


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None


@strawberry.type
class Edge(Generic[N]):
    node: N
    cursor: str


@strawberry.type(description="A Relay connection, newest first. Pass `pageInfo.endCursor` as `after`.")
class Connection(Generic[N]):
    edges: list[Edge[N]]
    page_info: PageInfo


class _Node(Protocol):
    id: strawberry.ID


NodeT = TypeVar("NodeT", bound=_Node)


def connection_of(page: Page[Any], nodes: list[NodeT]) -> Connection[NodeT]:
    edges = [Edge(node=n, cursor=encode_cursor(uuid.UUID(n.id))) for n in nodes]
    return Connection(edges=edges, page_info=PageInfo(has_next_page=page.has_more, end_cursor=page.next_cursor))


# Expected failures of mutations: members of result unions, not top-level errors.
@strawberry.type
class FieldError:
    field: str
    message: str


@strawberry.type
class ValidationError:
    message: str
    fields: list[FieldError]


@strawberry.type
class NotFound:
    message: str
    id: strawberry.ID


@strawberry.type
class DuplicateInvoiceNumber:
    message: str
    number: str


@strawberry.type
class InvalidState:
    message: str


CreateClientResult = Annotated[Client | ValidationError, strawberry.union("CreateClientResult")]
CreateInvoiceResult = Annotated[
    Invoice | ValidationError | DuplicateInvoiceNumber, strawberry.union("CreateInvoiceResult")
]
VoidInvoiceResult = Annotated[Invoice | NotFound | InvalidState, strawberry.union("VoidInvoiceResult")]
