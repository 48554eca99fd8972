"""/v1/payouts, /v1/disputes, /v1/ledger and their GraphQL fields, filled the real way: payments through the API,
a chargeback and a payout by the Stripe sandbox, its webhooks through the app and the worker. Tenants and
scopes."""

from __future__ import annotations

from typing import Any

from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncEngine

from api.graphql.payouts import LedgerTransactionKind
from domain.ledger import Kind
from sandbox.router import SandboxRouter
from sandbox.stripe_sandbox.state import StripeState
from tests.api.test_payments_rest import connect_stripe, pay, save_method
from tests.conftest import Api, token_for
from tests.integration.outbox_support import Queue, queue
from tests.payments.test_stripe_webhooks import _drain

__all__ = ["queue"]  # the fixture, imported for these tests
DISPUTE_FEE = 1_500
READS = ("/v1/payouts", "/v1/disputes", "/v1/ledger/balances", "/v1/ledger/transactions")
GQL = """query($id: ID!, $p: ID) {
  payouts { edges { node { id stripePayoutId status amount { amount currency } gross { amount } fees { amount }
    net { amount } lines { balanceTransactionId } } } }
  payout(id: $id) { id amount { amount } lines { type paymentId gross { amount } fee { amount } net { amount } } }
  disputes(paymentId: $p) { edges { node { id paymentId status amount { amount } fee { amount } } } }
  ledgerBalances { matchesEntries balances { account type balance { amount currency } debitBalance { amount } } }
  ledgerTransactions(first: 5, kind: PAYOUT) { edges { node { kind key referenceType
    entries { account side amount { amount } } } } pageInfo { hasNextPage } }
}"""


async def _filled(
    api: Api, engine: AsyncEngine, client: AsyncTestClient[Any], stripe: StripeState, q: Queue, vendors: SandboxRouter
) -> dict[str, Any]:
    """Two payments, the second one charged back and lost, then a payout of what is left."""

    async def hooks() -> None:
        await stripe.webhooks.flush(client=client)
        await _drain(q, engine, vendors, stripe)

    account = await connect_stripe(engine, api, stripe)
    await stripe.webhooks.flush(client=client)  # whatever earlier tests left queued
    buyer = await api.new_client()
    visa = await save_method(api, buyer["id"])
    disputing = await save_method(api, buyer["id"], "pm_card_createDispute")
    big = await api.new_invoice(buyer["id"])
    small = await api.new_invoice(buyer["id"], lines=[{"description": "Setup", "quantity": "1", "unit_amount": 9_000}])
    paid = (await pay(api, buyer["id"], (big["id"], big["total"]), payment_method_id=visa["id"])).json()
    disputed = (await pay(api, buyer["id"], (small["id"], 9_000), payment_method_id=disputing["id"])).json()
    await hooks()
    [dispute] = (await api.get("/v1/disputes", params={"payment_id": disputed["id"]})).json()["data"]
    stripe.close_dispute(dispute["stripe_dispute_id"], account=account, won=False)
    stripe.make_funds_available()
    [made] = stripe.run_payouts(account=account, arrive=True)
    await hooks()
    return {"paid": paid, "disputed": disputed, "big": big, "small": small, "payout": made}


