"""Vendor connections through GraphQL: the same use cases as REST, expected failures as union members."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from sandbox.halopsa import HaloState, create_app
from sandbox.quickbooks.state import QuickBooksState
from sandbox.router import SandboxRouter
from tests.conftest import Api, token_for

LIST = "{ connections { id provider kind status externalId displayName organisations { id name } } }"
START = """mutation($p: Provider!) { startConnection(provider: $p) {
  __typename ... on ConsentRedirect { authorizationUrl stateExpiresAt } ... on ProviderUnavailable { message } } }"""
HALO = """mutation($i: ConnectHaloPsaInput!) { connectHaloPsa(input: $i) {
  __typename ... on VendorConnection { id status provider }
  ... on VendorRefusedError { vendorError message } ... on ValidationError { fields { field } } } }"""
DISCONNECT = "mutation($id: ID!) { disconnect(connectionId: $id) { __typename ... on Disconnected { id } } }"


@pytest.fixture
def halo(vendors: SandboxRouter) -> Iterator[tuple[HaloState, str]]:
    state = HaloState(tenant="gql")
    host = f"halo-{uuid.uuid4().hex[:8]}.sandbox.test"
    yield state, vendors.register(host, create_app(state))
    vendors.unregister(host)


async def test_halopsa_connect_list_disconnect(tenant_a: Api, tenant_b: Api, halo: tuple[HaloState, str]) -> None:
    state, url = halo
    app = state.add_application(scopes="all")
    body = {"resourceUrl": url, "clientId": app.client_id, "clientSecret": app.client_secret, "tenant": "gql"}
    wrong = await tenant_a.gql(HALO, {"i": {**body, "clientSecret": "nope"}})
    assert wrong["data"]["connectHaloPsa"] == {
        "__typename": "VendorRefusedError", "vendorError": "invalid_client",
        "message": wrong["data"]["connectHaloPsa"]["message"],
    }  # fmt: skip
    bad = await tenant_a.gql(HALO, {"i": {**body, "resourceUrl": "ftp://x"}})
    assert bad["data"]["connectHaloPsa"]["fields"] == [{"field": "resource_url"}]
    made = (await tenant_a.gql(HALO, {"i": body}))["data"]["connectHaloPsa"]
    assert made["__typename"] == "VendorConnection" and made["status"] == "ACTIVE"
    listed = (await tenant_a.gql(LIST))["data"]["connections"]
    assert [c["id"] for c in listed] == [made["id"]] and app.client_secret not in str(listed)
    assert (await tenant_b.gql(LIST))["data"]["connections"] == []
    other = await tenant_b.gql(DISCONNECT, {"id": made["id"]})
    assert other["data"]["disconnect"]["__typename"] == "NotFound"
    gone = await tenant_a.gql(DISCONNECT, {"id": made["id"]})
    assert gone["data"]["disconnect"] == {"__typename": "Disconnected", "id": made["id"]}
    assert (await tenant_a.gql(LIST))["data"]["connections"] == []


async def test_start_connection_and_callback(tenant_a: Api, qbo: QuickBooksState, vendors: SandboxRouter) -> None:
    company = qbo.add_company()
    started = (await tenant_a.gql(START, {"p": "QUICKBOOKS"}))["data"]["startConnection"]
    assert started["__typename"] == "ConsentRedirect"
    async with httpx.AsyncClient(transport=vendors) as browser:
        consent = await browser.get(started["authorizationUrl"] + f"&sandbox_auto_approve={company.realm_id}")
    location = urlsplit(consent.headers["location"])
    r = await tenant_a.client.get(location.path, params={k: v[0] for k, v in parse_qs(location.query).items()})
    assert r.status_code == 200
    listed = (await tenant_a.gql(LIST))["data"]["connections"]
    assert any(c["provider"] == "QUICKBOOKS" and c["externalId"] == company.realm_id for c in listed)
    halo = (await tenant_a.gql(START, {"p": "HALOPSA"}))["data"]["startConnection"]
    assert halo["__typename"] == "ProviderUnavailable" and "connectHaloPsa" in halo["message"]


async def test_scopes(client: object, tenant_a: Api) -> None:
    reader = Api(
        tenant_a.client, tenant_a.creds, await token_for(tenant_a.client, tenant_a.creds, scope="invoices:read")
    )
    r = await reader.gql(LIST)
    assert r["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    r = await reader.gql(START, {"p": "XERO"})
    assert r["errors"][0]["extensions"]["code"] == "FORBIDDEN"
