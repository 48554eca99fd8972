"""The Stripe sandbox's edge: auth, headers, form encoding, lists, Connect partitions, idempotency, rate
limits and faults, exercised in-process over ASGI."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator

import httpx
import pytest

from sandbox.common import Fault
from sandbox.stripe_sandbox import StripeState, create_app
from sandbox.stripe_sandbox.errors import StripeError
from sandbox.stripe_sandbox.forms import parse_pairs

KEY = {"Authorization": "Bearer sk_test_api"}


@pytest.fixture
def state() -> StripeState:
    return StripeState(seed=7)


@pytest.fixture
async def c(state: StripeState) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(state))
    async with httpx.AsyncClient(transport=transport, base_url="http://stripe.test", headers=KEY) as client:
        yield client


# --- auth and headers ----------------------------------------------------------------------------------


async def test_missing_or_bad_key_is_401_with_stripe_envelope(c: httpx.AsyncClient) -> None:
    r = await c.get("/v1/customers", headers={"Authorization": ""})
    assert r.status_code == 401
    err = r.json()["error"]
    assert err["type"] == "invalid_request_error" and "You did not provide an API key" in err["message"]
    r = await c.get("/v1/customers", headers={"Authorization": "Bearer pk_test_nope"})
    assert r.status_code == 401 and r.json()["error"]["message"].startswith("Invalid API Key provided")


async def test_basic_auth_with_key_as_username_and_restricted_keys(c: httpx.AsyncClient) -> None:
    basic = base64.b64encode(b"sk_test_basic:").decode()
    assert (await c.get("/v1/customers", headers={"Authorization": f"Basic {basic}"})).status_code == 200
    assert (await c.get("/v1/customers", headers={"Authorization": "Bearer rk_test_x"})).status_code == 200


async def test_strict_keys(state: StripeState, c: httpx.AsyncClient) -> None:
    state.api_keys = {"sk_test_only"}
    assert (await c.get("/v1/customers")).status_code == 401
    assert (await c.get("/v1/customers", headers={"Authorization": "Bearer sk_test_only"})).status_code == 200


async def test_request_id_and_version_headers(c: httpx.AsyncClient) -> None:
    r = await c.get("/v1/balance")
    assert r.headers["request-id"].startswith("req_") and r.headers["stripe-version"] == "2026-10-28.endive"
    r2 = await c.get("/v1/balance", headers={"Stripe-Version": "2024-06-20"})
    assert r2.headers["stripe-version"] == "2024-06-20" and r2.headers["request-id"] != r.headers["request-id"]


async def test_unknown_route_and_unknown_param(c: httpx.AsyncClient) -> None:
    r = await c.get("/v1/nope")
    assert r.status_code == 404 and r.json()["error"]["message"].startswith("Unrecognized request URL (GET: /v1/nope)")
    r = await c.post("/v1/customers", data={"emali": "x@y.z"})
    assert r.status_code == 400
    assert r.json()["error"]["param"] == "emali"
    assert r.json()["error"]["code"] == "parameter_unknown"


# --- form encoding --------------------------------------------------------------------------------------


def test_form_parser_handles_brackets_arrays_and_nesting() -> None:
    params = parse_pairs(
        [
            ("metadata[a]", "1"),
            ("metadata[0]", "zero"),
            ("expand[]", "x"),
            ("expand[]", "y"),
            ("payment_method_types[0]", "card"),
            ("payment_method_types[1]", "us_bank_account"),
            ("mandate_data[customer_acceptance][type]", "online"),
            ("mandate_data[customer_acceptance][online][ip_address]", "1.2.3.4"),
            ("items[0][price]", "p1"),
            ("items[1][price]", "p2"),
        ]
    )
    assert params["metadata"] == {"a": "1", "0": "zero"}  # metadata keys are never array indexes
    assert params["expand"] == ["x", "y"]
    assert params["payment_method_types"] == ["card", "us_bank_account"]
    assert params["mandate_data"]["customer_acceptance"]["online"] == {"ip_address": "1.2.3.4"}
    assert params["items"] == [{"price": "p1"}, {"price": "p2"}]
    with pytest.raises(StripeError):
        parse_pairs([("a", "1"), ("a[b]", "2")])


async def test_metadata_merge_delete_and_clear(c: httpx.AsyncClient) -> None:
    cus = (await c.post("/v1/customers", data={"metadata[a]": "1", "metadata[b]": "2"})).json()
    r = await c.post(f"/v1/customers/{cus['id']}", data={"metadata[a]": "", "metadata[c]": "3"})
    assert r.json()["metadata"] == {"b": "2", "c": "3"}
    r = await c.post(f"/v1/customers/{cus['id']}", data={"metadata": ""})
    assert r.json()["metadata"] == {}


# --- lists ------------------------------------------------------------------------------------------------


async def test_list_paging_newest_first(c: httpx.AsyncClient, state: StripeState) -> None:
    ids = [(await c.post("/v1/customers", data={"email": f"c{i}@x.io"})).json()["id"] for i in range(5)]
    first = (await c.get("/v1/customers", params={"limit": 2})).json()
    assert first["object"] == "list" and first["url"] == "/v1/customers" and first["has_more"] is True
    assert [o["id"] for o in first["data"]] == ids[:2:-1][:2] == [ids[4], ids[3]]
    nxt = (await c.get("/v1/customers", params={"limit": 2, "starting_after": ids[3]})).json()
    assert [o["id"] for o in nxt["data"]] == [ids[2], ids[1]] and nxt["has_more"] is True
    last = (await c.get("/v1/customers", params={"limit": 2, "starting_after": ids[1]})).json()
    assert [o["id"] for o in last["data"]] == [ids[0]] and last["has_more"] is False
    back = (await c.get("/v1/customers", params={"limit": 2, "ending_before": ids[1]})).json()
    assert [o["id"] for o in back["data"]] == [ids[3], ids[2]] and back["has_more"] is True
    only = (await c.get("/v1/customers", params={"email": "c2@x.io"})).json()
    assert [o["id"] for o in only["data"]] == [ids[2]]
    bad = await c.get("/v1/customers", params={"starting_after": "cus_missing"})
    assert bad.status_code == 404 and bad.json()["error"]["param"] == "starting_after"
    state.advance(10)
    late = (await c.post("/v1/customers", data={})).json()
    created = (await c.get("/v1/customers", params={"created[gte]": late["created"]})).json()
    assert [o["id"] for o in created["data"]] == [late["id"]]


async def test_retrieve_update_delete_customer(c: httpx.AsyncClient) -> None:
    cus = (await c.post("/v1/customers", data={"email": "a@b.co", "name": "Acme"})).json()
    assert (await c.get(f"/v1/customers/{cus['id']}")).json()["name"] == "Acme"
    r = await c.post(f"/v1/customers/{cus['id']}", data={"invoice_settings[default_payment_method]": "pm_card_visa"})
    assert r.status_code == 400  # the default must be attached to this customer
    pm = (await c.post("/v1/payment_methods/pm_card_visa/attach", data={"customer": cus["id"]})).json()
    r = await c.post(f"/v1/customers/{cus['id']}", data={"invoice_settings[default_payment_method]": pm["id"]})
    assert r.json()["invoice_settings"]["default_payment_method"] == pm["id"]
    gone = (await c.delete(f"/v1/customers/{cus['id']}")).json()
    assert gone == {"id": cus["id"], "object": "customer", "deleted": True}
    assert (await c.get(f"/v1/customers/{cus['id']}")).json()["deleted"] is True
    assert (await c.get("/v1/customers/cus_nope")).status_code == 404


async def test_expand_on_lists_and_unexpandable_fields(c: httpx.AsyncClient) -> None:
    data = {"amount": "1500", "currency": "usd", "payment_method": "pm_card_visa", "confirm": "true"}
    pi = (await c.post("/v1/payment_intents", data=data)).json()
    listed = (await c.get("/v1/payment_intents", params={"expand[]": "data.latest_charge.balance_transaction"})).json()
    assert listed["data"][0]["latest_charge"]["balance_transaction"]["amount"] == 1500
    assert (await c.get(f"/v1/payment_intents/{pi['id']}")).json()["latest_charge"] == pi["latest_charge"]
    r = await c.get(f"/v1/payment_intents/{pi['id']}", params={"expand[]": "currency"})
    assert r.status_code == 400 and r.json()["error"]["param"] == "expand"


async def test_states_are_independent() -> None:
    one, two = StripeState(seed=1), StripeState(seed=1)
    cus = one.seed_customer()
    assert one.get("customer", cus["id"])["id"] == cus["id"]
    with pytest.raises(StripeError):
        two.get("customer", cus["id"])
    one.advance(days=1)
    assert two.controls.clock.now() < one.controls.clock.now()


# --- Connect partitions ---------------------------------------------------------------------------------


async def test_stripe_account_partitions_every_object(c: httpx.AsyncClient, state: StripeState) -> None:
    acct = state.seed_account(name="MSP One")
    other = state.seed_account(name="MSP Two")
    on_acct = {"Stripe-Account": acct}
    cus = (await c.post("/v1/customers", data={"email": "x@y.z"}, headers=on_acct)).json()
    assert (await c.get(f"/v1/customers/{cus['id']}", headers=on_acct)).status_code == 200
    assert (await c.get(f"/v1/customers/{cus['id']}")).status_code == 404  # not on the platform
    assert (await c.get(f"/v1/customers/{cus['id']}", headers={"Stripe-Account": other})).status_code == 404
    evt = (await c.get("/v1/events", headers=on_acct)).json()["data"][0]
    assert evt["type"] == "customer.created" and evt["account"] == acct
    assert (await c.get("/v1/events")).json()["data"] == []
    r = await c.get("/v1/customers", headers={"Stripe-Account": "acct_unknown"})
    assert r.status_code == 403 and r.json()["error"]["code"] == "account_invalid"
    accounts = (await c.get("/v1/accounts")).json()["data"]
    assert {a["id"] for a in accounts} == {acct, other}
    assert (await c.get("/v1/account", headers=on_acct)).json()["id"] == acct


# --- idempotency -----------------------------------------------------------------------------------------


async def test_idempotent_replay_returns_the_stored_response(c: httpx.AsyncClient, state: StripeState) -> None:
    data = {"amount": "1000", "currency": "usd", "payment_method": "pm_card_visa", "confirm": "true"}
    first = await c.post("/v1/payment_intents", data=data, headers={"Idempotency-Key": "k1"})
    again = await c.post("/v1/payment_intents", data=data, headers={"Idempotency-Key": "k1"})
    assert first.status_code == again.status_code == 200
    assert again.content == first.content
    assert again.headers["idempotent-replayed"] == "true"
    assert again.headers["original-request"] == first.headers["request-id"]
    assert "idempotent-replayed" not in first.headers
    assert len((await c.get("/v1/payment_intents")).json()["data"]) == 1
    assert len(state.events("charge.succeeded")) == 1


async def test_idempotency_mismatch_and_endpoint_reuse(c: httpx.AsyncClient) -> None:
    await c.post("/v1/customers", data={"email": "a@b.co"}, headers={"Idempotency-Key": "k2"})
    r = await c.post("/v1/customers", data={"email": "other@b.co"}, headers={"Idempotency-Key": "k2"})
    assert r.status_code == 400 and r.json()["error"]["type"] == "idempotency_error"
    assert "same parameters" in r.json()["error"]["message"]
    r = await c.post("/v1/payment_methods", data={"email": "a@b.co"}, headers={"Idempotency-Key": "k2"})
    assert r.status_code == 400 and "same endpoint" in r.json()["error"]["message"]
    # param order does not matter
    await c.post(
        "/v1/customers",
        content="email=a%40b.co&name=N",
        headers={"Idempotency-Key": "k3", "Content-Type": "application/x-www-form-urlencoded"},
    )
    r = await c.post(
        "/v1/customers",
        content="name=N&email=a%40b.co",
        headers={"Idempotency-Key": "k3", "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert r.headers.get("idempotent-replayed") == "true"


async def test_idempotency_keys_are_per_account_and_expire_after_24h(c: httpx.AsyncClient, state: StripeState) -> None:
    acct = state.seed_account()
    one = (await c.post("/v1/customers", data={}, headers={"Idempotency-Key": "k4"})).json()
    other = (await c.post("/v1/customers", data={}, headers={"Idempotency-Key": "k4", "Stripe-Account": acct})).json()
    assert one["id"] != other["id"]
    state.advance(hours=23)
    assert (await c.post("/v1/customers", data={}, headers={"Idempotency-Key": "k4"})).json()["id"] == one["id"]
    state.advance(hours=2)
    fresh = await c.post("/v1/customers", data={}, headers={"Idempotency-Key": "k4"})
    assert fresh.json()["id"] != one["id"] and "idempotent-replayed" not in fresh.headers


async def test_validation_errors_are_not_saved_but_declines_are(c: httpx.AsyncClient) -> None:
    bad = await c.post("/v1/payment_intents", data={"currency": "usd"}, headers={"Idempotency-Key": "k5"})
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "parameter_missing"
    fixed = await c.post(
        "/v1/payment_intents", data={"currency": "usd", "amount": "900"}, headers={"Idempotency-Key": "k5"}
    )
    assert fixed.status_code == 200
    decline = {"amount": "900", "currency": "usd", "payment_method": "pm_card_chargeDeclined", "confirm": "true"}
    first = await c.post("/v1/payment_intents", data=decline, headers={"Idempotency-Key": "k6"})
    again = await c.post("/v1/payment_intents", data=decline, headers={"Idempotency-Key": "k6"})
    assert first.status_code == again.status_code == 402 and again.content == first.content
    assert again.headers["idempotent-replayed"] == "true"


async def test_execution_500_is_replayed_but_edge_faults_are_not(c: httpx.AsyncClient, state: StripeState) -> None:
    state.fail_next("/v1/customers")
    first = await c.post("/v1/customers", data={}, headers={"Idempotency-Key": "k7"})
    again = await c.post("/v1/customers", data={}, headers={"Idempotency-Key": "k7"})
    assert first.status_code == again.status_code == 500 and first.json()["error"]["type"] == "api_error"
    assert again.headers["idempotent-replayed"] == "true"
    state.controls.inject(Fault("status", status=503, body={"error": {"type": "api_error", "message": "edge"}}))
    edge = await c.post("/v1/customers", data={}, headers={"Idempotency-Key": "k8"})
    through = await c.post("/v1/customers", data={}, headers={"Idempotency-Key": "k8"})
    assert edge.status_code == 503 and through.status_code == 200 and "idempotent-replayed" not in through.headers


async def test_lost_answer_then_retry_with_the_same_key_charges_once(c: httpx.AsyncClient, state: StripeState) -> None:
    """The crash-between-call-and-record case: Stripe did the work, the caller never heard; retrying with
    the same key must return that result, not charge again."""
    state.controls.inject(Fault("lost", path_prefix="/v1/payment_intents"))
    data = {"amount": "1000", "currency": "usd", "payment_method": "pm_card_visa", "confirm": "true"}
    with pytest.raises(ConnectionResetError):
        await c.post("/v1/payment_intents", data=data, headers={"Idempotency-Key": "attempt-9"})
    retry = await c.post("/v1/payment_intents", data=data, headers={"Idempotency-Key": "attempt-9"})
    assert retry.status_code == 200 and retry.headers["idempotent-replayed"] == "true"
    assert len(state.events("charge.succeeded")) == 1


async def test_long_key_rejected(c: httpx.AsyncClient) -> None:
    r = await c.post("/v1/customers", data={}, headers={"Idempotency-Key": "x" * 256})
    assert r.status_code == 400


# --- rate limits, faults, request log -------------------------------------------------------------------


async def test_rate_limit_429_per_account_rolls_over_with_the_clock(c: httpx.AsyncClient, state: StripeState) -> None:
    state.controls.clock.freeze()
    state.rate_limits.configure(2)
    acct = state.seed_account()
    statuses = [(await c.get("/v1/customers")).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    r = await c.get("/v1/customers")
    assert r.json()["error"] == {
        "code": "rate_limit",
        "doc_url": "https://stripe.com/docs/error-codes/rate-limit",
        "message": r.json()["error"]["message"],
        "request_log_url": r.json()["error"]["request_log_url"],
        "type": "invalid_request_error",
    }
    assert (await c.get("/v1/customers", headers={"Stripe-Account": acct})).status_code == 200
    state.advance(1)
    assert (await c.get("/v1/customers")).status_code == 200
    state.rate_limits.configure(None)


async def test_faults_and_request_log(c: httpx.AsyncClient, state: StripeState) -> None:
    state.controls.inject(Fault("status", status=429, headers={"Retry-After": "2"}, path_prefix="/v1/charges"))
    state.controls.inject(Fault("html", path_prefix="/v1/balance"))
    assert (await c.get("/v1/charges")).headers["retry-after"] == "2"
    assert (await c.get("/v1/balance")).text.startswith("<!DOCTYPE html>")
    assert (await c.get("/v1/charges")).status_code == 200
    await c.post("/v1/customers", data={"email": "log@x.io"})
    [entry] = state.controls.requests("POST", "/v1/customers")
    assert entry.body == b"email=log%40x.io" and entry.status == 200
