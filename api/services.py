"""What the web edge holds for the life of the process (built in api/app.py, the composition root)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.auth.tokens import TokenService
from adapters.config import Settings
from adapters.crypto import KeyRing
from adapters.db.connections import tenant_of_state
from adapters.db.uow import SqlUnitOfWork
from domain.connections import Provider
from domain.usecases.connections import CredentialsFlow, OAuthFlow


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


@dataclass
class Vendors:
    """The vendor side of connections: one HTTP client for all vendor calls, and each vendor's flow."""

    http: httpx.AsyncClient
    oauth: dict[Provider, OAuthFlow]  # vendors configured for the consent redirect
    halopsa: CredentialsFlow
    allow_http_urls: bool = False  # development only: the sandboxes listen on plain http


@dataclass
class Services:
    settings: Settings
    engine: AsyncEngine
    tokens: TokenService
    redis: Redis
    clock: SystemClock
    ring: KeyRing
    vendors: Vendors

    def uow(self, tenant_id: uuid.UUID) -> SqlUnitOfWork:
        return SqlUnitOfWork(self.engine, tenant_id, self.ring)

    async def tenant_of(self, state_hash: str) -> uuid.UUID | None:
        """The StateDirectory port: whose consent a callback's state belongs to."""
        async with self.engine.connect() as conn:
            return await tenant_of_state(conn, state_hash)
