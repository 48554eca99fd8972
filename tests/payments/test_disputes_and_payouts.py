"""Disputes, ACH returns and payouts end to end: the Stripe sandbox opens and closes disputes and pays out, its
signed webhooks reach the app, and the worker re-reads each object and updates payments' invoices, the dispute
and payout rows, and the ledger, once whatever the order or number of deliveries."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from litestar.testing import AsyncTestClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.ids import new_id
from domain.invoices import InvoiceStatus
from domain.ledger import Balances
from domain.pagination import PageRequest
from domain.payments import Allocation, MethodKind, Payment, PaymentStatus, RecoveryPoint
from domain.usecases import disputes as disputes_uc
from domain.usecases import payments as pay_uc
from domain.usecases.disputes import Dispute, TakenBack
from domain.usecases.payouts import Payout
from sandbox.router import SandboxRouter
from sandbox.stripe_sandbox import StripeState
from tests.integration.outbox_support import Queue, queue
from tests.payments.support import Shop, shop
from tests.payments.test_stripe_webhooks import _drain

__all__ = ["queue"]  # the fixture, imported for these tests
USD = "USD"
DISPUTE_FEE = 1_500  # the sandbox's, as Stripe's


class World:
    """One test's shop, with the webhooks delivered and the worker run on demand."""

    def __init__(self, s: Shop, client: AsyncTestClient[Any], q: Queue, vendors: SandboxRouter) -> None:
        self.s, self.client, self.q, self.vendors = s, client, q, vendors

    async def status(self, payment: Payment) -> PaymentStatus:
        async with self.s.uow() as uow:
            found = await uow.payments.get(payment.id)
        assert found is not None
        return found.status

    async def hooks(self, order: str = "fifo") -> None:
        await self.s.stripe.webhooks.flush(order=order, client=self.client)
        await _drain(self.q, self.s.engine, self.vendors, self.s.stripe)

    async def pay(self, token: str, amount: int, kind: str = "card") -> tuple[Payment, Any]:
        buyer = await self.s.new_client()
        method = await self.s.save_method(buyer, token, kind)
        invoice = await self.s.new_invoice(buyer, amount)
        request = self.s.pay_request(buyer, (invoice.id, amount), method_id=method.id)
        payment = await pay_uc.pay(self.s.uow, self.s.gateway(), self.s.principal, self.s.clock, request, None)
        return payment, invoice

    async def balances(self) -> Balances:
        async with self.s.uow() as uow:
            stored, recomputed = await uow.ledger.balances(), await uow.ledger.recomputed_balances()
        assert {k: v for k, v in stored.items() if v} == {k: v for k, v in recomputed.items() if v}
        return stored

    async def disputes(self) -> list[Dispute]:
        async with self.s.uow() as uow:
            return (await uow.disputes_payouts.disputes(PageRequest())).items

    async def payouts(self) -> list[Payout]:
        async with self.s.uow() as uow:
            listed = (await uow.disputes_payouts.payouts(PageRequest())).items
            return [p for p in [await uow.disputes_payouts.payout(x.id) for x in listed] if p]

    async def count(self, sql: str) -> int:
        async with self.s.uow() as uow:
            return int((await uow.conn.execute(text(sql))).scalar_one())

    async def events(self, kind: str) -> int:
        return await self.count(f"SELECT count(*) FROM outbox WHERE event_type = '{kind}'")


async def _world(
    engine: AsyncEngine, name: str, stripe: StripeState, client: AsyncTestClient[Any], q: Queue, v: SandboxRouter
) -> World:
    s = await shop(engine, name, stripe)
    await stripe.webhooks.flush(client=client)  # whatever earlier tests left queued
    return World(s, client, q, v)


def _bal(b: Balances, account: str) -> int:
    return b.get((account, USD), 0)


