"""Helpers for the ledger's database tests."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.db.ledger import SqlLedger
from adapters.db.uow import SqlUnitOfWork
from domain.ledger import LedgerTransaction
from domain.ports import Ledger

AT = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
T = TypeVar("T")


async def record(engine: AsyncEngine, tenant: uuid.UUID, *txs: LedgerTransaction) -> list[bool]:
    """Record in one committed unit of work; what each `record` answered."""
    async with SqlUnitOfWork(engine, tenant) as uow:
        ledger = SqlLedger(uow.conn, tenant)
        out = [await ledger.record(tx) for tx in txs]
        await uow.commit()
    return out


async def read(engine: AsyncEngine, tenant: uuid.UUID, f: Callable[[SqlLedger], Awaitable[T]]) -> T:
    async with SqlUnitOfWork(engine, tenant) as uow:
        return await f(SqlLedger(uow.conn, tenant))


def as_port(ledger: SqlLedger) -> Ledger:
    """Type-checked: the adapter implements the domain's port."""
    return ledger
