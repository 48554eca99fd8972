from tests.conftest import Api


async def test_create_and_get_invoice(tenant_a: Api) -> None:
    c = await tenant_a.new_client()
    inv = await tenant_a.new_invoice(c["id"])
    assert inv["total"] == 125_000 + 2_999 + 250  # 1.5 x 1999 = 2998.5 -> 2999 (half-up)
    r = await tenant_a.get(f"/v1/invoices/{inv['id']}")
    assert r.status_code == 200, r.text
    assert r.json()["balance"] == inv["total"]
