"""Payouts: each Stripe payout with the balance transactions it carries, the basis of one bank deposit in the
books (domain.md §5: the payments it contains at gross, minus a fee line, plus or minus refunds and disputes,
equal to the bank line to the cent). And the ledger as the API shows it.

A `payout.*` event is a hint: the payout is re-read. Once paid, its transactions are listed (automatic payouts
only: Stripe cannot list a manual payout's), stored as lines (unique per balance transaction), and the ledger
moves the amount from clearing to the bank once (`payout:<id>`). A payout the bank bounces after it was paid
moves it back (`payout_failed:<id>`); one that fails before it was paid was never posted and posts nothing.
A line of ours whose processing fee was never posted (its payment's webhook not handled yet) posts it, under
the same key the payment would use, so clearing nets to zero over a payout.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Protocol, cast

from domain import ledger
from domain.auth import Principal, Scope
from domain.errors import FieldError, NotFound, ValidationFailed
from domain.events import DomainEvent
from domain.ids import new_id
from domain.ledger import Kind, LedgerTransaction
from domain.pagination import Page, PageRequest
from domain.payment_gateway import PaymentGateway, PayoutFacts, PayoutTransaction
from domain.ports import Clock
from domain.usecases.disputes import DisputeStore
from domain.usecases.payment_ports import PaymentsUnitOfWork

PAYOUT_PAID = "payout.paid"
PAYOUT_FAILED = "payout.failed"
EVENTS = frozenset(
    {
        "payout.created",
        "payout.updated",
        "payout.paid",
        "payout.failed",
        "payout.canceled",
        "payout.reconciliation_completed",
    }
)
_CHARGES = frozenset({"charge", "payment"})  # a card charge; an ACH debit


@dataclass(frozen=True)
class PayoutLine:
    balance_transaction_id: str
    kind: str  # Stripe's balance transaction type
    payment_id: uuid.UUID | None  # ours, when the line is one of our payments (or its refund or dispute)
    gross: int
    fee: int
    net: int


@dataclass
class Payout:
    id: uuid.UUID
    stripe_payout_id: str
    currency: str
    amount: int  # what reaches the bank: the lines' net
    status: str
    arrival_date: date | None
    created_at: datetime
    updated_at: datetime
    gross: int = 0  # the lines' totals (read back with the payout)
    fees: int = 0
    lines: list[PayoutLine] = field(default_factory=list)  # read only for one payout


class PayoutStore(DisputeStore, Protocol):
    async def save_payout(self, p: Payout) -> Payout:
        """Insert, or update the row with this Stripe id, locked until commit; the stored row."""

    async def add_payout_lines(self, payout_id: uuid.UUID, lines: Sequence[PayoutLine]) -> None:
        """Once per balance transaction: lines stored before are left as they are."""

    async def payout(self, payout_id: uuid.UUID) -> Payout | None: ...

    async def payouts(self, page: PageRequest) -> Page[Payout]: ...


class PayoutsUnitOfWork(PaymentsUnitOfWork, Protocol):
    @property
    def disputes_payouts(self) -> PayoutStore: ...


def _store(uow: PaymentsUnitOfWork) -> PayoutStore:
    # Stripe event handlers are typed with the payments unit of work; the SQL one carries this store too.
    return cast(PayoutsUnitOfWork, uow).disputes_payouts


async def on_payout_event(
    uow_factory: Callable[[], PaymentsUnitOfWork], gateway: PaymentGateway, clock: Clock, payload: dict[str, Any]
) -> str:
    """A `payout.*` event: re-read the payout (and, once paid, its transactions) and record it."""
    obj = (payload.get("data") or {}).get("object") or {}
    account = payload.get("account") or ""
    facts = await gateway.payout(account, str(obj["id"]))
    txns = await gateway.payout_transactions(account, facts.id) if facts.status == "paid" and facts.automatic else []
    async with uow_factory() as uow:
        payout = await record_payout(uow, clock, facts, txns)
        await uow.commit()
    return f"payout {facts.id} {payout.status}: {len(txns)} lines"


async def record_payout(
    uow: PaymentsUnitOfWork, clock: Clock, facts: PayoutFacts, txns: Sequence[PayoutTransaction]
) -> Payout:
    """Store the payout as it is now with its lines, and post it (or its failure) once. Idempotent."""
    now = clock.now()
    store = _store(uow)
    fresh = Payout(new_id(), facts.id, facts.currency, facts.amount, facts.status, facts.arrival_date, now, now)
    payout = await store.save_payout(fresh)  # the row lock serialises the events of one payout
    lines = await _lines(store, txns)
    await store.add_payout_lines(payout.id, lines)
    if facts.status == "paid":
        await _fees_not_yet_posted(uow, facts, lines, now)
        posted = ledger.payout(
            payout.id, amount=facts.amount, currency=facts.currency, occurred_at=now, external_id=facts.id
        )
        if facts.amount > 0 and await uow.ledger.record(posted):
            await uow.outbox.add(DomainEvent(PAYOUT_PAID, uow.tenant_id, payout.id, now, _snapshot(payout, lines)))
    elif facts.status == "failed" and await uow.ledger.find(f"payout:{payout.id}"):
        failed = ledger.payout_failed(
            payout.id, amount=facts.amount, currency=facts.currency, occurred_at=now, external_id=facts.id
        )
        if await uow.ledger.record(failed):
            await uow.outbox.add(DomainEvent(PAYOUT_FAILED, uow.tenant_id, payout.id, now, _snapshot(payout, [])))
    return payout


async def _lines(store: PayoutStore, txns: Sequence[PayoutTransaction]) -> list[PayoutLine]:
    """Each transaction with our payment id, when it is ours (checked: metadata alone is not proof)."""
    claimed = [u for t in txns if (u := _uuid(t.payment_id)) is not None]
    ours = await store.match_payments(claimed, [t.payment_intent for t in txns if t.payment_intent])

    def payment_of(t: PayoutTransaction) -> uuid.UUID | None:
        return ours.get(t.payment_id or "") or ours.get(t.payment_intent or "")

    return [PayoutLine(t.id, t.type, payment_of(t), t.gross, t.fee, t.net) for t in txns]


async def _fees_not_yet_posted(
    uow: PaymentsUnitOfWork, facts: PayoutFacts, lines: list[PayoutLine], now: datetime
) -> None:
    for line in lines:
        if line.kind not in _CHARGES or line.payment_id is None or line.fee <= 0:
            continue
        if await uow.ledger.find(f"{Kind.PROCESSING_FEE}:{line.payment_id}") is None:
            fee = ledger.processing_fee(line.payment_id, fee=line.fee, currency=facts.currency, occurred_at=now)
            await uow.ledger.record(fee)


def _uuid(value: str | None) -> uuid.UUID | None:
    try:
        return uuid.UUID(value) if value else None
    except ValueError:
        return None


def _snapshot(p: Payout, lines: Sequence[PayoutLine]) -> dict[str, Any]:
    return {
        "id": str(p.id), "stripe_payout_id": p.stripe_payout_id, "amount": p.amount, "currency": p.currency,
        "gross": sum(x.gross for x in lines), "fees": sum(x.fee for x in lines),
        "payments": sorted({str(x.payment_id) for x in lines if x.payment_id}),
    }  # fmt: skip


# -- reads ------------------------------------------------------------------------------------------------


async def get_payout(uow: PayoutsUnitOfWork, principal: Principal, payout_id: uuid.UUID) -> Payout:
    principal.require(Scope.INVOICES_READ)
    found = await uow.disputes_payouts.payout(payout_id)
    if found is None:
        raise NotFound("payout", payout_id)
    return found


async def list_payouts(uow: PayoutsUnitOfWork, principal: Principal, page: PageRequest) -> Page[Payout]:
    principal.require(Scope.INVOICES_READ)
    return await uow.disputes_payouts.payouts(page)


@dataclass(frozen=True)
class AccountBalance:
    account: str  # the chart's code
    name: str
    type: str
    currency: str
    balance: int  # as a person reads it: positive on the account's normal side
    debit_balance: int  # debit-positive, as stored


@dataclass(frozen=True)
class LedgerBalances:
    balances: list[AccountBalance]
    matches_entries: bool  # the stored balances equal the sums of the entries


async def ledger_balances(uow: PaymentsUnitOfWork, principal: Principal) -> LedgerBalances:
    principal.require(Scope.INVOICES_READ)
    stored = await uow.ledger.balances()
    recomputed = await uow.ledger.recomputed_balances()
    rows = [
        AccountBalance(code, ledger.CHART[code].name, ledger.CHART[code].type.value, currency,
                       ledger.natural_balance(code, signed), signed)
        for (code, currency), signed in sorted(stored.items())
    ]  # fmt: skip
    same = {k: v for k, v in stored.items() if v} == {k: v for k, v in recomputed.items() if v}
    return LedgerBalances(rows, same)


def ledger_kind(kind: str | None) -> Kind | None:
    if kind is None:
        return None
    try:
        return Kind(kind)
    except ValueError:
        raise ValidationFailed([FieldError("kind", f"is one of {', '.join(k.value for k in Kind)}")]) from None


async def ledger_transactions(
    uow: PaymentsUnitOfWork, principal: Principal, page: PageRequest, kind: str | None = None
) -> Page[LedgerTransaction]:
    """Newest first, each with its entries; `kind` one of `Kind`'s values."""
    principal.require(Scope.INVOICES_READ)
    return await uow.ledger.list_page(page, kind=ledger_kind(kind))
