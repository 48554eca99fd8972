"""Fixtures and helpers of the Stripe sandbox payment tests (test_stripe_payments.py, test_stripe_setup_and_ach.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from sandbox.stripe_sandbox import StripeState, create_app

KEY = {"Authorization": "Bearer sk_test_payments"}
ACCEPT = {
    "mandate_data[customer_acceptance][type]": "online",
    "mandate_data[customer_acceptance][online][ip_address]": "203.0.113.9",
    "mandate_data[customer_acceptance][online][user_agent]": "pytest",
}


@pytest.fixture
def state() -> StripeState:
    return StripeState(seed=11)


@pytest.fixture
async def c(state: StripeState) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(state))
    async with httpx.AsyncClient(transport=transport, base_url="http://stripe.test", headers=KEY) as client:
        yield client


async def off_session(
    c: httpx.AsyncClient, customer: str, pm: str, amount: int = 10_000, **extra: str
) -> httpx.Response:
    data = {
        "amount": str(amount),
        "currency": "usd",
        "customer": customer,
        "payment_method": pm,
        "confirm": "true",
        "off_session": "true",
        **extra,
    }
    return await c.post("/v1/payment_intents", data=data)


def saved(state: StripeState, token: str, account: str | None = None) -> tuple[str, str]:
    cus = state.seed_customer(methods=[token], account=account)
    return cus["id"], cus["invoice_settings"]["default_payment_method"]
