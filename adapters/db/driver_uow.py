"""A unit of work whose transaction is begun and ended on the driver: BEGIN and the tenant in one round trip.

SqlUnitOfWork's transaction costs two round trips before any work (SQLAlchemy sends BEGIN, then the tenant's
set_config) and a third to commit. On a hot path of two short transactions per operation (a payment attempt,
adapters/db/attempts.py) that is a large share of the work, so this one sends `BEGIN; SELECT set_config(...)`
as a single simple-protocol query, then `COMMIT` or `ROLLBACK` itself. Everything else is SqlUnitOfWork's:
the same repositories on the same connection. SQLAlchemy's side of the connection is switched to AUTOCOMMIT,
so the repositories that execute through SQLAlchemy run inside this transaction instead of opening their own
(asyncpg refuses a transaction object inside a transaction it did not start).

The guarantees stay: the tenant is set, transaction-local, by the first statement of the transaction; leaving
without commit rolls back; a connection whose transaction state is in doubt is discarded, never pooled.
"""

from __future__ import annotations

import uuid
from types import TracebackType
from typing import Any

from adapters.db.driver import driver
from adapters.db.uow import SqlUnitOfWork


def begin_sql(tenant_id: uuid.UUID) -> str:
    # The simple query protocol carries two statements but no bind parameters: the tenant's id is spliced in,
    # re-parsed as a UUID, whose text cannot hold a quote.
    return f"BEGIN; SELECT set_config('app.tenant_id', '{uuid.UUID(str(tenant_id))}', true)"


class TransactionFailed(Exception):
    """COMMIT found the transaction already failed (PostgreSQL then rolls back and answers ROLLBACK)."""


class DriverUnitOfWork(SqlUnitOfWork):
    """`async with DriverUnitOfWork(engine, tenant): ...; await uow.commit()`, as SqlUnitOfWork."""

    _raw: Any

    async def __aenter__(self) -> DriverUnitOfWork:
        self.conn = await self.engine.connect()
        try:
            await self.conn.execution_options(isolation_level="AUTOCOMMIT")
            self._raw = await driver(self.conn)
            await self._raw.execute(begin_sql(self.tenant_id))
        except BaseException:
            await self._discard()
            raise
        self._open_repositories()
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._raw.is_in_transaction():
            try:
                await self._raw.execute("ROLLBACK")
            except BaseException:
                await self._discard()
                if e is None:
                    raise
                return  # leaving because of `e`: the error to report, not the rollback's on a broken connection
        await self.conn.close()

    async def commit(self) -> None:
        """Commit; the unit of work is finished afterwards (open a new one for more work)."""
        status = await self._raw.execute("COMMIT")
        if status != "COMMIT":
            raise TransactionFailed(f"the transaction had failed and was rolled back ({status})")

    async def rollback(self) -> None:
        await self._raw.execute("ROLLBACK")

    async def _discard(self) -> None:
        """Close the connection for good: its transaction may still be open, so it must not go back to the pool."""
        try:
            await self.conn.invalidate()
        finally:
            await self.conn.close()
