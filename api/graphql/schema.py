"""The GraphQL schema: the same use cases as REST, Relay connections, error unions for expected failures."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

import strawberry
from graphql import GraphQLError
from strawberry.extensions import MaskErrors, MaxAliasesLimiter, MaxTokensLimiter, QueryDepthLimiter

from api.graphql.context import Info, forbidden
from api.graphql.inputs import CreateClientInput, CreateInvoiceInput, InvoiceFilterInput, parse_id
from api.graphql.types import (
    Client,
    Connection,
    CreateClientResult,
    CreateInvoiceResult,
    DuplicateInvoiceNumber,
    FieldError,
    InvalidState,
    Invoice,
    NotFound,
    ValidationError,
    VoidInvoiceResult,
    connection_of,
)
from domain import errors
from domain.auth import Forbidden
from domain.invoices import InvoiceFilter
from domain.pagination import PageRequest
from domain.usecases import clients as client_uc
from domain.usecases import invoices as invoice_uc

MAX_DEPTH = 10
MAX_ALIASES = 30
MAX_TOKENS = 5_000

T = TypeVar("T")


async def _read(call: Callable[[], Awaitable[T]]) -> T:
    """Run a query use case; expected failures become errors with a stable `extensions.code`."""
    try:
        return await call()
    except Forbidden as exc:
        raise forbidden(exc) from exc
    except errors.ValidationFailed as exc:
        raise GraphQLError(exc.message, extensions={"code": "BAD_USER_INPUT"}) from exc


def _validation(exc: errors.ValidationFailed) -> ValidationError:
    return ValidationError(message=exc.message, fields=[FieldError(field=e.field, message=e.message) for e in exc.errors])


@strawberry.type
class Query:
    @strawberry.field(description="Clients, newest first. Scope clients:read.")
    async def clients(self, info: Info, first: int = 50, after: str | None = None) -> Connection[Client]:
        async def run() -> Connection[Client]:
            async with info.context.uow() as uow:
                page = await client_uc.list_clients(uow, info.context.principal, PageRequest.build(first, after))
            return connection_of(page, [Client.of(c) for c in page.items])  # type: ignore[arg-type]

        return await _read(run)

    @strawberry.field(description="One client, or null when there is none with this id. Scope clients:read.")
    async def client(self, info: Info, id: strawberry.ID) -> Client | None:
        async def run() -> Client | None:
            try:
                async with info.context.uow() as uow:
                    return Client.of(await client_uc.get_client(uow, info.context.principal, parse_id(id, "id")))
            except errors.NotFound:
                return None

        return await _read(run)

    @strawberry.field(description="Invoices, newest first, filtered. Scope invoices:read.")
    async def invoices(
        self, info: Info, first: int = 50, after: str | None = None, filter: InvoiceFilterInput | None = None
    ) -> Connection[Invoice]:
        async def run() -> Connection[Invoice]:
            where = filter.filter() if filter else InvoiceFilter()
            async with info.context.uow() as uow:
                page = await invoice_uc.list_invoices(uow, info.context.principal, where, PageRequest.build(first, after))
            return connection_of(page, [Invoice.of(i) for i in page.items])  # type: ignore[arg-type]

        return await _read(run)

    @strawberry.field(description="One invoice, or null when there is none with this id. Scope invoices:read.")
    async def invoice(self, info: Info, id: strawberry.ID) -> Invoice | None:
        async def run() -> Invoice | None:
            try:
                async with info.context.uow() as uow:
                    return Invoice.of(await invoice_uc.get_invoice(uow, info.context.principal, parse_id(id, "id")))
            except errors.NotFound:
                return None

        return await _read(run)


@strawberry.type
class Mutation:
    @strawberry.mutation(description="Create a client. Scope clients:write.")
    async def create_client(self, info: Info, input: CreateClientInput) -> CreateClientResult:
        ctx = info.context
        try:
            async with ctx.uow() as uow:
                client = await client_uc.create_client(uow, ctx.principal, ctx.services.clock, input.command())
                await uow.commit()
        except Forbidden as exc:
            raise forbidden(exc) from exc
        except errors.ValidationFailed as exc:
            return _validation(exc)
        return Client.of(client)

    @strawberry.mutation(description="Issue an invoice. Scope invoices:write.")
    async def create_invoice(self, info: Info, input: CreateInvoiceInput) -> CreateInvoiceResult:
        ctx = info.context
        try:
            async with ctx.uow() as uow:
                invoice = await invoice_uc.create_invoice(uow, ctx.principal, ctx.services.clock, input.command())
                await uow.commit()
        except Forbidden as exc:
            raise forbidden(exc) from exc
        except errors.ValidationFailed as exc:
            return _validation(exc)
        except errors.DuplicateInvoiceNumber as exc:
            return DuplicateInvoiceNumber(message=exc.message, number=exc.number)
        return Invoice.of(invoice)

    @strawberry.mutation(description="Void an invoice that has no payments. Scope invoices:write.")
    async def void_invoice(self, info: Info, id: strawberry.ID) -> VoidInvoiceResult:
        ctx = info.context
        try:
            async with ctx.uow() as uow:
                invoice = await invoice_uc.void_invoice(uow, ctx.principal, ctx.services.clock, parse_id(id, "id"))
                await uow.commit()
        except Forbidden as exc:
            raise forbidden(exc) from exc
        except (errors.NotFound, errors.ValidationFailed):
            return NotFound(message=f"No invoice with id {id}.", id=id)
        except errors.InvalidState as exc:
            return InvalidState(message=exc.message)
        return Invoice.of(invoice)


def _should_mask(error: GraphQLError) -> bool:
    """Errors we raised on purpose carry a code; anything else is unexpected and is masked."""
    return not (error.extensions and "code" in error.extensions)


schema = strawberry.Schema(
    query=Query,
    mutation=Mutation,
    extensions=[
        QueryDepthLimiter(max_depth=MAX_DEPTH),
        MaxAliasesLimiter(max_alias_count=MAX_ALIASES),
        MaxTokensLimiter(max_token_count=MAX_TOKENS),
        MaskErrors(should_mask_error=_should_mask),
    ],
)
