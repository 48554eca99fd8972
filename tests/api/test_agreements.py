"""Agreements synced from HaloPSA, over REST and GraphQL: list, filters, get, subtypes and contract billing."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.halosync.runs import SyncMode, SyncStatus
from sandbox.halopsa import HaloState, create_app
from sandbox.router import SandboxRouter
from tests.conftest import Api, new_tenant, token_for
from tests.halosync.support import Synced


@dataclass
class Halo:
    state: HaloState
    url: str


@pytest.fixture
def halo(vendors: SandboxRouter) -> Iterator[Halo]:
    """A HaloPSA sandbox both the sync engine (in-process) and the app's connect flow (routed) talk to."""
    state = HaloState(tenant="acme")
    host = f"halo-{uuid.uuid4().hex[:8]}.sandbox.test"
    url = vendors.register(host, create_app(state))
    yield Halo(state, url)
    vendors.unregister(host)


def _problem(r: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["code"] == code
    return r.json()  # type: ignore[no-any-return]


async def _synced(engine: AsyncEngine, client: AsyncTestClient[Any], halo: Halo) -> Api:
    """A tenant whose HaloPSA has 3 clients with 2 contracts each: two of subtype 3 (of different types),
    one inactive; then a full sync."""
    creds = await new_tenant(engine, "Agreements MSP")
    api = Api(client, creds, await token_for(client, creds))
    halo.state.seed(clients=3, invoices=0, contracts_per_client=2)
    first, second, third = sorted(halo.state.contracts.rows)[:3]
    halo.state.edit_contract(first, subtype=3, contracttype_name="Project Work")
    halo.state.edit_contract(second, subtype=3)
    halo.state.edit_contract(third, active=False)
    run = await Synced(engine, creds.tenant_id, halo.state).run(SyncMode.FULL)
    assert run.status is SyncStatus.SUCCEEDED, run.error
    return api


async def _connect_and_choose(api: Api, halo: Halo, subtypes: list[str]) -> None:
    app = halo.state.add_application(scopes="all")
    body = {"resource_url": halo.url, "client_id": app.client_id, "client_secret": app.client_secret, "tenant": "acme"}
    r = await api.post("/v1/connections/halopsa", json=body)
    assert r.status_code == 201, r.text
    r = await api.client.patch("/v1/halopsa/settings", json={"contract_billed_subtypes": subtypes}, headers=api.headers)
    assert r.status_code == 200, r.text


async def _all(api: Api, **params: Any) -> list[dict[str, Any]]:
    r = await api.get("/v1/agreements", params={"limit": 200, **params})
    assert r.status_code == 200, r.text
    assert r.json()["has_more"] is False
    return r.json()["data"]  # type: ignore[no-any-return]


async def test_agreements_list_filter_and_get(
    engine: AsyncEngine, client: AsyncTestClient[Any], halo: Halo, tenant_b: Api
) -> None:
    api = await _synced(engine, client, halo)
    listed = await _all(api)
    assert len(listed) == 6
    assert [a["id"] for a in listed] == sorted((a["id"] for a in listed), reverse=True)  # newest first

    contracts = halo.state.contracts.rows
    by_external = {a["external_id"]: a for a in listed}
    assert set(by_external) == {str(i) for i in contracts}
    first = sorted(contracts)[0]
    a = by_external[str(first)]
    halo_client = halo.state.clients.get(contracts[first]["client_id"])
    assert halo_client is not None
    assert a["object"] == "agreement" and a["source"] == "halopsa"
    assert (a["subtype"], a["type_name"], a["active"]) == ("3", "Project Work", True)
    assert a["reference"] == contracts[first]["ref"] and a["billing_period"] == 1
    assert a["period_charge"] == round(contracts[first]["periodchargeamount"] * 100) and a["currency"] == "USD"
    assert a["start_date"] is not None and a["end_date"] is None
    assert a["contract_billed"] is False  # HaloPSA not connected: no subtype chosen
    synced_clients = {c["name"]: c["id"] for c in (await api.get("/v1/clients", params={"limit": 200})).json()["data"]}
    assert a["client_id"] == synced_clients[halo_client["name"]]

    # Pages: newest first, by cursor.
    page1 = (await api.get("/v1/agreements", params={"limit": 4})).json()
    assert page1["object"] == "list" and page1["has_more"] is True and len(page1["data"]) == 4
    page2 = (await api.get("/v1/agreements", params={"limit": 4, "cursor": page1["next_cursor"]})).json()
    assert page2["has_more"] is False and page2["next_cursor"] is None
    assert page1["data"] + page2["data"] == listed

    # Filters.
    mine = await _all(api, client_id=a["client_id"])
    assert len(mine) == 2 and all(x["client_id"] == a["client_id"] for x in mine)
    inactive = await _all(api, active="false")
    assert [x["external_id"] for x in inactive] == [x["external_id"] for x in listed if not x["active"]]
    assert len(inactive) >= 1  # the one made inactive (a seeded inactive client's contracts are too)
    active = await _all(api, active="true")
    assert len(active) + len(inactive) == 6 and all(x["active"] for x in active)
    assert await _all(api, client_id=a["client_id"], active="false") == [x for x in mine if not x["active"]]
    assert await _all(api, client_id=str(uuid.uuid4())) == []

    # One agreement; another tenant's reads as absent.
    r = await api.get(f"/v1/agreements/{a['id']}")
    assert r.status_code == 200 and r.json() == a
    _problem(await tenant_b.get(f"/v1/agreements/{a['id']}"), 404, "not_found")
    _problem(await api.get(f"/v1/agreements/{uuid.uuid4()}"), 404, "not_found")
    assert (await tenant_b.get("/v1/agreements")).json()["data"] == []
    assert (await tenant_b.get("/v1/agreements/subtypes")).json() == {"data": [], "object": "list"}

    # Bad input.
    _problem(await api.get("/v1/agreements", params={"limit": 0}), 422, "validation_failed")
    _problem(await api.get("/v1/agreements", params={"cursor": "nope!"}), 422, "validation_failed")
    _problem(await api.get("/v1/agreements", params={"client_id": "nope"}), 400, "validation_failed")
    _problem(await api.get("/v1/agreements", params={"active": "sometimes"}), 400, "validation_failed")


async def test_subtypes_and_contract_billed_follow_the_sync_settings(
    engine: AsyncEngine, client: AsyncTestClient[Any], halo: Halo
) -> None:
    api = await _synced(engine, client, halo)
    r = await api.get("/v1/agreements/subtypes")
    assert r.status_code == 200, r.text
    assert r.json() == {
        "data": [
            {"subtype": "0", "type_names": ["Managed Services"], "agreements": 4, "contract_billed": False,
             "object": "agreement_subtype"},
            {"subtype": "3", "type_names": ["Managed Services", "Project Work"], "agreements": 2,
             "contract_billed": False, "object": "agreement_subtype"},
        ],
        "object": "list",
    }  # fmt: skip

    # Chosen in the settings: "3", and "10" that no agreement has (listed, with none, after "3").
    await _connect_and_choose(api, halo, ["3", "10"])
    subtypes = (await api.get("/v1/agreements/subtypes")).json()["data"]
    assert [(s["subtype"], s["agreements"], s["contract_billed"]) for s in subtypes] == [
        ("0", 4, False),
        ("3", 2, True),
        ("10", 0, True),
    ]
    assert subtypes[2]["type_names"] == []
    listed = await _all(api)
    assert {a["subtype"] for a in listed if a["contract_billed"]} == {"3"}
    assert sum(a["contract_billed"] for a in listed) == 2
    billed = next(a for a in listed if a["contract_billed"])
    assert (await api.get(f"/v1/agreements/{billed['id']}")).json()["contract_billed"] is True

    # The sync's currency is the charge's currency.
    r = await api.client.patch("/v1/halopsa/settings", json={"currency": "eur"}, headers=api.headers)
    assert r.status_code == 200, r.text
    assert {a["currency"] for a in await _all(api)} == {"EUR"}

    # Choosing none clears the flags at once.
    r = await api.client.patch("/v1/halopsa/settings", json={"contract_billed_subtypes": []}, headers=api.headers)
    assert r.status_code == 200, r.text
    assert not any(a["contract_billed"] for a in await _all(api))
    assert [s["subtype"] for s in (await api.get("/v1/agreements/subtypes")).json()["data"]] == ["0", "3"]


async def test_agreements_need_clients_read(engine: AsyncEngine, client: AsyncTestClient[Any], halo: Halo) -> None:
    api = await _synced(engine, client, halo)
    some = (await _all(api))[0]["id"]
    reader = Api(client, api.creds, await token_for(client, api.creds, scope="invoices:read"))
    for path in ("/v1/agreements", f"/v1/agreements/{some}", "/v1/agreements/subtypes"):
        problem = _problem(await reader.get(path), 403, "insufficient_scope")
        assert problem["required_scope"] == "clients:read"
    # Another tenant's id or a made-up one: the scope is checked first, so 403 either way.
    _problem(await reader.get(f"/v1/agreements/{uuid.uuid4()}"), 403, "insufficient_scope")

    for query in ("{ agreements { edges { node { id } } } }", "{ agreementSubtypes { subtype } }"):
        body = await reader.gql(query)
        assert body["data"] is None, body
        assert body["errors"][0]["extensions"] == {"code": "FORBIDDEN", "requiredScope": "clients:read"}
    body = await reader.gql("query($id: ID!) { agreement(id: $id) { id } }", {"id": some})
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"


AGREEMENTS = """
query($first: Int!, $after: String, $clientId: ID, $active: Boolean) {
  agreements(first: $first, after: $after, clientId: $clientId, active: $active) {
    edges { cursor node {
      id source externalId reference typeName subtype startDate endDate active billingPeriod
      periodCharge { amount currency } contractBilled createdAt updatedAt client { id name }
    } }
    pageInfo { hasNextPage endCursor }
  }
}
"""


async def test_agreements_over_graphql(
    engine: AsyncEngine, client: AsyncTestClient[Any], halo: Halo, tenant_b: Api
) -> None:
    api = await _synced(engine, client, halo)
    await _connect_and_choose(api, halo, ["3"])
    rest = await _all(api)

    body = await api.gql(AGREEMENTS, {"first": 4})
    first = body["data"]["agreements"]
    assert first["pageInfo"]["hasNextPage"] is True
    body = await api.gql(AGREEMENTS, {"first": 4, "after": first["pageInfo"]["endCursor"]})
    second = body["data"]["agreements"]
    assert second["pageInfo"] == {"hasNextPage": False, "endCursor": None}
    nodes = [e["node"] for e in first["edges"] + second["edges"]]
    assert [n["id"] for n in nodes] == [a["id"] for a in rest]

    names = {c["id"]: c["name"] for c in (await api.get("/v1/clients", params={"limit": 200})).json()["data"]}
    for node, a in zip(nodes, rest, strict=True):
        assert node["externalId"] == a["external_id"] and node["subtype"] == a["subtype"]
        assert node["typeName"] == a["type_name"] and node["active"] == a["active"]
        assert node["periodCharge"] == {"amount": a["period_charge"], "currency": "USD"}
        assert node["contractBilled"] == (a["subtype"] == "3")
        assert node["client"] == {"id": a["client_id"], "name": names[a["client_id"]]}

    client_id = rest[0]["client_id"]
    body = await api.gql(AGREEMENTS, {"first": 10, "clientId": client_id, "active": True})
    filtered = [e["node"]["id"] for e in body["data"]["agreements"]["edges"]]
    assert filtered == [a["id"] for a in rest if a["client_id"] == client_id and a["active"]]

    one = await api.gql("query($id: ID!) { agreement(id: $id) { id subtype contractBilled } }", {"id": rest[0]["id"]})
    assert one["data"]["agreement"] == {
        "id": rest[0]["id"], "subtype": rest[0]["subtype"], "contractBilled": rest[0]["contract_billed"]
    }  # fmt: skip
    for missing in (rest[0]["id"], str(uuid.uuid4()), "not-an-id"):
        other = await tenant_b.gql("query($id: ID!) { agreement(id: $id) { id } }", {"id": missing})
        assert other == {"data": {"agreement": None}}

    subtypes = await api.gql("{ agreementSubtypes { subtype typeNames agreements contractBilled } }")
    assert subtypes["data"]["agreementSubtypes"] == [
        {"subtype": "0", "typeNames": ["Managed Services"], "agreements": 4, "contractBilled": False},
        {"subtype": "3", "typeNames": ["Managed Services", "Project Work"], "agreements": 2, "contractBilled": True},
    ]

    bad = await api.gql(AGREEMENTS, {"first": 5, "clientId": "nope"})
    assert bad["data"] is None and bad["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert bad["errors"][0]["extensions"]["fields"] == [{"field": "clientId", "message": "is not an id"}]
