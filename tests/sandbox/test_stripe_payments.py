"""Payments in the Stripe sandbox: saved methods, off-session card PaymentIntents (success, declines,
authentication), fees and Connect."""

from __future__ import annotations

import httpx
import pytest

from sandbox.stripe_sandbox import StripeState
from tests.sandbox.stripe_support import KEY, c, off_session, saved, state

_ = (c, state, KEY)  # fixtures


# --- payment methods --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("token", "brand", "funding", "last4"),
    [
        ("pm_card_visa", "visa", "credit", "4242"),
        ("pm_card_visa_debit", "visa", "debit", "5556"),
        ("pm_card_mastercard", "mastercard", "credit", "4444"),
        ("pm_card_mastercard_prepaid", "mastercard", "prepaid", "5100"),
        ("pm_card_amex", "amex", "credit", "0005"),
    ],
)
async def test_test_card_payment_methods(
    c: httpx.AsyncClient, token: str, brand: str, funding: str, last4: str
) -> None:
    pm = (await c.get(f"/v1/payment_methods/{token}")).json()
    assert pm["id"].startswith("pm_") and pm["id"] != token and pm["type"] == "card"
    card = pm["card"]
    assert (card["brand"], card["funding"], card["last4"]) == (brand, funding, last4)
    assert 1 <= card["exp_month"] <= 12 and card["exp_year"] >= 2025
    again = (await c.get(f"/v1/payment_methods/{token}")).json()
    assert again["card"]["fingerprint"] == card["fingerprint"]  # one card, one fingerprint


async def test_card_token_and_bank_account_creation(c: httpx.AsyncClient) -> None:
    pm = (await c.post("/v1/payment_methods", data={"type": "card", "card[token]": "tok_mastercard"})).json()
    assert pm["card"]["brand"] == "mastercard"
    raw = await c.post("/v1/payment_methods", data={"type": "card", "card[number]": "4242424242424242"})
    assert raw.status_code == 402  # raw card numbers are refused by default, as by Stripe
    bank = {
        "type": "us_bank_account",
        "us_bank_account[account_number]": "000222222227",
        "us_bank_account[routing_number]": "110000000",
        "us_bank_account[account_holder_type]": "company",
    }
    assert (await c.post("/v1/payment_methods", data=bank)).json()["error"]["param"] == "billing_details[name]"
    pm = (await c.post("/v1/payment_methods", data={**bank, "billing_details[name]": "Acme LLC"})).json()
    assert pm["type"] == "us_bank_account" and "card" not in pm
    assert pm["us_bank_account"]["last4"] == "2227" and pm["us_bank_account"]["routing_number"] == "110000000"


async def test_attach_detach_and_listing(c: httpx.AsyncClient, state: StripeState) -> None:
    cus = (await c.post("/v1/customers", data={})).json()["id"]
    pm = (await c.post("/v1/payment_methods/pm_card_visa/attach", data={"customer": cus})).json()
    listed = (await c.get(f"/v1/customers/{cus}/payment_methods", params={"type": "card"})).json()
    assert [p["id"] for p in listed["data"]] == [pm["id"]] and listed["url"] == f"/v1/customers/{cus}/payment_methods"
    declined = await c.post("/v1/payment_methods/pm_card_chargeDeclined/attach", data={"customer": cus})
    assert declined.status_code == 402 and declined.json()["error"]["decline_code"] == "generic_decline"
    fine = await c.post("/v1/payment_methods/pm_card_chargeCustomerFail/attach", data={"customer": cus})
    assert fine.status_code == 200
    detached = (await c.post(f"/v1/payment_methods/{pm['id']}/detach")).json()
    assert detached["customer"] is None
    again = await c.post(f"/v1/payment_methods/{pm['id']}/attach", data={"customer": cus})
    assert again.status_code == 400  # a detached method cannot be reused
    assert [e["type"] for e in state.events()][-1] == "payment_method.detached"


# --- cards off-session ------------------------------------------------------------------------------------


async def test_off_session_card_success_books_fees(c: httpx.AsyncClient, state: StripeState) -> None:
    cus, pm = saved(state, "pm_card_visa")
    r = await off_session(c, cus, pm, **{"expand[]": "latest_charge.balance_transaction"})
    pi = r.json()
    assert r.status_code == 200 and pi["status"] == "succeeded" and pi["amount_received"] == 10_000
    ch = pi["latest_charge"]
    assert ch["status"] == "succeeded" and ch["paid"] and ch["captured"] and ch["payment_intent"] == pi["id"]
    assert ch["payment_method_details"]["card"]["last4"] == "4242"
    bt = ch["balance_transaction"]
    assert (bt["amount"], bt["fee"], bt["net"]) == (10_000, 320, 9_680)  # 2.9% + 30c
    assert bt["fee_details"] == [
        {
            "amount": 320,
            "application": None,
            "currency": "usd",
            "description": "Stripe processing fees",
            "type": "stripe_fee",
        }
    ]
    assert bt["status"] == "pending" and bt["available_on"] > bt["created"] and bt["type"] == "charge"
    ch2 = (await c.get(f"/v1/charges/{ch['id']}", params={"expand[]": "balance_transaction"})).json()
    assert ch2["balance_transaction"]["id"] == bt["id"]
    plain = (await c.get(f"/v1/payment_intents/{pi['id']}")).json()
    assert plain["latest_charge"] == ch["id"]  # stored objects are not changed by expansion
    types = [e["type"] for e in state.events()]
    assert types[-3:] == ["payment_intent.created", "charge.succeeded", "payment_intent.succeeded"]


