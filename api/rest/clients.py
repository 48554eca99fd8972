"""REST: /v1/clients."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.params import Parameter

from adapters.db.uow import SqlUnitOfWork
from api.rest.idempotency import respond_once
from api.rest.schemas import ClientList, ClientOut, CreateClientIn
from api.rest.security import services_of
from domain.auth import Principal
from domain.pagination import MAX_LIMIT, PageRequest
from domain.usecases import clients as uc

Limit = Annotated[int | None, Parameter(description=f"Page size, 1 to {MAX_LIMIT}; default 50.")]
Cursor = Annotated[str | None, Parameter(description="`next_cursor` of the previous page.")]


class ClientController(Controller):
    path = "/v1/clients"
    tags = ["clients"]

    @post("/", summary="Create a client", description="Scope `clients:write`. Accepts `Idempotency-Key`.")
    async def create(
        self, request: Request[Any, Any, Any], data: CreateClientIn, principal: Principal, uow: SqlUnitOfWork
    ) -> Response[ClientOut]:
        clock = services_of(request.app.state).clock

        async def work() -> ClientOut:
            return ClientOut.of(await uc.create_client(uow, principal, clock, data.command()))

        return await respond_once(request, uow, work)  # type: ignore[return-value]

    @get("/{client_id:uuid}", summary="Get a client", description="Scope `clients:read`.")
    async def get_one(self, client_id: uuid.UUID, principal: Principal, uow: SqlUnitOfWork) -> ClientOut:
        return ClientOut.of(await uc.get_client(uow, principal, client_id))

    @get("/", summary="List clients", description="Newest first. Scope `clients:read`.")
    async def list_all(
        self, principal: Principal, uow: SqlUnitOfWork, limit: Limit = None, cursor: Cursor = None
    ) -> ClientList:
        page = await uc.list_clients(uow, principal, PageRequest.build(limit, cursor))
        return ClientList([ClientOut.of(c) for c in page.items], page.has_more, page.next_cursor)
