"""Synced invoices through the APIs: where they come from, their number issues, and what may not be done here."""

from __future__ import annotations

from typing import Any

from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.halosync.runs import SyncMode, SyncStatus
from sandbox.halopsa import HaloState
from tests.conftest import Api, new_tenant, token_for
from tests.halosync.support import Synced


async def test_synced_invoices_show_their_origin_and_cannot_be_voided_here(
    engine: AsyncEngine, client: AsyncTestClient[Any]
) -> None:
    creds = await new_tenant(engine, "API view MSP")
    api = Api(client, creds, await token_for(client, creds))
    s = Synced(engine, creds.tenant_id, HaloState(tenant="acme"))
    customer = s.halo.create_client("Contoso Dental")["id"]
    line = [{"item_shortdescription": "Managed seats", "qty_order": 12, "unit_price": 45.5, "tax_amount": 4.1}]
    good = s.halo.create_invoice(customer, lines=line, invoicenumber="INV-100")
    s.halo.create_invoice(customer, lines=line, invoicenumber="")
    assert (await s.run(SyncMode.FULL)).status is SyncStatus.SUCCEEDED

    listed = (await api.get("/v1/invoices")).json()["data"]
    by_number = {i["number"]: i for i in listed}
    invoice = by_number["INV-100"]
    assert invoice["origin"] == {
        "source": "halopsa", "external_id": str(good["id"]), "number_issue": None, "contract_billed": False
    }  # fmt: skip
    assert invoice["total"] == 54600 + 410 and invoice["balance"] == invoice["total"]
    assert invoice["lines"][0]["quantity"] in ("12", 12) and invoice["lines"][0]["unit_amount"] == 4550
    missing = [i for i in listed if i["origin"]["number_issue"] == "missing"]
    assert len(missing) == 1

    refused = await api.post(f"/v1/invoices/{invoice['id']}/void")
    assert refused.status_code == 409, refused.text
    assert "comes from HaloPSA" in refused.json()["detail"]
    assert (await api.get(f"/v1/invoices/{invoice['id']}")).json()["status"] == "open"

    body = await api.gql(
        "{ invoices(first: 5) { edges { node { number source externalId numberIssue contractBilled } } } }"
    )
    nodes = {e["node"]["number"]: e["node"] for e in body["data"]["invoices"]["edges"]}
    assert nodes["INV-100"] == {
        "number": "INV-100", "source": "halopsa", "externalId": str(good["id"]), "numberIssue": None,
        "contractBilled": False,
    }  # fmt: skip
