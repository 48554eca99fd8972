"""Payment methods and payments through GraphQL, against the Stripe sandbox: `payInvoice` answers a union
member for each outcome (paid, declined, authentication required, invalid input, unavailable)."""

from __future__ import annotations

import uuid
from typing import Any

from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncEngine

from sandbox.stripe_sandbox.state import StripeState
from tests.api.test_payments_rest import connect_stripe
from tests.conftest import Api, token_for

METHOD_FIELDS = "id clientId kind brand funding last4 expMonth expYear bankName isDefault createdAt updatedAt"
PAYMENT_FIELDS = """id clientId status amount { amount currency } surcharge { amount }
  invoices { invoiceId amount { amount } } paymentMethodId kind declineCode failureCode failureMessage
  stripePaymentIntentId createdAt updatedAt"""
SETUP = f"""mutation($i: SetupPaymentMethodInput!) {{ setupPaymentMethod(input: $i) {{ __typename
  ... on PaymentMethodSetup {{ setupIntentId status clientSecret failureMessage paymentMethod {{ {METHOD_FIELDS} }} }}
  ... on ValidationError {{ message fields {{ field message }} }}
  ... on NotFound {{ message }} ... on PaymentUnavailable {{ message retry }} }} }}"""
FINISH = f"""mutation($c: ID!, $s: String!) {{ finishPaymentMethodSetup(clientId: $c, setupIntentId: $s) {{
  __typename ... on PaymentMethod {{ {METHOD_FIELDS} }} ... on InvalidState {{ message }} }} }}"""
PAY = f"""mutation($i: PayInvoiceInput!) {{ payInvoice(input: $i) {{ __typename
  ... on Payment {{ {PAYMENT_FIELDS} }}
  ... on PaymentDeclined {{ message declineCode payment {{ id status declineCode }} }}
  ... on AuthenticationRequired {{ message payment {{ id status failureCode }} }}
  ... on ValidationError {{ message fields {{ field message }} }}
  ... on PaymentUnavailable {{ message retry paymentId }} }} }}"""
METHODS = f"query($c: ID!) {{ paymentMethods(clientId: $c) {{ {METHOD_FIELDS} }} }}"
PAYMENTS = f"""query($c: ID, $after: String) {{ payments(first: 1, clientId: $c, after: $after) {{
  edges {{ node {{ {PAYMENT_FIELDS} }} }} pageInfo {{ hasNextPage endCursor }} }} }}"""
PAYMENT = "query($id: ID!) { payment(id: $id) { id status } }"
DEFAULT = """mutation($id: ID!) { setDefaultPaymentMethod(id: $id) { __typename
  ... on PaymentMethod { id isDefault } ... on NotFound { message } } }"""
REMOVE = """mutation($id: ID!) { removePaymentMethod(id: $id) { __typename
  ... on PaymentMethodRemoved { id } ... on NotFound { message } ... on InvalidState { message } } }"""
EXPIRING = f"query($d: Int!) {{ expiringCards(days: $d) {{ {METHOD_FIELDS} }} }}"


async def _save(api: Api, client_id: str, token: str = "pm_card_visa", kind: str = "CARD") -> dict[str, Any]:
    body: dict[str, Any] = {"clientId": client_id, "kind": kind, "paymentMethod": token}
    if kind == "US_BANK_ACCOUNT":
        body["mandate"] = {"ipAddress": "203.0.113.9", "userAgent": "pytest"}
    r = await api.gql(SETUP, {"i": body})
    made = r["data"]["setupPaymentMethod"]
    assert made["__typename"] == "PaymentMethodSetup" and made["status"] == "succeeded", r
    return made["paymentMethod"]  # type: ignore[no-any-return]


def _pay_input(client_id: str, *parts: tuple[str, int], key: str | None = None, **extra: Any) -> dict[str, Any]:
    return {
        "clientId": client_id,
        "currency": "USD",
        "invoices": [{"invoiceId": i, "amount": a} for i, a in parts],
        "idempotencyKey": key or f"gql-{uuid.uuid4()}",
        **extra,
    }


