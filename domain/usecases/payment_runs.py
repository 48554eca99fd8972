"""Charging many invoices of one MSP in one go (autopay's runs): `pay`'s three steps, each done for the whole run
at once, so that the database round trips, transactions and queue work of a charge are shared by the run.

1. One transaction: every request key and invoice locked by one statement (all keys, then all invoices, each in
   order, as every payer takes them: no deadlock with single payments), each request's facts read and checked
   as `pay` checks them (counting what the run's earlier requests hold), all read by one statement, every
   attempt allowed written by one statement, one commit. A request refused is that request's answer; the others go on.
2. Stripe asked for each attempt, at most `in_flight` at once, each with its own attempt's idempotency key.
3. One transaction: the attempts locked in id order, then the invoices of the successes, every settlement
   written by one statement. Should it fail, each outcome is recorded on its own (record_outcome), so that
   one bad row loses no other charge's result.

A crash anywhere leaves what `pay` leaves: committed attempts, which the same run (the same request keys)
resumes without charging twice. Keys are therefore required, and unique within a run.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from domain.auth import Principal, Scope
from domain.errors import DomainError
from domain.payment_gateway import ChargeOutcome, PaymentGateway
from domain.payments import Payment, PaymentStatus, PayRequest, RecoveryPoint
from domain.ports import Clock
from domain.usecases.payment_ports import PaymentsUnitOfWork, UowFactory
from domain.usecases.payments import (
    Attempt,
    PaymentPending,
    ask_stripe,
    moves,
    prepare_attempt,
    record_outcome,
    resume,
    settlement_of,
)

IN_FLIGHT = 8  # a run's Stripe calls at once


@dataclass(frozen=True)
class RunItem:
    request: PayRequest
    request_key: str  # what makes re-running the run after a crash safe: one attempt per key, ever


Answer = Payment | Exception  # the payment, whatever its status; or why there is none yet (refused, pending)


async def pay_many(
    uow_factory: UowFactory, gateway: PaymentGateway, principal: Principal, clock: Clock, items: Sequence[RunItem],
    *, in_flight: int = IN_FLIGHT,
) -> list[Answer]:  # fmt: skip
    """Pay each item's invoices with a stored method (off-session); the answers in the items' order. A decline
    is a failed payment; a request refused (PaymentRefused, ValidationFailed) or still pending (PaymentPending:
    Stripe unreachable) is its exception."""
    principal.require(Scope.PAYMENTS_WRITE)
    if len({i.request_key for i in items}) != len(items):
        raise ValueError("a run's request keys must be unique")
    answers: list[Answer | None] = [None] * len(items)
    attempts = await _open(uow_factory, clock, items, answers)
    calls = asyncio.Semaphore(in_flight)

    async def ask(attempt: Attempt) -> ChargeOutcome | Exception:
        async with calls:
            try:
                return await ask_stripe(gateway, attempt)
            except PaymentPending as pending:
                return pending

    asking = [asyncio.create_task(ask(a)) for _, a in attempts]
    try:
        outcomes = await asyncio.gather(*asking)
    except BaseException:
        # Something unforeseen (or the job's own cancellation): stop the other calls and let the run end as a
        # crash would. Its attempts are committed: the run, re-run, resumes each by its key.
        for task in asking:
            task.cancel()
        await asyncio.gather(*asking, return_exceptions=True)
        raise
    settled = []
    for (index, attempt), outcome in zip(attempts, outcomes, strict=True):
        if isinstance(outcome, ChargeOutcome):
            settled.append((index, attempt.payment.id, outcome))
        else:
            answers[index] = outcome
    for index, payment in await _settle(uow_factory, clock, settled):
        answers[index] = payment
    assert all(a is not None for a in answers), "every item is answered"
    return [a for a in answers if a is not None]


async def _open(
    uow_factory: UowFactory, clock: Clock, items: Sequence[RunItem], answers: list[Answer | None]
) -> list[tuple[int, Attempt]]:
    """Step 1 for the whole run: the attempts to ask Stripe for (new ones committed), by item index."""
    attempts: list[tuple[int, Attempt]] = []
    async with uow_factory() as uow:
        invoice_ids = [a.invoice_id for item in items for a in item.request.allocations]
        await uow.payments.lock_attempts([item.request_key for item in items], invoice_ids)
        held_by_run: dict[uuid.UUID, int] = {}  # what the run's attempts so far hold: not yet written
        read = await uow.payments.read_attempts([(item.request_key, item.request) for item in items])
        for index, (item, facts) in enumerate(zip(items, read, strict=True)):
            if facts.existing is not None:
                if facts.existing.recovery_point is RecoveryPoint.FINISHED:
                    answers[index] = facts.existing  # a re-run: this one completed
                else:
                    attempts.append((index, await resume(uow, facts.existing)))
                continue
            for invoice_id, amount in held_by_run.items():
                if invoice_id in facts.invoices:
                    facts.held[invoice_id] = facts.held.get(invoice_id, 0) + amount
            try:
                attempt = await prepare_attempt(uow, clock, item.request, item.request_key, facts)
            except DomainError as refused:
                answers[index] = refused
                continue
            for a in attempt.payment.allocations:
                held_by_run[a.invoice_id] = held_by_run.get(a.invoice_id, 0) + a.amount
            attempts.append((index, attempt))
        fresh = [a.payment for _, a in attempts if not a.resumed]
        if fresh:
            await uow.payments.add_many(fresh)
        await uow.commit()
    return attempts


async def _settle(
    uow_factory: UowFactory, clock: Clock, settled: list[tuple[int, uuid.UUID, ChargeOutcome]]
) -> list[tuple[int, Payment]]:
    """Step 3 for the whole run; each outcome on its own should the run's transaction fail."""
    if not settled:
        return []
    try:
        async with uow_factory() as uow:
            payments = await _settle_together(uow, clock, settled)
            await uow.commit()
        return payments
    except Exception:  # noqa: BLE001 - whatever it was, each outcome is recorded (or fails) on its own
        return [(index, await record_outcome(uow_factory, clock, pid, outcome)) for index, pid, outcome in settled]


async def _settle_together(
    uow: PaymentsUnitOfWork, clock: Clock, settled: list[tuple[int, uuid.UUID, ChargeOutcome]]
) -> list[tuple[int, Payment]]:
    locked = await uow.payments.lock_for_settling([pid for _, pid, _ in settled])
    paid = {pid for _, pid, outcome in settled if outcome.status is PaymentStatus.SUCCEEDED}
    invoice_ids = sorted({a.invoice_id for pid in paid for a in locked[pid].allocations})
    invoices = await uow.payments.lock_invoices(invoice_ids) if invoice_ids else {}
    settlements, answers = [], []
    for index, pid, outcome in settled:
        payment = locked[pid]
        if moves(payment, outcome):  # a webhook may have recorded it meanwhile
            settlements.append(settlement_of(uow.tenant_id, clock, payment, outcome, invoices))
        answers.append((index, payment))
    if settlements:
        await uow.payments.record_settlements(settlements)
    return answers
