"""The GraphQL schema: the same use cases as REST, Relay connections, error unions for expected failures."""

# strawberry.field(...) with arguments is typed as returning Any; the resolvers themselves are typed.
# mypy: disable-error-code="untyped-decorator"

from __future__ import annotations

from typing import Any, TypeVar

import strawberry
from graphql import GraphQLError
from graphql.validation import MaxIntrospectionDepthRule
from strawberry.extensions import AddValidationRules, MaxTokensLimiter
from strawberry.schema.config import StrawberryConfig
from strawberry.types import ExecutionContext

from api.graphql.agreements import AgreementQuery
from api.graphql.context import Info, forbidden
from api.graphql.documents import CachedDocuments, DocumentStore
from api.graphql.errors import MaskUnexpectedErrors, log_unexpected
from api.graphql.execution import ArbridgeExecutor, streamline
from api.graphql.halosync import SyncMutation, SyncQuery
from api.graphql.inputs import CreateClientInput, CreateInvoiceInput, InvoiceFilterInput, lookup_id
from api.graphql.limits import MAX_TOKENS, QueryLimitsRule
from api.graphql.payments import PaymentMutation, PaymentQuery
from api.graphql.payouts import PayoutQuery
from api.graphql.refunds import RefundMutation, RefundQuery
from api.graphql.resolving import page_request, read, validation_error
from api.graphql.scalars import SCALAR_MAP
from api.graphql.selection import selects_node_field
from api.graphql.surcharges import SurchargeMutation, SurchargeQuery
from api.graphql.types import (
    Client,
    Connection,
    CreateClientResult,
    CreateInvoiceResult,
    DuplicateInvoiceNumber,
    InvalidState,
    Invoice,
    NotFound,
    VoidInvoiceResult,
    connection_of,
)
from api.graphql.vendors import VendorMutation, VendorQuery
from domain import errors
from domain.auth import Forbidden, Scope
from domain.invoices import InvoiceFilter
from domain.usecases import clients as client_uc
from domain.usecases import invoices as invoice_uc

T = TypeVar("T")


@strawberry.type
class Query(VendorQuery, SyncQuery, AgreementQuery, PaymentQuery, SurchargeQuery, RefundQuery, PayoutQuery):
    @strawberry.field(description="Clients, newest first. Scope clients:read.")
    async def clients(self, info: Info, first: int = 50, after: str | None = None) -> Connection[Client]:
        async def run() -> Connection[Client]:
            async with info.context.uow() as uow:
                page = await client_uc.list_clients(uow, info.context.principal, page_request(first, after))
            return connection_of(page, Client.of)

        return await read(run)

    @strawberry.field(description="One client, or null when there is none with this id. Scope clients:read.")
    async def client(self, info: Info, id: strawberry.ID) -> Client | None:
        async def run() -> Client | None:
            try:
                async with info.context.uow() as uow:
                    return Client.of(await client_uc.get_client(uow, info.context.principal, lookup_id(id)))
            except errors.NotFound:
                return None

        return await read(run)

    @strawberry.field(description="Invoices, newest first, filtered. Scope invoices:read.")
    async def invoices(
        self, info: Info, first: int = 50, after: str | None = None, filter: InvoiceFilterInput | None = None
    ) -> Connection[Invoice]:
        async def run() -> Connection[Invoice]:
            where = filter.filter() if filter else InvoiceFilter()
            principal = info.context.principal
            # With `client` selected (and readable), the page's clients are read in this transaction, one
            # query for the page, instead of by the DataLoader in a second transaction; every `client` then
            # resolves synchronously from what is attached here.
            with_clients = principal.allows(Scope.CLIENTS_READ) and selects_node_field(info, "client")
            async with info.context.uow() as uow:
                page = await invoice_uc.list_invoices(uow, principal, where, page_request(first, after))
                if not with_clients:
                    return connection_of(page, Invoice.of)
                found = await uow.clients.get_many([i.client_id for i in page.items])
            clients = {cid: Client.of(c) for cid, c in found.items()}
            return connection_of(page, lambda i: Invoice.of(i, clients.get(i.client_id)))

        return await read(run)

    @strawberry.field(description="One invoice, or null when there is none with this id. Scope invoices:read.")
    async def invoice(self, info: Info, id: strawberry.ID) -> Invoice | None:
        async def run() -> Invoice | None:
            try:
                async with info.context.uow() as uow:
                    return Invoice.of(await invoice_uc.get_invoice(uow, info.context.principal, lookup_id(id)))
            except errors.NotFound:
                return None

        return await read(run)


@strawberry.type
class Mutation(VendorMutation, SyncMutation, PaymentMutation, SurchargeMutation, RefundMutation):
    # Commit is explicit and inside the unit of work: a union member (ValidationError, ...) leaves the
    # transaction uncommitted, whatever HTTP status the response carries (always 200 in GraphQL).

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
            return validation_error(exc)
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
            return validation_error(exc)
        except errors.DuplicateInvoiceNumber as exc:
            return DuplicateInvoiceNumber(message=exc.message, number=exc.number)
        return Invoice.of(invoice)

    @strawberry.mutation(description="Void an invoice that has no payments. Scope invoices:write.")
    async def void_invoice(self, info: Info, id: strawberry.ID) -> VoidInvoiceResult:
        ctx = info.context
        try:
            async with ctx.uow() as uow:
                invoice = await invoice_uc.void_invoice(uow, ctx.principal, ctx.services.clock, lookup_id(id))
                await uow.commit()
        except Forbidden as exc:
            raise forbidden(exc) from exc
        except errors.NotFound:
            return NotFound(message=f"No invoice with id {id}.", id=id)
        except errors.InvalidState as exc:
            return InvalidState(message=exc.message)
        return Invoice.of(invoice)


class ArbridgeSchema(strawberry.Schema):
    def process_errors(self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None) -> None:
        # Strawberry logs every error, the caller's typos and FORBIDDEN included; we log what we mask.
        log_unexpected(errors, execution_context.operation_name if execution_context else None)


def _limits() -> AddValidationRules:
    # MaxIntrospectionDepthRule (graphql-core's) bounds nested lists such as types.fields.type.fields,
    # whose output grows geometrically even within the depth limit.
    return AddValidationRules([QueryLimitsRule, MaxIntrospectionDepthRule])


def _tokens() -> MaxTokensLimiter:
    # Checked by the parser itself, before any validation rule walks the document.
    return MaxTokensLimiter(max_token_count=MAX_TOKENS)


# Parsed and validated documents, shared by all requests (documents.py says why this is safe with the limits).
DOCUMENTS = DocumentStore()


def _documents() -> CachedDocuments:
    return CachedDocuments(DOCUMENTS)


# Extensions are passed as classes or factories: strawberry builds fresh ones per request, so no state
# is shared between concurrent operations other than what they are given on purpose (DOCUMENTS).
EXTENSIONS: list[Any] = [_tokens, _limits, _documents, MaskUnexpectedErrors]

schema = ArbridgeSchema(
    execution_context_class=ArbridgeExecutor,
    query=Query,
    mutation=Mutation,
    extensions=EXTENSIONS,
    config=StrawberryConfig(scalar_map=SCALAR_MAP),
)
streamline(schema)
