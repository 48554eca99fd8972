"""Payment methods and payments through REST, against the Stripe sandbox the test app is configured with:
saving cards and bank accounts, paying (success, decline, 3-D Secure, ACH), idempotency, bad input, tenants
and scopes."""

from __future__ import annotations

import uuid
from typing import Any

from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.clock import SystemClock
from adapters.db.uow import SqlUnitOfWork
from domain.connections import Connection, ConnectionStatus, Provider
from domain.ids import new_id
from sandbox.common import Fault
from sandbox.stripe_sandbox.state import StripeState
from tests.conftest import Api, new_tenant, token_for

MANDATE = {"ip_address": "203.0.113.9", "user_agent": "pytest"}


async def connect_stripe(engine: AsyncEngine, api: Api, stripe: StripeState) -> str:
    """The tenant's Stripe connection, as the Connect flow leaves it (tests/api/test_connections_stripe.py
    goes through that flow): a standard account of the sandbox the app talks to."""
    account = stripe.seed_account(name=f"MSP {api.tenant_id}")
    now = SystemClock().now()
    connection = Connection(
        tenant_id=api.tenant_id, id=new_id(), provider=Provider.STRIPE, status=ConnectionStatus.ACTIVE,
        external_id=account, display_name="MSP", scopes=["read_write"], created_at=now, updated_at=now,
    )  # fmt: skip
    async with SqlUnitOfWork(engine, api.tenant_id) as uow:
        await uow.connections.save(connection)
        await uow.commit()
    return account


async def save_method(
    api: Api, client_id: str, token: str = "pm_card_visa", kind: str = "card", **extra: Any
) -> dict[str, Any]:
    body = {"client_id": client_id, "kind": kind, "payment_method": token, **extra}
    if kind == "us_bank_account":
        body.setdefault("mandate", MANDATE)
    r = await api.post("/v1/payment-methods/setup", json=body)
    assert r.status_code == 201, r.text
    setup = r.json()
    assert setup["status"] == "succeeded" and setup["payment_method"] is not None, setup
    return setup["payment_method"]  # type: ignore[no-any-return]


async def pay(
    api: Api, client_id: str, *parts: tuple[str, int], key: str | None = None, currency: str = "USD", **extra: Any
) -> Any:
    body = {
        "client_id": client_id,
        "currency": currency,
        "invoices": [{"invoice_id": i, "amount": a} for i, a in parts],
        **extra,
    }
    headers = {"Idempotency-Key": key or f"pay-{uuid.uuid4()}"}
    return await api.post("/v1/payments", json=body, headers=headers)


async def test_save_a_card_and_pay_an_invoice(tenant_a: Api, engine: AsyncEngine, stripe_sandbox: StripeState) -> None:
    account = await connect_stripe(engine, tenant_a, stripe_sandbox)
    client = await tenant_a.new_client()
    card = await save_method(tenant_a, client["id"])
    assert card["brand"] == "visa" and card["last4"] == "4242" and card["funding"] == "credit"
    assert card["is_default"] and card["object"] == "payment_method" and card["kind"] == "card"
    listed = (await tenant_a.get("/v1/payment-methods", params={"client_id": client["id"]})).json()
    assert [m["id"] for m in listed["data"]] == [card["id"]]

    invoice = await tenant_a.new_invoice(client["id"])
    total = invoice["total"]
    key = f"pay-{uuid.uuid4()}"
    r = await pay(tenant_a, client["id"], (invoice["id"], total), key=key)
    assert r.status_code == 201, r.text
    payment = r.json()
    assert payment["object"] == "payment" and payment["status"] == "succeeded"
    assert payment["amount"] == total and payment["currency"] == "USD" and payment["surcharge"] == 0
    assert payment["invoices"] == [{"invoice_id": invoice["id"], "amount": total}]
    assert payment["payment_method_id"] == card["id"] and payment["kind"] == "card"
    assert payment["stripe_payment_intent_id"].startswith("pi_") and payment["decline_code"] is None
    paid = (await tenant_a.get(f"/v1/invoices/{invoice['id']}")).json()
    assert paid["status"] == "paid" and paid["balance"] == 0

    # The same request again (a retry) answers the same payment without charging again.
    again = await pay(tenant_a, client["id"], (invoice["id"], total), key=key)
    assert again.status_code == 201 and again.json()["id"] == payment["id"]
    assert len(stripe_sandbox.partition(account).table("payment_intent").objects) == 1
    # The same key for another payment is refused.
    other = await pay(tenant_a, client["id"], (invoice["id"], 1), key=key)
    assert other.status_code == 422 and other.json()["code"] == "idempotency_key_reused"

    got = await tenant_a.get(f"/v1/payments/{payment['id']}")
    assert got.status_code == 200
    assert {**got.json(), "updated_at": None} == {**payment, "updated_at": None}
    listing = (await tenant_a.get("/v1/payments", params={"client_id": client["id"]})).json()
    assert [p["id"] for p in listing["data"]] == [payment["id"]] and listing["has_more"] is False


