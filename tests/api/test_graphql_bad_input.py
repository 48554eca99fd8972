"""Bad input through GraphQL: expected failures are typed union members or coded errors, never a 500, and
nothing is written."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Api

CREATE_INVOICE = """
mutation($input: CreateInvoiceInput!) {
  createInvoice(input: $input) {
    __typename
    ... on Invoice { id number total { amount currency } }
    ... on ValidationError { message fields { field message } }
    ... on DuplicateInvoiceNumber { message number }
  }
}"""

VOID = """
mutation($id: ID!) {
  voidInvoice(id: $id) {
    __typename
    ... on Invoice { id status balance { amount } }
    ... on NotFound { message id }
    ... on InvalidState { message }
  }
}"""

COUNT = "{ invoices(first: 200) { edges { node { id } } } }"


def invoice_input(client_id: str, **changes: Any) -> dict[str, Any]:
    value: dict[str, Any] = {
        "clientId": client_id,
        "number": "GQL-1",
        "currency": "USD",
        "issueDate": "2026-11-01",
        "dueDate": "2026-12-01",
        "lines": [{"description": "Managed services", "quantity": "10", "unitAmount": 12_500}],
    }
    value.update(changes)
    return value


def line(**changes: Any) -> dict[str, Any]:
    return {"description": "Managed services", "quantity": "1", "unitAmount": 100, **changes}


async def _create(api: Api, value: dict[str, Any]) -> dict[str, Any]:
    return await api.gql(CREATE_INVOICE, {"input": value})


async def _invoice_count(api: Api) -> int:
    return len((await api.gql(COUNT))["data"]["invoices"]["edges"])


def _field_errors(body: dict[str, Any]) -> dict[str, str]:
    assert "errors" not in body, body
    result = body["data"]["createInvoice"]
    assert result["__typename"] == "ValidationError", result
    return {f["field"]: f["message"] for f in result["fields"]}


async def test_a_valid_invoice_is_created(tenant_a: Api) -> None:
    c = await tenant_a.new_client()
    body = await _create(tenant_a, invoice_input(c["id"]))
    assert body["data"]["createInvoice"]["__typename"] == "Invoice"
    assert body["data"]["createInvoice"]["total"] == {"amount": 125_000, "currency": "USD"}


@pytest.mark.parametrize(
    ("lines", "field"),
    [
        ([line(unitAmount=-1)], "lines[0].unitAmount"),
        ([line(taxAmount=-250)], "lines[0].taxAmount"),
        ([line(unitAmount=10**14)], "lines[0].unitAmount"),  # fits 64 bits, above any real invoice
        ([line(quantity="1000000", unitAmount=10**12)], "lines[0]"),  # the product is too large
        ([line(quantity="0.00001")], "lines[0].quantity"),
        ([line(quantity="-1")], "lines[0].quantity"),
        ([line(description="  ")], "lines[0].description"),
        ([], "lines"),
    ],
)
async def test_bad_amounts_and_lines_are_validation_errors(
    tenant_a: Api, lines: list[dict[str, Any]], field: str
) -> None:
    c = await tenant_a.new_client()
    errors = _field_errors(await _create(tenant_a, invoice_input(c["id"], lines=lines)))
    assert field in errors, errors
    assert await _invoice_count(tenant_a) == 0


@pytest.mark.parametrize(
    "amount",
    [12.5, 100.0, "1250", True, 2**63, -(2**63) - 1, 10**30],
)
async def test_amounts_that_are_not_64_bit_integers_are_refused_before_anything_runs(
    tenant_a: Api, amount: Any
) -> None:
    c = await tenant_a.new_client()
    body = await _create(tenant_a, invoice_input(c["id"], lines=[line(unitAmount=amount)]))
    assert body.get("data") is None, body
    [error] = body["errors"]
    assert "MinorUnits" in error["message"], error  # the coercion error names the type, and is not masked
    assert "lines" in error["message"] and "unitAmount" in error["message"]
    assert await _invoice_count(tenant_a) == 0


@pytest.mark.parametrize("literal", ["12.5", '"1250"', "9223372036854775808"])
async def test_inline_amount_literals_are_checked_too(tenant_a: Api, literal: str) -> None:
    c = await tenant_a.new_client()
    query = (
        f'mutation {{ createInvoice(input: {{clientId: "{c["id"]}", number: "L-1", currency: "USD", '
        f'issueDate: "2026-11-01", dueDate: "2026-12-01", lines: [{{description: "x", unitAmount: {literal}}}]}}) '
        "{ __typename } }"
    )
    body = await tenant_a.gql(query)
    assert body.get("data") is None and "MinorUnits" in body["errors"][0]["message"], body
    assert await _invoice_count(tenant_a) == 0


async def test_amounts_beyond_32_bits_work(tenant_a: Api) -> None:
    c = await tenant_a.new_client()
    body = await _create(tenant_a, invoice_input(c["id"], lines=[line(unitAmount=2**31 + 1)]))
    assert body["data"]["createInvoice"]["total"]["amount"] == 2**31 + 1


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"currency": "XYZ"}, "currency"),
        ({"currency": "US"}, "currency"),
        ({"clientId": "not-a-uuid"}, "clientId"),
        ({"clientId": "0190f0b2-1c2d-7e3f-8a4b-5c6d7e8f9a0b"}, "clientId"),
        ({"dueDate": "2026-10-01"}, "dueDate"),
        ({"number": " "}, "number"),
        ({"number": "N" * 65}, "number"),
        ({"memo": "m" * 2001}, "memo"),
    ],
)
async def test_bad_invoice_fields_are_validation_errors(tenant_a: Api, changes: dict[str, Any], field: str) -> None:
    c = await tenant_a.new_client()
    errors = _field_errors(await _create(tenant_a, invoice_input(c["id"], **changes)))
    assert field in errors, errors
    assert await _invoice_count(tenant_a) == 0


async def test_every_problem_is_reported_at_once(tenant_a: Api) -> None:
    c = await tenant_a.new_client()
    value = invoice_input(c["id"], currency="ZZZ", dueDate="2026-01-01", lines=[line(unitAmount=-1, taxAmount=-1)])
    errors = _field_errors(await _create(tenant_a, value))
    assert set(errors) >= {"currency", "dueDate", "lines[0].unitAmount", "lines[0].taxAmount"}


async def test_malformed_dates_are_refused_by_the_scalar(tenant_a: Api) -> None:
    c = await tenant_a.new_client()
    body = await _create(tenant_a, invoice_input(c["id"], issueDate="2026-13-45"))
    assert body.get("data") is None and "issueDate" in body["errors"][0]["message"], body
    assert body["errors"][0]["message"] != "Unexpected error."


async def test_another_tenants_client_cannot_be_invoiced(tenant_a: Api, tenant_b: Api) -> None:
    theirs = await tenant_b.new_client("Their Client")
    errors = _field_errors(await _create(tenant_a, invoice_input(theirs["id"])))
    assert "clientId" in errors
    assert await _invoice_count(tenant_a) == 0
    assert await _invoice_count(tenant_b) == 0


async def test_a_duplicate_number_is_its_own_union_member(tenant_a: Api, tenant_b: Api) -> None:
    c = await tenant_a.new_client()
    first = await _create(tenant_a, invoice_input(c["id"], number="DUP-7"))
    assert first["data"]["createInvoice"]["__typename"] == "Invoice"
    again = await _create(tenant_a, invoice_input(c["id"], number="DUP-7"))
    assert again["data"]["createInvoice"] == {
        "__typename": "DuplicateInvoiceNumber",
        "message": "An invoice numbered 'DUP-7' already exists.",
        "number": "DUP-7",
    }
    assert await _invoice_count(tenant_a) == 1
    # Numbers are unique per tenant, not across tenants.
    other = await tenant_b.new_client()
    assert (await _create(tenant_b, invoice_input(other["id"], number="DUP-7")))["data"]["createInvoice"][
        "__typename"
    ] == "Invoice"


async def test_voiding(tenant_a: Api, tenant_b: Api) -> None:
    c = await tenant_a.new_client()
    inv = await tenant_a.new_invoice(c["id"])

    body = await tenant_a.gql(VOID, {"id": inv["id"]})
    assert body["data"]["voidInvoice"] == {
        "__typename": "Invoice",
        "id": inv["id"],
        "status": "VOID",
        "balance": {"amount": 0},
    }

    again = (await tenant_a.gql(VOID, {"id": inv["id"]}))["data"]["voidInvoice"]
    assert again["__typename"] == "InvalidState"
    assert "already void" in again["message"]


@pytest.mark.parametrize("ident", ["not-a-uuid", "", "0190f0b2-1c2d-7e3f-8a4b-5c6d7e8f9a0b"])
async def test_voiding_a_malformed_or_unknown_id_is_not_found(tenant_a: Api, ident: str) -> None:
    body = await tenant_a.gql(VOID, {"id": ident})
    assert body["data"]["voidInvoice"]["__typename"] == "NotFound", body
    assert body["data"]["voidInvoice"]["id"] == ident


async def test_voiding_another_tenants_invoice_is_not_found_and_changes_nothing(tenant_a: Api, tenant_b: Api) -> None:
    c = await tenant_b.new_client()
    theirs = await tenant_b.new_invoice(c["id"])
    mine = await tenant_a.gql(VOID, {"id": theirs["id"]})
    unknown = await tenant_a.gql(VOID, {"id": "0190f0b2-1c2d-7e3f-8a4b-5c6d7e8f9a0b"})
    assert mine["data"]["voidInvoice"]["__typename"] == unknown["data"]["voidInvoice"]["__typename"] == "NotFound"
    still = await tenant_b.gql("query($id: ID!) { invoice(id: $id) { status } }", {"id": theirs["id"]})
    assert still["data"]["invoice"]["status"] == "OPEN"


@pytest.mark.parametrize(
    ("args", "field"),
    [
        ({"first": 0}, "first"),
        ({"first": 201}, "first"),
        ({"first": 10, "after": "not a cursor"}, "after"),
        ({"first": 10, "filter": {"clientId": "nope"}}, "filter.clientId"),
        ({"first": 10, "filter": {"updatedSince": "2026-01-01T00:00:00"}}, "filter.updatedSince"),
    ],
)
async def test_bad_list_arguments_are_bad_user_input(tenant_a: Api, args: dict[str, Any], field: str) -> None:
    query = """query($first: Int!, $after: String, $filter: InvoiceFilterInput) {
      invoices(first: $first, after: $after, filter: $filter) { edges { cursor } } }"""
    body = await tenant_a.gql(query, args)
    [error] = body["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT", error
    assert field in [f["field"] for f in error["extensions"]["fields"]]


async def test_a_page_size_beyond_graphql_int_is_a_coercion_error(tenant_a: Api) -> None:
    body = await tenant_a.gql("query($n: Int!) { clients(first: $n) { edges { cursor } } }", {"n": 2**40})
    assert body.get("data") is None and "Int" in body["errors"][0]["message"], body


@pytest.mark.parametrize(
    ("value", "field"),
    [
        ({"name": ""}, "name"),
        ({"name": "Acme", "billingEmail": "not-an-email"}, "billingEmail"),
        ({"name": "Acme", "address": {"country": "USA"}}, "address.country"),
        ({"name": "Acme", "address": {"country": "US", "state": "ZZ"}}, "address.state"),
    ],
)
async def test_bad_clients_are_validation_errors(tenant_a: Api, value: dict[str, Any], field: str) -> None:
    mutation = """mutation($input: CreateClientInput!) { createClient(input: $input) {
      __typename ... on ValidationError { fields { field message } } } }"""
    body = await tenant_a.gql(mutation, {"input": value})
    result = body["data"]["createClient"]
    assert result["__typename"] == "ValidationError", body
    assert field in [f["field"] for f in result["fields"]]
    listed = await tenant_a.gql("{ clients { edges { cursor } } }")
    assert listed["data"]["clients"]["edges"] == []
