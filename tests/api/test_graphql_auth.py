"""GraphQL authentication and scopes: GraphiQL opens without a token, nothing executes without one."""

from __future__ import annotations

from typing import Any

import pytest
from litestar.routes import WebSocketRoute
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conftest import Api, new_tenant, token_for

CLIENTS = "{ clients(first: 5) { edges { node { id name } } } }"
CREATE_CLIENT = 'mutation { createClient(input: {name: "Ghost"}) { __typename } }'


async def _scoped_api(engine: AsyncEngine, client: AsyncTestClient[Any], scopes: str) -> Api:
    creds = await new_tenant(engine, f"Scoped {scopes}", frozenset(scopes.split()))
    return Api(client, creds, await token_for(client, creds))


def _assert_unauthenticated(r: Any) -> None:
    assert r.status_code == 401, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["code"] in {"unauthenticated", "invalid_token"}
    assert "data" not in r.json()


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer not-a-jwt"}, {"Authorization": "Basic dXNlcjpwdw=="}, {"Authorization": "Bearer "}],
)
async def test_operations_without_a_valid_token_are_401_problems(
    client: AsyncTestClient[Any], headers: dict[str, str]
) -> None:
    _assert_unauthenticated(await client.post("/graphql", json={"query": CLIENTS}, headers=headers))
    _assert_unauthenticated(await client.post("/graphql", json={"query": CREATE_CLIENT}, headers=headers))
    _assert_unauthenticated(await client.get("/graphql", params={"query": CLIENTS}, headers=headers))


async def test_a_query_sent_by_get_from_a_browser_still_needs_a_token(client: AsyncTestClient[Any]) -> None:
    # `?query=` in the URL is an operation, not a page view, whatever the Accept header says.
    r = await client.get("/graphql", params={"query": CLIENTS}, headers={"Accept": "text/html"})
    _assert_unauthenticated(r)


async def test_graphiql_opens_in_a_browser_without_a_token(client: AsyncTestClient[Any]) -> None:
    r = await client.get("/graphql", headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/html")
    assert "graphiql" in r.text.lower()


async def test_a_get_without_html_in_accept_is_not_a_page_view(client: AsyncTestClient[Any]) -> None:
    # curl's default Accept is */*: a script that forgot its query or token hears 401, not a page of HTML.
    _assert_unauthenticated(await client.get("/graphql", headers={"Accept": "*/*"}))
    _assert_unauthenticated(await client.get("/graphql", headers={"Accept": "application/json"}))


async def test_graphiql_page_views_cannot_execute_anything(client: AsyncTestClient[Any]) -> None:
    # A POST that claims to want HTML is still an operation and is refused before it runs.
    r = await client.post("/graphql", json={"query": CREATE_CLIENT}, headers={"Accept": "text/html"})
    _assert_unauthenticated(r)


async def test_authenticated_get_queries_work(tenant_a: Api) -> None:
    await tenant_a.new_client("Via GET")
    r = await tenant_a.get("/graphql", params={"query": CLIENTS})
    assert r.status_code == 200, r.text
    assert [e["node"]["name"] for e in r.json()["data"]["clients"]["edges"]] == ["Via GET"]


async def test_mutations_are_refused_over_get(tenant_a: Api) -> None:
    r = await tenant_a.get("/graphql", params={"query": CREATE_CLIENT})
    assert r.status_code in {400, 405}, r.text
    listed = await tenant_a.gql(CLIENTS)
    assert listed["data"]["clients"]["edges"] == []


async def test_no_websocket_route_is_mounted(client: AsyncTestClient[Any]) -> None:
    # No subscriptions exist; a websocket route would be a second way in with its own context handling.
    assert not [r for r in client.app.routes if isinstance(r, WebSocketRoute)]


async def test_missing_scope_is_a_forbidden_error(engine: AsyncEngine, client: AsyncTestClient[Any]) -> None:
    api = await _scoped_api(engine, client, "invoices:read")
    body = await api.gql(CLIENTS)
    assert body["data"] is None
    [error] = body["errors"]
    assert error["extensions"] == {"code": "FORBIDDEN", "requiredScope": "clients:read"}
    assert error["path"] == ["clients"]

    body = await api.gql(CREATE_CLIENT)
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert body["errors"][0]["extensions"]["requiredScope"] == "clients:write"


async def test_reading_a_missing_id_still_needs_the_scope(engine: AsyncEngine, client: AsyncTestClient[Any]) -> None:
    # Absent and malformed ids must not let a caller skip the scope check (null instead of FORBIDDEN).
    api = await _scoped_api(engine, client, "clients:read")
    for raw in ("0190f0b2-1c2d-7e3f-8a4b-5c6d7e8f9a0b", "not-an-id"):
        body = await api.gql("query($id: ID!) { invoice(id: $id) { id } }", {"id": raw})
        assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN", body
        body = await api.gql("mutation($id: ID!) { voidInvoice(id: $id) { __typename } }", {"id": raw})
        assert body["errors"][0]["extensions"]["requiredScope"] == "invoices:write", body


async def test_invoice_client_needs_clients_read(engine: AsyncEngine, client: AsyncTestClient[Any]) -> None:
    # The client loader reads the repository directly, so the resolver checks the scope itself.
    creds = await new_tenant(
        engine, "Split scopes", frozenset({"invoices:read", "clients:read", "clients:write", "invoices:write"})
    )
    full = Api(client, creds, await token_for(client, creds))
    c = await full.new_client("Hidden Name LLC")
    await full.new_invoice(c["id"])
    narrow = Api(client, creds, await token_for(client, creds, scope="invoices:read"))

    body = await narrow.gql("{ invoices { edges { node { number } } } }")
    assert len(body["data"]["invoices"]["edges"]) == 1

    body = await narrow.gql("{ invoices { edges { node { number client { name } } } } }")
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert "Hidden Name" not in str(body)


async def test_the_controller_refuses_to_execute_under_a_page_view_context(
    client: AsyncTestClient[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Second wall: make the context getter take every request for a page view and the controller disagree;
    # the operation must still not run.
    from api.graphql import endpoint

    monkeypatch.setattr(endpoint, "wants_ide", lambda *_: True)
    monkeypatch.setattr(endpoint.GraphQLController, "should_render_graphql_ide", lambda *_: False)
    r = await client.post("/graphql", json={"query": CREATE_CLIENT})
    _assert_unauthenticated(r)