async def test_a_declined_card_is_402_with_the_failed_payment(
    tenant_a: Api, engine: AsyncEngine, stripe_sandbox: StripeState
) -> None:
    await connect_stripe(engine, tenant_a, stripe_sandbox)
    client = await tenant_a.new_client()
    card = await save_method(tenant_a, client["id"], "pm_card_chargeCustomerFail")  # saves, declines charges
    invoice = await tenant_a.new_invoice(client["id"])
    r = await pay(tenant_a, client["id"], (invoice["id"], 10_000))
    assert r.status_code == 402, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    problem = r.json()
    assert problem["code"] == "payment_declined" and problem["decline_code"] == "generic_decline"
    assert "declined" in problem["detail"]
    assert problem["payment"]["status"] == "failed" and problem["payment"]["payment_method_id"] == card["id"]
    assert problem["payment"]["failure_message"] == problem["detail"]
    assert (await tenant_a.get(f"/v1/invoices/{invoice['id']}")).json()["balance"] == invoice["total"]
    # The failed attempt holds nothing: another card pays the whole balance.
    visa = await save_method(tenant_a, client["id"])
    ok = await pay(tenant_a, client["id"], (invoice["id"], invoice["total"]), payment_method_id=visa["id"])
    assert ok.status_code == 201 and ok.json()["status"] == "succeeded"


async def test_authentication_required_is_202(tenant_a: Api, engine: AsyncEngine, stripe_sandbox: StripeState) -> None:
    account = await connect_stripe(engine, tenant_a, stripe_sandbox)
    client = await tenant_a.new_client()
    body = {"client_id": client["id"], "kind": "card", "payment_method": "pm_card_authenticationRequired"}
    r = await tenant_a.post("/v1/payment-methods/setup", json=body)
    assert r.status_code == 201, r.text
    setup = r.json()
    assert setup["status"] == "requires_action" and setup["payment_method"] is None and setup["client_secret"]
    finish = f"/v1/payment-methods/setup/{setup['setup_intent_id']}/finish"
    early = await tenant_a.post(finish, json={"client_id": client["id"]})
    assert early.status_code == 409 and early.json()["code"] == "invalid_state"

    stripe_sandbox.complete_action(setup["setup_intent_id"], account=account)  # the payer passes 3-D Secure
    done = await tenant_a.post(finish, json={"client_id": client["id"]})
    assert done.status_code == 201, done.text
    card = done.json()
    assert card["last4"] == "3184" and card["is_default"]

    invoice = await tenant_a.new_invoice(client["id"])
    r = await pay(tenant_a, client["id"], (invoice["id"], 5_000), payment_method_id=card["id"])
    assert r.status_code == 202, r.text
    payment = r.json()
    assert payment["status"] == "requires_action" and payment["failure_code"] == "authentication_required"
    assert "confirm" in payment["failure_message"]
    assert (await tenant_a.get(f"/v1/invoices/{invoice['id']}")).json()["balance"] == invoice["total"]


