"""Invoices through REST: create, get, list with filters and cursors, void; money and status consistency."""

from __future__ import annotations

from tests.conftest import Api, invoice_body


async def test_invoice_totals_and_status(tenant_a: Api) -> None:
    c = await tenant_a.new_client()
    inv = await tenant_a.new_invoice(c["id"], "INV-T-1")
    assert inv["subtotal"] == 125_000 + 2_999  # 1.5 x 19.99 = 29.985 -> 29.99 (half-up)
    assert inv["tax_total"] == 250
    assert inv["total"] == inv["subtotal"] + inv["tax_total"] == inv["balance"]
    assert inv["amount_paid"] == 0 and inv["status"] == "open"
    assert [ln["amount"] for ln in inv["lines"]] == [125_000, 2_999]
    assert inv["currency"] == "USD" and inv["object"] == "invoice"


async def test_void_then_void_again(tenant_a: Api) -> None:
    c = await tenant_a.new_client()
    inv = await tenant_a.new_invoice(c["id"])
    r = await tenant_a.post(f"/v1/invoices/{inv['id']}/void")
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "void" and r.json()["balance"] == 0 and r.json()["voided_at"]
    again = await tenant_a.post(f"/v1/invoices/{inv['id']}/void")
    assert again.status_code == 409 and again.json()["code"] == "invalid_state"


async def test_duplicate_number_is_409_and_changes_nothing(tenant_a: Api, tenant_b: Api) -> None:
    c = await tenant_a.new_client()
    await tenant_a.new_invoice(c["id"], "INV-DUP")
    r = await tenant_a.post("/v1/invoices", json=invoice_body(c["id"], "INV-DUP"))
    assert r.status_code == 409 and r.json()["code"] == "duplicate_invoice_number"
    listing = (await tenant_a.get("/v1/invoices", params={"client_id": c["id"]})).json()
    assert [i["number"] for i in listing["data"]] == ["INV-DUP"]
    # numbers are unique per tenant, not globally
    cb = await tenant_b.new_client()
    await tenant_b.new_invoice(cb["id"], "INV-DUP")


async def test_list_filters_and_cursor_pagination(tenant_a: Api) -> None:
    c1 = await tenant_a.new_client("First Client")
    c2 = await tenant_a.new_client("Second Client")
    made = []
    for day in range(1, 8):
        made.append(await tenant_a.new_invoice(c1["id"], f"P-{day}", due_date=f"2026-12-{day:02d}"))
    other = await tenant_a.new_invoice(c2["id"], "P-other", due_date="2026-12-15")
    await tenant_a.post(f"/v1/invoices/{made[0]['id']}/void")

    seen, cursor = [], None
    while True:
        params = {"limit": 3, "client_id": c1["id"]}
        if cursor:
            params["cursor"] = cursor
        page = (await tenant_a.get("/v1/invoices", params=params)).json()
        seen += [i["number"] for i in page["data"]]
        cursor = page["next_cursor"]
        assert page["has_more"] == (cursor is not None)
        if not cursor:
            break
    assert seen == [f"P-{d}" for d in range(7, 0, -1)]  # newest first, no gaps, no repeats

    void = (await tenant_a.get("/v1/invoices", params={"status": "void", "client_id": c1["id"]})).json()["data"]
    assert [i["number"] for i in void] == ["P-1"]
    due = (
        await tenant_a.get(
            "/v1/invoices", params={"client_id": c1["id"], "due_after": "2026-12-02", "due_before": "2026-12-05"}
        )
    ).json()["data"]
    assert sorted(i["number"] for i in due) == ["P-3", "P-4"]
    since = (await tenant_a.get("/v1/invoices", params={"updated_since": other["updated_at"]})).json()["data"]
    assert {"P-other", "P-1"} <= {i["number"] for i in since}  # P-1 was updated (voided) after P-other
    assert "P-7" not in {i["number"] for i in since}


async def test_client_create_get_list(tenant_a: Api, tenant_b: Api) -> None:
    made = await tenant_a.new_client("Contoso Dental", state="co")
    assert made["address"]["state"] == "CO" and made["address"]["country"] == "US"
    got = (await tenant_a.get(f"/v1/clients/{made['id']}")).json()
    assert got == made
    names_b = [c["name"] for c in (await tenant_b.get("/v1/clients", params={"limit": 200})).json()["data"]]
    assert "Contoso Dental" not in names_b
