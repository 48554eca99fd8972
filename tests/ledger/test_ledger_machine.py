"""Random sequences of business events against the real database; the books' invariants after every step.

Hypothesis' state machines are synchronous: the machine runs in a worker thread and hands each database call to
the test's (session) event loop with `run_coroutine_threadsafe`, so it shares the suite's engine and the loop
stays free to run them while the test awaits the thread. Choices are drawn from the model in insertion order
(never sorted by the random uuids), so that Hypothesis replays the same choices as the same steps.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.db.ledger import SqlLedger
from adapters.db.uow import SqlUnitOfWork
from domain import ledger as L
from domain.ids import new_id
from domain.ledger import KeyReused
from tests.conftest import new_tenant
from tests.ledger.support import AT

T = TypeVar("T")
CURRENCIES = ("USD", "EUR")


@dataclass
class Payment:
    currency: str
    left: dict[uuid.UUID, int]  # invoice part still refundable / disputable, per invoice
    surcharge: int  # surcharge collected
    surcharge_left: int
    fee_charged: bool = False
    disputed: bool = False

    @property
    def invoice_left(self) -> int:
        return sum(self.left.values())


@dataclass
class Dispute:
    payment_id: uuid.UUID
    allocations: dict[uuid.UUID, int]
    surcharge: int
    fee: int

    @property
    def amount(self) -> int:
        return sum(self.allocations.values()) + self.surcharge


@dataclass
class Books:
    """What the ledger must say, kept independently of it (per currency)."""

    open_invoices: dict[uuid.UUID, tuple[str, int]] = field(default_factory=dict)  # id -> (currency, still owed)
    clearing: dict[str, int] = field(default_factory=lambda: dict.fromkeys(CURRENCIES, 0))
    bank: dict[str, int] = field(default_factory=lambda: dict.fromkeys(CURRENCIES, 0))
    surcharge: dict[str, int] = field(default_factory=lambda: dict.fromkeys(CURRENCIES, 0))
    payments: dict[uuid.UUID, Payment] = field(default_factory=dict)
    disputes: dict[uuid.UUID, Dispute] = field(default_factory=dict)
    recorded: list[L.LedgerTransaction] = field(default_factory=list)

    def receivable(self, currency: str) -> int:
        return sum(owed for cur, owed in self.open_invoices.values() if cur == currency)

    def held(self, currency: str) -> int:
        return sum(d.amount for d in self.disputes.values() if self.payments[d.payment_id].currency == currency)


def machine(engine: AsyncEngine, run: Callable[[Coroutine[Any, Any, Any]], Any]) -> type[RuleBasedStateMachine]:
    class LedgerMachine(RuleBasedStateMachine):
        tenant: uuid.UUID
        books: Books

        @initialize(amounts=st.lists(st.integers(1, 50_000), min_size=1, max_size=3))
        def new_books(self, amounts: list[int]) -> None:
            """A fresh tenant per example, with a few invoices out so that payments can start at once."""
            self.tenant = run(new_tenant(engine, "Stateful MSP")).tenant_id
            self.books = Books()
            for amount in amounts:
                self.issue_invoice(amount, 0, "USD")

        def record(self, tx: L.LedgerTransaction, *, expect: bool = True) -> None:
            async def go() -> bool:
                async with SqlUnitOfWork(engine, self.tenant) as uow:
                    done = await SqlLedger(uow.conn, self.tenant).record(tx)
                    await uow.commit()
                    return done

            assert run(go()) is expect, tx
            if expect:
                self.books.recorded.append(tx)

        # --- events -------------------------------------------------------------------------------------

        @precondition(lambda self: sum(owed > 0 for _, owed in self.books.open_invoices.values()) < 4)
        @rule(
            amount=st.integers(1, 50_000), tax_pct=st.sampled_from([0, 0, 8, 20]), currency=st.sampled_from(CURRENCIES)
        )
        def issue_invoice(self, amount: int, tax_pct: int, currency: str) -> None:
            inv = uuid.uuid4()
            self.record(
                L.invoice_issued(inv, amount=amount, tax=amount * tax_pct // 100, currency=currency, occurred_at=AT)
            )
            self.books.open_invoices[inv] = (currency, amount)

        @precondition(lambda self: any(owed for _, owed in self.books.open_invoices.values()))
        @rule(data=st.data())
        def pay(self, data: st.DataObject) -> None:
            owing = [(i, c, o) for i, (c, o) in self.books.open_invoices.items() if o > 0]
            _, currency, _ = data.draw(st.sampled_from(owing))
            candidates = [(i, o) for i, c, o in owing if c == currency]
            chosen = data.draw(st.lists(st.sampled_from(candidates), min_size=1, max_size=2, unique=True))
            allocations = {i: data.draw(st.integers(1, o)) for i, o in chosen}
            surcharge = data.draw(st.sampled_from([0, sum(allocations.values()) * 3 // 100]))
            pid = uuid.uuid4()
            gross = sum(allocations.values()) + surcharge
            self.record(
                L.payment_succeeded(
                    pid, allocations=allocations, surcharge=surcharge, amount=gross, currency=currency, occurred_at=AT
                )
            )
            for i, a in allocations.items():
                self.books.open_invoices[i] = (currency, self.books.open_invoices[i][1] - a)
            self.books.clearing[currency] += gross
            self.books.surcharge[currency] += surcharge
            self.books.payments[pid] = Payment(currency, dict(allocations), surcharge, surcharge)

        def _payments(self, ok: Callable[[Payment], bool]) -> list[uuid.UUID]:
            return [p for p, pay in self.books.payments.items() if ok(pay)]

        @precondition(lambda self: self._payments(lambda p: not p.fee_charged and self.books.clearing[p.currency] > 0))
        @rule(data=st.data())
        def charge_fee(self, data: st.DataObject) -> None:
            pid = data.draw(
                st.sampled_from(self._payments(lambda p: not p.fee_charged and self.books.clearing[p.currency] > 0))
            )
            pay = self.books.payments[pid]
            fee = data.draw(st.integers(1, min(self.books.clearing[pay.currency], 2_000)))
            self.record(
                L.processing_fee(pid, fee=fee, currency=pay.currency, occurred_at=AT, balance_transaction=f"txn_{pid}")
            )
            pay.fee_charged = True
            self.books.clearing[pay.currency] -= fee

        def _refundable(self, p: Payment) -> bool:
            return not p.disputed and p.invoice_left > 0 and self.books.clearing[p.currency] > 0

        @precondition(lambda self: self._payments(self._refundable))
        @rule(data=st.data(), reopen=st.booleans())
        def partial_refund(self, data: st.DataObject, reopen: bool) -> None:
            pid = data.draw(st.sampled_from(self._payments(self._refundable)))
            pay = self.books.payments[pid]
            inv = data.draw(st.sampled_from([i for i, a in pay.left.items() if a > 0]))
            collected = sum(pay.left.values())
            room = self.books.clearing[pay.currency]
            amount = data.draw(st.integers(1, min(pay.left[inv], room)))
            # the surcharge pro-rated on the refunded part, floored, within what is left of it and of clearing
            surcharge = min(pay.surcharge_left * amount // collected, room - amount)
            self.record(
                L.refund(uuid.uuid4(), payment_id=pid, allocations={inv: amount}, surcharge=surcharge, currency=pay.currency,
                         reopen_invoices=reopen, occurred_at=AT)
            )  # fmt: skip
            pay.left[inv] -= amount
            pay.surcharge_left -= surcharge
            self.books.clearing[pay.currency] -= amount + surcharge
            self.books.surcharge[pay.currency] -= surcharge
            if reopen:
                cur, owed = self.books.open_invoices[inv]
                self.books.open_invoices[inv] = (cur, owed + amount)

        def _disputable(self, p: Payment) -> bool:
            held = p.invoice_left + p.surcharge_left
            return not p.disputed and p.invoice_left > 0 and self.books.clearing[p.currency] >= held

        @precondition(lambda self: self._payments(self._disputable))
        @rule(data=st.data(), with_fee=st.booleans())
        def open_dispute(self, data: st.DataObject, with_fee: bool) -> None:
            """What is left of a payment is disputed; the dispute fee as far as the balance covers it."""
            pid = data.draw(st.sampled_from(self._payments(self._disputable)))
            pay = self.books.payments[pid]
            amount = pay.invoice_left + pay.surcharge_left
            fee = min(1_500, self.books.clearing[pay.currency] - amount) if with_fee else 0
            dispute = Dispute(pid, {i: a for i, a in pay.left.items() if a > 0}, pay.surcharge_left, fee)
            did = uuid.uuid4()
            self.record(
                L.dispute_opened(did, payment_id=pid, amount=amount, fee=fee, currency=pay.currency, occurred_at=AT)
            )
            pay.disputed = True
            self.books.clearing[pay.currency] -= amount + fee
            self.books.disputes[did] = dispute

        @precondition(lambda self: self.books.disputes)
        @rule(data=st.data(), won=st.booleans(), reopen=st.booleans(), fee_back=st.booleans())
        def close_dispute(self, data: st.DataObject, won: bool, reopen: bool, fee_back: bool) -> None:
            did = data.draw(st.sampled_from(list(self.books.disputes)))
            d = self.books.disputes.pop(did)
            pay = self.books.payments[d.payment_id]
            cur = pay.currency
            back = d.fee if fee_back else 0
            won_tx = L.dispute_won(
                did, payment_id=d.payment_id, amount=d.amount, fee_returned=back, currency=cur, occurred_at=AT
            )
            lost_tx = L.dispute_lost(
                did, payment_id=d.payment_id, allocations=d.allocations, surcharge=d.surcharge, currency=cur,
                reopen_invoices=reopen, occurred_at=AT,
            )  # fmt: skip
            closing, other = (won_tx, lost_tx) if won else (lost_tx, won_tx)
            self.record(closing)
            if won:
                self.books.clearing[cur] += d.amount + back
                pay.disputed = False  # refundable again
            else:
                pay.left = dict.fromkeys(pay.left, 0)
                pay.surcharge_left = 0
                self.books.surcharge[cur] -= d.surcharge
                for i, a in d.allocations.items():
                    if reopen:
                        self.books.open_invoices[i] = (cur, self.books.open_invoices[i][1] + a)
            # the closing redelivered is a no-op; the opposite outcome for the same dispute is refused
            self.record(replace(closing, id=new_id()), expect=False)
            with pytest.raises(KeyReused):
                self.record(other)

        @precondition(lambda self: any(self.books.clearing.values()))
        @rule(data=st.data())
        def payout(self, data: st.DataObject) -> None:
            cur = data.draw(st.sampled_from([c for c in CURRENCIES if self.books.clearing[c] > 0]))
            amount = data.draw(st.integers(1, self.books.clearing[cur]))
            self.record(L.payout(uuid.uuid4(), amount=amount, currency=cur, occurred_at=AT))
            self.books.clearing[cur] -= amount
            self.books.bank[cur] += amount

        @precondition(lambda self: self.books.recorded)
        @rule(data=st.data())
        def redeliver(self, data: st.DataObject) -> None:
            """A recent event again (a webhook delivered twice): a new transaction object, the same key."""
            tx = data.draw(st.sampled_from(self.books.recorded[-6:]))
            self.record(replace(tx, id=new_id()), expect=False)

        # --- invariants ---------------------------------------------------------------------------------

        @invariant()
        def books_agree(self) -> None:
            async def go() -> tuple[L.Balances, L.Balances, list[uuid.UUID]]:
                async with SqlUnitOfWork(engine, self.tenant) as uow:
                    ledger = SqlLedger(uow.conn, self.tenant)
                    return (
                        await ledger.balances(),
                        await ledger.recomputed_balances(),
                        await ledger.unbalanced_transactions(),
                    )

            stored, recomputed, unbalanced = run(go())
            assert unbalanced == []
            assert stored == recomputed
            assert stored == L.balances_from(self.books.recorded)
            for cur in CURRENCIES:
                got = {code: stored.get((code, cur), 0) for code in L.CHART}
                assert got[L.AR] == self.books.receivable(cur), "AR = issued - collected + re-opened"
                assert got[L.CLEARING] == self.books.clearing[cur] >= 0
                assert got[L.BANK] == self.books.bank[cur]
                assert got[L.DISPUTES] == self.books.held(cur)
                assert -got[L.SURCHARGE] == self.books.surcharge[cur] >= 0

    return LedgerMachine


async def test_random_event_sequences_keep_the_books_balanced(engine: AsyncEngine) -> None:
    loop = asyncio.get_running_loop()

    def run(coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, loop).result(timeout=60)

    config = settings(
        max_examples=25,
        stateful_step_count=15,
        deadline=None,
        database=None,  # no .hypothesis/ directory in the repository
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    await asyncio.to_thread(run_state_machine_as_test, machine(engine, run), settings=config)