async def test_ach_is_processing_and_its_method_cannot_be_removed_meanwhile(
    tenant_a: Api, engine: AsyncEngine, stripe_sandbox: StripeState
) -> None:
    await connect_stripe(engine, tenant_a, stripe_sandbox)
    client = await tenant_a.new_client()
    no_mandate = await tenant_a.post(
        "/v1/payment-methods/setup",
        json={"client_id": client["id"], "kind": "us_bank_account", "payment_method": "pm_usBankAccount_success"},
    )
    assert no_mandate.status_code == 422 and no_mandate.json()["errors"][0]["field"] == "mandate"
    bank = await save_method(tenant_a, client["id"], "pm_usBankAccount_success", "us_bank_account")
    assert bank["kind"] == "us_bank_account" and bank["last4"] and bank["brand"] is None

    invoice = await tenant_a.new_invoice(client["id"])
    r = await pay(tenant_a, client["id"], (invoice["id"], invoice["total"]))
    assert r.status_code == 201, r.text
    assert r.json()["status"] == "processing" and r.json()["kind"] == "us_bank_account"
    assert (await tenant_a.get(f"/v1/invoices/{invoice['id']}")).json()["balance"] == invoice["total"]

    removed = await tenant_a.client.delete(f"/v1/payment-methods/{bank['id']}", headers=tenant_a.headers)
    assert removed.status_code == 409 and removed.json()["code"] == "invalid_state", removed.text
    listed = (await tenant_a.get("/v1/payment-methods", params={"client_id": client["id"]})).json()
    assert [m["id"] for m in listed["data"]] == [bank["id"]]
    # The processing amount is held: nothing more can be collected on the invoice meanwhile.
    more = await pay(tenant_a, client["id"], (invoice["id"], 1))
    assert more.status_code == 422 and "in progress" in more.json()["errors"][0]["message"]


async def test_default_removal_and_expiring_cards(
    tenant_a: Api, engine: AsyncEngine, stripe_sandbox: StripeState
) -> None:
    await connect_stripe(engine, tenant_a, stripe_sandbox)
    client = await tenant_a.new_client()
    visa = await save_method(tenant_a, client["id"])
    master = await save_method(tenant_a, client["id"], "pm_card_mastercard")
    assert visa["is_default"] and not master["is_default"]
    r = await tenant_a.post(f"/v1/payment-methods/{master['id']}/default")
    assert r.status_code == 200 and r.json()["is_default"], r.text
    listed = (await tenant_a.get("/v1/payment-methods", params={"client_id": client["id"]})).json()["data"]
    assert [(m["id"], m["is_default"]) for m in listed] == [(master["id"], True), (visa["id"], False)]

    gone = await tenant_a.client.delete(f"/v1/payment-methods/{visa['id']}", headers=tenant_a.headers)
    assert gone.status_code == 204, gone.text
    listed = (await tenant_a.get("/v1/payment-methods", params={"client_id": client["id"]})).json()["data"]
    assert [m["id"] for m in listed] == [master["id"]]
    again = await tenant_a.client.delete(f"/v1/payment-methods/{visa['id']}", headers=tenant_a.headers)
    assert again.status_code == 404

    expiring = await tenant_a.get("/v1/payment-methods/expiring", params={"days": 30})
    assert expiring.status_code == 200 and expiring.json()["object"] == "list"
    assert master["id"] not in {m["id"] for m in expiring.json()["data"]}  # test cards expire years ahead
    assert (await tenant_a.get("/v1/payment-methods/expiring", params={"days": 0})).status_code == 400
    assert (await tenant_a.get("/v1/payment-methods")).status_code == 400  # client_id is required


