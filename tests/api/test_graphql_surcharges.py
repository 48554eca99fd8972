"""The card surcharge policy and quote through GraphQL, against the Stripe sandbox: the same answers as REST's
/v1/payments/surcharge-policy and /v1/payments/surcharge-quote, expected failures as union members, another
tenant's ids not found, and the scopes REST asks for."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Any

from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncEngine

from sandbox.stripe_sandbox.state import StripeState
from tests.api.test_graphql_payments import PAY, _pay_input, _save
from tests.api.test_payments_rest import connect_stripe
from tests.conftest import Api, token_for

POLICY_FIELDS = """enabled rateBps fixedMinor costOfAcceptanceBps costOfAcceptanceFixedMinor currency noticeGivenOn
  merchantCountry californiaOptIn oklahomaOverride exemptClientIds"""
GET_POLICY = f"""{{ surchargePolicy {{ __typename ... on SurchargePolicy {{ {POLICY_FIELDS} }}
  ... on PaymentUnavailable {{ message retry }} }} }}"""
SET_POLICY = f"""mutation($i: SurchargePolicyInput!) {{ setSurchargePolicy(input: $i) {{ __typename
  ... on SurchargePolicy {{ {POLICY_FIELDS} }} ... on ValidationError {{ message fields {{ field message }} }}
  ... on PaymentUnavailable {{ message retry }} }} }}"""
QUOTE = """query($i: SurchargeQuoteInput!) { surchargeQuote(input: $i) { __typename
  ... on SurchargeQuote { surcharge { amount currency } total { amount currency } reason message disclosure
                          receipt { kind label amount { amount currency } } }
  ... on ValidationError { fields { field message } } ... on NotFound { message id }
  ... on PaymentUnavailable { message retry } } }"""
PAY_SURCHARGED = PAY.replace(
    "... on PaymentUnavailable", "... on SurchargeNotAllowed { message reason } ... on PaymentUnavailable"
)
DEFAULTS = {
    "enabled": False, "rateBps": 0, "fixedMinor": 0, "costOfAcceptanceBps": 0, "costOfAcceptanceFixedMinor": 0,
    "currency": "USD", "noticeGivenOn": None, "merchantCountry": "US", "californiaOptIn": False,
    "oklahomaOverride": False, "exemptClientIds": [],
}  # fmt: skip
NOTICE = (date.today() - timedelta(days=45)).isoformat()  # surcharging started 15 days ago
OPT_IN = {"enabled": True, "rateBps": 300, "costOfAcceptanceBps": 350, "noticeGivenOn": NOTICE}


async def _policy(api: Api) -> dict[str, Any]:
    return (await api.gql(GET_POLICY))["data"]["surchargePolicy"]  # type: ignore[no-any-return]


async def _set(api: Api, policy: dict[str, Any]) -> dict[str, Any]:
    return (await api.gql(SET_POLICY, {"i": policy}))["data"]["setSurchargePolicy"]  # type: ignore[no-any-return]


async def _quote(api: Api, client_id: str, method_id: str, amount: int = 10_000, currency: str = "USD") -> Any:
    body = {"clientId": client_id, "paymentMethodId": method_id, "amount": amount, "currency": currency}
    return (await api.gql(QUOTE, {"i": body}))["data"]["surchargeQuote"]


async def _rest_quote(api: Api, client_id: str, method_id: str, amount: int = 10_000) -> dict[str, Any]:
    body = {"client_id": client_id, "payment_method_id": method_id, "amount": amount, "currency": "USD"}
    r = await api.post("/v1/payments/surcharge-quote", json=body)
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def _same_as_rest(gql: dict[str, Any], rest: dict[str, Any]) -> None:
    assert gql["__typename"] == "SurchargeQuote", gql
    assert (gql["surcharge"]["amount"], gql["total"]["amount"]) == (rest["surcharge"], rest["total"])
    assert (gql["reason"], gql["message"], gql["disclosure"]) == (rest["reason"].upper(), rest["message"],
                                                                  rest["disclosure"])  # fmt: skip
    lines = [(x["kind"], x["label"], x["amount"]["amount"], x["amount"]["currency"]) for x in gql["receipt"]]
    assert lines == [(x["kind"].upper(), x["label"], x["amount"], x["currency"]) for x in rest["receipt"]]


async def test_the_policy_is_read_set_and_kept_per_tenant(
    tenant_a: Api, tenant_b: Api, engine: AsyncEngine, stripe_sandbox: StripeState
) -> None:
    await connect_stripe(engine, tenant_a, stripe_sandbox)
    await connect_stripe(engine, tenant_b, stripe_sandbox)
    assert await _policy(tenant_a) == {"__typename": "SurchargePolicy", **DEFAULTS}  # off until the MSP opts in

    exempt = (await tenant_a.new_client(state="TX"))["id"]
    saved = await _set(tenant_a, {**OPT_IN, "currency": "usd", "exemptClientIds": [exempt]})
    wanted = {**DEFAULTS, **OPT_IN, "exemptClientIds": [exempt]}
    assert saved == {"__typename": "SurchargePolicy", **wanted}
    assert await _policy(tenant_a) == saved
    rest = (await tenant_a.get("/v1/payments/surcharge-policy")).json()
    assert (rest["enabled"], rest["rate_bps"], rest["cost_of_acceptance_bps"], rest["notice_given_on"],
            rest["exempt_client_ids"]) == (True, 300, 350, NOTICE, [exempt])  # fmt: skip

    assert await _policy(tenant_b) == {"__typename": "SurchargePolicy", **DEFAULTS}  # not another tenant's


async def test_an_invalid_policy_is_a_validation_error_and_changes_nothing(
    tenant_a: Api, tenant_b: Api, engine: AsyncEngine, stripe_sandbox: StripeState
) -> None:
    await connect_stripe(engine, tenant_a, stripe_sandbox)
    bare = await _set(tenant_a, {"enabled": True})
    assert bare["__typename"] == "ValidationError"
    assert {f["field"] for f in bare["fields"]} == {"rateBps", "costOfAcceptanceBps", "noticeGivenOn"}
    above_every_cap = await _set(tenant_a, {**OPT_IN, "rateBps": 401})
    assert [f["field"] for f in above_every_cap["fields"]] == ["rateBps"]
    odd = await _set(tenant_a, {**OPT_IN, "currency": "ZZZ", "merchantCountry": "USA", "fixedMinor": -1})
    assert {f["field"] for f in odd["fields"]} == {"currency", "merchantCountry", "fixedMinor"}
    not_an_id = await _set(tenant_a, {**OPT_IN, "exemptClientIds": ["nope"]})
    assert not_an_id["fields"] == [{"field": "exemptClientIds[0]", "message": "is not an id"}]
    not_money = await tenant_a.gql(SET_POLICY, {"i": {**OPT_IN, "fixedMinor": 1.5}})
    assert not_money["data"] is None and "MinorUnits" in not_money["errors"][0]["message"]
    assert await _policy(tenant_a) == {"__typename": "SurchargePolicy", **DEFAULTS}

    # Without Stripe there is nowhere to keep a policy, nor one to quote with.
    for member in (await _policy(tenant_b), await _set(tenant_b, OPT_IN)):
        assert (member["__typename"], member["retry"]) == ("PaymentUnavailable", False)
        assert "Stripe is not connected" in member["message"]


async def test_the_quote_is_the_one_rest_gives_and_pays_with_the_accepted_surcharge(
    tenant_a: Api, engine: AsyncEngine, stripe_sandbox: StripeState
) -> None:
    await connect_stripe(engine, tenant_a, stripe_sandbox)
    assert (await _set(tenant_a, OPT_IN))["__typename"] == "SurchargePolicy"
    payer = await tenant_a.new_client(state="TX")
    debit = await _save(tenant_a, payer["id"], "pm_card_visa_debit")
    credit = await _save(tenant_a, payer["id"])

    quote = await _quote(tenant_a, payer["id"], credit["id"])
    _same_as_rest(quote, await _rest_quote(tenant_a, payer["id"], credit["id"]))
    assert (quote["surcharge"], quote["total"], quote["reason"]) == (
        {"amount": 300, "currency": "USD"}, {"amount": 10_300, "currency": "USD"}, "OK")  # fmt: skip
    assert "3%" in quote["disclosure"] and [x["kind"] for x in quote["receipt"]] == ["PAYMENT", "SURCHARGE", "TOTAL"]

    refused = await _quote(tenant_a, payer["id"], debit["id"])
    _same_as_rest(refused, await _rest_quote(tenant_a, payer["id"], debit["id"]))
    assert (refused["surcharge"]["amount"], refused["reason"], refused["disclosure"]) == (0, "DEBIT_CARD", None)
    banned = await tenant_a.new_client(state="CT")
    banned_card = await _save(tenant_a, banned["id"])
    assert (await _quote(tenant_a, banned["id"], banned_card["id"]))["reason"] == "STATE_PROHIBITED"

    invoice = await tenant_a.new_invoice(payer["id"])
    paid = await tenant_a.gql(PAY_SURCHARGED, {"i": _pay_input(
        payer["id"], (invoice["id"], 10_000), paymentMethodId=credit["id"], surcharge=300)})  # fmt: skip
    member = paid["data"]["payInvoice"]
    assert member["__typename"] == "Payment", paid
    assert (member["amount"]["amount"], member["surcharge"]["amount"]) == (10_300, 300)

    on_debit = await tenant_a.gql(PAY_SURCHARGED, {"i": _pay_input(
        payer["id"], (invoice["id"], 1_000), paymentMethodId=debit["id"], surcharge=30)})  # fmt: skip
    assert on_debit["data"]["payInvoice"]["__typename"] == "SurchargeNotAllowed", on_debit
    assert on_debit["data"]["payInvoice"]["reason"] == "DEBIT_CARD"
    balance = (await tenant_a.get(f"/v1/invoices/{invoice['id']}")).json()["balance"]
    assert balance == invoice["total"] - 10_000  # the refused payment collected nothing


async def test_bad_quotes_and_other_tenants_ids(
    tenant_a: Api, tenant_b: Api, engine: AsyncEngine, stripe_sandbox: StripeState
) -> None:
    await connect_stripe(engine, tenant_a, stripe_sandbox)
    await connect_stripe(engine, tenant_b, stripe_sandbox)
    mine = await tenant_a.new_client(state="TX")
    card = await _save(tenant_a, mine["id"])
    neighbour = await tenant_a.new_client(state="TX", name="Another client")
    neighbours_card = await _save(tenant_a, neighbour["id"])
    theirs = await tenant_b.new_client(state="TX")
    their_card = await _save(tenant_b, theirs["id"])

    malformed = await _quote(tenant_a, "not-an-id", "nor-this")
    assert malformed["fields"] == [{"field": "clientId", "message": "is not an id"},
                                   {"field": "paymentMethodId", "message": "is not an id"}]  # fmt: skip
    negative = await _quote(tenant_a, mine["id"], card["id"], amount=-1)
    assert (negative["__typename"], [f["field"] for f in negative["fields"]]) == ("ValidationError", ["amount"])
    assert [f["field"] for f in (await _quote(tenant_a, mine["id"], card["id"], currency="XYZ"))["fields"]] == [
        "currency"
    ]

    for client_id, method_id, missing in (
        (theirs["id"], their_card["id"], theirs["id"]),  # another tenant's client (and card)
        (mine["id"], their_card["id"], their_card["id"]),  # another tenant's card
        (mine["id"], neighbours_card["id"], neighbours_card["id"]),  # another client's card
        (str(uuid.uuid4()), card["id"], None),
    ):
        found = await _quote(tenant_a, client_id, method_id)
        assert found["__typename"] == "NotFound", found
        assert found["id"] == (missing or client_id)
    assert (await _quote(tenant_b, theirs["id"], their_card["id"]))["__typename"] == "SurchargeQuote"


async def test_the_scopes_are_the_ones_rest_asks_for(
    tenant_a: Api, engine: AsyncEngine, stripe_sandbox: StripeState, client: AsyncTestClient[Any]
) -> None:
    await connect_stripe(engine, tenant_a, stripe_sandbox)
    payer = await tenant_a.new_client(state="TX")
    card = await _save(tenant_a, payer["id"])
    # Paying is not enough to set the policy: that takes admin, as PUT /v1/payments/surcharge-policy does.
    cashier = Api(client, tenant_a.creds, await token_for(client, tenant_a.creds, "invoices:read payments:write"))
    refused = await cashier.gql(SET_POLICY, {"i": {**OPT_IN, "exemptClientIds": ["nope"]}})  # before the input
    assert refused["data"] is None
    assert refused["errors"][0]["extensions"] == {"code": "FORBIDDEN", "requiredScope": "admin"}
    assert (await _policy(cashier))["enabled"] is False
    assert (await _quote(cashier, payer["id"], card["id"]))["__typename"] == "SurchargeQuote"

    clerk = Api(client, tenant_a.creds, await token_for(client, tenant_a.creds, "clients:read"))
    for query, variables in (
        (GET_POLICY, None),
        (QUOTE, {"i": {"clientId": "not-an-id", "paymentMethodId": "x", "amount": 1, "currency": "USD"}}),
    ):
        body = await clerk.gql(query, variables)
        assert body["data"] is None
        assert body["errors"][0]["extensions"] == {"code": "FORBIDDEN", "requiredScope": "invoices:read"}
