"""REST: /v1/invoices."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.params import Parameter

from adapters.db.uow import SqlUnitOfWork
from api.rest.clients import Cursor, Limit
from api.rest.idempotency import respond_once
from api.rest.schemas import CreateInvoiceIn, InvoiceList, InvoiceOut
from api.rest.security import services_of
from domain.auth import Principal
from domain.errors import FieldError, ValidationFailed
from domain.invoices import InvoiceFilter, InvoiceStatus
from domain.pagination import PageRequest
from domain.usecases import invoices as uc


def _status(raw: str | None) -> InvoiceStatus | None:
    if raw is None:
        return None
    try:
        return InvoiceStatus(raw)
    except ValueError:
        allowed = ", ".join(s.value for s in InvoiceStatus)
        raise ValidationFailed([FieldError("status", f"must be one of {allowed}")]) from None


class InvoiceController(Controller):
    path = "/v1/invoices"
    tags = ["invoices"]

    @post(
        "/",
        summary="Create an invoice",
        description="Scope `invoices:write`. Amounts in minor units. Numbers are unique per tenant (409). "
        "Accepts `Idempotency-Key`.",
    )
    async def create(
        self, request: Request[Any, Any, Any], data: CreateInvoiceIn, principal: Principal, uow: SqlUnitOfWork
    ) -> Response[InvoiceOut]:
        clock = services_of(request.app.state).clock

        async def work() -> InvoiceOut:
            return InvoiceOut.of(await uc.create_invoice(uow, principal, clock, data.command()))

        return await respond_once(request, uow, work)  # type: ignore[return-value]

    @get("/{invoice_id:uuid}", summary="Get an invoice", description="Scope `invoices:read`.")
    async def get_one(self, invoice_id: uuid.UUID, principal: Principal, uow: SqlUnitOfWork) -> InvoiceOut:
        return InvoiceOut.of(await uc.get_invoice(uow, principal, invoice_id))

    @get("/", summary="List invoices", description="Newest first, filtered. Scope `invoices:read`.")
    async def list_all(
        self,
        principal: Principal,
        uow: SqlUnitOfWork,
        limit: Limit = None,
        cursor: Cursor = None,
        status: Annotated[str | None, Parameter(description="open, partially_paid, paid or void")] = None,
        client_id: uuid.UUID | None = None,
        due_before: Annotated[date | None, Parameter(description="Due strictly before this date.")] = None,
        due_after: Annotated[date | None, Parameter(description="Due strictly after this date.")] = None,
        updated_since: Annotated[datetime | None, Parameter(description="Updated at or after (RFC 3339).")] = None,
    ) -> InvoiceList:
        where = InvoiceFilter(_status(status), client_id, due_before, due_after, updated_since)
        page = await uc.list_invoices(uow, principal, where, PageRequest.build(limit, cursor))
        return InvoiceList([InvoiceOut.of(i) for i in page.items], page.has_more, page.next_cursor)

    @post(
        "/{invoice_id:uuid}/void",
        summary="Void an invoice",
        description="Scope `invoices:write`. Refused (409) when payments are recorded or it is already void.",
    )
    async def void(
        self, request: Request[Any, Any, Any], invoice_id: uuid.UUID, principal: Principal, uow: SqlUnitOfWork
    ) -> Response[InvoiceOut]:
        clock = services_of(request.app.state).clock

        async def work() -> InvoiceOut:
            return InvoiceOut.of(await uc.void_invoice(uow, principal, clock, invoice_id))

        return await respond_once(request, uow, work, status_code=200)  # type: ignore[return-value]