async def test_bad_payments_are_refused_and_change_nothing(
    tenant_a: Api, engine: AsyncEngine, stripe_sandbox: StripeState
) -> None:
    await connect_stripe(engine, tenant_a, stripe_sandbox)
    client = await tenant_a.new_client()
    await save_method(tenant_a, client["id"])
    invoice = await tenant_a.new_invoice(client["id"])
    body = {"client_id": client["id"], "currency": "USD", "invoices": [{"invoice_id": invoice["id"], "amount": 100}]}

    no_key = await tenant_a.post("/v1/payments", json=body)
    assert no_key.status_code == 400 and no_key.json()["code"] == "idempotency_key_required"

    above = await pay(tenant_a, client["id"], (invoice["id"], invoice["total"] + 1))
    assert above.status_code == 422 and above.json()["code"] == "validation_failed"
    assert above.json()["errors"][0]["field"] == "invoices[0].amount"

    euros = await pay(tenant_a, client["id"], (invoice["id"], 100), currency="EUR")
    assert euros.status_code == 422 and "USD" in euros.json()["errors"][0]["message"]

    zero = await pay(tenant_a, client["id"], (invoice["id"], 0))
    assert zero.status_code == 422 and zero.json()["errors"][0]["field"] == "invoices[0].amount"

    unknown_field = await tenant_a.post(
        "/v1/payments", json={**body, "tip": 0}, headers={"Idempotency-Key": f"k-{uuid.uuid4()}"}
    )
    assert unknown_field.status_code == 400 and unknown_field.json()["code"] == "validation_failed"

    voided = await tenant_a.new_invoice(client["id"])
    assert (await tenant_a.post(f"/v1/invoices/{voided['id']}/void")).status_code == 200
    void = await pay(tenant_a, client["id"], (voided["id"], 100))
    assert void.status_code == 422 and "void" in void.json()["errors"][0]["message"]

    assert (await tenant_a.get(f"/v1/invoices/{invoice['id']}")).json()["balance"] == invoice["total"]
    assert (await tenant_a.get("/v1/payments", params={"client_id": client["id"]})).json()["data"] == []


async def test_tenants_and_scopes(
    tenant_a: Api, tenant_b: Api, engine: AsyncEngine, stripe_sandbox: StripeState, client: AsyncTestClient[Any]
) -> None:
    await connect_stripe(engine, tenant_a, stripe_sandbox)
    await connect_stripe(engine, tenant_b, stripe_sandbox)
    customer = await tenant_a.new_client()
    card = await save_method(tenant_a, customer["id"])
    invoice = await tenant_a.new_invoice(customer["id"])
    payment = (await pay(tenant_a, customer["id"], (invoice["id"], 1_000))).json()

    # Another tenant sees none of it, and cannot use it.
    assert (await tenant_b.get(f"/v1/payments/{payment['id']}")).status_code == 404
    assert (await tenant_b.get("/v1/payments")).json()["data"] == []
    listed = await tenant_b.get("/v1/payment-methods", params={"client_id": customer["id"]})
    assert listed.json()["data"] == []
    assert (await tenant_b.post(f"/v1/payment-methods/{card['id']}/default")).status_code == 404
    gone = await tenant_b.client.delete(f"/v1/payment-methods/{card['id']}", headers=tenant_b.headers)
    assert gone.status_code == 404
    theirs = await pay(tenant_b, customer["id"], (invoice["id"], 1_000))
    assert theirs.status_code == 422, theirs.text
    setup = await tenant_b.post(
        "/v1/payment-methods/setup",
        json={"client_id": customer["id"], "kind": "card", "payment_method": "pm_card_visa"},
    )
    assert setup.status_code == 404

    # A token without payments:write reads payments but cannot pay or save methods.
    reader = Api(client, tenant_a.creds, await token_for(client, tenant_a.creds, "invoices:read"))
    refused = await pay(reader, customer["id"], (invoice["id"], 1_000))
    assert refused.status_code == 403 and refused.json()["required_scope"] == "payments:write"
    body = {"client_id": customer["id"], "kind": "card", "payment_method": "pm_card_visa"}
    assert (await reader.post("/v1/payment-methods/setup", json=body)).status_code == 403
    assert (await reader.get(f"/v1/payments/{payment['id']}")).status_code == 200
    no_read = Api(client, tenant_a.creds, await token_for(client, tenant_a.creds, "clients:read"))
    assert (await no_read.get("/v1/payments")).status_code == 403


