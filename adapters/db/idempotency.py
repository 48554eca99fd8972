"""Stored responses of idempotent requests, per tenant, in the request's own transaction."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from adapters.db.tables import idempotency_keys as keys
from domain.ids import new_id


@dataclass(frozen=True)
class StoredResponse:
    request_hash: str
    status: int
    body: bytes
    content_type: str


class SqlIdempotencyKeys:
    def __init__(self, conn: AsyncConnection, tenant_id: uuid.UUID) -> None:
        self.conn = conn
        self.tenant_id = tenant_id

    async def claim(
        self, key: str, method: str, path: str, request_hash: str, now: datetime, ttl: timedelta
    ) -> uuid.UUID | None:
        """Insert the key; None when it already exists (committed by an earlier or concurrent request).

        A concurrent request with the same key waits here on the unique index until ours commits or rolls
        back, which is what keeps two such requests from both running.
        """
        # An expired key is free again.
        await self.conn.execute(
            delete(keys).where(keys.c.tenant_id == self.tenant_id, keys.c.key == key, keys.c.expires_at < now)
        )
        row = (
            await self.conn.execute(
                insert(keys)
                .values(
                    tenant_id=self.tenant_id,
                    id=new_id(),
                    key=key,
                    request_method=method,
                    request_path=path,
                    request_hash=request_hash,
                    response_status=0,
                    response_body=b"",
                    response_content_type="",
                    created_at=now,
                    expires_at=now + ttl,
                )
                .on_conflict_do_nothing(index_elements=["tenant_id", "key"])
                .returning(keys.c.id)
            )
        ).first()
        return row.id if row else None

    async def stored(self, key: str) -> StoredResponse | None:
        row = (
            await self.conn.execute(
                select(
                    keys.c.request_hash, keys.c.response_status, keys.c.response_body, keys.c.response_content_type
                ).where(keys.c.tenant_id == self.tenant_id, keys.c.key == key)
            )
        ).first()
        if row is None:
            return None
        return StoredResponse(
            row.request_hash, row.response_status, bytes(row.response_body), row.response_content_type
        )

    async def complete(self, key_id: uuid.UUID, status: int, body: bytes, content_type: str) -> None:
        await self.conn.execute(
            update(keys)
            .where(keys.c.tenant_id == self.tenant_id, keys.c.id == key_id)
            .values(response_status=status, response_body=body, response_content_type=content_type)
        )


async def purge_expired(engine: AsyncEngine) -> int:
    """Delete expired keys of every tenant (through the narrow SECURITY DEFINER function)."""
    async with engine.begin() as conn:
        return int((await conn.execute(text("SELECT purge_expired_idempotency_keys()"))).scalar_one())
