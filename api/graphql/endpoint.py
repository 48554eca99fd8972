"""Mount the schema on Litestar at /graphql: GraphiQL for people, bearer auth for every operation.

Strawberry's Litestar controller builds the context (a Litestar dependency) before it decides whether the
request is a GraphiQL page view or an operation, so the context getter sees the page view too. It answers
that one request shape, and only that one, with an `IdeContext` that holds no principal; every other
request is authenticated or refused with a 401 problem. The controller then refuses to execute an
operation under anything but an authenticated `Context`, so the page-view exception cannot become a way
to run a query without a token, even if the two tests of "is this a page view" ever disagreed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec
from litestar import Request, Response
from litestar.background_tasks import BackgroundTasks
from litestar.datastructures import State
from litestar.di import Provide
from strawberry.litestar import make_graphql_controller

from api.graphql.context import Context, IdeContext, build_context
from api.graphql.schema import schema
from api.rest.problems import Problem
from api.rest.security import authenticate, services_of

PATH = "/graphql"


def wants_ide(method: str, query_params: Mapping[str, Any], accept: str) -> bool:
    """A browser opening /graphql: a GET with no operation in it that asks for HTML.

    Stricter than strawberry's own test, which also serves the page for `Accept: */*` (curl's default),
    where the caller is more likely a script that forgot its query or token and should hear 401."""
    return method.upper() == "GET" and query_params.get("query") is None and "text/html" in accept


async def _context(request: Request[Any, Any, Any], state: State, response: Response[Any]) -> Context | IdeContext:
    # Also what strawberry's own context getter would add: the request and the sub-response.
    if wants_ide(request.method, request.query_params, request.headers.get("accept", "")):
        return IdeContext(request=request, response=response)
    # Every operation is authenticated; a missing or bad token is a 401 problem before any field runs.
    services = services_of(state)
    principal = await authenticate(request, services)
    return build_context(services, principal, request=request, response=response)


def _sub_response() -> Response[Any]:
    """The response resolvers may add headers or cookies to (strawberry's getter, without its thread hop)."""
    return Response({}, background=BackgroundTasks([]))


def _root_value(context: Any) -> None:
    """No root value. It takes the context only to be resolved after it: Litestar runs dependencies that do
    not depend on each other concurrently, in a task group per request, which costs more than they do."""
    return None


_Base: Any = make_graphql_controller(schema, path=PATH, graphql_ide="graphiql")


class GraphQLController(_Base):  # type: ignore[misc]
    # The schema has no subscriptions; without this, a websocket route would be mounted at /graphql whose
    # handshake takes a different path through the context getter.
    websocket_endpoint = None

    # Strawberry's own dependencies send the sub-response's constructor to the thread pool on every request
    # (sync_to_thread=True) and resolve three of them side by side in a task group. These form a chain,
    # response -> context -> root value, each awaited in turn.
    dependencies = {
        "response": Provide(_sub_response, sync_to_thread=False),
        "context": Provide(_context),
        "root_value": Provide(_root_value, sync_to_thread=False),
    }

    def encode_json(self, data: object) -> bytes:
        # The same JSON values as strawberry's json.dumps (compact, but UTF-8 rather than \u escapes), several
        # times faster on a page.
        return msgspec.json.encode(data)

    def should_render_graphql_ide(self, request: Any) -> bool:
        # The same test as the context getter's, on strawberry's request adapter.
        return wants_ide(request.method, request.query_params, request.headers.get("accept", ""))

    async def execute_operation(  # strawberry's signature
        self,
        request: Any,
        request_adapter: Any,
        request_data: Any,
        context: Any,
        root_value: Any,
        sub_response: Any,
    ) -> Any:
        if not isinstance(context, Context):
            raise Problem(401, "unauthenticated", "Send `Authorization: Bearer <access token>`.")
        return await super().execute_operation(
            request=request,
            request_adapter=request_adapter,
            request_data=request_data,
            context=context,
            root_value=root_value,
            sub_response=sub_response,
        )


def graphql_controller() -> type:
    return GraphQLController
