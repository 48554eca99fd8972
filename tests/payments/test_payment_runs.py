"""Autopay's runs (domain/usecases/payment_runs.py) through the Stripe sandbox: many invoices charged in one go,
each request answered on its own, re-runs and crashes never charging twice, the books as `pay` leaves them."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.db.driver_uow import DriverUnitOfWork
from domain.connections import Provider
from domain.errors import ValidationFailed
from domain.invoices import InvoiceStatus
from domain.payments import Payment, PaymentRefused, PaymentStatus
from domain.usecases import payment_runs
from domain.usecases.payment_runs import RunItem
from sandbox.router import SandboxRouter
from sandbox.stripe_sandbox import StripeState
from tests.conftest import app_settings
from tests.integration.outbox_support import Queue, queue, run_burst_worker
from tests.payments.support import Shop, shop
from tests.payments.test_pay_invoices import _CrashAfterStripe

__all__ = ["queue"]  # the fixture, imported for these tests


class _Killed(Exception):
    """The worker dying (SystemExit would stop the test's event loop itself, as it stops the worker's)."""


class _KilledAfterStripe(_CrashAfterStripe):
    async def charge(self, request: Any) -> Any:
        await self.inner.charge(request)
        raise _Killed("killed after the Stripe call")


def _driver_uow(s: Shop) -> Any:
    return lambda: DriverUnitOfWork(s.engine, s.tenant_id, s.ring)  # the worker's units of work


async def _run(s: Shop, items: list[RunItem], gateway: Any = None, **kw: Any) -> list[Any]:
    return await payment_runs.pay_many(_driver_uow(s), gateway or s.gateway(), s.principal, s.clock, items, **kw)


def _item(s: Shop, client: uuid.UUID, *parts: tuple[uuid.UUID, int], key: str | None = None) -> RunItem:
    return RunItem(s.pay_request(client, *parts), key or f"autopay-{uuid.uuid4()}")


def _intents(s: Shop) -> int:
    return len(s.stripe.partition(s.account).table("payment_intent").objects)


async def _books_balance(s: Shop) -> dict[tuple[str, str], int]:
    async with s.uow() as uow:
        stored = await uow.ledger.balances()
        assert await uow.ledger.recomputed_balances() == stored
    return stored


async def test_a_run_answers_each_request_and_pays_what_it_may(engine: AsyncEngine) -> None:
    s = await shop(engine, "Run MSP")
    good, declined, unset = await s.new_client("Good"), await s.new_client("Declined"), await s.new_client("No card")
    await s.save_method(good)
    await s.save_method(declined)
    await s.attach_directly(declined, "pm_card_visa_chargeDeclinedInsufficientFunds")
    a, b = await s.new_invoice(good, 30_000), await s.new_invoice(good, 20_000)
    c, d = await s.new_invoice(declined, 5_000), await s.new_invoice(unset, 7_000)
    items = [
        _item(s, good, (a.id, 30_000)),
        _item(s, good, (b.id, 25_000)),  # more than it owes
        _item(s, declined, (c.id, 5_000)),
        _item(s, unset, (d.id, 7_000)),  # no payment method
        _item(s, good, (b.id, 20_000)),
    ]
    paid_a, too_much, failed, no_method, paid_b = await _run(s, items)

    assert isinstance(paid_a, Payment) and paid_a.status is PaymentStatus.SUCCEEDED
    assert isinstance(paid_b, Payment) and paid_b.status is PaymentStatus.SUCCEEDED
    assert isinstance(too_much, ValidationFailed)
    assert isinstance(failed, Payment) and failed.status is PaymentStatus.FAILED
    assert failed.decline_code == "insufficient_funds"
    assert isinstance(no_method, ValidationFailed)
    assert [(await s.invoice(i.id)).status for i in (a, b, c, d)] == [
        InvoiceStatus.PAID, InvoiceStatus.PAID, InvoiceStatus.OPEN, InvoiceStatus.OPEN,
    ]  # fmt: skip
    balances = await _books_balance(s)
    assert balances[("accounts_receivable", "USD")] == -50_000  # the two successes (invoices post by their events)
    assert _intents(s) == 3  # the refused requests never reached Stripe


async def test_a_rerun_answers_the_same_payments_without_charging_again(engine: AsyncEngine) -> None:
    s = await shop(engine, "Rerun MSP")
    client = await s.new_client()
    await s.save_method(client)
    invoices = [await s.new_invoice(client, 1_000 * (n + 1)) for n in range(4)]
    items = [_item(s, client, (i.id, i.total), key=f"autopay-{i.id}") for i in invoices]
    first = await _run(s, items)
    again = await _run(s, items)
    assert [p.id for p in again] == [p.id for p in first]
    assert all(p.status is PaymentStatus.SUCCEEDED for p in again)
    assert _intents(s) == 4


async def test_a_run_never_holds_more_than_an_invoice_owes_across_its_own_requests(engine: AsyncEngine) -> None:
    s = await shop(engine, "Double Run MSP")
    client = await s.new_client()
    await s.save_method(client)
    invoice = await s.new_invoice(client, 10_000)
    first, second, third = await _run(
        s, [_item(s, client, (invoice.id, 6_000)), _item(s, client, (invoice.id, 6_000)),
            _item(s, client, (invoice.id, 4_000))],
    )  # fmt: skip
    assert first.status is PaymentStatus.SUCCEEDED and third.status is PaymentStatus.SUCCEEDED
    assert isinstance(second, ValidationFailed)
    final = await s.invoice(invoice.id)
    assert (final.amount_paid, final.status) == (10_000, InvoiceStatus.PAID)


async def test_a_crash_after_stripe_leaves_a_run_that_resumes_without_a_second_charge(engine: AsyncEngine) -> None:
    s = await shop(engine, "Crashed Run MSP")
    client = await s.new_client()
    await s.save_method(client)
    invoices = [await s.new_invoice(client, 2_000) for _ in range(3)]
    items = [_item(s, client, (i.id, 2_000), key=f"autopay-{i.id}") for i in invoices]
    with pytest.raises(_Killed):
        await _run(s, items, _KilledAfterStripe(s.gateway()))
    assert [(await s.invoice(i.id)).balance for i in invoices] == [2_000] * 3  # nothing recorded yet
    charged = _intents(s)
    assert charged >= 1
    payments = await _run(s, items)  # the job, retried
    assert all(p.status is PaymentStatus.SUCCEEDED for p in payments)
    assert [(await s.invoice(i.id)).status for i in invoices] == [InvoiceStatus.PAID] * 3
    assert len(s.stripe.partition(s.account).table("charge").objects) == 3  # once each


async def test_when_the_runs_settlement_fails_each_outcome_is_recorded_on_its_own(engine: AsyncEngine) -> None:
    s = await shop(engine, "Fallback Run MSP")
    client = await s.new_client()
    await s.save_method(client)
    invoices = [await s.new_invoice(client, 3_000) for _ in range(3)]

    class _RefusesTogether(DriverUnitOfWork):
        """A unit of work whose store refuses to write several settlements at once."""

        def _open_repositories(self) -> None:
            super()._open_repositories()
            store: Any = self.payments
            together = store.record_settlements

            async def record_settlements(settlements: list[Any]) -> None:
                if len(settlements) > 1:
                    raise RuntimeError("injected: the run's settlement statement failed")
                await together(settlements)

            store.record_settlements = record_settlements

    uows = lambda: _RefusesTogether(s.engine, s.tenant_id, s.ring)  # noqa: E731
    items = [_item(s, client, (i.id, 3_000)) for i in invoices]
    payments = await payment_runs.pay_many(uows, s.gateway(), s.principal, s.clock, items)
    assert all(p.status is PaymentStatus.SUCCEEDED for p in payments)
    assert [(await s.invoice(i.id)).status for i in invoices] == [InvoiceStatus.PAID] * 3
    assert (await _books_balance(s))[("accounts_receivable", "USD")] == -9_000


async def test_a_run_refuses_repeated_keys_and_stripe_not_connected(engine: AsyncEngine) -> None:
    s = await shop(engine, "Keys Run MSP")
    client = await s.new_client()
    await s.save_method(client)
    invoice = await s.new_invoice(client, 1_000)
    with pytest.raises(ValueError, match="unique"):
        await _run(s, [_item(s, client, (invoice.id, 500), key="k"), _item(s, client, (invoice.id, 500), key="k")])
    async with s.uow() as uow:
        connection = await uow.connections.by_provider(Provider.STRIPE)
        assert connection is not None
        await uow.connections.delete(connection.id)
        await uow.commit()
    [refused] = await _run(s, [_item(s, client, (invoice.id, 1_000))])
    assert isinstance(refused, PaymentRefused) and "not connected" in str(refused)


async def test_the_workers_charge_invoices_job_runs_a_run_and_reports_it(
    engine: AsyncEngine, stripe_sandbox: StripeState, queue: Queue, vendors: SandboxRouter
) -> None:
    s = await shop(engine, "Worker Run MSP", stripe_sandbox)
    client = await s.new_client()
    await s.save_method(client)
    paid, voided = await s.new_invoice(client, 4_000), await s.new_invoice(client, 6_000)
    async with s.uow() as uow:
        invoice = await uow.invoices.get(voided.id, for_update=True)
        assert invoice is not None
        invoice.status, invoice.voided_at = InvoiceStatus.VOID, s.clock.now()
        await uow.invoices.update_state(invoice)
        await uow.commit()
    charges = [
        {"client_id": str(client), "currency": "USD", "request_key": f"autopay-{i.id}", "invoices": [[str(i.id), a]]}
        for i, a in ((paid, 4_000), (voided, 6_000))
    ]
    job = await queue.redis.enqueue_job("charge_invoices", str(s.tenant_id), charges, _queue_name=queue.name)
    assert job is not None
    ctx = {"settings": app_settings(queue.settings, stripe_sandbox), "run_relay": False, "vendor_transport": vendors}
    try:
        worker = await run_burst_worker(queue, ctx=ctx)
        assert (worker.jobs_complete, worker.jobs_failed, worker.jobs_retried) == (1, 0, 0)
        assert await job.result(timeout=5) == {"succeeded": 1, "ValidationFailed": 1}
    finally:
        await queue.redis.delete(f"arq:result:{job.job_id}")
    assert (await s.invoice(paid.id)).status is InvoiceStatus.PAID
    assert (await s.invoice(voided.id)).amount_paid == 0


async def test_a_malformed_run_job_fails_at_once_without_retrying(
    engine: AsyncEngine, stripe_sandbox: StripeState, queue: Queue, vendors: SandboxRouter
) -> None:
    s = await shop(engine, "Malformed Run MSP", stripe_sandbox)
    repeated = {"client_id": str(uuid.uuid4()), "currency": "USD", "request_key": "k", "invoices": []}
    job = await queue.redis.enqueue_job(
        "charge_invoices", str(s.tenant_id), [repeated, repeated], _queue_name=queue.name
    )
    assert job is not None
    ctx = {"settings": app_settings(queue.settings, stripe_sandbox), "run_relay": False, "vendor_transport": vendors}
    try:
        worker = await run_burst_worker(queue, ctx=ctx)
        assert (worker.jobs_failed, worker.jobs_retried) == (1, 0)
    finally:
        await queue.redis.delete(f"arq:result:{job.job_id}")
