"""Bearer-token authentication and the per-request unit of work, as Litestar dependencies."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any

from litestar import Request
from litestar.datastructures import State

from adapters.auth.tokens import InvalidToken
from adapters.db.uow import SqlUnitOfWork
from api.rest.problems import Problem
from api.services import Services
from domain.auth import Principal


def services_of(state: State) -> Services:
    return state.services  # type: ignore[no-any-return]


async def authenticate(request: Request[Any, Any, Any], services: Services) -> Principal:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Problem(401, "unauthenticated", "Send `Authorization: Bearer <access token>`.")
    try:
        return await services.tokens.verify(token.strip())
    except InvalidToken as exc:
        raise Problem(401, "invalid_token", str(exc)) from exc


async def provide_principal(request: Request[Any, Any, Any], state: State) -> Principal:
    return await authenticate(request, services_of(state))


async def provide_uow(state: State, principal: Principal) -> AsyncGenerator[SqlUnitOfWork, None]:
    """The tenant of the unit of work is the token's tenant, never anything the caller sends."""
    async with services_of(state).uow(principal.tenant_id) as uow:
        yield uow
