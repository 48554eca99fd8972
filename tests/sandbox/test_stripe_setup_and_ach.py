"""SetupIntents and ACH in the Stripe sandbox: saving methods, processing, settling and returns."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from sandbox.stripe_sandbox import StripeState
from tests.sandbox.stripe_support import ACCEPT, KEY, c, off_session, state

_ = (c, state, KEY)  # fixtures


# --- setup intents -----------------------------------------------------------------------------------------


async def test_setup_intent_saves_card_and_3ds_on_setup(c: httpx.AsyncClient, state: StripeState) -> None:
    cus = (await c.post("/v1/customers", data={})).json()["id"]
    si = (
        await c.post("/v1/setup_intents", data={"customer": cus, "payment_method": "pm_card_visa", "confirm": "true"})
    ).json()
    assert si["status"] == "succeeded" and si["usage"] == "off_session"
    assert (await c.get(f"/v1/payment_methods/{si['payment_method']}")).json()["customer"] == cus
    bad = await c.post(
        "/v1/setup_intents",
        data={"customer": cus, "payment_method": "pm_card_chargeDeclinedInsufficientFunds", "confirm": "true"},
    )
    assert bad.status_code == 402 and bad.json()["error"]["setup_intent"]["status"] == "requires_payment_method"
    assert state.events("setup_intent.setup_failed")
    once = (
        await c.post(
            "/v1/setup_intents",
            data={"customer": cus, "payment_method": "pm_card_authenticationRequiredOnSetup", "confirm": "true"},
        )
    ).json()
    assert once["status"] == "requires_action"
    assert state.complete_action(once["id"])["status"] == "succeeded"
    r = await off_session(c, cus, once["payment_method"])
    assert r.json()["status"] == "succeeded"  # authenticated once at setup, then off-session works


# --- ACH ------------------------------------------------------------------------------------------------------


async def ach_setup(c: httpx.AsyncClient, token: str) -> tuple[str, str, dict[str, Any]]:
    cus = (await c.post("/v1/customers", data={})).json()["id"]
    data = {
        "customer": cus,
        "payment_method": token,
        "confirm": "true",
        "payment_method_types[]": "us_bank_account",
        **ACCEPT,
    }
    si = (await c.post("/v1/setup_intents", data=data)).json()
    assert si["status"] == "succeeded" and si["mandate"].startswith("mandate_")
    return cus, si["payment_method"], si


async def test_ach_processing_then_succeeds_on_advance(c: httpx.AsyncClient, state: StripeState) -> None:
    cus, pm, si = await ach_setup(c, "pm_usBankAccount_success")
    mandate = (await c.get(f"/v1/mandates/{si['mandate']}")).json()
    assert mandate["status"] == "active" and mandate["customer_acceptance"]["type"] == "online"
    pi = (await off_session(c, cus, pm, amount=1_000_000)).json()
    assert pi["status"] == "processing"
    ch = (await c.get(f"/v1/charges/{pi['latest_charge']}")).json()
    assert ch["id"].startswith("py_") and ch["status"] == "pending" and ch["balance_transaction"] is None
    assert ch["payment_method_details"]["us_bank_account"]["mandate"] == si["mandate"]
    state.advance(days=1)
    assert (await c.get(f"/v1/payment_intents/{pi['id']}")).json()["status"] == "processing"
    state.advance(days=6)  # four business days, whatever the weekday
    pi = (
        await c.get(f"/v1/payment_intents/{pi['id']}", params={"expand[]": "latest_charge.balance_transaction"})
    ).json()
    assert pi["status"] == "succeeded"
    bt = pi["latest_charge"]["balance_transaction"]
    assert (bt["fee"], bt["net"], bt["type"]) == (500, 999_500, "payment")  # 0.8% capped at $5
    types = [e["type"] for e in state.events()]
    assert types.index("payment_intent.processing") < types.index("payment_intent.succeeded")


@pytest.mark.parametrize(
    ("token", "failure", "blocked"),
    [
        ("pm_usBankAccount_insufficientFunds", "insufficient_funds", None),
        ("pm_usBankAccount_accountClosed", "account_closed", "R02"),
        ("pm_usBankAccount_noAccount", "no_account", "R03"),
        ("pm_usBankAccount_debitNotAuthorized", "debit_not_authorized", "R10"),
    ],
)
async def test_ach_returns(
    c: httpx.AsyncClient, state: StripeState, token: str, failure: str, blocked: str | None
) -> None:
    cus, pm, _ = await ach_setup(c, token)
    pi = (await off_session(c, cus, pm)).json()
    assert pi["status"] == "processing"
    assert state.advance_ach(pi["id"]) == 1
    pi = (await c.get(f"/v1/payment_intents/{pi['id']}")).json()
    assert pi["status"] == "requires_payment_method" and pi["last_payment_error"]["code"] == failure
    ch = (await c.get(f"/v1/charges/{pi['latest_charge']}")).json()
    assert ch["status"] == "failed" and ch["failure_code"] == failure
    assert state.events("payment_intent.payment_failed")
    status_details = (await c.get(f"/v1/payment_methods/{pm}")).json()["us_bank_account"]["status_details"]
    if blocked:
        assert status_details["blocked"]["network_code"] == blocked
        r = await off_session(c, cus, pm)
        assert r.status_code == 400 and r.json()["error"]["code"] == "payment_method_bank_account_blocked"
    else:
        assert status_details == {}
        assert (await off_session(c, cus, pm)).json()["status"] == "processing"  # NSF may be retried


async def test_ach_needs_a_mandate_and_processing_token_never_settles(c: httpx.AsyncClient, state: StripeState) -> None:
    cus = (await c.post("/v1/customers", data={})).json()["id"]
    pm = (await c.post("/v1/payment_methods/pm_usBankAccount_processing/attach", data={"customer": cus})).json()["id"]
    r = await off_session(c, cus, pm)
    assert r.status_code == 400 and r.json()["error"]["param"] == "mandate_data"
    pi = (await off_session(c, cus, pm, **ACCEPT)).json()
    assert pi["status"] == "processing"
    state.advance(days=30)
    assert (await c.get(f"/v1/payment_intents/{pi['id']}")).json()["status"] == "processing"
    assert (await c.post(f"/v1/payment_intents/{pi['id']}/cancel")).json()["status"] == "canceled"