async def test_a_lost_chargeback_reopens_the_invoice_and_puts_receivables_back(
    engine: AsyncEngine, client: AsyncTestClient[Any], stripe_sandbox: StripeState, queue: Queue,
    vendors: SandboxRouter,
) -> None:  # fmt: skip
    w = await _world(engine, "Dispute lost MSP", stripe_sandbox, client, queue, vendors)
    payment, invoice = await w.pay("pm_card_createDispute", 40_000)
    assert payment.status is PaymentStatus.SUCCEEDED
    await w.hooks()  # the payment's events and charge.dispute.created / funds_withdrawn

    [opened] = await w.disputes()
    assert (opened.payment_id, opened.amount, opened.fee, opened.status) == (payment.id, 40_000, DISPUTE_FEE,
                                                                              "needs_response")  # fmt: skip
    b = await w.balances()
    assert (_bal(b, "disputes"), _bal(b, "dispute_fees"), _bal(b, "accounts_receivable")) == (40_000, DISPUTE_FEE, 0)
    assert (await w.s.invoice(invoice.id)).status is InvoiceStatus.PAID  # still paid while the dispute is open
    assert await w.status(payment) is PaymentStatus.DISPUTED
    assert await w.events(disputes_uc.PAYMENT_DISPUTED) == 1

    stripe_sandbox.close_dispute(opened.stripe_dispute_id, account=w.s.account, won=False)
    await w.hooks()
    [lost] = await w.disputes()
    assert (lost.id, lost.status) == (opened.id, "lost")
    assert await w.status(payment) is PaymentStatus.DISPUTE_LOST
    reopened = await w.s.invoice(invoice.id)
    assert (reopened.amount_paid, reopened.balance, reopened.status) == (0, 40_000, InvoiceStatus.OPEN)
    b = await w.balances()
    assert (_bal(b, "accounts_receivable"), _bal(b, "disputes"), _bal(b, "dispute_losses")) == (40_000, 0, 0)
    assert await w.events(disputes_uc.INVOICE_PAYMENT_REVERSED) == 1
    assert await w.events(disputes_uc.DISPUTE_LOST) == 1


async def test_a_won_chargeback_reinstates_the_funds_and_leaves_the_invoice_paid(
    engine: AsyncEngine, client: AsyncTestClient[Any], stripe_sandbox: StripeState, queue: Queue,
    vendors: SandboxRouter,
) -> None:  # fmt: skip
    w = await _world(engine, "Dispute won MSP", stripe_sandbox, client, queue, vendors)
    payment, invoice = await w.pay("pm_card_createDispute", 25_000)
    await w.hooks()
    [opened] = await w.disputes()
    assert opened.payment_id == payment.id
    assert await w.status(payment) is PaymentStatus.DISPUTED
    before = await w.balances()
    stripe_sandbox.close_dispute(opened.stripe_dispute_id, account=w.s.account, won=True)
    await w.hooks()

    [won] = await w.disputes()
    assert won.status == "won"
    assert await w.status(payment) is PaymentStatus.SUCCEEDED  # the money is back: collected again
    after = await w.balances()
    assert _bal(after, "disputes") == 0
    assert _bal(after, "stripe_clearing") == _bal(before, "stripe_clearing") + 25_000
    assert _bal(after, "dispute_fees") == DISPUTE_FEE  # Stripe keeps the fee of a won dispute (in the US)
    final = await w.s.invoice(invoice.id)
    assert (final.status, final.amount_paid) == (InvoiceStatus.PAID, 25_000)
    assert await w.events(disputes_uc.DISPUTE_WON) == 1
    assert await w.events(disputes_uc.INVOICE_PAYMENT_REVERSED) == 0


