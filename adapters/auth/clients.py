"""Tenants and their API clients: created by the operator CLI, looked up by the token endpoint."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.auth.secrets import hash_secret, new_client_id, new_client_secret
from adapters.db.tables import api_clients, tenants
from adapters.db.uow import tenant_transaction
from domain.auth import ALL_SCOPES
from domain.ids import new_id


@dataclass(frozen=True)
class ApiClientRecord:
    tenant_id: uuid.UUID
    client_id: str
    secret_hash: str
    scopes: frozenset[str]


@dataclass(frozen=True)
class NewCredentials:
    tenant_id: uuid.UUID
    client_id: str
    client_secret: str  # shown once; only its hash is stored
    scopes: frozenset[str]


async def find_api_client(engine: AsyncEngine, client_id: str) -> ApiClientRecord | None:
    async with engine.connect() as conn:
        row = (await conn.execute(text("SELECT * FROM find_api_client(:c)"), {"c": client_id})).first()
    if row is None:
        return None
    return ApiClientRecord(row.tenant_id, row.client_id, row.secret_hash, frozenset(row.scopes))


async def create_tenant(
    engine: AsyncEngine, name: str, timezone: str = "UTC", tenant_id: uuid.UUID | None = None
) -> uuid.UUID:
    tid = tenant_id or new_id()
    async with tenant_transaction(engine, tid) as conn:
        await conn.execute(tenants.insert().values(id=tid, name=name, timezone=timezone, created_at=datetime.now(UTC)))
    return tid


async def tenant_exists(engine: AsyncEngine, tenant_id: uuid.UUID) -> bool:
    async with tenant_transaction(engine, tenant_id) as conn:
        return (await conn.execute(select(tenants.c.id).where(tenants.c.id == tenant_id))).first() is not None


async def create_api_client(
    engine: AsyncEngine, tenant_id: uuid.UUID, name: str, scopes: frozenset[str]
) -> NewCredentials:
    unknown = scopes - ALL_SCOPES
    if unknown:
        raise ValueError(f"unknown scopes: {', '.join(sorted(unknown))}")
    client_id, secret = new_client_id(), new_client_secret()
    async with tenant_transaction(engine, tenant_id) as conn:
        await conn.execute(
            api_clients.insert().values(
                tenant_id=tenant_id,
                id=new_id(),
                client_id=client_id,
                name=name,
                secret_hash=hash_secret(secret),
                scopes=sorted(scopes),
                created_at=datetime.now(UTC),
            )
        )
    return NewCredentials(tenant_id, client_id, secret, scopes)


async def list_api_clients(engine: AsyncEngine, tenant_id: uuid.UUID) -> list[dict[str, object]]:
    async with tenant_transaction(engine, tenant_id) as conn:
        rows = await conn.execute(
            select(
                api_clients.c.client_id,
                api_clients.c.name,
                api_clients.c.scopes,
                api_clients.c.created_at,
                api_clients.c.disabled_at,
            )
            .where(api_clients.c.tenant_id == tenant_id)
            .order_by(api_clients.c.created_at)
        )
        return [dict(r._mapping) for r in rows]
