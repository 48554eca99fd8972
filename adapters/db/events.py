"""The tenant's event feed and the per-handler record that makes event jobs run once."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from adapters.db.tables import events, outbox, processed_events
from domain.events import DomainEvent
from domain.pagination import Page, PageRequest, page_of


class SqlEventFeed:
    def __init__(self, conn: AsyncConnection, tenant_id: uuid.UUID) -> None:
        self.conn = conn
        self.tenant_id = tenant_id

    async def outbox_event(self, event_id: uuid.UUID) -> DomainEvent | None:
        row = (
            await self.conn.execute(select(outbox).where(outbox.c.tenant_id == self.tenant_id, outbox.c.id == event_id))
        ).first()
        if row is None:
            return None
        return DomainEvent(row.event_type, row.tenant_id, row.subject_id, row.occurred_at, row.payload, row.id)

    async def claim(self, event_id: uuid.UUID, handler: str) -> bool:
        """Record that `handler` handled the event; False when it already had (the row exists).

        Called in the same transaction as the handler's effects, so the claim and the effects commit or
        vanish together: a worker killed mid-job leaves nothing claimed, and the retry runs it again.
        """
        result = await self.conn.execute(
            insert(processed_events)
            .values(tenant_id=self.tenant_id, id=event_id, handler=handler)
            .on_conflict_do_nothing()
            .returning(processed_events.c.id)
        )
        return result.first() is not None

    async def publish(self, event: DomainEvent) -> None:
        await self.conn.execute(
            insert(events)
            .values(
                tenant_id=event.tenant_id,
                id=event.id,
                event_type=event.type,
                subject_id=event.subject_id,
                data=event.data,
                occurred_at=event.occurred_at,
            )
            .on_conflict_do_nothing()
        )

    async def list_page(self, page: PageRequest, event_type: str | None = None) -> Page[DomainEvent]:
        q = (
            select(
                events.c.event_type,
                events.c.tenant_id,
                events.c.subject_id,
                events.c.occurred_at,
                events.c.data,
                events.c.id,
            )
            .where(events.c.tenant_id == self.tenant_id)
            .order_by(events.c.id.desc())
            .limit(page.limit + 1)
        )
        if event_type:
            q = q.where(events.c.event_type == event_type)
        if page.after is not None:
            q = q.where(events.c.id < page.after)
        rows = await self.conn.execute(q)
        return page_of([DomainEvent(*r) for r in rows], page.limit)
