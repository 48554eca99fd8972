"""GraphQL reads: Relay connections, filters, single lookups, tenant isolation, and batched client loads."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conftest import Api
from tests.statements import recorded_statements

INVOICES = """
query($first: Int!, $after: String, $filter: InvoiceFilterInput) {
  invoices(first: $first, after: $after, filter: $filter) {
    edges { cursor node { id number status dueDate total { amount currency } balance { amount } } }
    pageInfo { hasNextPage endCursor }
  }
}"""


def _numbers(body: dict[str, Any]) -> list[str]:
    assert "errors" not in body, body
    return [e["node"]["number"] for e in body["data"]["invoices"]["edges"]]


async def test_invoices_page_with_first_and_after(tenant_a: Api) -> None:
    c = await tenant_a.new_client()
    made = [(await tenant_a.new_invoice(c["id"], number=f"P-{i}"))["number"] for i in range(5)]
    newest_first = list(reversed(made))

    seen: list[str] = []
    after = None
    for _ in range(3):
        body = await tenant_a.gql(INVOICES, {"first": 2, "after": after})
        seen += _numbers(body)
        info = body["data"]["invoices"]["pageInfo"]
        if not info["hasNextPage"]:
            assert info["endCursor"] is None
            break
        after = info["endCursor"]
    assert seen == newest_first


async def test_invoice_fields_and_64_bit_amounts(tenant_a: Api) -> None:
    c = await tenant_a.new_client()
    big = 3_000_000_000  # $30M in cents: beyond GraphQL Int's 32 bits, well within MinorUnits
    inv = await tenant_a.new_invoice(
        c["id"], lines=[{"description": "Datacenter build-out", "quantity": "1", "unit_amount": big}]
    )
    body = await tenant_a.gql(
        "query($id: ID!) { invoice(id: $id) { number status total { amount currency } "
        "lines { quantity unitAmount { amount } } client { id name } } }",
        {"id": inv["id"]},
    )
    got = body["data"]["invoice"]
    assert got["total"] == {"amount": big, "currency": "USD"}
    assert got["status"] == "OPEN"
    assert got["lines"][0]["unitAmount"]["amount"] == big
    assert got["client"] == {"id": c["id"], "name": c["name"]}


async def test_invoice_filters(tenant_a: Api) -> None:
    c1, c2 = await tenant_a.new_client("One"), await tenant_a.new_client("Two")
    early = await tenant_a.new_invoice(c1["id"], number="EARLY", due_date="2026-11-15")
    await tenant_a.new_invoice(c2["id"], number="LATE", due_date="2027-01-15")
    voided = await tenant_a.new_invoice(c1["id"], number="VOIDED", due_date="2026-12-20")
    assert (await tenant_a.post(f"/v1/invoices/{voided['id']}/void")).status_code == 200

    async def numbers(flt: dict[str, Any]) -> set[str]:
        return set(_numbers(await tenant_a.gql(INVOICES, {"first": 50, "filter": flt})))

    assert await numbers({"clientId": c1["id"]}) == {"EARLY", "VOIDED"}
    assert await numbers({"status": "VOID"}) == {"VOIDED"}
    assert await numbers({"status": "OPEN", "clientId": c1["id"]}) == {"EARLY"}
    assert await numbers({"dueBefore": "2026-12-01"}) == {"EARLY"}
    assert await numbers({"dueAfter": "2026-12-01"}) == {"LATE", "VOIDED"}
    assert await numbers({"updatedSince": "2000-01-01T00:00:00Z"}) == {"EARLY", "LATE", "VOIDED"}
    assert await numbers({"updatedSince": "2999-01-01T00:00:00+00:00"}) == set()
    assert early["number"] == "EARLY"


async def test_clients_connection_and_lookup(tenant_a: Api) -> None:
    made = [await tenant_a.new_client(f"Client {i}") for i in range(3)]
    body = await tenant_a.gql(
        "{ clients(first: 2) { edges { node { name address { state country } } } pageInfo { hasNextPage } } }"
    )
    conn = body["data"]["clients"]
    assert [e["node"]["name"] for e in conn["edges"]] == ["Client 2", "Client 1"]
    assert conn["edges"][0]["node"]["address"] == {"state": "CA", "country": "US"}
    assert conn["pageInfo"]["hasNextPage"] is True

    body = await tenant_a.gql("query($id: ID!) { client(id: $id) { name billingEmail } }", {"id": made[0]["id"]})
    assert body["data"]["client"] == {"name": "Client 0", "billingEmail": "ap@acme.example"}


async def test_another_tenants_objects_read_as_absent(tenant_a: Api, tenant_b: Api) -> None:
    c = await tenant_b.new_client("Their Client")
    theirs = await tenant_b.new_invoice(c["id"])
    missing = "0190f0b2-1c2d-7e3f-8a4b-5c6d7e8f9a0b"

    for ident in (theirs["id"], missing, "not-a-uuid"):
        body = await tenant_a.gql("query($id: ID!) { invoice(id: $id) { id } }", {"id": ident})
        assert body == {"data": {"invoice": None}}
    body = await tenant_a.gql("query($id: ID!) { client(id: $id) { id } }", {"id": c["id"]})
    assert body == {"data": {"client": None}}

    assert _numbers(await tenant_a.gql(INVOICES, {"first": 50})) == []
    assert _numbers(await tenant_a.gql(INVOICES, {"first": 50, "filter": {"clientId": c["id"]}})) == []
    assert _numbers(await tenant_b.gql(INVOICES, {"first": 50})) == [theirs["number"]]


_statements = recorded_statements


async def test_a_page_of_invoices_with_their_clients_costs_a_constant_number_of_statements(tenant_a: Api) -> None:
    clients = [await tenant_a.new_client(f"Client {i}") for i in range(7)]
    for i in range(50):
        await tenant_a.new_invoice(clients[i % len(clients)]["id"])
    query = """query($n: Int!) {
      invoices(first: $n) { edges { node { number lines { amount { amount } } client { name } } } } }"""
    engine: AsyncEngine = tenant_a.client.app.state.services.engine
    await tenant_a.gql(query, {"n": 1})  # warm caches outside the count (e.g. the verified token)

    with _statements(engine) as small:
        page5 = await tenant_a.gql(query, {"n": 5})
    with _statements(engine) as large:
        page50 = await tenant_a.gql(query, {"n": 50})

    names50 = {e["node"]["client"]["name"] for e in page50["data"]["invoices"]["edges"]}
    assert len(page5["data"]["invoices"]["edges"]) == 5
    assert len(page50["data"]["invoices"]["edges"]) == 50
    assert names50 == {c["name"] for c in clients}
    # One transaction for the page: tenant, invoices, their lines and their clients (read there because the
    # query selects `client`): the same few statements for 5 invoices as for 50.
    assert len(small) == len(large), (small, large)
    assert len(large) <= 5, large
    assert sum("FROM clients" in s for s in large) == 1