async def test_payouts_disputes_and_the_ledger_over_rest(
    tenant_a: Api, tenant_b: Api, engine: AsyncEngine, client: AsyncTestClient[Any], stripe_sandbox: StripeState,
    queue: Queue, vendors: SandboxRouter,
) -> None:  # fmt: skip
    f = await _filled(tenant_a, engine, client, stripe_sandbox, queue, vendors)
    paid, disputed, made = f["paid"], f["disputed"], f["payout"]

    [dispute] = (await tenant_a.get("/v1/disputes", params={"payment_id": disputed["id"]})).json()["data"]
    assert (dispute["status"], dispute["amount"], dispute["fee"]) == ("lost", 9_000, DISPUTE_FEE)
    assert dispute["object"] == "dispute" and dispute["payment_id"] == disputed["id"]
    assert (await tenant_a.get("/v1/disputes", params={"payment_id": paid["id"]})).json()["data"] == []
    assert len((await tenant_a.get("/v1/disputes")).json()["data"]) == 1

    [summary] = (await tenant_a.get("/v1/payouts")).json()["data"]
    assert (summary["stripe_payout_id"], summary["status"], summary["amount"]) == (made["id"], "paid", made["amount"])
    assert summary["lines"] is None and summary["net"] == summary["amount"] == summary["gross"] - summary["fees"]
    r = await tenant_a.get(f"/v1/payouts/{summary['id']}")
    assert r.status_code == 200, r.text
    detail = r.json()
    charges = {x["payment_id"]: x for x in detail["lines"] if x["type"] == "charge"}
    assert set(charges) == {paid["id"], disputed["id"]}
    assert charges[paid["id"]]["gross"] == f["big"]["total"] and charges[paid["id"]]["fee"] > 0
    [chargeback] = [x for x in detail["lines"] if x["type"] == "adjustment"]
    assert (chargeback["payment_id"], chargeback["gross"], chargeback["fee"]) == (disputed["id"], -9_000, DISPUTE_FEE)
    assert sum(x["net"] for x in detail["lines"]) == detail["amount"] == made["amount"]

    balances = (await tenant_a.get("/v1/ledger/balances")).json()
    assert balances["matches_entries"] is True
    by_account = {b["account"]: b for b in balances["data"]}
    assert by_account["bank"]["balance"] == made["amount"]
    assert by_account["stripe_clearing"]["balance"] == 0
    assert by_account["accounts_receivable"]["balance"] == 9_000  # the lost chargeback's invoice, owed again
    assert by_account["dispute_fees"]["balance"] == DISPUTE_FEE
    assert by_account["revenue"]["balance"] > 0 and by_account["revenue"]["debit_balance"] < 0
    # The invoices' tax is owed to the state, not earned: `big` carries the default lines' 250 of tax.
    assert by_account["sales_tax_payable"]["balance"] == f["big"]["tax_total"] == 250

    [posted] = (await tenant_a.get("/v1/ledger/transactions", params={"kind": "payout"})).json()["data"]
    assert posted["reference"] == {"type": "payout", "id": summary["id"], "external_id": made["id"]}
    entries = {(e["account"], e["side"], e["amount"]) for e in posted["entries"]}
    assert entries == {("bank", "debit", made["amount"]), ("stripe_clearing", "credit", made["amount"])}
    seen, cursor = [], None
    while True:
        params: dict[str, Any] = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        page = (await tenant_a.get("/v1/ledger/transactions", params=params)).json()
        seen += page["data"]
        if not page["has_more"]:
            break
        cursor = page["next_cursor"]
    kinds = [t["kind"] for t in seen]
    assert len(seen) > 3 and len({t["id"] for t in seen}) == len(seen) and all(t["entries"] for t in seen)
    assert {"invoice_issued", "payment_succeeded", "processing_fee", "dispute_opened", "dispute_lost", "payout"} <= set(
        kinds
    )
    bad = await tenant_a.get("/v1/ledger/transactions", params={"kind": "bogus"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "kind"

    # Another tenant sees none of it.
    assert (await tenant_b.get(f"/v1/payouts/{summary['id']}")).status_code == 404
    assert (await tenant_b.get("/v1/payouts")).json()["data"] == []
    assert (await tenant_b.get("/v1/disputes", params={"payment_id": disputed["id"]})).json()["data"] == []
    assert (await tenant_b.get("/v1/ledger/balances")).json() == {
        "data": [], "matches_entries": True, "object": "ledger_balances"
    }  # fmt: skip
    assert (await tenant_b.get("/v1/ledger/transactions")).json()["data"] == []

    # invoices:read reads it all; a token without it reads nothing.
    reader = Api(client, tenant_a.creds, await token_for(client, tenant_a.creds, "invoices:read"))
    for path in (*READS, f"/v1/payouts/{summary['id']}"):
        assert (await reader.get(path)).status_code == 200, path
    no_read = Api(client, tenant_a.creds, await token_for(client, tenant_a.creds, "clients:read"))
    for path in (*READS, f"/v1/payouts/{summary['id']}"):
        refused = await no_read.get(path)
        assert refused.status_code == 403 and refused.json()["required_scope"] == "invoices:read", path


async def test_payouts_disputes_and_the_ledger_over_graphql(
    tenant_a: Api, tenant_b: Api, engine: AsyncEngine, client: AsyncTestClient[Any], stripe_sandbox: StripeState,
    queue: Queue, vendors: SandboxRouter,
) -> None:  # fmt: skip
    f = await _filled(tenant_a, engine, client, stripe_sandbox, queue, vendors)
    [payout] = (await tenant_a.get("/v1/payouts")).json()["data"]
    variables = {"id": payout["id"], "p": f["disputed"]["id"]}
    body = await tenant_a.gql(GQL, variables)
    assert "errors" not in body, body
    data = body["data"]
    [node] = [e["node"] for e in data["payouts"]["edges"]]
    assert (node["stripePayoutId"], node["amount"]["amount"], node["lines"]) == (f["payout"]["id"], payout["amount"],
                                                                                  None)  # fmt: skip
    assert node["net"]["amount"] == node["gross"]["amount"] - node["fees"]["amount"] == payout["amount"]
    lines = data["payout"]["lines"]
    assert sum(x["net"]["amount"] for x in lines) == data["payout"]["amount"]["amount"]
    assert {x["paymentId"] for x in lines} == {f["paid"]["id"], f["disputed"]["id"]}
    [dispute] = [e["node"] for e in data["disputes"]["edges"]]
    assert (dispute["status"], dispute["amount"]["amount"], dispute["fee"]["amount"]) == ("lost", 9_000, DISPUTE_FEE)
    assert data["ledgerBalances"]["matchesEntries"] is True
    bank = next(b for b in data["ledgerBalances"]["balances"] if b["account"] == "bank")
    assert bank["balance"] == {"amount": payout["amount"], "currency": "USD"}
    [posted] = [e["node"] for e in data["ledgerTransactions"]["edges"]]
    assert (posted["kind"], posted["referenceType"]) == ("PAYOUT", "payout")
    assert {(e["account"], e["side"]) for e in posted["entries"]} == {("bank", "debit"), ("stripe_clearing", "credit")}

    # Another tenant: nothing, and null for the payout; a token without invoices:read is refused.
    theirs = (await tenant_b.gql(GQL, variables))["data"]
    assert (theirs["payouts"]["edges"], theirs["payout"], theirs["disputes"]["edges"]) == ([], None, [])
    assert theirs["ledgerBalances"] == {"matchesEntries": True, "balances": []}
    no_read = Api(client, tenant_a.creds, await token_for(client, tenant_a.creds, "clients:read"))
    refused = await no_read.gql(GQL, variables)
    assert refused["data"] is None
    assert {e["extensions"]["code"] for e in refused["errors"]} == {"FORBIDDEN"}


def test_the_graphql_kinds_are_the_ledgers() -> None:
    assert {k.value for k in LedgerTransactionKind} == {k.value for k in Kind}