DECLINES = [
    ("pm_card_chargeDeclined", "card_declined", "generic_decline", None),
    ("pm_card_chargeDeclinedInsufficientFunds", "card_declined", "insufficient_funds", "try_again_later"),
    ("pm_card_visa_chargeDeclinedLostCard", "card_declined", "lost_card", "do_not_try_again"),
    ("pm_card_chargeDeclinedStolenCard", "card_declined", "stolen_card", "do_not_try_again"),
    ("pm_card_chargeDeclinedExpiredCard", "expired_card", "expired_card", "confirm_card_data"),
    ("pm_card_chargeDeclinedProcessingError", "processing_error", "processing_error", "try_again_later"),
    ("pm_card_chargeCustomerFail", "card_declined", "generic_decline", None),
]


@pytest.mark.parametrize(("token", "code", "decline_code", "advice"), DECLINES)
async def test_off_session_declines(
    c: httpx.AsyncClient, state: StripeState, token: str, code: str, decline_code: str, advice: str | None
) -> None:
    cus, pm = saved(state, token)
    r = await off_session(c, cus, pm)
    assert r.status_code == 402
    err = r.json()["error"]
    assert (err["type"], err["code"], err["decline_code"]) == ("card_error", code, decline_code)
    assert err.get("advice_code") == advice
    pi = err["payment_intent"]
    assert pi["status"] == "requires_payment_method" and pi["payment_method"] is None
    assert pi["last_payment_error"]["decline_code"] == decline_code
    assert pi["last_payment_error"]["payment_method"]["id"] == pm
    ch = (await c.get(f"/v1/charges/{err['charge']}")).json()
    assert ch["status"] == "failed" and ch["failure_code"] == code and ch["outcome"]["reason"] == decline_code
    assert ch["balance_transaction"] is None
    assert [e["type"] for e in state.events()][-2:] == ["charge.failed", "payment_intent.payment_failed"]
    retry = await c.post(f"/v1/payment_intents/{pi['id']}/confirm", data={"payment_method": pm, "off_session": "true"})
    assert retry.status_code == 402  # the saved card keeps declining


async def test_authentication_required_off_session_and_on_session(c: httpx.AsyncClient, state: StripeState) -> None:
    cus, pm = saved(state, "pm_card_authenticationRequired")
    r = await off_session(c, cus, pm)
    err = r.json()["error"]
    assert r.status_code == 402 and err["code"] == "authentication_required"
    assert err["payment_intent"]["status"] == "requires_payment_method"
    on = (
        await c.post(
            "/v1/payment_intents",
            data={"amount": "5000", "currency": "usd", "customer": cus, "payment_method": pm, "confirm": "true"},
        )
    ).json()
    assert on["status"] == "requires_action" and on["next_action"]["type"] == "use_stripe_sdk"
    done = state.complete_action(on["id"])
    assert done["status"] == "succeeded"
    failed = (
        await c.post(
            "/v1/payment_intents",
            data={"amount": "5000", "currency": "usd", "customer": cus, "payment_method": pm, "confirm": "true"},
        )
    ).json()
    assert (
        state.complete_action(failed["id"], succeed=False)["last_payment_error"]["code"]
        == "payment_intent_authentication_failure"
    )


async def test_off_session_requires_confirm_and_payment_method_rules(c: httpx.AsyncClient, state: StripeState) -> None:
    r = await c.post("/v1/payment_intents", data={"amount": "500", "currency": "usd", "off_session": "true"})
    assert r.status_code == 400 and r.json()["error"]["param"] == "off_session"
    _cus, pm = saved(state, "pm_card_visa")
    other = state.seed_customer()["id"]
    assert (await off_session(c, other, pm)).json()["error"]["message"].endswith("different Customer.")
    no_cus = await c.post(
        "/v1/payment_intents", data={"amount": "500", "currency": "usd", "payment_method": pm, "confirm": "true"}
    )
    assert no_cus.status_code == 400 and "attached to a Customer" in no_cus.json()["error"]["message"]
    loose = (await c.post("/v1/payment_methods", data={"type": "card", "card[token]": "tok_visa"})).json()["id"]
    once = {"amount": "500", "currency": "usd", "payment_method": loose, "confirm": "true"}
    assert (await c.post("/v1/payment_intents", data=once)).status_code == 200
    assert (await c.post("/v1/payment_intents", data=once)).status_code == 400  # unattached: single use
    assert (await c.post("/v1/payment_intents", data={"amount": "20", "currency": "usd"})).json()["error"][
        "code"
    ] == "amount_too_small"


