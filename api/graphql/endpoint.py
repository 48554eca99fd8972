"""Mount the schema on Litestar at /graphql, with GraphiQL for people and bearer auth for queries."""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.datastructures import State
from strawberry.litestar import make_graphql_controller

from api.graphql.context import Context, build_context
from api.graphql.schema import schema
from api.rest.security import authenticate, services_of


async def _context(request: Request[Any, Any, Any], state: State) -> Context:
    # Every operation is authenticated; a missing or bad token is a 401 problem before any field runs.
    services = services_of(state)
    principal = await authenticate(request, services)
    return build_context(services, principal, request=request)


def graphql_controller() -> type:
    return make_graphql_controller(schema, path="/graphql", context_getter=_context, graphql_ide="graphiql")
