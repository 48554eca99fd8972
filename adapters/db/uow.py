"""The unit of work: one tenant's transaction on the application role."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from types import TracebackType

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncTransaction

from adapters.crypto import KeyRing
from adapters.db.agreements import SqlAgreementRepository
from adapters.db.clients import SqlClientRepository
from adapters.db.connections import SqlConnectionRepository, SqlOAuthStates
from adapters.db.disputes_payouts import SqlDisputesPayouts
from adapters.db.events import SqlEventFeed
from adapters.db.invoices import SqlInvoiceRepository
from adapters.db.ledger import SqlLedger
from adapters.db.outbox import SqlOutbox
from adapters.db.payments import SqlPayments
from adapters.db.refunds import SqlRefunds

_SET_TENANT = text("SELECT set_config('app.tenant_id', :tenant, true)")


async def set_tenant(conn: AsyncConnection, tenant_id: uuid.UUID) -> None:
    """Scope the current transaction to one tenant (transaction-local: it ends with the transaction)."""
    await conn.execute(_SET_TENANT, {"tenant": str(tenant_id)})


@contextlib.asynccontextmanager
async def tenant_transaction(engine: AsyncEngine, tenant_id: uuid.UUID) -> AsyncIterator[AsyncConnection]:
    """A committed-on-success transaction scoped to one tenant, for operator tasks outside a use case."""
    async with engine.begin() as conn:
        await set_tenant(conn, tenant_id)
        yield conn


class SqlUnitOfWork:
    """`async with SqlUnitOfWork(engine, tenant): ...; await uow.commit()`; leaving without commit rolls back.

    The tenant is set with set_config(..., is_local => true) as the first statement of the transaction, so
    it ends with the transaction and cannot leak to the next user of a pooled connection.
    """

    conn: AsyncConnection

    def __init__(self, engine: AsyncEngine, tenant_id: uuid.UUID, ring: KeyRing | None = None) -> None:
        self.engine = engine
        self.tenant_id = tenant_id
        self.ring = ring  # decrypts vendor tokens; only units of work that touch connections need it
        self._tx: AsyncTransaction | None = None

    async def __aenter__(self) -> SqlUnitOfWork:
        self.conn = await self.engine.connect()
        try:
            self._tx = await self.conn.begin()
            await set_tenant(self.conn, self.tenant_id)
        except BaseException:
            await self.conn.close()
            raise
        self._open_repositories()
        return self

    def _open_repositories(self) -> None:
        """The repositories, on this unit of work's connection (also DriverUnitOfWork's, adapters/db/driver_uow.py)."""
        self.clients = SqlClientRepository(self.conn, self.tenant_id)
        self.invoices = SqlInvoiceRepository(self.conn, self.tenant_id)
        self.agreements = SqlAgreementRepository(self.conn, self.tenant_id)
        self.outbox = SqlOutbox(self.conn, self.tenant_id)
        self.payments = SqlPayments(self.conn, self.tenant_id)
        self.refunds = SqlRefunds(self.conn, self.tenant_id)
        self.ledger = SqlLedger(self.conn, self.tenant_id)
        self.disputes_payouts = SqlDisputesPayouts(self.conn, self.tenant_id)
        self.events = SqlEventFeed(self.conn, self.tenant_id)
        self.connections = SqlConnectionRepository(self.conn, self.tenant_id, self.ring)
        self.oauth_states = SqlOAuthStates(self.conn, self.tenant_id, self.ring)

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            if self._tx is not None and self._tx.is_active:
                await self._tx.rollback()
        finally:
            await self.conn.close()

    async def commit(self) -> None:
        """Commit; the unit of work is finished afterwards (open a new one for more work)."""
        assert self._tx is not None, "unit of work not entered"
        await self._tx.commit()

    async def rollback(self) -> None:
        assert self._tx is not None, "unit of work not entered"
        await self._tx.rollback()
