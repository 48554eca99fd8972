"""DriverUnitOfWork: SqlUnitOfWork's guarantees with its transaction begun and ended on the driver."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date, timedelta
from decimal import Decimal

import asyncpg
import pytest
import pytest_asyncio
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.clock import SystemClock
from adapters.config import Settings
from adapters.db.driver_uow import DriverUnitOfWork, TransactionFailed
from adapters.db.engine import app_engine
from domain.auth import ALL_SCOPES, Principal
from domain.clients import NewClient
from domain.errors import DuplicateInvoiceNumber
from domain.invoices import NewInvoice, NewInvoiceLine
from domain.usecases import clients as client_uc
from domain.usecases import invoices as invoice_uc
from tests.conftest import new_tenant

CLOCK = SystemClock()


@pytest_asyncio.fixture
async def one_connection(settings: Settings) -> AsyncIterator[AsyncEngine]:
    """A pool of one: every unit of work gets the connection the previous one handed back."""
    eng = app_engine(settings, pool_size=1)
    yield eng
    await eng.dispose()


async def _client(engine: AsyncEngine, tenant: object, name: str, *, commit: bool = True) -> object:
    async with DriverUnitOfWork(engine, tenant) as uow:  # type: ignore[arg-type]
        c = await client_uc.create_client(uow, Principal(uow.tenant_id, "t", ALL_SCOPES), CLOCK, NewClient(name))
        if commit:
            await uow.commit()
    return c.id


async def _state(engine: AsyncEngine) -> tuple[str, bool]:
    """The tenant setting and transaction state a fresh unit of work's connection arrives with."""
    async with engine.connect() as conn:
        raw = (await conn.get_raw_connection()).driver_connection
        assert raw is not None
        return str(await raw.fetchval("SELECT current_setting('app.tenant_id', true)") or ""), raw.is_in_transaction()


async def test_commit_keeps_the_work_and_the_tenant_walls_stand(one_connection: AsyncEngine) -> None:
    a, b = (
        (await new_tenant(one_connection, "Driver A")).tenant_id,
        (await new_tenant(one_connection, "Driver B")).tenant_id,
    )
    client_id = await _client(one_connection, a, "Kept")
    async with DriverUnitOfWork(one_connection, a) as uow:
        assert await uow.clients.get(client_id) is not None  # type: ignore[arg-type]
    async with DriverUnitOfWork(one_connection, b) as uow:
        assert await uow.clients.get(client_id) is None  # type: ignore[arg-type]
        count = (await uow.conn.execute(text("SELECT count(*) FROM clients"))).scalar_one()
        assert count == 0  # row-level security: tenant B sees none of A's rows
    assert await _state(one_connection) == ("", False)


async def test_leaving_without_commit_rolls_back_and_pools_a_clean_connection(one_connection: AsyncEngine) -> None:
    tenant = (await new_tenant(one_connection, "Driver rollback")).tenant_id
    client_id = await _client(one_connection, tenant, "Dropped", commit=False)
    with pytest.raises(RuntimeError):
        async with DriverUnitOfWork(one_connection, tenant) as uow:
            await client_uc.create_client(uow, Principal(tenant, "t", ALL_SCOPES), CLOCK, NewClient("Also dropped"))
            raise RuntimeError("boom")
    async with DriverUnitOfWork(one_connection, tenant) as uow:
        assert await uow.clients.get(client_id) is None  # type: ignore[arg-type]
        assert (await uow.conn.execute(text("SELECT count(*) FROM clients"))).scalar_one() == 0
    assert await _state(one_connection) == ("", False)


async def test_a_savepoint_inside_keeps_the_transaction_usable(one_connection: AsyncEngine) -> None:
    tenant = (await new_tenant(one_connection, "Driver savepoint")).tenant_id
    client_id = await _client(one_connection, tenant, "Numbered")
    today = date.today()
    new = NewInvoice(
        client_id, "INV-1", "USD", today, today + timedelta(days=30),  # type: ignore[arg-type]
        [NewInvoiceLine("Managed services", Decimal(1), 100)],
    )  # fmt: skip
    async with DriverUnitOfWork(one_connection, tenant) as uow:
        principal = Principal(tenant, "t", ALL_SCOPES)
        await invoice_uc.create_invoice(uow, principal, CLOCK, new)
        with pytest.raises(DuplicateInvoiceNumber):
            await invoice_uc.create_invoice(uow, principal, CLOCK, new)
        await invoice_uc.create_invoice(uow, principal, CLOCK, NewInvoice(**{**new.__dict__, "number": "INV-2"}))
        await uow.commit()
    async with DriverUnitOfWork(one_connection, tenant) as uow:
        assert (await uow.conn.execute(text("SELECT count(*) FROM invoices"))).scalar_one() == 2


async def test_commit_after_a_failed_statement_says_so(one_connection: AsyncEngine) -> None:
    tenant = (await new_tenant(one_connection, "Driver failed")).tenant_id
    async with DriverUnitOfWork(one_connection, tenant) as uow:
        with pytest.raises(asyncpg.PostgresError):
            await (await uow.conn.get_raw_connection()).driver_connection.execute("SELECT 1 / 0")
        with pytest.raises(TransactionFailed):
            await uow.commit()
    assert await _state(one_connection) == ("", False)
