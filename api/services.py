"""What the web edge holds for the life of the process (built in api/app.py, the composition root)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.auth.tokens import TokenService
from adapters.clock import SystemClock
from adapters.config import Settings
from adapters.crypto import KeyRing
from adapters.db.connections import tenant_of_state
from adapters.db.uow import SqlUnitOfWork
from adapters.vendor_flows import VendorFlows


@dataclass
class Services:
    settings: Settings
    engine: AsyncEngine
    tokens: TokenService
    redis: Redis
    clock: SystemClock
    ring: KeyRing
    vendors: VendorFlows

    def uow(self, tenant_id: uuid.UUID) -> SqlUnitOfWork:
        return SqlUnitOfWork(self.engine, tenant_id, self.ring)

    async def tenant_of(self, state_hash: str) -> uuid.UUID | None:
        """The StateDirectory port: whose consent a callback's state belongs to."""
        async with self.engine.connect() as conn:
            return await tenant_of_state(conn, state_hash)
