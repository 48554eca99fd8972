"""Refunds through REST and GraphQL, against the Stripe sandbox the test app is configured with: partial and
full refunds, idempotency, bad input, tenants and scopes."""

from __future__ import annotations

import uuid
from typing import Any

from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncEngine

from sandbox.stripe_sandbox.state import StripeState
from tests.api.test_payments_rest import connect_stripe, pay, save_method
from tests.conftest import Api, token_for

REFUND_FIELDS = """id paymentId status amount { amount currency } surcharge { amount }
  invoices { invoiceId amount { amount } } reason reopenInvoices failureReason stripeRefundId createdAt updatedAt"""
REFUND = f"""mutation($i: RefundPaymentInput!) {{ refundPayment(input: $i) {{ __typename
  ... on Refund {{ {REFUND_FIELDS} }}
  ... on RefundFailed {{ message refund {{ id status }} }}
  ... on RefundRefused {{ message }}
  ... on ValidationError {{ message fields {{ field message }} }}
  ... on NotFound {{ message id }}
  ... on PaymentUnavailable {{ message retry }} }} }}"""
REFUNDS = f"""query($p: ID) {{ refunds(paymentId: $p) {{ edges {{ node {{ {REFUND_FIELDS} }} }}
  pageInfo {{ hasNextPage }} }} }}"""
ONE = "query($id: ID!) { refund(id: $id) { id status } }"


async def _paid(api: Api, engine: AsyncEngine, stripe: StripeState, amount: int = 10_000) -> dict[str, Any]:
    await connect_stripe(engine, api, stripe)
    client = await api.new_client()
    await save_method(api, client["id"])
    invoice = await api.new_invoice(client["id"])
    r = await pay(api, client["id"], (invoice["id"], amount))
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


async def _refund(api: Api, body: dict[str, Any], key: str | None = None) -> Any:
    return await api.post("/v1/refunds", json=body, headers={"Idempotency-Key": key or f"refund-{uuid.uuid4()}"})


async def test_refund_a_payment_through_rest(tenant_a: Api, engine: AsyncEngine, stripe_sandbox: StripeState) -> None:
    payment = await _paid(tenant_a, engine, stripe_sandbox)
    invoice_id = payment["invoices"][0]["invoice_id"]
    key = f"refund-{uuid.uuid4()}"
    body = {"payment_id": payment["id"], "amount": 4_000, "reason": "requested_by_customer"}
    r = await _refund(tenant_a, body, key)
    assert r.status_code == 201, r.text
    refund = r.json()
    assert refund["object"] == "refund" and refund["status"] == "succeeded" and refund["payment_id"] == payment["id"]
    assert (refund["amount"], refund["surcharge"], refund["currency"]) == (4_000, 0, "USD")
    assert refund["invoices"] == [{"invoice_id": invoice_id, "amount": 4_000}] and refund["reopen_invoices"]
    assert refund["stripe_refund_id"].startswith("re_") and refund["reason"] == "requested_by_customer"
    invoice = (await tenant_a.get(f"/v1/invoices/{invoice_id}")).json()
    assert invoice["status"] == "partially_paid" and invoice["balance"] == invoice["total"] - 10_000 + 4_000

    again = await _refund(tenant_a, body, key)  # a retry answers the same refund
    assert again.status_code == 201 and again.json()["id"] == refund["id"]
    reused = await _refund(tenant_a, {**body, "amount": 1}, key)
    assert reused.status_code == 422 and reused.json()["code"] == "idempotency_key_reused"

    too_much = await _refund(tenant_a, {"payment_id": payment["id"], "amount": 6_001})
    assert too_much.status_code == 422 and too_much.json()["errors"][0]["field"] == "amount"
    assert "6000 still refundable" in too_much.json()["detail"]
    rest = await _refund(tenant_a, {"payment_id": payment["id"]})  # all that is left
    assert rest.status_code == 201 and rest.json()["amount"] == 6_000
    done = await _refund(tenant_a, {"payment_id": payment["id"]})
    assert done.status_code == 409 and done.json()["code"] == "refund_refused"

    got = await tenant_a.get(f"/v1/refunds/{refund['id']}")
    assert got.status_code == 200 and {**got.json(), "updated_at": None} == {**refund, "updated_at": None}
    listed = (await tenant_a.get("/v1/refunds", params={"payment_id": payment["id"]})).json()
    assert [x["id"] for x in listed["data"]] == [rest.json()["id"], refund["id"]] and not listed["has_more"]
    page = (await tenant_a.get("/v1/refunds", params={"limit": 1})).json()
    assert len(page["data"]) == 1 and page["has_more"] and page["next_cursor"]