async def test_without_a_stripe_connection(tenant_a: Api, engine: AsyncEngine) -> None:
    client = await tenant_a.new_client()
    r = await tenant_a.post(
        "/v1/payment-methods/setup", json={"client_id": client["id"], "kind": "card", "payment_method": "pm_card_visa"}
    )
    assert r.status_code == 409 and r.json()["code"] == "payment_refused" and "Stripe" in r.json()["detail"]
    invoice = await tenant_a.new_invoice(client["id"])
    paying = await pay(tenant_a, client["id"], (invoice["id"], 100))
    assert paying.status_code == 409 and paying.json()["code"] == "payment_refused"


async def test_payments_are_listed_newest_first_with_a_cursor(
    tenant_a: Api, engine: AsyncEngine, stripe_sandbox: StripeState
) -> None:
    await connect_stripe(engine, tenant_a, stripe_sandbox)
    client = await tenant_a.new_client()
    await save_method(tenant_a, client["id"])
    invoice = await tenant_a.new_invoice(client["id"])
    made = [(await pay(tenant_a, client["id"], (invoice["id"], 100))).json()["id"] for _ in range(3)]
    seen, cursor = [], None
    while True:
        params: dict[str, Any] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await tenant_a.get("/v1/payments", params=params)).json()
        seen += [p["id"] for p in page["data"]]
        if not page["has_more"]:
            break
        cursor = page["next_cursor"]
    assert seen == list(reversed(made))


async def test_a_tenant_with_no_rights_gets_nothing(engine: AsyncEngine, client: AsyncTestClient[Any]) -> None:
    creds = await new_tenant(engine, "Unscoped MSP", frozenset({"clients:read"}))
    api = Api(client, creds, await token_for(client, creds))
    r = await api.post("/v1/payment-methods/setup", json={"client_id": str(uuid.uuid4()), "kind": "card"})
    assert r.status_code == 403


async def test_an_unknown_outcome_is_503_and_a_retry_with_the_key_finishes_it(
    tenant_a: Api, engine: AsyncEngine, stripe_sandbox: StripeState
) -> None:
    account = await connect_stripe(engine, tenant_a, stripe_sandbox)
    client = await tenant_a.new_client()
    await save_method(tenant_a, client["id"])
    invoice = await tenant_a.new_invoice(client["id"])
    key = f"pay-{uuid.uuid4()}"
    # Stripe charges, but its answers never arrive (the SDK's own retries included).
    fault = stripe_sandbox.controls.inject(Fault("lost", times=None, method="POST", path_prefix="/v1/payment_intents"))
    try:
        r = await pay(tenant_a, client["id"], (invoice["id"], invoice["total"]), key=key)
    finally:
        stripe_sandbox.controls.faults.remove(fault)
    assert r.status_code == 503, r.text
    assert r.json()["code"] == "payment_pending" and r.headers["retry-after"] and r.json()["payment_id"]
    assert (await tenant_a.get(f"/v1/invoices/{invoice['id']}")).json()["balance"] == invoice["total"]

    again = await pay(tenant_a, client["id"], (invoice["id"], invoice["total"]), key=key)
    assert again.status_code == 201, again.text
    assert again.json()["id"] == r.json()["payment_id"] and again.json()["status"] == "succeeded"
    assert (await tenant_a.get(f"/v1/invoices/{invoice['id']}")).json()["status"] == "paid"
    assert len(stripe_sandbox.partition(account).table("charge").objects) == 1