async def test_dispute_events_duplicated_and_out_of_order_change_nothing_twice(
    engine: AsyncEngine, client: AsyncTestClient[Any], stripe_sandbox: StripeState, queue: Queue,
    vendors: SandboxRouter,
) -> None:  # fmt: skip
    w = await _world(engine, "Dispute replay MSP", stripe_sandbox, client, queue, vendors)
    payment, invoice = await w.pay("pm_card_createDispute", 12_345)
    [dp] = [d for d in stripe_sandbox.partition(w.s.account).table("dispute").objects.values()]
    stripe_sandbox.close_dispute(dp["id"], account=w.s.account, won=False)
    await w.hooks(order="reverse")  # closed before created, the payment's own events last

    events = [e for e in stripe_sandbox.partition(w.s.account).table("event").objects.values()
              if e["type"].startswith("charge.dispute.")]  # fmt: skip
    for evt in events:  # Stripe sends again: the inbox keeps each event once
        assert (await stripe_sandbox.webhooks.redeliver(evt, client=client)).status == 200
    await _drain(w.q, w.s.engine, w.vendors, w.s.stripe)
    for evt in events:  # a job run twice (arq runs at least once): the handler itself is idempotent
        async with w.s.uow() as uow:
            payload = await uow.conn.execute(
                text("SELECT payload::text FROM stripe_events WHERE event_id = :e"), {"e": evt["id"]}
            )
            body = json.loads(payload.scalar_one())
        await disputes_uc.on_dispute_event(w.s.uow, w.s.gateway(), w.s.clock, body)

    [lost] = await w.disputes()
    assert lost.status == "lost"
    # The payment's own `payment_intent.succeeded`, delivered after the loss (and again), does not undo it.
    assert await w.status(payment) is PaymentStatus.DISPUTE_LOST
    assert await w.count("SELECT count(*) FROM ledger_transactions WHERE kind LIKE 'dispute_%'") == 2
    final = await w.s.invoice(invoice.id)
    assert (final.amount_paid, final.status) == (0, InvoiceStatus.OPEN)
    assert await w.events(disputes_uc.INVOICE_PAYMENT_REVERSED) == 1
    b = await w.balances()
    assert (_bal(b, "accounts_receivable"), _bal(b, "disputes")) == (12_345, 0)


async def test_an_ach_debit_returned_after_it_settled_reopens_the_invoice(
    engine: AsyncEngine, client: AsyncTestClient[Any], stripe_sandbox: StripeState, queue: Queue,
    vendors: SandboxRouter,
) -> None:  # fmt: skip
    w = await _world(engine, "ACH late return MSP", stripe_sandbox, client, queue, vendors)
    payment, invoice = await w.pay("pm_usBankAccount_dispute", 60_000, "us_bank_account")
    assert payment.status is PaymentStatus.PROCESSING
    stripe_sandbox.advance_ach(payment.stripe_payment_intent_id)  # settles, then the bank returns it
    await w.hooks(order="reverse")  # the return's events overtake the settlement's

    assert await w.status(payment) is PaymentStatus.RETURNED  # it did settle, then the bank took it back
    [returned] = await w.disputes()
    assert returned.stripe_dispute_id.startswith("du_") and returned.status == "lost"
    final = await w.s.invoice(invoice.id)
    assert (final.amount_paid, final.status) == (0, InvoiceStatus.OPEN)
    b = await w.balances()
    assert (_bal(b, "accounts_receivable"), _bal(b, "disputes")) == (60_000, 0)
    assert _bal(b, "dispute_fees") == DISPUTE_FEE
    assert await w.events(disputes_uc.PAYMENT_RETURNED) == 1
    assert await w.events(disputes_uc.PAYMENT_DISPUTED) == 0


