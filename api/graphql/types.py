"""GraphQL object types, built from domain entities."""

# strawberry.field(...) with arguments is typed as returning Any; the resolvers themselves are typed.
# mypy: disable-error-code="untyped-decorator"

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Awaitable, Callable
from decimal import Decimal
from enum import Enum
from operator import attrgetter
from typing import Annotated, Any, Generic, Protocol, TypeVar

import strawberry

from api.graphql.context import Info, forbidden
from api.graphql.scalars import MinorUnits
from api.graphql.subtrees import answers_without_info
from domain.auth import Forbidden, Scope
from domain.clients import Client as ClientEntity
from domain.invoices import Invoice as InvoiceEntity
from domain.invoices import InvoiceLine as InvoiceLineEntity
from domain.invoices import InvoiceStatus as DomainInvoiceStatus
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

    @staticmethod
    def of(ln: InvoiceLineEntity, currency: str) -> InvoiceLine:
        return InvoiceLine(
            id=strawberry.ID(str(ln.id)),
            description=ln.description,
            quantity=ln.quantity,
            unit_amount=Money(amount=MinorUnits(ln.unit_amount), currency=currency),
            amount=Money(amount=MinorUnits(ln.amount), currency=currency),
            tax_amount=Money(amount=MinorUnits(ln.tax_amount), currency=currency),
        )


def _money(name: str) -> Any:
    """A field resolved from the entity's amount `name` when selected (the SDL keeps the declared order)."""
    amount_of = attrgetter(name)

    def resolve(self: Invoice) -> Money:
        return Money(amount=MinorUnits(amount_of(self.entity)), currency=self.currency)

    return strawberry.field(resolver=resolve)


def _lines(self: Invoice) -> list[InvoiceLine]:
    return [InvoiceLine.of(ln, self.currency) for ln in self.entity.lines]


@strawberry.type
class Invoice:
    """Scalars are copied from the entity up front (plain attributes are the cheapest fields to resolve);
    money, lines and the client are built from it only when a query selects them."""

    id: strawberry.ID
    number: str
    currency: str
    status: InvoiceStatus
    issue_date: dt.date
    due_date: dt.date

    subtotal: Money = _money("subtotal")
    tax_total: Money = _money("tax_total")
    total: Money = _money("total")
    amount_paid: Money = _money("amount_paid")
    balance: Money = _money("balance")
    memo: str | None
    lines: list[InvoiceLine] = strawberry.field(resolver=_lines)
    created_at: dt.datetime
    updated_at: dt.datetime
    voided_at: dt.datetime | None
    source: str = strawberry.field(description="Where the invoice was issued: arbridge or halopsa.")
    external_id: str | None = strawberry.field(description="The PSA's own id of a synced invoice.")
    number_issue: str | None = strawberry.field(
        description="missing or duplicate: payments are not matched to this invoice until its number is fixed."
    )
    contract_billed: bool = strawberry.field(
        description="Bills an agreement whose subtype the MSP chose as contract-billed (contract-based autopay)."
    )
    entity: strawberry.Private[InvoiceEntity]
    # Attached by a resolver that read the page's clients in its own transaction, after checking that the
    # principal may read clients (Query.invoices); without it, `client` goes through the request's DataLoader.
    preloaded_client: strawberry.Private[Client | None] = None

    # A sync resolver that returns either the preloaded client or, without one, the loader's awaitable:
    # graphql-core awaits what needs awaiting, and a page whose clients were preloaded runs no coroutine
    # per invoice (an async resolver costs several times what a sync one does).
    @strawberry.field(
        graphql_type=Client, description="Who the invoice is billed to (batched per request). Scope clients:read."
    )
    @answers_without_info(lambda invoice: invoice.preloaded_client)
    def client(self, info: Info) -> Client | Awaitable[Client]:
        if self.preloaded_client is not None:
            return self.preloaded_client  # the scope was checked, for this request's principal, by who attached it
        # The loader reads the repository directly, not through a use case, so the scope is checked here:
        # invoices:read alone must not reveal client names and addresses.
        try:
            info.context.principal.require(Scope.CLIENTS_READ)
        except Forbidden as exc:
            raise forbidden(exc) from exc
        return self._load_client(info)

    async def _load_client(self, info: Info) -> Client:
        found = await info.context.client_loader.load(self.entity.client_id)
        assert found is not None, "invoices reference their tenant's clients by foreign key"
        return Client.of(found)

    @staticmethod
    def of(i: InvoiceEntity, client: Client | None = None) -> Invoice:
        return Invoice(
            id=strawberry.ID(str(i.id)),
            number=i.number,
            currency=i.currency,
            status=_STATUS[i.status],
            issue_date=i.issue_date,
            due_date=i.due_date,
            memo=i.memo,
            created_at=i.created_at,
            updated_at=i.updated_at,
            voided_at=i.voided_at,
            source=o.source if (o := i.origin) else "arbridge",
            external_id=o.external_id if o else None,
            number_issue=o.number_issue if o else None,
            contract_billed=o.contract_billed if o else False,
            entity=i,
            preloaded_client=client,
        )


_STATUS = {s: InvoiceStatus(s.value) for s in DomainInvoiceStatus}


N = TypeVar("N")


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None


@strawberry.type
class Edge(Generic[N]):
    node: N
    key: strawberry.Private[uuid.UUID]

    @strawberry.field(description="Pass as `after` to continue after this node.")
    def cursor(self) -> str:
        # Encoded only when asked for (most pages read pageInfo.endCursor instead).
        return encode_cursor(self.key)


@strawberry.type(description="A Relay connection, newest first. Pass `pageInfo.endCursor` as `after`.")
class Connection(Generic[N]):
    edges: list[Edge[N]]
    page_info: PageInfo


class _Entity(Protocol):
    @property
    def id(self) -> uuid.UUID: ...


EntityT = TypeVar("EntityT", bound=_Entity)
NodeT = TypeVar("NodeT")


def connection_of(page: Page[EntityT], node_of: Callable[[EntityT], NodeT]) -> Connection[NodeT]:
    edges = [Edge(node=node_of(e), key=e.id) for e in page.items]
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