async def test_setup_future_usage_saves_the_method(c: httpx.AsyncClient) -> None:
    cus = (await c.post("/v1/customers", data={})).json()["id"]
    data = {
        "amount": "700",
        "currency": "usd",
        "customer": cus,
        "payment_method": "pm_card_visa",
        "confirm": "true",
        "setup_future_usage": "off_session",
    }
    pi = (await c.post("/v1/payment_intents", data=data)).json()
    pms = (await c.get(f"/v1/customers/{cus}/payment_methods")).json()["data"]
    assert [p["id"] for p in pms] == [pi["payment_method"]]


async def test_manual_capture(c: httpx.AsyncClient) -> None:
    data = {
        "amount": "1000",
        "currency": "usd",
        "payment_method": "pm_card_visa",
        "confirm": "true",
        "capture_method": "manual",
    }
    pi = (await c.post("/v1/payment_intents", data=data)).json()
    assert pi["status"] == "requires_capture" and pi["amount_capturable"] == 1000
    done = (
        await c.post(
            f"/v1/payment_intents/{pi['id']}/capture", data={"amount_to_capture": "600", "expand[]": "latest_charge"}
        )
    ).json()
    assert done["status"] == "succeeded" and done["amount_received"] == 600
    assert done["latest_charge"]["amount_captured"] == 600 and done["latest_charge"]["amount_refunded"] == 400


async def test_cancel(c: httpx.AsyncClient) -> None:
    pi = (await c.post("/v1/payment_intents", data={"amount": "1000", "currency": "usd"})).json()
    done = (await c.post(f"/v1/payment_intents/{pi['id']}/cancel", data={"cancellation_reason": "abandoned"})).json()
    assert done["status"] == "canceled" and done["canceled_at"] and done["cancellation_reason"] == "abandoned"
    assert (await c.post(f"/v1/payment_intents/{pi['id']}/cancel")).status_code == 400


async def test_surcharge_only_under_preview_version(c: httpx.AsyncClient) -> None:
    data = {"amount": "1030", "currency": "usd", "amount_details[surcharge][amount]": "30"}
    assert (await c.post("/v1/payment_intents", data=data)).json()["error"]["param"] == "amount_details[surcharge]"
    ok = await c.post("/v1/payment_intents", data=data, headers={"Stripe-Version": "2026-03-25.preview"})
    assert ok.status_code == 200


# --- Connect --------------------------------------------------------------------------------------------------


async def test_application_fee_only_on_direct_charges(c: httpx.AsyncClient, state: StripeState) -> None:
    cus, pm = saved(state, "pm_card_visa")
    r = await off_session(c, cus, pm, application_fee_amount="100")
    assert r.status_code == 400 and r.json()["error"]["param"] == "application_fee_amount"
    acct = state.seed_account(name="MSP")
    cus, pm = saved(state, "pm_card_visa", account=acct)
    data = {
        "amount": "10000",
        "currency": "usd",
        "customer": cus,
        "payment_method": pm,
        "confirm": "true",
        "off_session": "true",
        "application_fee_amount": "250",
        "expand[]": "latest_charge.balance_transaction",
    }
    pi = (await c.post("/v1/payment_intents", data=data, headers={"Stripe-Account": acct})).json()
    ch = pi["latest_charge"]
    bt = ch["balance_transaction"]
    assert bt["fee"] == 320 + 250 and bt["net"] == 10_000 - 570
    assert {d["type"] for d in bt["fee_details"]} == {"stripe_fee", "application_fee"}
    fee = (await c.get(f"/v1/application_fees/{ch['application_fee']}")).json()
    assert fee["amount"] == 250 and fee["account"] == acct and fee["charge"] == ch["id"]
    platform_bt = (await c.get(f"/v1/balance_transactions/{fee['balance_transaction']}")).json()
    assert platform_bt["type"] == "application_fee" and platform_bt["net"] == 250
    evt = state.events("payment_intent.succeeded", account=acct)[0]
    assert evt["account"] == acct


async def test_confirming_at_creation_uses_one_payment_method(c: httpx.AsyncClient, state: StripeState) -> None:
    pi = (
        await c.post(
            "/v1/payment_intents",
            data={"amount": "900", "currency": "usd", "payment_method": "pm_card_visa", "confirm": "true"},
        )
    ).json()
    si = (await c.post("/v1/setup_intents", data={"payment_method": "pm_card_mastercard", "confirm": "true"})).json()
    pms = (await c.get("/v1/payment_methods")).json()["data"]
    assert sorted(p["id"] for p in pms) == sorted([pi["payment_method"], si["payment_method"]])