async def test_a_payout_carries_its_payments_and_fees_and_moves_clearing_to_the_bank(
    engine: AsyncEngine, client: AsyncTestClient[Any], stripe_sandbox: StripeState, queue: Queue,
    vendors: SandboxRouter,
) -> None:  # fmt: skip
    w = await _world(engine, "Payout MSP", stripe_sandbox, client, queue, vendors)
    first, _ = await w.pay("pm_card_visa", 30_000)
    second, _ = await w.pay("pm_card_mastercard", 12_500)
    await w.hooks()
    stripe_sandbox.make_funds_available()
    [made] = stripe_sandbox.run_payouts(account=w.s.account, arrive=True)
    await w.hooks()

    [payout] = await w.payouts()
    assert (payout.stripe_payout_id, payout.status, payout.amount) == (made["id"], "paid", made["amount"])
    by_payment = {x.payment_id: x for x in payout.lines}
    assert set(by_payment) == {first.id, second.id}
    assert [by_payment[first.id].gross, by_payment[second.id].gross] == [30_000, 12_500]
    assert all(x.fee > 0 and x.net == x.gross - x.fee and x.kind == "charge" for x in payout.lines)
    assert sum(x.net for x in payout.lines) == payout.amount == payout.gross - payout.fees
    b = await w.balances()
    assert _bal(b, "bank") == payout.amount
    assert _bal(b, "stripe_clearing") == 0  # every payment in, its fee out, the payout out
    assert _bal(b, "processing_fees") == payout.fees
    assert await w.events("payout.paid") == 1
    assert await w.count("SELECT count(*) FROM ledger_transactions WHERE kind = 'payout'") == 1

    # The bank bounces it (the sandbox has no helper for this: Stripe's payout.failed, played by hand).
    with stripe_sandbox.lock:
        op = stripe_sandbox.op(w.s.account)
        po = op.part.require("payout", made["id"])
        po.update(status="failed", failure_code="account_closed")
        op.emit("payout.failed", po, {"status": "paid"})
    await w.hooks()
    [failed] = await w.payouts()
    assert failed.status == "failed"
    b = await w.balances()
    assert (_bal(b, "bank"), _bal(b, "stripe_clearing")) == (0, payout.amount)
    assert await w.events("payout.failed") == 1


async def test_a_payout_that_fails_before_it_was_paid_posts_nothing(
    engine: AsyncEngine, client: AsyncTestClient[Any], stripe_sandbox: StripeState, queue: Queue,
    vendors: SandboxRouter,
) -> None:  # fmt: skip
    w = await _world(engine, "Payout failed MSP", stripe_sandbox, client, queue, vendors)
    await w.pay("pm_card_visa", 8_000)
    await w.hooks()
    stripe_sandbox.make_funds_available()
    [made] = stripe_sandbox.run_payouts(account=w.s.account)  # pending: not arrived
    with stripe_sandbox.lock:
        op = stripe_sandbox.op(w.s.account)
        po = op.part.require("payout", made["id"])
        po.update(status="failed", failure_code="no_account")
        op.emit("payout.failed", po, {"status": "pending"})
    await w.hooks(order="reverse")
    [payout] = await w.payouts()
    assert (payout.status, payout.lines) == ("failed", [])
    b = await w.balances()
    assert _bal(b, "bank") == 0
    assert await w.count("SELECT count(*) FROM ledger_transactions WHERE kind LIKE 'payout%'") == 0


def test_a_partial_dispute_takes_the_surcharge_pro_rata_and_the_rest_from_the_invoices_in_order() -> None:
    a, b, now = new_id(), new_id(), datetime.now(UTC)
    payment = Payment(
        new_id(), new_id(), None, MethodKind.CARD, USD, 10_300, 300, [Allocation(a, 6_000), Allocation(b, 4_000)],
        PaymentStatus.SUCCEEDED, RecoveryPoint.FINISHED, None, "acct", now, now,
    )  # fmt: skip
    split = disputes_uc.split_disputed
    assert split(payment, 10_300) == TakenBack({a: 6_000, b: 4_000}, 300, 0)
    assert split(payment, 7_000) == TakenBack({a: 6_000, b: 796}, 204, 0)  # 300 * 7000 / 10300 = 203.9
    assert split(payment, 1_000) == TakenBack({a: 971}, 29, 0)
