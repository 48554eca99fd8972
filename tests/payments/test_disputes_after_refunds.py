"""A dispute on a payment that was partly refunded first: the dispute takes back only what the payer still has
paid, per invoice and surcharge, so that afterwards every invoice's balance equals its receivable in the ledger,
the surcharge income is what was kept, and the stored balances equal their recomputation.

Stripe disputes what is left of a charge by default (the sandbox too), but a cardholder may dispute the full
charge after a partial refund: the refunded part is then taken a second time, owed by no invoice, and lost.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.invoices import InvoiceStatus
from domain.ledger import Balances
from domain.payments import Payment, PaymentStatus
from domain.refunds import RefundRefused, RefundStatus
from sandbox.router import SandboxRouter
from sandbox.stripe_sandbox import StripeState
from tests.integration.outbox_support import Queue, queue
from tests.payments.test_disputes_and_payouts import DISPUTE_FEE, World, _bal, _world
from tests.payments.test_overpayment import _overpaid
from tests.payments.test_refunds import _paid, _refund

__all__ = ["queue"]  # the fixture, imported for these tests


async def _receivable_per_invoice(w: World) -> dict[uuid.UUID, int]:
    """Accounts receivable by invoice, summed from the ledger's entries (AR carries the invoice dimension)."""
    async with w.s.uow() as uow:
        rows = await uow.conn.execute(
            text(
                "SELECT e.invoice_id, sum(e.amount) FROM ledger_entries e JOIN ledger_accounts a "
                "ON a.tenant_id = e.tenant_id AND a.id = e.account_id "
                "WHERE a.code = 'accounts_receivable' GROUP BY e.invoice_id"
            )
        )
        return {r[0]: int(r[1]) for r in rows}


async def _books_match_invoices(w: World, payment: Payment) -> tuple[Balances, dict[uuid.UUID, int]]:
    """The invariant this file is about: each invoice's balance is its receivable, and AR is their sum."""
    b = await w.balances()  # also: stored balances equal the recomputation
    owed = {a.invoice_id: (await w.s.invoice(a.invoice_id)).balance for a in payment.allocations}
    assert await _receivable_per_invoice(w) == owed
    assert _bal(b, "accounts_receivable") == sum(owed.values())
    return b, owed


async def _status(w: World, payment: Payment) -> PaymentStatus:
    async with w.s.uow() as uow:
        found = await uow.payments.get(payment.id)
    assert found is not None and (found.amount, found.surcharge) == (payment.amount, payment.surcharge)
    return found.status


def _charge_of(w: World, payment: Payment) -> str:
    intents = w.s.stripe.partition(w.s.account).table("payment_intent").objects
    return str(intents[str(payment.stripe_payment_intent_id)]["latest_charge"])


async def _refunded_then_disputed(w: World, amount: int | None = None) -> tuple[Payment, dict[str, Any]]:
    """Two invoices (6,000 and 4,000) paid by card with a 3% surcharge; half the invoice part refunded (3,000
    and 2,000, with 150 of the surcharge); then the payer disputes what is left of the charge (or `amount`)."""
    payment = await _paid(w.s, 6_000, 4_000, surcharged=True)
    assert (payment.status, payment.amount, payment.surcharge) == (PaymentStatus.SUCCEEDED, 10_300, 300)
    refund = await _refund(w.s, payment, 5_000)
    assert (refund.status, refund.amount, refund.surcharge) == (RefundStatus.SUCCEEDED, 5_150, 150)
    assert sorted(a.amount for a in refund.allocations) == [2_000, 3_000]
    await w.hooks()
    opened = w.s.stripe.open_dispute(_charge_of(w, payment), account=w.s.account, amount=amount)
    await w.hooks()
    assert await _status(w, payment) is PaymentStatus.DISPUTED
    with pytest.raises(RefundRefused):  # Stripe refuses to refund a charged-back charge; we refuse before asking
        await _refund(w.s, payment, 1_000)
    return payment, opened


async def test_a_lost_dispute_after_a_partial_refund_reopens_each_invoice_by_what_was_still_paid(
    engine: AsyncEngine, client: AsyncTestClient[Any], stripe_sandbox: StripeState, queue: Queue,
    vendors: SandboxRouter,
) -> None:  # fmt: skip
    w = await _world(engine, "Refund then dispute lost MSP", stripe_sandbox, client, queue, vendors)
    payment, opened = await _refunded_then_disputed(w)
    assert opened["amount"] == 5_150  # what is left of the charge
    stripe_sandbox.close_dispute(opened["id"], account=w.s.account, won=False)
    await w.hooks()

    assert await _status(w, payment) is PaymentStatus.DISPUTE_LOST
    b, owed = await _books_match_invoices(w, payment)
    assert sorted(owed.values()) == [4_000, 6_000]  # owed in full again: half refunded, half charged back
    for a in payment.allocations:
        assert (await w.s.invoice(a.invoice_id)).status is InvoiceStatus.OPEN
    assert _bal(b, "surcharge_income") == 0  # half refunded, half charged back
    assert (_bal(b, "disputes"), _bal(b, "dispute_losses"), _bal(b, "dispute_fees")) == (0, 0, DISPUTE_FEE)
    fees = _bal(b, "processing_fees")
    assert _bal(b, "stripe_clearing") == 10_300 - fees - 5_150 - (5_150 + DISPUTE_FEE)


