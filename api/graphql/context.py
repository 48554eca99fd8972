"""Per-request GraphQL context: the principal, a fresh unit of work per resolver, and DataLoaders."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from graphql import GraphQLError
from strawberry.dataloader import DataLoader
from strawberry.litestar import BaseContext
from strawberry.types import Info as StrawberryInfo

from adapters.db.uow import SqlUnitOfWork
from api.services import Services
from domain.auth import Forbidden, Principal
from domain.clients import Client


class Context(BaseContext, kw_only=True):
    """The context of an authenticated request: the only kind under which an operation is executed."""

    services: Services
    principal: Principal
    client_loader: DataLoader[uuid.UUID, Client | None]

    def uow(self) -> SqlUnitOfWork:
        """Each resolver gets its own transaction: resolvers run concurrently, a connection cannot."""
        return self.services.uow(self.principal.tenant_id)


class IdeContext(BaseContext, kw_only=True):
    """The context of a browser's GET for the GraphiQL page. It holds no principal and no services, so
    nothing can be resolved under it; the controller refuses to execute an operation with it (endpoint.py)."""


Info = StrawberryInfo[Context, None]


def forbidden(exc: Forbidden) -> GraphQLError:
    return GraphQLError(exc.message, extensions={"code": "FORBIDDEN", "requiredScope": exc.needed})


def make_client_loader(services: Services, principal: Principal) -> DataLoader[uuid.UUID, Client | None]:
    """Batches every client looked up while resolving one request into a single query.

    Created per request (a loader caches what it loaded: shared, it would serve one tenant's rows to
    another and stale rows forever) and on its own unit of work (never a mutation's transaction)."""

    async def load(ids: Sequence[uuid.UUID]) -> list[Client | None]:
        async with services.uow(principal.tenant_id) as uow:
            found = await uow.clients.get_many(ids)
        return [found.get(i) for i in ids]

    return DataLoader(load_fn=load)


def build_context(services: Services, principal: Principal, **kwargs: Any) -> Context:
    return Context(
        services=services, principal=principal, client_loader=make_client_loader(services, principal), **kwargs
    )
