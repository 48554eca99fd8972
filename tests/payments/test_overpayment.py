"""A payment that finds less owed than it was quoted for (a payment recorded in HaloPSA landed between the
attempt's check and Stripe's answer): what is applied to the invoice and what the ledger credits to AR agree,
and the excess is kept visibly as unapplied cash (a customer credit), not silently."""

from __future__ import annotations

import json
import uuid
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.invoices import InvoiceStatus
from domain.ledger import Reference
from domain.payment_gateway import ChargeOutcome, ChargeRequest
from domain.payments import PaymentStatus
from domain.usecases import payments as pay_uc
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


async def test_an_invoice_paid_in_full_elsewhere_meanwhile_applies_nothing(engine: AsyncEngine) -> None:
    s = await shop(engine, "Paid Twice MSP")
    client = await s.new_client()
    await s.save_method(client)
    a, b = await s.new_invoice(client, 7_000), await s.new_invoice(client, 3_000)
    gateway = _PaidElsewhereMeanwhile(s, a.id, 7_000)
    request = s.pay_request(client, (a.id, 7_000), (b.id, 3_000))
    payment = await pay_uc.pay(s.uow, gateway, s.principal, s.clock, request, None)
    assert payment.status is PaymentStatus.SUCCEEDED
    assert (await s.invoice(a.id)).amount_paid == 7_000 and (await s.invoice(b.id)).status is InvoiceStatus.PAID
    async with s.uow() as uow:
        entries = await uow.ledger.entries_of(Reference("payment", payment.id))
    sides = sorted((e.account, e.amount, e.invoice_id == a.id) for e in entries if e.invoice_id is not None)
    assert sides == [("accounts_receivable", -3_000, False), ("unapplied_payments", -7_000, True)]
    assert [e["amount"] for e in await _events(s, "payment.unapplied")] == [7_000]
