"""The Stripe sandbox through the official `stripe` SDK, over real HTTP (uvicorn on a loopback port):
what production code will send and parse, including Connect OAuth and signed webhooks."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import stripe

from sandbox.common import ASGIApp, Fault, Receive, Scope, Send
from sandbox.stripe_sandbox import StripeState, create_app
from sandbox.stripe_sandbox.server import serve, stripe_client

MANDATE = {"customer_acceptance": {"type": "online", "online": {"ip_address": "198.51.100.7", "user_agent": "sdk"}}}


class Switch:
    """One server for the module; each test plugs in a fresh sandbox state."""

    def __init__(self) -> None:
        self.app: ASGIApp | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert self.app is not None
        await self.app(scope, receive, send)


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[Switch, str]]:
    switch = Switch()
    with serve(switch) as base:
        yield switch, base


@pytest.fixture
def state(served: tuple[Switch, str]) -> StripeState:
    st = StripeState(seed=31)
    served[0].app = create_app(st)
    return st


@pytest.fixture
def base(served: tuple[Switch, str], state: StripeState) -> str:
    return served[1]


@pytest.fixture
def client(base: str, state: StripeState) -> stripe.StripeClient:
    return stripe_client(base, "sk_test_sdk", client_id=state.connect_client_id)


def test_customers_methods_and_auto_paging(client: stripe.StripeClient) -> None:
    cus = client.v1.customers.create(params={"email": "ap@msp.example", "metadata": {"psa_id": "42"}})
    assert cus.id.startswith("cus_") and cus.metadata["psa_id"] == "42"
    pm = client.v1.payment_methods.attach("pm_card_visa", params={"customer": cus.id})
    client.v1.customers.update(cus.id, params={"invoice_settings": {"default_payment_method": pm.id}})
    got = client.v1.customers.retrieve(cus.id, params={"expand": ["invoice_settings.default_payment_method"]})
    default = got.invoice_settings.default_payment_method
    assert isinstance(default, stripe.PaymentMethod) and default.card is not None and default.card.last4 == "4242"
    methods = client.v1.customers.payment_methods.list(cus.id, params={"type": "card"})
    assert [m.id for m in methods.data] == [pm.id]
    for i in range(4):
        client.v1.customers.create(params={"email": f"c{i}@msp.example"})
    seen = [c.id for c in client.v1.customers.list(params={"limit": 2}).auto_paging_iter()]
    assert len(seen) == 5 and len(set(seen)) == 5 and seen[-1] == cus.id


def test_off_session_success_and_declines(client: stripe.StripeClient, state: StripeState) -> None:
    cus = state.seed_customer(
        methods=["pm_card_visa", "pm_card_chargeDeclinedInsufficientFunds", "pm_card_authenticationRequired"]
    )
    visa, nsf, sca = state.partition().customer_pms[cus["id"]]
    params: dict[str, Any] = {
        "amount": 4200,
        "currency": "usd",
        "customer": cus["id"],
        "confirm": True,
        "off_session": True,
    }
    pi = client.v1.payment_intents.create(
        params={**params, "payment_method": visa, "expand": ["latest_charge.balance_transaction"]}
    )
    assert pi.status == "succeeded"
    assert isinstance(pi.latest_charge, stripe.Charge)
    bt = pi.latest_charge.balance_transaction
    assert isinstance(bt, stripe.BalanceTransaction) and bt.fee == 152 and bt.net == 4048
    with pytest.raises(stripe.CardError) as declined:
        client.v1.payment_intents.create(params={**params, "payment_method": nsf})
    err = declined.value
    assert err.http_status == 402 and err.code == "card_declined"
    assert err.error is not None and err.error.decline_code == "insufficient_funds"
    assert err.error.advice_code == "try_again_later"
    assert err.error.payment_intent is not None and err.error.payment_intent.status == "requires_payment_method"
    with pytest.raises(stripe.CardError) as auth:
        client.v1.payment_intents.create(params={**params, "payment_method": sca})
    assert auth.value.code == "authentication_required"


def test_ach_setup_then_processing_then_settled(client: stripe.StripeClient, state: StripeState) -> None:
    cus = client.v1.customers.create(params={"name": "Acme Dental"})
    si = client.v1.setup_intents.create(
        params={
            "customer": cus.id,
            "payment_method": "pm_usBankAccount_success",
            "payment_method_types": ["us_bank_account"],
            "usage": "off_session",
            "confirm": True,
            "mandate_data": MANDATE,
        }
    )
    assert si.status == "succeeded" and si.mandate
    pm_id = str(si.payment_method)
    pi = client.v1.payment_intents.create(
        params={
            "amount": 25_000,
            "currency": "usd",
            "customer": cus.id,
            "payment_method": pm_id,
            "confirm": True,
            "off_session": True,
        }
    )
    assert pi.status == "processing"
    state.advance_ach()
    settled = client.v1.payment_intents.retrieve(pi.id, params={"expand": ["latest_charge.balance_transaction"]})
    assert settled.status == "succeeded"
    assert isinstance(settled.latest_charge, stripe.Charge)
    assert isinstance(settled.latest_charge.balance_transaction, stripe.BalanceTransaction)
    assert settled.latest_charge.balance_transaction.fee == 200


def test_idempotency_through_the_sdk(client: stripe.StripeClient) -> None:
    params: dict[str, Any] = {"amount": 1000, "currency": "usd", "payment_method": "pm_card_visa", "confirm": True}
    first = client.v1.payment_intents.create(params=params, options={"idempotency_key": "attempt-1"})
    again = client.v1.payment_intents.create(params=params, options={"idempotency_key": "attempt-1"})
    assert again.id == first.id
    assert again.last_response is not None and again.last_response.headers["idempotent-replayed"] == "true"
    with pytest.raises(stripe.IdempotencyError):
        client.v1.payment_intents.create(params={**params, "amount": 2000}, options={"idempotency_key": "attempt-1"})


def test_errors_map_to_sdk_exceptions(base: str, client: stripe.StripeClient, state: StripeState) -> None:
    with pytest.raises(stripe.AuthenticationError):
        stripe_client(base, "sk_live_nope").v1.customers.list()
    with pytest.raises(stripe.InvalidRequestError) as missing:
        client.v1.customers.retrieve("cus_missing")
    assert missing.value.code == "resource_missing" and missing.value.http_status == 404
    state.controls.clock.freeze()
    state.rate_limits.configure(1)
    client.v1.customers.list()
    with pytest.raises(stripe.RateLimitError):
        client.v1.customers.list()
    state.rate_limits.configure(None)
    state.controls.inject(Fault("malformed"))
    with pytest.raises(stripe.APIError):
        client.v1.customers.list()


def test_connect_direct_charge_with_application_fee(client: stripe.StripeClient, state: StripeState) -> None:
    acct = state.seed_account(name="Northwind IT")
    cus = client.v1.customers.create(params={"email": "x@nw.example"}, options={"stripe_account": acct})
    pm = client.v1.payment_methods.attach("pm_card_visa", params={"customer": cus.id}, options={"stripe_account": acct})
    pi = client.v1.payment_intents.create(
        params={
            "amount": 10_000,
            "currency": "usd",
            "customer": cus.id,
            "payment_method": pm.id,
            "confirm": True,
            "off_session": True,
            "application_fee_amount": 300,
        },
        options={"stripe_account": acct},
    )
    assert pi.status == "succeeded" and pi.application_fee_amount == 300
    fees = client.v1.application_fees.list()
    assert [f.amount for f in fees.data] == [300] and fees.data[0].account == acct
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.customers.retrieve(cus.id)  # lives on the connected account only


def test_refund_payout_and_its_transactions(client: stripe.StripeClient, state: StripeState) -> None:
    pi = client.v1.payment_intents.create(
        params={"amount": 5000, "currency": "usd", "payment_method": "pm_card_visa", "confirm": True}
    )
    refund = client.v1.refunds.create(params={"payment_intent": pi.id, "amount": 500})
    assert refund.status == "succeeded" and refund.amount == 500
    state.make_funds_available()
    [po] = state.run_payouts(arrive=True)
    payout = client.v1.payouts.retrieve(po["id"])
    assert payout.status == "paid" and payout.amount == 5000 - 175 - 500
    txns = client.v1.balance_transactions.list(params={"payout": payout.id})
    assert sorted(t.type for t in txns.data) == ["charge", "payout", "refund"]
    events = client.v1.events.list(params={"type": "payout.reconciliation_completed"})
    assert [e.data.object["id"] for e in events.data] == [payout.id]


# --- Connect OAuth ---------------------------------------------------------------------------------------


def test_oauth_consent_token_use_and_deauthorize(base: str, client: stripe.StripeClient, state: StripeState) -> None:
    url = client.oauth.authorize_url(
        params={"scope": "read_write", "state": "csrf-123", "redirect_uri": "https://app.example/cb"}
    )
    assert url.startswith(base + "/oauth/authorize?")
    with httpx.Client(base_url=base) as web:
        page = web.get(url)
        assert page.status_code == 200 and "<form" in page.text and "csrf-123" in page.text
        form = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
        denied = web.post("/oauth/authorize/decision", data={**form, "decision": "deny"})
        assert parse_qs(urlsplit(denied.headers["location"]).query)["error"] == ["access_denied"]
        allowed = web.post("/oauth/authorize/decision", data={**form, "decision": "allow"})
    assert allowed.status_code == 302
    target = urlsplit(allowed.headers["location"])
    query = parse_qs(target.query)
    assert target.netloc == "app.example" and query["state"] == ["csrf-123"] and query["scope"] == ["read_write"]
    token = client.oauth.token(params={"grant_type": "authorization_code", "code": query["code"][0]})
    acct = token.stripe_user_id
    assert token.token_type == "bearer" and token.access_token.startswith("sk_test_") and acct.startswith("acct_")
    assert token.scope == "read_write" and token.livemode is False
    with pytest.raises(stripe.oauth_error.InvalidGrantError):
        client.oauth.token(params={"grant_type": "authorization_code", "code": query["code"][0]})
    as_account = stripe_client(base, token.access_token)
    with pytest.raises(stripe.AuthenticationError):  # replaying the code revoked what it issued
        as_account.v1.customers.create(params={})
    refreshed = client.oauth.token(params={"grant_type": "refresh_token", "refresh_token": token.refresh_token})
    as_account = stripe_client(base, refreshed.access_token)
    cus = as_account.v1.customers.create(params={"email": "owner@std.example"})
    assert state.get("customer", cus.id, account=acct)["email"] == "owner@std.example"
    assert client.v1.customers.retrieve(cus.id, options={"stripe_account": acct}).id == cus.id
    assert state.events("account.application.authorized", account=acct)
    gone = client.oauth.deauthorize(params={"stripe_user_id": acct})
    assert gone.stripe_user_id == acct
    with pytest.raises(stripe.AuthenticationError):
        as_account.v1.customers.list()
    with pytest.raises(stripe.PermissionError):  # 403: the platform may no longer act for it
        client.v1.customers.list(options={"stripe_account": acct})
    with pytest.raises(stripe.oauth_error.InvalidClientError):
        client.oauth.deauthorize(params={"stripe_user_id": acct})
    assert state.events("account.application.deauthorized", account=acct)


def test_oauth_auto_approve(base: str, client: stripe.StripeClient, state: StripeState) -> None:
    state.oauth_auto_approve = True
    url = client.oauth.authorize_url(
        params={"scope": "read_write", "state": "s1", "redirect_uri": "https://app.example/cb"}
    )
    with httpx.Client() as web:
        r = web.get(url)
    assert r.status_code == 302 and "code=ac_" in r.headers["location"]
    helper = state.oauth_authorize("https://app.example/cb", state="s2")
    code = parse_qs(urlsplit(helper).query)["code"][0]
    assert client.oauth.token(params={"grant_type": "authorization_code", "code": code}).stripe_user_id.startswith(
        "acct_"
    )
    with pytest.raises(stripe.oauth_error.InvalidGrantError):
        client.oauth.token(params={"grant_type": "authorization_code", "code": "ac_bogus"})


# --- webhooks ---------------------------------------------------------------------------------------------


class Receiver:
    """A webhook endpoint that verifies exactly as production will: stripe.Webhook.construct_event."""

    def __init__(self, secret: str) -> None:
        self.secret = secret
        self.events: list[stripe.Event] = []
        self.rejected = 0
        self.down = 0  # answer 503 to this many requests first

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = b""
        while True:
            msg = await receive()
            body += msg.get("body", b"")
            if not msg.get("more_body"):
                break
        headers = dict(scope["headers"])
        if self.down > 0:
            self.down -= 1
            await send({"type": "http.response.start", "status": 503, "headers": []})
            await send({"type": "http.response.body", "body": b""})
            return
        try:
            self.events.append(stripe.Webhook.construct_event(body, headers[b"stripe-signature"].decode(), self.secret))
            status = 200
        except stripe.SignatureVerificationError:
            self.rejected += 1
            status = 400
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": b""})


async def test_webhooks_signed_as_stripe_signs(state: StripeState) -> None:
    ep = state.add_webhook_endpoint("https://hooks.example/stripe")
    receiver = Receiver(ep.secret)
    state.webhooks.transport = httpx.ASGITransport(app=receiver)
    state.seed_customer(methods=["pm_card_visa"])
    deliveries = await state.webhooks.flush()
    assert deliveries and all(d.ok for d in deliveries) and receiver.rejected == 0
    assert [e.type for e in receiver.events] == [e["type"] for e in state.events()]
    assert all(e["pending_webhooks"] == 0 for e in state.events())
    evt = state.partition().table("event").newest_first().__next__()
    assert (await state.webhooks.deliver(evt, ep, secret="whsec_wrong")).status == 400
    assert (await state.webhooks.deliver(evt, ep, stale_by=301)).status == 400
    assert (await state.webhooks.deliver(evt, ep, stale_by=200)).status == 200
    rotated = await state.webhooks.deliver(evt, ep, secret="whsec_old", extra_secrets=[ep.secret])
    assert rotated.ok and rotated.signature.count("v1=") == 2
    dup = await state.webhooks.redeliver(evt)
    assert dup.ok and [e.id for e in receiver.events].count(evt["id"]) >= 2  # duplicates are normal
    assert receiver.rejected == 2


async def test_webhook_order_connect_endpoints_and_real_http(state: StripeState) -> None:
    acct = state.seed_account()
    platform_ep = state.add_webhook_endpoint("http://placeholder/platform", events=["customer.created"])
    connect_ep = state.add_webhook_endpoint("http://placeholder/connect", connect=True)
    receiver = Receiver(connect_ep.secret)
    with serve(receiver) as hook_base:
        connect_ep.url = hook_base + "/hooks"
        platform_ep.url = hook_base + "/platform"
        state.seed_customer(methods=["pm_card_visa"], account=acct)
        state.seed_customer(methods=[])
        queued = [evt["id"] for ep, evt in state.webhooks.pending if ep is connect_ep]
        deliveries = await state.webhooks.flush(order="reverse")
    assert [d.event_id for d in deliveries if d.endpoint_id == connect_ep.id] == queued[::-1]
    assert {e.account for e in receiver.events} == {acct}  # Connect events name the account
    platform = [d for d in deliveries if d.endpoint_id == platform_ep.id]
    assert [d.event_type for d in platform] == ["customer.created"] and platform[0].status == 400  # other secret


async def test_failed_deliveries_are_retried_with_backoff(state: StripeState) -> None:
    ep = state.add_webhook_endpoint("https://hooks.example/stripe")
    receiver = Receiver(ep.secret)
    receiver.down = 2
    state.webhooks.transport = httpx.ASGITransport(app=receiver)
    state.seed_customer(methods=[])
    [first] = await state.webhooks.flush()
    assert first.status == 503 and state.events()[0]["pending_webhooks"] == 1
    assert await state.webhooks.flush() == []  # the retry is not due yet
    state.advance(60)
    [second] = await state.webhooks.flush()
    assert second.status == 503
    state.advance(60)
    assert await state.webhooks.flush() == []  # backoff doubled to two minutes
    state.advance(60)
    [third] = await state.webhooks.flush()
    assert third.ok and [e.type for e in receiver.events] == ["customer.created"]
    assert state.events()[0]["pending_webhooks"] == 0 and state.webhooks.retries == []


async def test_webhook_endpoints_api(client: stripe.StripeClient, state: StripeState) -> None:
    acct = state.seed_account()
    ep = client.v1.webhook_endpoints.create(
        params={"url": "https://hooks.example/a", "enabled_events": ["charge.succeeded"]}
    )
    assert ep.secret and ep.secret.startswith("whsec_") and ep.status == "enabled"
    assert "secret" not in client.v1.webhook_endpoints.retrieve(ep.id).to_dict()  # shown once, at creation
    own = client.v1.webhook_endpoints.create(
        params={"url": "https://hooks.example/b", "enabled_events": ["*"]}, options={"stripe_account": acct}
    )
    receiver = Receiver(str(ep.secret))
    state.webhooks.transport = httpx.ASGITransport(app=receiver)
    client.v1.payment_intents.create(
        params={"amount": 900, "currency": "usd", "payment_method": "pm_card_visa", "confirm": True}
    )
    client.v1.customers.create(params={}, options={"stripe_account": acct})
    deliveries = await state.webhooks.flush()
    assert [(d.endpoint_id, d.event_type) for d in deliveries] == [
        (ep.id, "charge.succeeded"),
        (own.id, "customer.created"),
    ]
    assert [e.type for e in receiver.events] == ["charge.succeeded"]
    client.v1.webhook_endpoints.update(ep.id, params={"disabled": True})
    client.v1.payment_intents.create(
        params={"amount": 900, "currency": "usd", "payment_method": "pm_card_visa", "confirm": True}
    )
    assert await state.webhooks.flush() == []
    assert client.v1.webhook_endpoints.delete(own.id, options={"stripe_account": acct}).deleted is True
    assert [e.id for e in client.v1.webhook_endpoints.list().data] == [ep.id]
