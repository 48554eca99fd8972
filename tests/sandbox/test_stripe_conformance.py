"""Conformance: every object the Stripe sandbox returns carries every top-level field of its sample in
Stripe's own fixtures3.json (values may be null). Objects are read back through the API, as clients see them."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from sandbox.stripe_sandbox import StripeState, create_app
from sandbox.stripe_sandbox.fixtures import SHAPES_PATH
from tests.specs import spec_file

KINDS = [
    "customer",
    "setup_intent",
    "payment_method",
    "payment_intent",
    "charge",
    "refund",
    "dispute",
    "balance_transaction",
    "payout",
    "event",
    "account",
    "mandate",
    "application_fee",
    "balance",
    "webhook_endpoint",
]


@pytest.fixture(scope="module")
def fixture_keys() -> dict[str, set[str]]:
    """Read straight from the spec file, independently of the sandbox's own loader."""
    resources = json.loads(spec_file("stripe", "fixtures3.json").read_text())["resources"]
    return {kind: set(resources[kind]) for kind in KINDS}


def test_shipped_shapes_are_stripes_own() -> None:
    """The sandbox ships an extract of fixtures3.json (it must run without ../shared); it must not drift."""
    resources = json.loads(spec_file("stripe", "fixtures3.json").read_text())["resources"]
    shipped = json.loads(SHAPES_PATH.read_text())
    assert shipped == {kind: resources[kind] for kind in shipped}


@pytest.fixture(scope="module")
async def returned() -> dict[str, dict[str, Any]]:
    """One of each object kind, created the way production will create them, then fetched by id."""
    st = StripeState(seed=3)
    acct = st.seed_account(name="Conformance MSP")
    transport = httpx.ASGITransport(app=create_app(st))
    headers = {"Authorization": "Bearer sk_test_conformance", "Stripe-Account": acct}
    async with httpx.AsyncClient(transport=transport, base_url="http://stripe.test", headers=headers) as c:
        cus = (await c.post("/v1/customers", data={"email": "c@x.io"})).json()
        si = (
            await c.post(
                "/v1/setup_intents", data={"customer": cus["id"], "payment_method": "pm_card_visa", "confirm": "true"}
            )
        ).json()
        bank_si = (
            await c.post(
                "/v1/setup_intents",
                data={
                    "customer": cus["id"],
                    "payment_method": "pm_usBankAccount_success",
                    "payment_method_types[]": "us_bank_account",
                    "confirm": "true",
                    "mandate_data[customer_acceptance][type]": "online",
                    "mandate_data[customer_acceptance][online][ip_address]": "127.0.0.1",
                    "mandate_data[customer_acceptance][online][user_agent]": "t",
                },
            )
        ).json()
        data = {
            "amount": "10000",
            "currency": "usd",
            "customer": cus["id"],
            "payment_method": si["payment_method"],
            "confirm": "true",
            "off_session": "true",
            "application_fee_amount": "100",
        }
        pi = (await c.post("/v1/payment_intents", data=data)).json()
        ch = (await c.get(f"/v1/charges/{pi['latest_charge']}")).json()
        refund = (await c.post("/v1/refunds", data={"charge": ch["id"], "amount": "100"})).json()
        dp = st.open_dispute(ch["id"], account=acct, amount=1000)
        st.make_funds_available()
        [po] = st.run_payouts(account=acct)
        evt = (await c.get("/v1/events")).json()["data"][0]
        fee_id = ch["application_fee"]
        platform = {"Stripe-Account": ""}
        we = (await c.post("/v1/webhook_endpoints", data={"url": "https://h.example", "enabled_events[]": "*"})).json()
        return {
            "customer": (await c.get(f"/v1/customers/{cus['id']}")).json(),
            "setup_intent": (await c.get(f"/v1/setup_intents/{si['id']}")).json(),
            "payment_method": (await c.get(f"/v1/payment_methods/{si['payment_method']}")).json(),
            "payment_intent": (await c.get(f"/v1/payment_intents/{pi['id']}")).json(),
            "charge": ch,
            "refund": (await c.get(f"/v1/refunds/{refund['id']}")).json(),
            "dispute": (await c.get(f"/v1/disputes/{dp['id']}")).json(),
            "balance_transaction": (await c.get(f"/v1/balance_transactions/{ch['balance_transaction']}")).json(),
            "payout": (await c.get(f"/v1/payouts/{po['id']}")).json(),
            "event": (await c.get(f"/v1/events/{evt['id']}")).json(),
            "account": (await c.get(f"/v1/accounts/{acct}", headers=platform)).json(),
            "mandate": (await c.get(f"/v1/mandates/{bank_si['mandate']}")).json(),
            "application_fee": (await c.get(f"/v1/application_fees/{fee_id}", headers=platform)).json(),
            "balance": (await c.get("/v1/balance")).json(),
            "webhook_endpoint": (await c.get(f"/v1/webhook_endpoints/{we['id']}")).json(),
        }


@pytest.mark.parametrize("kind", KINDS)
def test_object_carries_every_fixture_field(
    kind: str, fixture_keys: dict[str, set[str]], returned: dict[str, dict[str, Any]]
) -> None:
    obj = returned[kind]
    assert "error" not in obj, obj
    missing = fixture_keys[kind] - set(obj)
    assert not missing, f"{kind} lacks {sorted(missing)}"
    if "object" in fixture_keys[kind]:
        assert obj["object"] == kind
    if "livemode" in obj:
        assert obj["livemode"] is False
