"""Surcharges on payments: quoted (with the disclosure) before paying, checked again when paying, never where
the rules forbid them."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.auth.clients import create_api_client
from domain.auth import ALL_SCOPES
from domain.errors import ValidationFailed
from domain.payments import PaymentStatus
from domain.surcharge import SurchargeNotAllowed, SurchargePolicy
from domain.usecases import payments as pay_uc
from domain.usecases import surcharges
from sandbox.stripe_sandbox import StripeState
from tests.conftest import Api, TenantCreds, token_for
from tests.payments.support import Shop, shop


async def _opt_in(s: Shop) -> None:
    policy = SurchargePolicy(
        enabled=True, rate_bps=300, cost_of_acceptance_bps=350, notice_given_on=date.today() - timedelta(days=45)
    )
    async with s.uow() as uow:
        await surcharges.set_policy(uow, s.principal, s.clock, policy)
        await uow.commit()


async def test_a_quoted_surcharge_is_charged_on_a_credit_card(engine: AsyncEngine) -> None:
    s = await shop(engine, "Surcharging MSP")
    await _opt_in(s)
    client = await s.new_client(state="TX")
    card = await s.save_method(client)
    invoice = await s.new_invoice(client, 20_000)
    async with s.uow() as uow:
        quote = await surcharges.quote(uow, s.principal, s.clock, client, card.id, 20_000, "USD")
    assert quote.decision.amount == 600 and quote.disclosure and "3%" in quote.disclosure
    assert [line.kind for line in quote.receipt] == ["payment", "surcharge", "total"]
    request = s.pay_request(client, (invoice.id, 20_000))
    payment = await pay_uc.pay(
        s.uow, s.gateway(), s.principal, s.clock, type(request)(**{**request.__dict__, "surcharge": 600}), "sur-1"
    )
    assert payment.status is PaymentStatus.SUCCEEDED and (payment.amount, payment.surcharge) == (20_600, 600)
    intent = s.stripe.partition(s.account).table("payment_intent").objects[str(payment.stripe_payment_intent_id)]
    assert intent["amount"] == 20_600
    assert (await s.invoice(invoice.id)).balance == 0  # the surcharge is not part of the invoice


@pytest.mark.parametrize(
    ("state", "token"),
    [("TX", "pm_card_visa_debit"), ("CT", "pm_card_visa")],
    ids=["debit card", "payer in a banned state"],
)
async def test_a_surcharge_where_the_rules_forbid_it_is_refused_and_nothing_happens(
    engine: AsyncEngine, state: str, token: str
) -> None:
    s = await shop(engine, f"Forbidden surcharge MSP {state}")
    await _opt_in(s)
    client = await s.new_client(state=state)
    await s.save_method(client, token)
    invoice = await s.new_invoice(client, 10_000)
    request = s.pay_request(client, (invoice.id, 10_000))
    with pytest.raises(SurchargeNotAllowed):
        await pay_uc.pay(
            s.uow, s.gateway(), s.principal, s.clock, type(request)(**{**request.__dict__, "surcharge": 300}), "x"
        )
    assert (await s.invoice(invoice.id)).balance == 10_000
    assert not [r for r in s.stripe.controls.log if r.path == "/v1/payment_intents"]


async def test_a_surcharge_that_no_longer_matches_the_quote_is_refused(engine: AsyncEngine) -> None:
    s = await shop(engine, "Stale quote MSP")
    await _opt_in(s)
    client = await s.new_client(state="TX")
    await s.save_method(client)
    invoice = await s.new_invoice(client, 10_000)
    request = s.pay_request(client, (invoice.id, 10_000))
    with pytest.raises(ValidationFailed):
        await pay_uc.pay(
            s.uow, s.gateway(), s.principal, s.clock, type(request)(**{**request.__dict__, "surcharge": 299}), "y"
        )
    plain = await pay_uc.pay(s.uow, s.gateway(), s.principal, s.clock, request, "z")  # no surcharge accepted
    assert plain.surcharge == 0 and plain.amount == 10_000


async def test_the_surcharge_api_quotes_and_the_payment_carries_the_accepted_surcharge(
    engine: AsyncEngine, client: AsyncTestClient[Any], stripe_sandbox: StripeState
) -> None:
    s = await shop(engine, "Surcharge API MSP", stripe_sandbox)
    made = await create_api_client(engine, s.tenant_id, "surcharge tests", ALL_SCOPES)
    creds = TenantCreds(s.tenant_id, made.client_id, made.client_secret)
    api = Api(client, creds, await token_for(client, creds))
    policy = {"enabled": True, "rate_bps": 300, "cost_of_acceptance_bps": 350,
              "notice_given_on": (date.today() - timedelta(days=40)).isoformat()}  # fmt: skip
    r = await api.client.put("/v1/payments/surcharge-policy", json=policy, headers=api.headers)
    assert r.status_code == 200, r.text
    buyer = await s.new_client(state="TX")
    card = await s.save_method(buyer)
    invoice = await s.new_invoice(buyer, 10_000)
    quote = await api.post(
        "/v1/payments/surcharge-quote",
        json={"client_id": str(buyer), "payment_method_id": str(card.id), "amount": 10_000, "currency": "USD"},
    )
    assert quote.status_code == 200, quote.text
    q = quote.json()
    assert (q["surcharge"], q["total"], q["reason"]) == (300, 10_300, "ok") and "3%" in q["disclosure"]
    body = {"client_id": str(buyer), "currency": "USD", "surcharge": q["surcharge"],
            "invoices": [{"invoice_id": str(invoice.id), "amount": 10_000}]}  # fmt: skip
    paid = await api.client.post("/v1/payments", json=body, headers={**api.headers, "Idempotency-Key": "s-api"})
    assert paid.status_code == 201, paid.text
    assert (paid.json()["amount"], paid.json()["surcharge"]) == (10_300, 300)
    debit = await s.save_method(buyer, "pm_card_visa_debit")
    refused = await api.client.post(
        "/v1/payments",
        json={**body, "payment_method_id": str(debit.id), "invoices": [{"invoice_id": str(invoice.id), "amount": 1}]},
        headers={**api.headers, "Idempotency-Key": "s-api-debit"},
    )
    assert refused.status_code in (422,), refused.text
