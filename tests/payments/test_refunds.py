"""Refunds through the Stripe sandbox: full and partial, the surcharge pro-rated, several invoices, what cannot
be refunded, retries and crashes, the ledger, and ACH refunds settled by webhook."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from litestar.testing import AsyncTestClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.errors import ValidationFailed
from domain.ids import new_id
from domain.invoices import InvoiceStatus
from domain.ledger import natural_balance
from domain.pagination import PageRequest
from domain.payment_gateway import RefundOutcome, RefundRequest
from domain.payments import Allocation, MethodKind, Payment, PaymentStatus, RecoveryPoint
from domain.refunds import Refund, RefundKeyReused, RefundRefused, RefundStatus, plan_refund, refundable
from domain.surcharge import SurchargePolicy
from domain.usecases import payments as pay_uc
from domain.usecases import refunds as uc
from domain.usecases import surcharges
from sandbox.router import SandboxRouter
from sandbox.stripe_sandbox import StripeState
from tests.integration.outbox_support import Queue, queue
from tests.payments.support import Shop, shop
from tests.payments.test_stripe_webhooks import _deliver, _drain

__all__ = ["queue"]  # the fixture, imported for the webhook test


async def _paid(s: Shop, *amounts: int, surcharged: bool = False, token: str = "pm_card_visa") -> Payment:
    """A client paying new invoices of `amounts` in full (with the quoted surcharge when `surcharged`)."""
    if surcharged:
        policy = SurchargePolicy(
            True, rate_bps=300, cost_of_acceptance_bps=350, notice_given_on=date.today() - timedelta(days=45)
        )
        async with s.uow() as uow:
            await surcharges.set_policy(uow, s.principal, s.clock, policy)
            await uow.commit()
    client = await s.new_client(state="TX")
    kind = "us_bank_account" if token.startswith("pm_usBank") else "card"
    method = await s.save_method(client, token, kind)
    invoices = [await s.new_invoice(client, a) for a in amounts]
    request = s.pay_request(client, *((i.id, a) for i, a in zip(invoices, amounts, strict=True)))
    if surcharged:
        async with s.uow() as uow:
            quote = await surcharges.quote(uow, s.principal, s.clock, client, method.id, sum(amounts), "USD")
        request = type(request)(**{**request.__dict__, "surcharge": quote.decision.amount})
    return await pay_uc.pay(s.uow, s.gateway(), s.principal, s.clock, request, None)


async def _refund(
    s: Shop, p: Payment, amount: int | None, key: str | None = None, gateway: Any = None, **kw: Any
) -> Any:
    return await uc.refund_payment(s.uow, gateway or s.gateway(), s.principal, s.clock, p.id, amount, key, **kw)


async def _balances(s: Shop) -> dict[str, int]:
    async with s.uow() as uow:
        stored, recomputed = await uow.ledger.balances(), await uow.ledger.recomputed_balances()
    assert stored == recomputed
    return {code: natural_balance(code, v) for (code, _), v in stored.items()}


def _stripe_refunds(s: Shop) -> list[dict[str, Any]]:
    return list(s.stripe.partition(s.account).table("refund").objects.values())


async def _outbox(s: Shop, kind: str) -> int:
    async with s.uow() as uow:
        q = text("SELECT count(*) FROM outbox WHERE event_type = :k")
        return int((await uow.conn.execute(q, {"k": kind})).scalar_one())


async def test_a_full_refund_reopens_the_invoice_and_gives_everything_back(engine: AsyncEngine) -> None:
    s = await shop(engine, "Full refund MSP")
    payment = await _paid(s, 50_000)
    invoice_id = payment.allocations[0].invoice_id
    before = await _balances(s)
    refund = await _refund(s, payment, None, "r-1", reason="requested_by_customer")
    assert refund.status is RefundStatus.SUCCEEDED and (refund.amount, refund.surcharge) == (50_000, 0)
    assert [(a.invoice_id, a.amount) for a in refund.allocations] == [(invoice_id, 50_000)]
    (made,) = _stripe_refunds(s)
    assert (
        made["id"] == refund.stripe_refund_id and made["amount"] == 50_000 and made["reason"] == "requested_by_customer"
    )
    assert (
        made["metadata"] == {"arbridge_refund_id": str(refund.id)}
        and made["payment_intent"] == payment.stripe_payment_intent_id
    )
    invoice = await s.invoice(invoice_id)
    assert invoice.status is InvoiceStatus.OPEN and invoice.balance == 50_000
    after = await _balances(s)
    assert after["accounts_receivable"] - before["accounts_receivable"] == 50_000  # owed again
    assert before["stripe_clearing"] - after["stripe_clearing"] == 50_000
    assert (await _outbox(s, "refund.succeeded"), await _outbox(s, "invoice.payment_reversed")) == (1, 1)
    with pytest.raises(RefundRefused):  # nothing is left to refund
        await _refund(s, payment, None, "r-2")
    async with s.uow() as uow:
        assert [
            r.id for r in (await uc.list_refunds(uow, s.principal, PageRequest.build(50, None), payment.id)).items
        ] == [refund.id]


async def test_a_partial_refund_pro_rates_the_surcharge(engine: AsyncEngine) -> None:
    s = await shop(engine, "Surcharge refund MSP")
    payment = await _paid(s, 20_000, surcharged=True)
    assert (payment.amount, payment.surcharge) == (20_600, 600)
    refund = await _refund(s, payment, 5_000, "part")
    assert (refund.amount, refund.surcharge, refund.invoice_amount) == (5_150, 150, 5_000)
    assert _stripe_refunds(s)[0]["amount"] == 5_150  # what the payer gets back: the surcharge part included
    invoice = await s.invoice(payment.allocations[0].invoice_id)
    assert invoice.status is InvoiceStatus.PARTIALLY_PAID and invoice.balance == 5_000
    assert (await _balances(s))["surcharge_income"] == 450


async def test_two_partial_refunds_give_back_the_surcharge_exactly_once(engine: AsyncEngine) -> None:
    s = await shop(engine, "Two refunds MSP")
    payment = await _paid(s, 10_001, surcharged=True)
    assert payment.surcharge == 300
    first = await _refund(s, payment, 3_333, "one")
    second = await _refund(s, payment, None, "two")  # all that is left
    assert (first.surcharge, second.surcharge) == (100, 200)  # 3 333 / 10 001 of 300 is 99.98
    assert first.invoice_amount + second.invoice_amount == 10_001 and first.amount + second.amount == payment.amount
    charge = next(iter(s.stripe.partition(s.account).table("charge").objects.values()))
    assert charge["amount_refunded"] == payment.amount and charge["refunded"]
    balances = await _balances(s)
    assert balances["surcharge_income"] == 0 and balances["accounts_receivable"] == 0
    assert balances["stripe_clearing"] == -balances["processing_fees"]  # only Stripe's fee is gone
    assert (await s.invoice(payment.allocations[0].invoice_id)).balance == 10_001


async def test_a_refund_over_several_invoices_is_split_pro_rata_and_sums_exactly(engine: AsyncEngine) -> None:
    s = await shop(engine, "Split refund MSP")
    payment = await _paid(s, 10_000, 20_000)
    a, b = (x.invoice_id for x in payment.allocations)
    first = await _refund(s, payment, 10_000, "split-1")
    parts = {x.invoice_id: x.amount for x in first.allocations}
    assert parts == {a: 3_333, b: 6_667}  # a third each; the cent left over goes to the larger fraction
    rest = await _refund(s, payment, None, "split-2")
    given = {x.invoice_id: parts[x.invoice_id] + x.amount for x in rest.allocations}
    assert given == {a: 10_000, b: 20_000}
    assert [(await s.invoice(i)).balance for i in (a, b)] == [10_000, 20_000]


async def test_a_refund_above_what_is_refundable_is_refused_and_changes_nothing(engine: AsyncEngine) -> None:
    s = await shop(engine, "Too much refund MSP")
    payment = await _paid(s, 8_000)
    await _refund(s, payment, 3_000, "first")
    before = await _balances(s)
    with pytest.raises(ValidationFailed, match="more than the 5000 still refundable"):
        await _refund(s, payment, 5_001)
    for amount in (0, -1):
        with pytest.raises(ValidationFailed, match="amount: must be more than 0"):
            await _refund(s, payment, amount)
    with pytest.raises(ValidationFailed, match="reason"):
        await _refund(s, payment, 1, reason="changed my mind")
    assert len(_stripe_refunds(s)) == 1 and await _balances(s) == before
    async with s.uow() as uow:
        assert len(await uow.refunds.of_payment(payment.id)) == 1
    assert (await s.invoice(payment.allocations[0].invoice_id)).balance == 3_000


async def test_a_failed_payment_cannot_be_refunded(engine: AsyncEngine) -> None:
    s = await shop(engine, "Failed payment refund MSP")
    client = await s.new_client()
    await s.save_method(client)
    await s.attach_directly(client, "pm_card_chargeCustomerFail")
    invoice = await s.new_invoice(client, 7_000)
    payment = await pay_uc.pay(
        s.uow, s.gateway(), s.principal, s.clock, s.pay_request(client, (invoice.id, 7_000)), None
    )
    assert payment.status is PaymentStatus.FAILED
    with pytest.raises(RefundRefused, match="failed"):
        await _refund(s, payment, None, "nope")
    assert not [r for r in s.stripe.controls.log if r.path == "/v1/refunds"]


async def test_the_same_key_twice_refunds_once(engine: AsyncEngine) -> None:
    s = await shop(engine, "Same key refund MSP")
    payment = await _paid(s, 9_000)
    first = await _refund(s, payment, 2_000, "same")
    again = await _refund(s, payment, 2_000, "same")
    assert again.id == first.id and len(_stripe_refunds(s)) == 1
    with pytest.raises(RefundKeyReused):
        await _refund(s, payment, 2_500, "same")
    assert (await s.invoice(payment.allocations[0].invoice_id)).balance == 2_000


class _CrashAfterStripe:
    def __init__(self, inner: Any) -> None:
        self.inner = inner

    async def refund(self, request: RefundRequest) -> RefundOutcome:
        await self.inner.refund(request)
        raise SystemExit("killed after the Stripe call")


async def test_a_crash_after_the_stripe_call_resumes_without_a_second_refund(engine: AsyncEngine) -> None:
    s = await shop(engine, "Crash refund MSP")
    payment = await _paid(s, 6_000)
    with pytest.raises(SystemExit):
        await _refund(s, payment, 6_000, "crash", _CrashAfterStripe(s.gateway()))
    assert (await s.invoice(payment.allocations[0].invoice_id)).balance == 0  # not recorded yet
    refund = await _refund(s, payment, 6_000, "crash")
    assert refund.status is RefundStatus.SUCCEEDED and len(_stripe_refunds(s)) == 1
    assert (await s.invoice(payment.allocations[0].invoice_id)).balance == 6_000


@pytest.mark.parametrize("same_key", [True, False])
async def test_concurrent_refunds_never_give_back_more_than_was_paid(engine: AsyncEngine, same_key: bool) -> None:
    s = await shop(engine, f"Concurrent refund MSP {same_key}")
    payment = await _paid(s, 10_000)

    async def attempt(i: int) -> Any:
        try:
            return await _refund(s, payment, 4_000, "same" if same_key else f"c-{i}")
        except ValidationFailed as exc:
            return exc

    results = await asyncio.gather(*(attempt(i) for i in range(12)))
    succeeded = {r.id for r in results if getattr(r, "status", None) is RefundStatus.SUCCEEDED}
    assert len(succeeded) == (1 if same_key else 2)
    assert sum(r["amount"] for r in _stripe_refunds(s)) == 4_000 * len(succeeded)


async def test_refunded_without_reopening_the_invoice_stays_paid(engine: AsyncEngine) -> None:
    s = await shop(engine, "Write-off refund MSP")
    payment = await _paid(s, 12_000)
    before = await _balances(s)
    await _refund(s, payment, 2_000, "keep-paid", reopen_invoices=False)
    assert (await s.invoice(payment.allocations[0].invoice_id)).status is InvoiceStatus.PAID
    after = await _balances(s)
    assert after["refunds"] == 2_000 and after["accounts_receivable"] == before["accounts_receivable"]
    assert await _outbox(s, "invoice.payment_reversed") == 0


async def test_a_refund_stripe_refuses_fails_and_changes_nothing_else(engine: AsyncEngine) -> None:
    s = await shop(engine, "Refused refund MSP")
    payment = await _paid(s, 5_000)
    outside = {"payment_intent": payment.stripe_payment_intent_id, "amount": 4_000}  # from Stripe's dashboard
    await s.gateway().client.v1.refunds.create_async(params=outside, options={"stripe_account": s.account})  # type: ignore[arg-type]
    before = await _balances(s)
    refund = await _refund(s, payment, 5_000, "refused")
    assert refund.status is RefundStatus.FAILED and refund.failure_reason and refund.stripe_refund_id is None
    assert await _balances(s) == before and (await s.invoice(payment.allocations[0].invoice_id)).balance == 0
    assert await _outbox(s, "refund.failed") == 1


async def test_a_succeeded_refund_that_fails_later_is_undone(engine: AsyncEngine) -> None:
    s = await shop(engine, "Returned refund MSP")
    payment = await _paid(s, 4_000)
    before = await _balances(s)
    refund = await _refund(s, payment, 1_500, "bounced")
    failed = RefundOutcome(refund.stripe_refund_id, RefundStatus.FAILED, "expired_or_canceled_card")
    again = await uc.record_refund(s.uow, s.clock, refund.id, failed)
    assert again.status is RefundStatus.FAILED and again.failure_reason == "expired_or_canceled_card"
    assert (await s.invoice(payment.allocations[0].invoice_id)).status is InvoiceStatus.PAID
    assert await _balances(s) == before
    await uc.record_refund(s.uow, s.clock, refund.id, failed)  # twice: still reversed once
    assert await _balances(s) == before


async def test_an_ach_refund_is_pending_until_its_webhook_settles_it(
    engine: AsyncEngine, client: AsyncTestClient[Any], stripe_sandbox: StripeState, queue: Queue,
    vendors: SandboxRouter,
) -> None:  # fmt: skip
    s = await shop(engine, "ACH refund MSP", stripe_sandbox)
    payment = await _paid(s, 30_000, token="pm_usBankAccount_success")
    stripe_sandbox.advance_ach(payment.stripe_payment_intent_id)
    await _deliver(stripe_sandbox, client)
    await _drain(queue, engine, vendors, stripe_sandbox)
    invoice_id = payment.allocations[0].invoice_id
    assert (await s.invoice(invoice_id)).status is InvoiceStatus.PAID
    before = await _balances(s)
    refund = await _refund(s, payment, 10_000, "ach-refund")
    assert refund.status is RefundStatus.PENDING and refund.stripe_refund_id.startswith("pyr")
    await _deliver(stripe_sandbox, client)  # refund.created, charge.refunded: still pending
    await _drain(queue, engine, vendors, stripe_sandbox)
    assert (await s.invoice(invoice_id)).balance == 0 and await _balances(s) == before
    stripe_sandbox.run_scheduled("refund_settle", refund.stripe_refund_id)  # the bank confirms
    await _deliver(stripe_sandbox, client)
    await _drain(queue, engine, vendors, stripe_sandbox)
    async with s.uow() as uow:
        settled = await uow.refunds.get(refund.id)
    assert settled is not None and settled.status is RefundStatus.SUCCEEDED
    assert (await s.invoice(invoice_id)).balance == 10_000
    assert (await _balances(s))["accounts_receivable"] - before["accounts_receivable"] == 10_000
    assert await _outbox(s, "refund.succeeded") == 1


@given(
    parts=st.lists(st.integers(1, 10**7), min_size=1, max_size=4),
    rate_bps=st.integers(0, 400),
    cuts=st.lists(st.integers(1, 10**7), max_size=6),
)
def test_any_refunds_give_back_each_invoice_and_the_surcharge_exactly_once(
    parts: list[int], rate_bps: int, cuts: list[int]
) -> None:
    now = datetime.now(UTC)
    allocations = [Allocation(uuid.UUID(int=i + 1), a) for i, a in enumerate(parts)]
    surcharge = sum(parts) * rate_bps // 10_000
    payment = Payment(
        uuid.UUID(int=99), uuid.UUID(int=98), None, MethodKind.CARD, "USD", sum(parts) + surcharge, surcharge,
        allocations, PaymentStatus.SUCCEEDED, RecoveryPoint.FINISHED, None, "acct", now, now,
    )  # fmt: skip
    done: list[Refund] = []
    for amount in [*cuts, None]:
        left = refundable(payment, done)
        if left == 0:
            break
        split_parts, part_surcharge = plan_refund(payment, done, min(amount, left) if amount else None)
        given = sum(a.amount for a in split_parts) + part_surcharge
        done.append(Refund(new_id(), payment.id, "USD", given, part_surcharge, split_parts,
                           RefundStatus.SUCCEEDED, None, True, None, now, now))  # fmt: skip
    assert sum(r.surcharge for r in done) == surcharge and all(r.surcharge >= 0 for r in done)
    per_invoice = {a.invoice_id: sum(x.amount for r in done for x in r.allocations if x.invoice_id == a.invoice_id)
                   for a in allocations}  # fmt: skip
    assert per_invoice == {a.invoice_id: a.amount for a in allocations}
