"""Money after the payment in the Stripe sandbox: refunds, disputes, funds becoming available, payouts and
what a payout contains, the balance, and the events API."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from sandbox.stripe_sandbox import StripeState, create_app

KEY = {"Authorization": "Bearer sk_test_money"}


@pytest.fixture
def state() -> StripeState:
    return StripeState(seed=23)


@pytest.fixture
async def c(state: StripeState) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(state))
    async with httpx.AsyncClient(transport=transport, base_url="http://stripe.test", headers=KEY) as client:
        yield client


async def pay(c: httpx.AsyncClient, amount: int, token: str = "pm_card_visa", **headers: str) -> dict[str, Any]:
    data = {
        "amount": str(amount),
        "currency": "usd",
        "payment_method": token,
        "confirm": "true",
        "expand[]": "latest_charge",
    }
    r = await c.post("/v1/payment_intents", data=data, headers=headers)
    assert r.status_code == 200, r.text
    return r.json()


# --- refunds -------------------------------------------------------------------------------------------------


async def test_partial_then_full_refund(c: httpx.AsyncClient, state: StripeState) -> None:
    pi = await pay(c, 10_000)
    ch = pi["latest_charge"]
    part = await c.post(
        "/v1/refunds",
        data={
            "charge": ch["id"],
            "amount": "2500",
            "reason": "requested_by_customer",
            "expand[]": "balance_transaction",
        },
    )
    refund = part.json()
    assert refund["status"] == "succeeded" and refund["amount"] == 2500 and refund["payment_intent"] == pi["id"]
    bt = refund["balance_transaction"]
    assert (bt["amount"], bt["fee"], bt["net"], bt["type"], bt["status"]) == (-2500, 0, -2500, "refund", "available")
    charge = (await c.get(f"/v1/charges/{ch['id']}")).json()
    assert charge["amount_refunded"] == 2500 and charge["refunded"] is False
    too_much = await c.post("/v1/refunds", data={"payment_intent": pi["id"], "amount": "9000"})
    assert too_much.status_code == 400 and "greater than unrefunded amount" in too_much.json()["error"]["message"]
    rest = (await c.post("/v1/refunds", data={"payment_intent": pi["id"]})).json()
    assert rest["amount"] == 7500
    charge = (await c.get(f"/v1/charges/{ch['id']}")).json()
    assert charge["refunded"] is True and [r["id"] for r in charge["refunds"]["data"]] == [rest["id"], refund["id"]]
    again = await c.post("/v1/refunds", data={"charge": ch["id"]})
    assert again.json()["error"]["code"] == "charge_already_refunded"
    assert len(state.events("refund.created")) == 2 and len(state.events("charge.refunded")) == 2
    listed = (await c.get("/v1/refunds", params={"charge": ch["id"]})).json()["data"]
    assert {r["id"] for r in listed} == {refund["id"], rest["id"]}


async def test_ach_refund_pends_then_succeeds(c: httpx.AsyncClient, state: StripeState) -> None:
    cus = state.seed_customer(methods=["pm_usBankAccount_success"])
    data = {
        "amount": "5000",
        "currency": "usd",
        "customer": cus["id"],
        "payment_method": cus["invoice_settings"]["default_payment_method"],
        "confirm": "true",
        "off_session": "true",
    }
    pi = (await c.post("/v1/payment_intents", data=data)).json()
    assert (await c.post("/v1/refunds", data={"payment_intent": pi["id"]})).status_code == 400  # still processing
    state.advance_ach()
    refund = (await c.post("/v1/refunds", data={"payment_intent": pi["id"]})).json()
    assert refund["status"] == "pending" and refund["id"].startswith("pyr_")
    state.advance(days=5)
    assert (await c.get(f"/v1/refunds/{refund['id']}")).json()["status"] == "succeeded"
    assert state.events("refund.updated")[0]["data"]["previous_attributes"] == {"status": "pending"}


# --- disputes ---------------------------------------------------------------------------------------------


async def test_dispute_withdraws_amount_and_fee_then_can_be_won(c: httpx.AsyncClient, state: StripeState) -> None:
    pi = await pay(c, 8000)
    dp = state.open_dispute(pi["latest_charge"]["id"], reason="fraudulent")
    assert dp["status"] == "needs_response" and dp["amount"] == 8000 and dp["charge"] == pi["latest_charge"]["id"]
    [bt] = dp["balance_transactions"]
    assert (bt["amount"], bt["fee"], bt["net"], bt["reporting_category"]) == (-8000, 1500, -9500, "dispute")
    created = state.events("charge.dispute.created")
    assert created and created[0]["data"]["object"]["id"] == dp["id"]
    assert (await c.get(f"/v1/charges/{dp['charge']}")).json()["disputed"] is True
    upd = (await c.post(f"/v1/disputes/{dp['id']}", data={"evidence[uncategorized_text]": "signed contract"})).json()
    assert upd["status"] == "under_review" and upd["evidence"]["uncategorized_text"] == "signed contract"
    won = state.close_dispute(dp["id"], won=True)
    assert won["status"] == "won" and won["balance_transactions"][-1]["amount"] == 8000
    assert [e["type"] for e in state.events()][-2:] == ["charge.dispute.funds_reinstated", "charge.dispute.closed"]


async def test_dispute_accept_and_test_card_that_disputes(c: httpx.AsyncClient, state: StripeState) -> None:
    pi = await pay(c, 3000, "pm_card_createDispute")
    [dp] = (await c.get("/v1/disputes", params={"charge": pi["latest_charge"]["id"]})).json()["data"]
    assert dp["reason"] == "fraudulent"
    closed = (await c.post(f"/v1/disputes/{dp['id']}/close")).json()
    assert closed["status"] == "lost" and state.events("charge.dispute.closed")


async def test_ach_dispute_test_account_is_final(c: httpx.AsyncClient, state: StripeState) -> None:
    cus = state.seed_customer(methods=["pm_usBankAccount_dispute"])
    data = {
        "amount": "5000",
        "currency": "usd",
        "customer": cus["id"],
        "payment_method": cus["invoice_settings"]["default_payment_method"],
        "confirm": "true",
        "off_session": "true",
    }
    pi = (await c.post("/v1/payment_intents", data=data)).json()
    state.advance_ach(pi["id"])
    [dp] = (await c.get("/v1/disputes")).json()["data"]
    assert dp["status"] == "lost" and dp["reason"] == "insufficient_funds" and dp["payment_intent"] == pi["id"]


# --- funds, payouts, balance ---------------------------------------------------------------------------------


async def test_funds_become_available_with_the_clock(c: httpx.AsyncClient, state: StripeState) -> None:
    pi = await pay(c, 10_000)
    bal = (await c.get("/v1/balance")).json()
    assert bal["pending"][0] == {"amount": 9680, "currency": "usd", "source_types": {"card": 9680}}
    assert bal["available"][0]["amount"] == 0
    state.advance(days=3)
    bt = (await c.get(f"/v1/balance_transactions/{pi['latest_charge']['balance_transaction']}")).json()
    assert bt["status"] == "available"
    bal = (await c.get("/v1/balance")).json()
    assert bal["available"][0]["amount"] == 9680 and bal["pending"][0]["amount"] == 0


async def test_automatic_payout_contains_its_transactions(c: httpx.AsyncClient, state: StripeState) -> None:
    first = await pay(c, 10_000)
    second = await pay(c, 5_000)
    refund = (await c.post("/v1/refunds", data={"payment_intent": second["id"], "amount": "1000"})).json()
    dp = state.open_dispute(first["latest_charge"]["id"], amount=2000)
    assert state.make_funds_available() == 2
    [po] = state.run_payouts()
    charges_net = 9680 + (5000 - 175)
    assert po["amount"] == charges_net - 1000 - (2000 + 1500) and po["automatic"] is True
    listed = (await c.get("/v1/balance_transactions", params={"payout": po["id"], "limit": 100})).json()
    by_type: dict[str, list[Any]] = {}
    for t in listed["data"]:
        by_type.setdefault(t["type"], []).append(t)
    assert sorted(by_type) == ["adjustment", "charge", "payout", "refund"]
    assert sum(t["net"] for t in listed["data"] if t["type"] != "payout") == po["amount"]
    assert by_type["payout"][0]["amount"] == -po["amount"] and by_type["refund"][0]["source"] == refund["id"]
    assert by_type["adjustment"][0]["source"] == dp["id"]
    page = (await c.get("/v1/balance_transactions", params={"payout": po["id"], "limit": 2})).json()
    assert page["has_more"] is True and len(page["data"]) == 2
    assert (await c.get("/v1/balance")).json()["available"][0]["amount"] == 0
    assert po["status"] == "pending" and state.events("payout.created")
    state.advance(days=1)
    paid = (await c.get(f"/v1/payouts/{po['id']}")).json()
    assert paid["status"] == "paid" and paid["reconciliation_status"] == "completed"
    assert [e["type"] for e in state.events()][-2:] == ["payout.paid", "payout.reconciliation_completed"]
    assert state.run_payouts() == []  # nothing left to pay out


async def test_manual_payout_limits(c: httpx.AsyncClient, state: StripeState) -> None:
    await pay(c, 10_000)
    r = await c.post("/v1/payouts", data={"amount": "5000", "currency": "usd"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "balance_insufficient"
    state.make_funds_available()
    po = (await c.post("/v1/payouts", data={"amount": "5000", "currency": "usd", "metadata[ref]": "x"})).json()
    assert po["automatic"] is False and po["metadata"] == {"ref": "x"}
    r = await c.get("/v1/balance_transactions", params={"payout": po["id"]})
    assert r.status_code == 400 and "automatic" in r.json()["error"]["message"]
    assert (await c.get("/v1/balance")).json()["available"][0]["amount"] == 4680


async def test_payouts_per_connected_account(c: httpx.AsyncClient, state: StripeState) -> None:
    acct = state.seed_account()
    await pay(c, 10_000, **{"Stripe-Account": acct})
    state.make_funds_available()
    assert state.run_payouts() == []  # the platform earned nothing
    [po] = state.run_payouts(account=acct, arrive=True)
    assert po["status"] == "paid" and po["destination"].startswith("ba_")
    got = await c.get("/v1/payouts", headers={"Stripe-Account": acct})
    assert [p["id"] for p in got.json()["data"]] == [po["id"]]


# --- events API ------------------------------------------------------------------------------------------------


async def test_events_list_and_retrieve(c: httpx.AsyncClient, state: StripeState) -> None:
    pi = await pay(c, 1000)
    r = await c.get("/v1/events", params={"type": "charge.succeeded"})
    [evt] = r.json()["data"]
    assert evt["object"] == "event" and evt["livemode"] is False and evt["api_version"] == state.api_version
    assert evt["data"]["object"]["payment_intent"] == pi["id"] and "account" not in evt
    assert evt["request"]["id"].startswith("req_")
    assert evt["request"]["idempotency_key"] is None
    assert (await c.get(f"/v1/events/{evt['id']}")).json()["id"] == evt["id"]
    wild = (await c.get("/v1/events", params={"type": "payment_intent.*"})).json()["data"]
    assert {e["type"] for e in wild} == {"payment_intent.created", "payment_intent.succeeded"}
    multi = (await c.get("/v1/events", params={"types[]": ["charge.succeeded", "payment_intent.created"]})).json()
    assert len(multi["data"]) == 2


async def test_event_snapshot_does_not_change_with_the_object(c: httpx.AsyncClient, state: StripeState) -> None:
    cus = (await c.post("/v1/customers", data={"name": "Before"}, headers={"Idempotency-Key": "evt-1"})).json()
    await c.post(f"/v1/customers/{cus['id']}", data={"name": "After"})
    created, updated = state.events("customer.created")[0], state.events("customer.updated")[0]
    assert created["data"]["object"]["name"] == "Before" and created["request"]["idempotency_key"] == "evt-1"
    assert updated["data"]["object"]["name"] == "After"
    assert updated["data"]["previous_attributes"] == {"name": "Before"}
