"""Bad input gets a clear problem and leaves the data unchanged."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Api, invoice_body


async def _invoice_count(api: Api) -> int:
    return len((await api.get("/v1/invoices", params={"limit": 200})).json()["data"])


async def test_malformed_json(tenant_a: Api) -> None:
    before = await _invoice_count(tenant_a)
    r = await tenant_a.post(
        "/v1/invoices", content=b'{"client_id": "x", "number": ', headers={"content-type": "application/json"}
    )
    assert r.status_code == 400
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["code"] == "malformed_json"
    assert await _invoice_count(tenant_a) == before


@pytest.mark.parametrize(
    ("line", "field"),
    [
        ({"description": "x", "unit_amount": -100}, "lines[0].unit_amount"),
        ({"description": "x", "unit_amount": 10**15}, "lines[0].unit_amount"),
        ({"description": "x", "unit_amount": 100, "quantity": "-1"}, "lines[0].quantity"),
        ({"description": "x", "unit_amount": 100, "quantity": "0.00001"}, "lines[0].quantity"),
        ({"description": "x", "unit_amount": 100, "tax_amount": -1}, "lines[0].tax_amount"),
        ({"description": "", "unit_amount": 100}, "lines[0].description"),
    ],
)
async def test_bad_amounts_are_422_with_the_field(tenant_a: Api, line: dict[str, Any], field: str) -> None:
    c = await tenant_a.new_client()
    r = await tenant_a.post("/v1/invoices", json=invoice_body(c["id"], lines=[line]))
    assert r.status_code == 422, r.text
    assert r.json()["code"] == "validation_failed"
    assert field in [e["field"] for e in r.json()["errors"]]
    assert (await tenant_a.get("/v1/invoices", params={"client_id": c["id"]})).json()["data"] == []


@pytest.mark.parametrize("amount", [12.5, 0.999, "12.50", 2**70, True, None, "ten"])
async def test_fractional_or_non_numeric_amounts_are_refused(tenant_a: Api, amount: Any) -> None:
    c = await tenant_a.new_client()
    r = await tenant_a.post(
        "/v1/invoices", json=invoice_body(c["id"], lines=[{"description": "x", "unit_amount": amount}])
    )
    assert r.status_code in (400, 422), r.text
    assert r.json()["code"] == "validation_failed"
    assert (await tenant_a.get("/v1/invoices", params={"client_id": c["id"]})).json()["data"] == []


async def test_unknown_currency(tenant_a: Api) -> None:
    c = await tenant_a.new_client()
    r = await tenant_a.post("/v1/invoices", json=invoice_body(c["id"], currency="XYZ"))
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "currency"


async def test_unknown_fields_rejected(tenant_a: Api) -> None:
    c = await tenant_a.new_client()
    r = await tenant_a.post("/v1/invoices", json=invoice_body(c["id"], amount_paid=500))
    assert r.status_code == 400 and r.json()["code"] == "validation_failed"
    assert "amount_paid" in r.text


async def test_due_before_issue_and_empty_lines(tenant_a: Api) -> None:
    c = await tenant_a.new_client()
    r = await tenant_a.post("/v1/invoices", json=invoice_body(c["id"], due_date="2026-10-01", lines=[]))
    fields = {e["field"] for e in r.json()["errors"]}
    assert r.status_code == 422 and {"due_date", "lines"} <= fields


@pytest.mark.parametrize("limit", ["1000000", "0", "-5", "abc"])
async def test_absurd_page_sizes(tenant_a: Api, limit: str) -> None:
    r = await tenant_a.get("/v1/invoices", params={"limit": limit})
    assert r.status_code in (400, 422)
    assert r.json()["code"] == "validation_failed"


async def test_bad_cursor_and_status(tenant_a: Api) -> None:
    assert (await tenant_a.get("/v1/invoices", params={"cursor": "garbage!"})).json()["code"] == "validation_failed"
    r = await tenant_a.get("/v1/invoices", params={"status": "overdue"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "status"


async def test_oversized_body_is_413(tenant_a: Api) -> None:
    c = await tenant_a.new_client()
    body = invoice_body(c["id"], memo="x" * 2_000_000)
    r = await tenant_a.post("/v1/invoices", json=body)
    assert r.status_code == 413 and r.json()["code"] == "payload_too_large"


async def test_bad_ids_in_path(tenant_a: Api) -> None:
    r = await tenant_a.get("/v1/invoices/not-a-uuid")
    assert r.status_code in (400, 404)
    assert r.headers["content-type"].startswith("application/problem+json")


async def test_bad_client_input(tenant_a: Api) -> None:
    r = await tenant_a.post(
        "/v1/clients", json={"name": " ", "billing_email": "nope", "address": {"state": "ZZ", "country": "US"}}
    )
    assert r.status_code == 422
    assert {e["field"] for e in r.json()["errors"]} == {"name", "billing_email", "address.state"}