async def test_rest_refund_errors(
    tenant_a: Api, tenant_b: Api, engine: AsyncEngine, stripe_sandbox: StripeState, client: AsyncTestClient[Any]
) -> None:
    payment = await _paid(tenant_a, engine, stripe_sandbox)
    no_key = await tenant_a.post("/v1/refunds", json={"payment_id": payment["id"]})
    assert no_key.status_code == 400 and no_key.json()["code"] == "idempotency_key_required"
    bad = await _refund(tenant_a, {"payment_id": payment["id"], "reason": "changed my mind"})
    assert bad.status_code == 400 and bad.json()["code"] == "validation_failed"
    zero = await _refund(tenant_a, {"payment_id": payment["id"], "amount": 0})
    assert zero.status_code == 422
    unknown = await _refund(tenant_a, {"payment_id": str(uuid.uuid4())})
    assert unknown.status_code == 404

    mine = (await _refund(tenant_a, {"payment_id": payment["id"], "amount": 100})).json()
    await connect_stripe(engine, tenant_b, stripe_sandbox)
    theirs = await _refund(tenant_b, {"payment_id": payment["id"]})  # another tenant's payment: not found
    assert theirs.status_code == 404 and theirs.json()["code"] == "not_found"
    assert (await tenant_b.get(f"/v1/refunds/{mine['id']}")).status_code == 404
    assert (await tenant_b.get("/v1/refunds")).json()["data"] == []

    reader = Api(client, tenant_a.creds, await token_for(client, tenant_a.creds, "invoices:read"))
    refused = await _refund(reader, {"payment_id": payment["id"]})
    assert refused.status_code == 403 and refused.json()["required_scope"] == "payments:write"
    assert (await reader.get(f"/v1/refunds/{mine['id']}")).status_code == 200
    no_read = Api(client, tenant_a.creds, await token_for(client, tenant_a.creds, "clients:read"))
    assert (await no_read.get("/v1/refunds")).status_code == 403
    unauthenticated = await client.get("/v1/refunds")
    assert unauthenticated.status_code == 401


def _input(payment_id: str, key: str | None = None, **extra: Any) -> dict[str, Any]:
    return {"paymentId": payment_id, "idempotencyKey": key or f"gql-{uuid.uuid4()}", **extra}


async def test_refund_a_payment_through_graphql(
    tenant_a: Api, tenant_b: Api, engine: AsyncEngine, stripe_sandbox: StripeState, client: AsyncTestClient[Any]
) -> None:
    payment = await _paid(tenant_a, engine, stripe_sandbox, 7_000)
    key = f"gql-{uuid.uuid4()}"
    r = await tenant_a.gql(REFUND, {"i": _input(payment["id"], key, amount=2_500, reason="DUPLICATE")})
    refund = r["data"]["refundPayment"]
    assert refund["__typename"] == "Refund" and refund["status"] == "SUCCEEDED", r
    assert refund["amount"] == {"amount": 2_500, "currency": "USD"} and refund["surcharge"]["amount"] == 0
    assert refund["invoices"][0]["amount"] == {"amount": 2_500} and refund["reason"] == "DUPLICATE"
    again = await tenant_a.gql(REFUND, {"i": _input(payment["id"], key, amount=2_500, reason="DUPLICATE")})
    assert again["data"]["refundPayment"]["id"] == refund["id"]

    too_much = await tenant_a.gql(REFUND, {"i": _input(payment["id"], amount=4_501)})
    assert too_much["data"]["refundPayment"]["__typename"] == "ValidationError"
    assert too_much["data"]["refundPayment"]["fields"][0]["field"] == "amount"
    reused = await tenant_a.gql(REFUND, {"i": _input(payment["id"], key, amount=1)})
    assert reused["data"]["refundPayment"]["fields"][0]["field"] == "idempotencyKey"
    rest = await tenant_a.gql(REFUND, {"i": _input(payment["id"], reopenInvoices=False)})
    assert rest["data"]["refundPayment"]["amount"]["amount"] == 4_500
    assert rest["data"]["refundPayment"]["reopenInvoices"] is False
    done = await tenant_a.gql(REFUND, {"i": _input(payment["id"])})
    assert done["data"]["refundPayment"]["__typename"] == "RefundRefused"

    listed = await tenant_a.gql(REFUNDS, {"p": payment["id"]})
    ids = [e["node"]["id"] for e in listed["data"]["refunds"]["edges"]]
    assert ids == [rest["data"]["refundPayment"]["id"], refund["id"]]
    assert (await tenant_a.gql(ONE, {"id": refund["id"]}))["data"]["refund"] == {
        "id": refund["id"],
        "status": "SUCCEEDED",
    }

    other = await tenant_b.gql(REFUND, {"i": _input(payment["id"])})
    assert other["data"]["refundPayment"]["__typename"] == "NotFound"
    assert (await tenant_b.gql(ONE, {"id": refund["id"]}))["data"]["refund"] is None
    assert (await tenant_b.gql(REFUNDS, {"p": payment["id"]}))["data"]["refunds"]["edges"] == []
    malformed = await tenant_a.gql(REFUND, {"i": _input("not-an-id")})
    assert malformed["data"]["refundPayment"]["__typename"] == "ValidationError"

    reader = Api(client, tenant_a.creds, await token_for(client, tenant_a.creds, "invoices:read"))
    refused = await reader.gql(REFUND, {"i": _input(payment["id"])})
    assert refused["data"] is None and refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert len((await reader.gql(REFUNDS, {"p": payment["id"]}))["data"]["refunds"]["edges"]) == 2