async def test_a_won_dispute_after_a_partial_refund_leaves_the_refund_as_it_was(
    engine: AsyncEngine, client: AsyncTestClient[Any], stripe_sandbox: StripeState, queue: Queue,
    vendors: SandboxRouter,
) -> None:  # fmt: skip
    w = await _world(engine, "Refund then dispute won MSP", stripe_sandbox, client, queue, vendors)
    payment, opened = await _refunded_then_disputed(w)
    stripe_sandbox.close_dispute(opened["id"], account=w.s.account, won=True)
    await w.hooks()

    assert await _status(w, payment) is PaymentStatus.SUCCEEDED
    b, owed = await _books_match_invoices(w, payment)
    assert sorted(owed.values()) == [2_000, 3_000]  # only the refunded parts are owed again
    assert -_bal(b, "surcharge_income") == 150
    assert (_bal(b, "disputes"), _bal(b, "dispute_losses"), _bal(b, "dispute_fees")) == (0, 0, DISPUTE_FEE)
    fees = _bal(b, "processing_fees")
    assert _bal(b, "stripe_clearing") == 10_300 - fees - 5_150 - DISPUTE_FEE


@pytest.mark.parametrize("refunded", [4_000, 10_000], ids=["partly refunded", "refunded in full"])
async def test_a_charge_disputed_in_full_after_a_refund_loses_the_refunded_part_again(
    engine: AsyncEngine, client: AsyncTestClient[Any], stripe_sandbox: StripeState, queue: Queue,
    vendors: SandboxRouter, refunded: int,
) -> None:  # fmt: skip
    w = await _world(engine, f"Disputed in full MSP {refunded}", stripe_sandbox, client, queue, vendors)
    payment = await _paid(w.s, 10_000)
    assert (await _refund(w.s, payment, refunded)).status is RefundStatus.SUCCEEDED
    await w.hooks()
    opened = stripe_sandbox.open_dispute(_charge_of(w, payment), account=w.s.account, amount=10_000)
    stripe_sandbox.close_dispute(opened["id"], account=w.s.account, won=False)
    await w.hooks()

    assert await _status(w, payment) is PaymentStatus.DISPUTE_LOST
    b, owed = await _books_match_invoices(w, payment)
    assert list(owed.values()) == [10_000]  # owed once, not once plus the refunded part
    # The refunded part, taken a second time by the network, is owed by no invoice: a chargeback loss.
    assert (_bal(b, "dispute_losses"), _bal(b, "disputes")) == (refunded, 0)


async def test_a_lost_dispute_on_an_overpayment_gives_back_the_unapplied_cash_and_reopens_only_what_was_applied(
    engine: AsyncEngine, client: AsyncTestClient[Any], stripe_sandbox: StripeState, queue: Queue,
    vendors: SandboxRouter,
) -> None:  # fmt: skip
    w = await _world(engine, "Overpayment disputed MSP", stripe_sandbox, client, queue, vendors)
    payment, invoice_id = await _overpaid(w.s)  # 10,000 collected: 6,000 applied, 4,000 unapplied (paid in the PSA)
    await w.hooks()
    receivable = (await _receivable_per_invoice(w))[invoice_id]
    opened = stripe_sandbox.open_dispute(_charge_of(w, payment), account=w.s.account)
    stripe_sandbox.close_dispute(opened["id"], account=w.s.account, won=False)
    await w.hooks()

    assert await _status(w, payment) is PaymentStatus.DISPUTE_LOST
    invoice = await w.s.invoice(invoice_id)
    # The PSA's 4,000 stays paid; only what this payment applied (6,000) is owed again, not all 10,000.
    assert (invoice.amount_paid, invoice.balance, invoice.status) == (4_000, 6_000, InvoiceStatus.PARTIALLY_PAID)
    b = await w.balances()
    # The ledger does not see the PSA's payment, so AR on the invoice is compared before and after.
    assert (await _receivable_per_invoice(w))[invoice_id] - receivable == 6_000
    assert (_bal(b, "unapplied_payments"), _bal(b, "disputes"), _bal(b, "dispute_losses")) == (0, 0, 0)


async def test_a_lost_dispute_after_a_refund_of_an_overpayment_takes_what_is_left_unapplied_first(
    engine: AsyncEngine, client: AsyncTestClient[Any], stripe_sandbox: StripeState, queue: Queue,
    vendors: SandboxRouter,
) -> None:  # fmt: skip
    w = await _world(engine, "Overpayment refunded then disputed MSP", stripe_sandbox, client, queue, vendors)
    payment, invoice_id = await _overpaid(w.s)
    assert (await _refund(w.s, payment, 3_000)).status is RefundStatus.SUCCEEDED  # out of the 4,000 unapplied
    await w.hooks()
    receivable = (await _receivable_per_invoice(w))[invoice_id]
    opened = stripe_sandbox.open_dispute(_charge_of(w, payment), account=w.s.account)
    assert opened["amount"] == 7_000
    stripe_sandbox.close_dispute(opened["id"], account=w.s.account, won=False)
    await w.hooks()

    invoice = await w.s.invoice(invoice_id)
    assert (invoice.amount_paid, invoice.balance) == (4_000, 6_000)  # the last 1,000 unapplied, then 6,000 applied
    b = await w.balances()
    assert (await _receivable_per_invoice(w))[invoice_id] - receivable == 6_000
    assert (_bal(b, "unapplied_payments"), _bal(b, "disputes"), _bal(b, "dispute_losses")) == (0, 0, 0)
