"""A payment that finds less owed than it was quoted for (a payment recorded in HaloPSA landed between the
attempt's check and Stripe's answer): what is applied to the invoice and what the ledger credits to AR agree,
and the excess is kept visibly as unapplied cash (a customer credit), not silently."""

from __future__ import annotations

import json
import uuid
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.invoices import Invoice, InvoiceStatus
from domain.ledger import Reference, natural_balance
from domain.payment_gateway import ChargeOutcome, ChargeRequest, RefundOutcome
from domain.payments import Payment, PaymentStatus
from domain.refunds import RefundStatus
from domain.usecases import payments as pay_uc
from domain.usecases import refunds as refunds_uc
from tests.payments.support import Shop, shop


class _PaidElsewhereMeanwhile:
    """Stripe charges; before our answer is recorded, the sync records a payment made in the PSA."""

    def __init__(self, s: Shop, invoice_id: uuid.UUID, amount: int) -> None:
        self.inner, self.s, self.invoice_id, self.amount = s.gateway(), s, invoice_id, amount

    async def charge(self, request: ChargeRequest) -> ChargeOutcome:
        outcome = await self.inner.charge(request)
        async with self.s.uow() as uow:
            invoice = await uow.invoices.get(self.invoice_id, for_update=True)
            assert invoice is not None
            invoice.amount_paid += self.amount
            invoice.status = InvoiceStatus.PARTIALLY_PAID if invoice.balance else InvoiceStatus.PAID
            await uow.invoices.update_state(invoice)
            await uow.commit()
        return outcome  # type: ignore[no-any-return]

    async def intent(self, account: str, intent_id: str) -> ChargeOutcome:
        return await self.inner.intent(account, intent_id)  # type: ignore[no-any-return]


async def _events(s: Shop, kind: str) -> list[dict[str, Any]]:
    async with s.uow() as uow:
        rows = await uow.conn.execute(text("SELECT payload::text FROM outbox WHERE event_type = :k"), {"k": kind})
        return [json.loads(r[0]) for r in rows]


async def test_an_invoice_paid_in_part_elsewhere_meanwhile_keeps_the_excess_as_unapplied_cash(
    engine: AsyncEngine,
) -> None:
    s = await shop(engine, "Overpaid MSP")
    client = await s.new_client()
    await s.save_method(client)
    invoice = await s.new_invoice(client, 10_000)
    gateway = _PaidElsewhereMeanwhile(s, invoice.id, 4_000)
    payment = await pay_uc.pay(s.uow, gateway, s.principal, s.clock, s.pay_request(client, (invoice.id, 10_000)), "k")
    assert payment.status is PaymentStatus.SUCCEEDED and payment.amount == 10_000  # Stripe collected it all

    paid = await s.invoice(invoice.id)
    assert paid.status is InvoiceStatus.PAID and paid.amount_paid == paid.total == 10_000  # never beyond the total
    async with s.uow() as uow:
        entries = await uow.ledger.entries_of(Reference("payment", payment.id))
        balances = await uow.ledger.balances()
        assert await uow.ledger.recomputed_balances() == balances
    # What the invoice received (6,000) is what AR is credited; the other 4,000 is owed back to the payer.
    ar = [e for e in entries if e.account == "accounts_receivable"]
    assert [(e.amount, e.invoice_id) for e in ar] == [(-6_000, invoice.id)]
    unapplied = [e for e in entries if e.account == "unapplied_payments"]
    assert [(e.amount, e.invoice_id) for e in unapplied] == [(-4_000, invoice.id)]
    assert balances[("stripe_clearing", "USD")] + balances.get(("processing_fees", "USD"), 0) == 10_000
    applied = await _events(s, "invoice.paid")
    assert [(e["invoice_id"], e["amount"]) for e in applied] == [(str(invoice.id), 6_000)]
    assert await _events(s, "payment.unapplied") == [
        {
            "payment_id": str(payment.id),
            "client_id": str(client),
            "currency": "USD",
            "amount": 4_000,
            "invoices": [{"invoice_id": str(invoice.id), "amount": 4_000}],
        }
    ]


async def _first_paid_elsewhere(s: Shop) -> tuple[Payment, Invoice, Invoice]:
    """Invoices a (7,000) and b (3,000) paid together, a paid in full in the PSA meanwhile: b applied, a unapplied."""
    client = await s.new_client()
    await s.save_method(client)
    a, b = await s.new_invoice(client, 7_000), await s.new_invoice(client, 3_000)
    gateway = _PaidElsewhereMeanwhile(s, a.id, 7_000)
    request = s.pay_request(client, (a.id, 7_000), (b.id, 3_000))
    return await pay_uc.pay(s.uow, gateway, s.principal, s.clock, request, None), a, b


async def test_an_invoice_paid_in_full_elsewhere_meanwhile_applies_nothing(engine: AsyncEngine) -> None:
    s = await shop(engine, "Paid Twice MSP")
    payment, a, b = await _first_paid_elsewhere(s)
    assert payment.status is PaymentStatus.SUCCEEDED
    assert (await s.invoice(a.id)).amount_paid == 7_000 and (await s.invoice(b.id)).status is InvoiceStatus.PAID
    async with s.uow() as uow:
        entries = await uow.ledger.entries_of(Reference("payment", payment.id))
    sides = sorted((e.account, e.amount, e.invoice_id == a.id) for e in entries if e.invoice_id is not None)
    assert sides == [("accounts_receivable", -3_000, False), ("unapplied_payments", -7_000, True)]
    assert [e["amount"] for e in await _events(s, "payment.unapplied")] == [7_000]


