"""Several ledger transactions in one statement (how a payment's settlement posts): each recorded once, a key
recorded before skipped (or refused when its entries differ), accounts created on first use, balances kept."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.db.ledger import SqlLedger
from adapters.db.uow import SqlUnitOfWork
from domain import ledger as L
from domain.ledger import KeyReused
from tests.conftest import new_tenant
from tests.ledger.support import AT, read, record


async def _record_all(engine: AsyncEngine, tenant: uuid.UUID, *txs: L.LedgerTransaction) -> list[bool]:
    async with SqlUnitOfWork(engine, tenant) as uow:
        done = await SqlLedger(uow.conn, tenant).record_all(txs)
        await uow.commit()
    return done


def _payment(payment: uuid.UUID, invoice: uuid.UUID, fee: int = 300) -> list[L.LedgerTransaction]:
    return [
        L.payment_succeeded(payment, allocations={invoice: 10_000}, amount=10_000, currency="USD", occurred_at=AT),
        L.processing_fee(payment, fee=fee, currency="USD", occurred_at=AT),
    ]


async def test_a_batch_creates_its_accounts_and_keeps_balances(engine: AsyncEngine) -> None:
    tenant = (await new_tenant(engine, "Batch MSP")).tenant_id
    invoice, payment = uuid.uuid4(), uuid.uuid4()
    issued = L.invoice_issued(invoice, amount=10_000, currency="USD", occurred_at=AT)
    assert await _record_all(engine, tenant, issued, *_payment(payment, invoice)) == [True, True, True]
    balances = await read(engine, tenant, lambda lg: lg.balances())
    assert balances[("accounts_receivable", "USD")] == 0 and balances[("stripe_clearing", "USD")] == 9_700
    assert balances == await read(engine, tenant, lambda lg: lg.recomputed_balances())
    assert await read(engine, tenant, lambda lg: lg.unbalanced_transactions()) == []


async def test_keys_recorded_before_are_skipped_or_refused(engine: AsyncEngine) -> None:
    tenant = (await new_tenant(engine, "Batch again MSP")).tenant_id
    invoice, payment = uuid.uuid4(), uuid.uuid4()
    paid, fee = _payment(payment, invoice)
    assert await record(engine, tenant, fee) == [True]
    assert await _record_all(engine, tenant, *_payment(payment, invoice)) == [True, False]  # the fee was there
    before = await read(engine, tenant, lambda lg: lg.balances())
    with pytest.raises(KeyReused):  # the same key with other entries: the whole unit of work is refused
        await _record_all(engine, tenant, *_payment(uuid.uuid4(), invoice), _payment(payment, invoice, fee=301)[1])
    assert await read(engine, tenant, lambda lg: lg.balances()) == before
    assert paid.key == f"payment_succeeded:{payment}"
