"""Outbox writes (in the use case's transaction) and the cross-tenant relay queries."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from adapters.db.tables import outbox
from domain.events import DomainEvent


class SqlOutbox:
    def __init__(self, conn: AsyncConnection, tenant_id: uuid.UUID) -> None:
        self.conn = conn
        self.tenant_id = tenant_id

    async def add(self, event: DomainEvent) -> None:
        assert event.tenant_id == self.tenant_id, "an event belongs to the unit of work's tenant"
        await self.conn.execute(
            outbox.insert().values(
                tenant_id=event.tenant_id,
                id=event.id,
                event_type=event.type,
                subject_id=event.subject_id,
                payload=event.data,
                occurred_at=event.occurred_at,
            )
        )


@dataclass(frozen=True)
class PendingEvent:
    tenant_id: uuid.UUID
    id: uuid.UUID
    event_type: str


async def lock_pending(conn: AsyncConnection, limit: int) -> list[PendingEvent]:
    """Lock up to `limit` undispatched rows (skipping rows another relay holds) until the transaction ends."""
    rows = await conn.execute(text("SELECT * FROM outbox_lock_pending(:n)"), {"n": limit})
    return [PendingEvent(r.tenant_id, r.id, r.event_type) for r in rows]


async def mark_dispatched(conn: AsyncConnection, events: list[PendingEvent]) -> None:
    await conn.execute(
        text("SELECT outbox_mark_dispatched(CAST(:t AS uuid[]), CAST(:i AS uuid[]))"),
        {"t": [e.tenant_id for e in events], "i": [e.id for e in events]},
    )