async def test_pay_an_invoice(tenant_a: Api, engine: AsyncEngine, stripe_sandbox: StripeState) -> None:
    await connect_stripe(engine, tenant_a, stripe_sandbox)
    client = await tenant_a.new_client()
    card = await _save(tenant_a, client["id"])
    assert card["kind"] == "CARD" and card["brand"] == "visa" and card["isDefault"] and card["last4"] == "4242"
    listed = await tenant_a.gql(METHODS, {"c": client["id"]})
    assert [m["id"] for m in listed["data"]["paymentMethods"]] == [card["id"]]

    invoice = await tenant_a.new_invoice(client["id"])
    key = f"gql-{uuid.uuid4()}"
    r = await tenant_a.gql(PAY, {"i": _pay_input(client["id"], (invoice["id"], invoice["total"]), key=key)})
    paid = r["data"]["payInvoice"]
    assert paid["__typename"] == "Payment" and paid["status"] == "SUCCEEDED", r
    assert paid["amount"] == {"amount": invoice["total"], "currency": "USD"} and paid["surcharge"]["amount"] == 0
    assert paid["invoices"] == [{"invoiceId": invoice["id"], "amount": {"amount": invoice["total"]}}]
    assert paid["paymentMethodId"] == card["id"] and paid["kind"] == "CARD"
    assert (await tenant_a.get(f"/v1/invoices/{invoice['id']}")).json()["status"] == "paid"

    again = await tenant_a.gql(PAY, {"i": _pay_input(client["id"], (invoice["id"], invoice["total"]), key=key)})
    assert again["data"]["payInvoice"]["id"] == paid["id"]

    one = await tenant_a.gql(PAYMENT, {"id": paid["id"]})
    assert one["data"]["payment"] == {"id": paid["id"], "status": "SUCCEEDED"}
    page = await tenant_a.gql(PAYMENTS, {"c": client["id"]})
    assert [e["node"]["id"] for e in page["data"]["payments"]["edges"]] == [paid["id"]]
    assert (await tenant_a.gql(PAYMENT, {"id": str(uuid.uuid4())}))["data"]["payment"] is None
    expiring = await tenant_a.gql(EXPIRING, {"d": 30})
    assert card["id"] not in {m["id"] for m in expiring["data"]["expiringCards"]}


async def test_a_decline_is_its_own_member(tenant_a: Api, engine: AsyncEngine, stripe_sandbox: StripeState) -> None:
    await connect_stripe(engine, tenant_a, stripe_sandbox)
    client = await tenant_a.new_client()
    await _save(tenant_a, client["id"], "pm_card_chargeCustomerFail")
    invoice = await tenant_a.new_invoice(client["id"])
    r = await tenant_a.gql(PAY, {"i": _pay_input(client["id"], (invoice["id"], 2_500))})
    declined = r["data"]["payInvoice"]
    assert declined["__typename"] == "PaymentDeclined", r
    assert declined["declineCode"] == "generic_decline" and "declined" in declined["message"]
    assert declined["payment"]["status"] == "FAILED"
    assert (await tenant_a.get(f"/v1/invoices/{invoice['id']}")).json()["balance"] == invoice["total"]


async def test_authentication_required_is_its_own_member(
    tenant_a: Api, engine: AsyncEngine, stripe_sandbox: StripeState
) -> None:
    account = await connect_stripe(engine, tenant_a, stripe_sandbox)
    client = await tenant_a.new_client()
    body = {"clientId": client["id"], "kind": "CARD", "paymentMethod": "pm_card_authenticationRequired"}
    started = (await tenant_a.gql(SETUP, {"i": body}))["data"]["setupPaymentMethod"]
    assert started["status"] == "requires_action" and started["paymentMethod"] is None and started["clientSecret"]
    early = await tenant_a.gql(FINISH, {"c": client["id"], "s": started["setupIntentId"]})
    assert early["data"]["finishPaymentMethodSetup"]["__typename"] == "InvalidState"
    stripe_sandbox.complete_action(started["setupIntentId"], account=account)
    done = await tenant_a.gql(FINISH, {"c": client["id"], "s": started["setupIntentId"]})
    card = done["data"]["finishPaymentMethodSetup"]
    assert card["__typename"] == "PaymentMethod" and card["last4"] == "3184", done

    invoice = await tenant_a.new_invoice(client["id"])
    r = await tenant_a.gql(PAY, {"i": _pay_input(client["id"], (invoice["id"], 1_000))})
    member = r["data"]["payInvoice"]
    assert member["__typename"] == "AuthenticationRequired", r
    assert member["payment"]["status"] == "REQUIRES_ACTION" and "confirm" in member["message"]


