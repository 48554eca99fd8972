"""Stripe's webhooks end to end: signed deliveries from the Stripe sandbox to the app, kept once, acted on by
a worker that re-reads the PaymentIntent."""

from __future__ import annotations

from typing import Any

from litestar.testing import AsyncTestClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.queue.relay import relay_once
from domain.invoices import InvoiceStatus
from domain.payments import PaymentStatus
from domain.usecases import payments as pay_uc
from sandbox.router import SandboxRouter
from sandbox.stripe_sandbox import StripeState
from tests.conftest import app_settings
from tests.integration.outbox_support import Queue, queue, run_burst_worker
from tests.payments.support import Shop, shop

HOOK = "/v1/webhooks/stripe"
__all__ = ["queue"]  # the fixture, imported for these tests


async def _drain(q: Queue, engine: AsyncEngine, vendors: SandboxRouter, stripe: StripeState) -> None:
    ctx = {"settings": app_settings(q.settings, stripe), "run_relay": False, "vendor_transport": vendors}
    for _ in range(4):
        if await relay_once(engine, q.redis, q.name) == 0:
            return
        worker = await run_burst_worker(q, ctx=ctx)
        assert worker.jobs_failed == 0 and worker.jobs_retried == 0


async def _inbox(s: Shop) -> int:
    async with s.uow() as uow:
        return int((await uow.conn.execute(text("SELECT count(*) FROM stripe_events"))).scalar_one())


async def _deliver(stripe: StripeState, client: AsyncTestClient[Any]) -> list[Any]:
    return await stripe.webhooks.flush(client=client)  # type: ignore[no-any-return]


async def test_forged_and_stale_signatures_are_refused_and_nothing_is_kept(
    engine: AsyncEngine, client: AsyncTestClient[Any], stripe_sandbox: StripeState
) -> None:
    s = await shop(engine, "Forged MSP", stripe_sandbox)
    await _deliver(stripe_sandbox, client)  # whatever earlier tests left queued
    buyer = await s.new_client()
    await s.save_method(buyer)
    event = next(e for e in stripe_sandbox.partition(s.account).table("event").objects.values())
    endpoint = stripe_sandbox.webhooks.endpoints[-1]
    forged = await stripe_sandbox.webhooks.deliver(event, endpoint, client=client, secret="whsec_not_ours")
    stale = await stripe_sandbox.webhooks.deliver(event, endpoint, client=client, stale_by=3600)
    assert (forged.status, stale.status) == (400, 400)
    assert await _inbox(s) == 0
    genuine = await stripe_sandbox.webhooks.deliver(event, endpoint, client=client)
    again = await stripe_sandbox.webhooks.deliver(event, endpoint, client=client)  # a redelivery
    assert (genuine.status, again.status) == (200, 200)
    assert await _inbox(s) == 1


async def test_an_ach_payment_settles_through_the_webhook(
    engine: AsyncEngine, client: AsyncTestClient[Any], stripe_sandbox: StripeState, queue: Queue,
    vendors: SandboxRouter,
) -> None:  # fmt: skip
    s = await shop(engine, "ACH webhook MSP", stripe_sandbox)
    buyer = await s.new_client()
    await s.save_method(buyer, "pm_usBankAccount_success", "us_bank_account")
    invoice = await s.new_invoice(buyer, 75_000)
    payment = await pay_uc.pay(
        s.uow, s.gateway(), s.principal, s.clock, s.pay_request(buyer, (invoice.id, 75_000)), "a"
    )
    assert payment.status is PaymentStatus.PROCESSING
    stripe_sandbox.advance_ach(payment.stripe_payment_intent_id)
    await _deliver(stripe_sandbox, client)
    await _drain(queue, engine, vendors, stripe_sandbox)
    async with s.uow() as uow:
        settled = await uow.payments.get(payment.id)
    assert settled is not None and settled.status is PaymentStatus.SUCCEEDED
    assert (await s.invoice(invoice.id)).status is InvoiceStatus.PAID


async def test_an_ach_return_fails_the_payment_and_releases_the_invoice(
    engine: AsyncEngine, client: AsyncTestClient[Any], stripe_sandbox: StripeState, queue: Queue,
    vendors: SandboxRouter,
) -> None:  # fmt: skip
    s = await shop(engine, "ACH return MSP", stripe_sandbox)
    buyer = await s.new_client()
    await s.save_method(buyer, "pm_usBankAccount_insufficientFunds", "us_bank_account")
    invoice = await s.new_invoice(buyer, 30_000)
    payment = await pay_uc.pay(
        s.uow, s.gateway(), s.principal, s.clock, s.pay_request(buyer, (invoice.id, 30_000)), "r"
    )
    assert payment.status is PaymentStatus.PROCESSING
    stripe_sandbox.advance_ach(payment.stripe_payment_intent_id)
    await _deliver(stripe_sandbox, client)
    await _drain(queue, engine, vendors, stripe_sandbox)
    async with s.uow() as uow:
        returned = await uow.payments.get(payment.id)
        held = await uow.payments.held([invoice.id])
    assert returned is not None and returned.status is PaymentStatus.FAILED
    assert returned.failure_code  # the return reason, as Stripe gives it
    assert held == {} and (await s.invoice(invoice.id)).balance == 30_000


async def test_a_webhook_that_arrives_before_the_api_call_returns_is_applied_once(
    engine: AsyncEngine, client: AsyncTestClient[Any], stripe_sandbox: StripeState, queue: Queue,
    vendors: SandboxRouter,
) -> None:  # fmt: skip
    s = await shop(engine, "Early webhook MSP", stripe_sandbox)
    buyer = await s.new_client()
    await s.save_method(buyer)
    invoice = await s.new_invoice(buyer, 9_900)
    inner = s.gateway()

    class _SlowToReturn:
        async def charge(self, request: Any) -> Any:
            outcome = await inner.charge(request)
            await _deliver(stripe_sandbox, client)  # Stripe's webhook lands first...
            await _drain(queue, engine, vendors, stripe_sandbox)  # ...and a worker acts on it
            return outcome

        async def intent(self, account: str, intent_id: str) -> Any:
            return await inner.intent(account, intent_id)

    payment = await pay_uc.pay(
        s.uow, _SlowToReturn(), s.principal, s.clock, s.pay_request(buyer, (invoice.id, 9_900)), "early"
    )
    assert payment.status is PaymentStatus.SUCCEEDED
    final = await s.invoice(invoice.id)
    assert final.amount_paid == 9_900 and final.status is InvoiceStatus.PAID
    async with s.uow() as uow:
        applied = (
            await uow.conn.execute(
                text("SELECT count(*) FROM outbox WHERE event_type IN ('invoice.paid', 'invoice.payment_applied')")
            )
        ).scalar_one()
    assert applied == 1
