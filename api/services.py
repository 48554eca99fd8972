"""What the web edge holds for the life of the process (built in api/app.py, the composition root)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.auth.tokens import TokenService
from adapters.config import Settings
from adapters.db.uow import SqlUnitOfWork


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


@dataclass
class Services:
    settings: Settings
    engine: AsyncEngine
    tokens: TokenService
    redis: Redis
    clock: SystemClock

    def uow(self, tenant_id: uuid.UUID) -> SqlUnitOfWork:
        return SqlUnitOfWork(self.engine, tenant_id)