async def _overpaid(s: Shop) -> tuple[Payment, uuid.UUID]:
    """A 10,000 payment on a 10,000 invoice that got 4,000 in the PSA meanwhile: 6,000 applied, 4,000 unapplied."""
    client = await s.new_client()
    await s.save_method(client)
    invoice = await s.new_invoice(client, 10_000)
    gateway = _PaidElsewhereMeanwhile(s, invoice.id, 4_000)
    payment = await pay_uc.pay(s.uow, gateway, s.principal, s.clock, s.pay_request(client, (invoice.id, 10_000)), None)
    assert payment.status is PaymentStatus.SUCCEEDED
    return payment, invoice.id


async def _books(s: Shop, payment: Payment, invoice_id: uuid.UUID) -> tuple[int, int, int]:
    """The invoice's balance, AR on the invoice, and what is still unapplied (owed to the payer); the stored
    balances must equal those recomputed from the entries."""
    async with s.uow() as uow:
        stored = await uow.ledger.balances()
        assert await uow.ledger.recomputed_balances() == stored
        entries = await uow.ledger.entries_of(Reference("invoice", invoice_id))
        entries += await uow.ledger.entries_of(Reference("payment", payment.id))
    ar = sum(e.amount for e in entries if e.account == "accounts_receivable" and e.invoice_id == invoice_id)
    assert natural_balance("unapplied_payments", stored.get(("unapplied_payments", "USD"), 0)) >= 0
    held = -sum(e.amount for e in entries if e.account == "unapplied_payments" and e.invoice_id == invoice_id)
    return (await s.invoice(invoice_id)).balance, ar, held


async def test_a_refund_gives_back_the_unapplied_part_before_reopening_the_invoice(engine: AsyncEngine) -> None:
    s = await shop(engine, "Refunded Overpayment MSP")
    payment, invoice_id = await _overpaid(s)
    # AR counts from the payment's credit: this test's invoices and the PSA's 4,000 post nothing.
    assert await _books(s, payment, invoice_id) == (0, -6_000, 4_000)

    partial = await refunds_uc.refund_payment(s.uow, s.gateway(), s.principal, s.clock, payment.id, 5_000, None)
    assert partial.status is RefundStatus.SUCCEEDED
    # 4,000 was never the invoice's: it leaves unapplied; only 1,000 is owed again on the invoice.
    assert await _books(s, payment, invoice_id) == (1_000, -5_000, 0)
    rest = await refunds_uc.refund_payment(s.uow, s.gateway(), s.principal, s.clock, payment.id, None, None)
    assert rest.status is RefundStatus.SUCCEEDED and rest.amount == 5_000
    assert await _books(s, payment, invoice_id) == (6_000, 0, 0)
    invoice = await s.invoice(invoice_id)
    assert invoice.amount_paid == 4_000 and invoice.status is InvoiceStatus.PARTIALLY_PAID  # the PSA's payment
    reversed_ = await _events(s, "invoice.payment_reversed")
    assert sorted(e["amount"] for e in reversed_) == [1_000, 5_000]


async def test_a_full_refund_of_an_overpayment_and_its_undoing(engine: AsyncEngine) -> None:
    s = await shop(engine, "Fully Refunded Overpayment MSP")
    payment, invoice_id = await _overpaid(s)
    refund = await refunds_uc.refund_payment(s.uow, s.gateway(), s.principal, s.clock, payment.id, None, None)
    assert refund.status is RefundStatus.SUCCEEDED and refund.amount == 10_000
    assert await _books(s, payment, invoice_id) == (6_000, 0, 0)
    assert (await s.invoice(invoice_id)).amount_paid == 4_000
    # The card's bank sends the refund back: the payment's effects return as they were, unapplied part included.
    failed = RefundOutcome(refund.stripe_refund_id, RefundStatus.FAILED, "expired_or_canceled_card")
    await refunds_uc.record_refund(s.uow, s.clock, refund.id, failed)
    assert await _books(s, payment, invoice_id) == (0, -6_000, 4_000)
    assert (await s.invoice(invoice_id)).status is InvoiceStatus.PAID


async def test_a_refund_kept_off_the_invoice_still_takes_the_unapplied_part_first(engine: AsyncEngine) -> None:
    s = await shop(engine, "Written Off Overpayment MSP")
    payment, invoice_id = await _overpaid(s)
    await refunds_uc.refund_payment(
        s.uow, s.gateway(), s.principal, s.clock, payment.id, 7_000, None, reopen_invoices=False
    )
    assert await _books(s, payment, invoice_id) == (0, -6_000, 0)
    async with s.uow() as uow:
        balances = await uow.ledger.balances()
    assert natural_balance("refunds", balances[("refunds", "USD")]) == 3_000  # only what the invoice received


async def test_a_partial_refund_over_several_invoices_gives_back_the_unapplied_cash_first(
    engine: AsyncEngine,
) -> None:
    s = await shop(engine, "Split Overpayment MSP")
    payment, a, b = await _first_paid_elsewhere(s)
    # Pro rata alone would re-open 2,100 on b while 2,100 of a's unapplied cash stayed held.
    first = await refunds_uc.refund_payment(s.uow, s.gateway(), s.principal, s.clock, payment.id, 7_000, None)
    assert [(p.invoice_id, p.amount) for p in first.allocations] == [(a.id, 7_000)]
    assert await _books(s, payment, a.id) == (0, 0, 0) and await _books(s, payment, b.id) == (0, -3_000, 0)
    await refunds_uc.refund_payment(s.uow, s.gateway(), s.principal, s.clock, payment.id, None, None)
    assert await _books(s, payment, a.id) == (0, 0, 0) and await _books(s, payment, b.id) == (3_000, 0, 0)