async def test_bad_payments_are_validation_errors(
    tenant_a: Api, engine: AsyncEngine, stripe_sandbox: StripeState
) -> None:
    await connect_stripe(engine, tenant_a, stripe_sandbox)
    client = await tenant_a.new_client()
    await _save(tenant_a, client["id"])
    invoice = await tenant_a.new_invoice(client["id"])

    above = await tenant_a.gql(PAY, {"i": _pay_input(client["id"], (invoice["id"], invoice["total"] + 1))})
    member = above["data"]["payInvoice"]
    assert member["__typename"] == "ValidationError" and member["fields"][0]["field"] == "invoices[0].amount"

    euros = await tenant_a.gql(PAY, {"i": {**_pay_input(client["id"], (invoice["id"], 100)), "currency": "EUR"}})
    assert euros["data"]["payInvoice"]["__typename"] == "ValidationError"

    bad_id = await tenant_a.gql(PAY, {"i": _pay_input(client["id"], ("not-an-id", 100))})
    assert bad_id["data"]["payInvoice"]["fields"] == [{"field": "invoices[0].invoiceId", "message": "is not an id"}]

    key = f"gql-{uuid.uuid4()}"
    first = await tenant_a.gql(PAY, {"i": _pay_input(client["id"], (invoice["id"], 100), key=key)})
    assert first["data"]["payInvoice"]["__typename"] == "Payment"
    reused = await tenant_a.gql(PAY, {"i": _pay_input(client["id"], (invoice["id"], 200), key=key)})
    assert reused["data"]["payInvoice"]["fields"][0]["field"] == "idempotencyKey"

    no_key = await tenant_a.post("/graphql", json={"query": PAY, "variables": {"i": {
        k: v for k, v in _pay_input(client["id"], (invoice["id"], 100)).items() if k != "idempotencyKey"
    }}})  # fmt: skip
    assert "idempotencyKey" in no_key.json()["errors"][0]["message"]

    balance = (await tenant_a.get(f"/v1/invoices/{invoice['id']}")).json()["balance"]
    assert balance == invoice["total"] - 100


async def test_methods_tenants_and_scopes(
    tenant_a: Api, tenant_b: Api, engine: AsyncEngine, stripe_sandbox: StripeState, client: AsyncTestClient[Any]
) -> None:
    await connect_stripe(engine, tenant_a, stripe_sandbox)
    customer = await tenant_a.new_client()
    bank = await _save(tenant_a, customer["id"], "pm_usBankAccount_success", "US_BANK_ACCOUNT")
    card = await _save(tenant_a, customer["id"])
    made = await tenant_a.gql(DEFAULT, {"id": card["id"]})
    assert made["data"]["setDefaultPaymentMethod"] == {
        "__typename": "PaymentMethod",
        "id": card["id"],
        "isDefault": True,
    }

    invoice = await tenant_a.new_invoice(customer["id"])
    ach = await tenant_a.gql(PAY, {"i": _pay_input(customer["id"], (invoice["id"], 1_000), paymentMethodId=bank["id"])})
    assert ach["data"]["payInvoice"]["status"] == "PROCESSING", ach
    busy = await tenant_a.gql(REMOVE, {"id": bank["id"]})
    assert busy["data"]["removePaymentMethod"]["__typename"] == "InvalidState"
    removed = await tenant_a.gql(REMOVE, {"id": card["id"]})
    assert removed["data"]["removePaymentMethod"] == {"__typename": "PaymentMethodRemoved", "id": card["id"]}

    assert (await tenant_b.gql(REMOVE, {"id": bank["id"]}))["data"]["removePaymentMethod"]["__typename"] == "NotFound"
    assert (await tenant_b.gql(METHODS, {"c": customer["id"]}))["data"]["paymentMethods"] == []
    not_connected = await tenant_b.gql(PAY, {"i": _pay_input(customer["id"], (invoice["id"], 100))})
    assert not_connected["data"]["payInvoice"]["__typename"] == "PaymentUnavailable"

    reader = Api(client, tenant_a.creds, await token_for(client, tenant_a.creds, "invoices:read"))
    refused = await reader.gql(PAY, {"i": _pay_input(customer["id"], (invoice["id"], 100))})
    assert refused["data"] is None and refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert len((await reader.gql(PAYMENTS, {"c": customer["id"]}))["data"]["payments"]["edges"]) == 1
