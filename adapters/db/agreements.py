"""Agreements repository (read-only: the HaloPSA sync writes agreements). Every query is scoped by tenant
here, and again by row-level security below."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from adapters.db.tables_sync import agreements
from domain.agreements import Agreement, AgreementFilter, SubtypeCount
from domain.pagination import Page, PageRequest, page_of

# What an Agreement entity holds (the content hash is the sync store's business).
_COLUMNS = [c for c in agreements.c if c.name != "content_hash"]


class SqlAgreementRepository:
    def __init__(self, conn: AsyncConnection, tenant_id: uuid.UUID) -> None:
        self.conn = conn
        self.tenant_id = tenant_id

    def _scoped(self) -> Any:
        return select(*_COLUMNS).where(agreements.c.tenant_id == self.tenant_id)

    async def get(self, agreement_id: uuid.UUID) -> Agreement | None:
        row = (await self.conn.execute(self._scoped().where(agreements.c.id == agreement_id))).first()
        return _to_agreement(row._mapping) if row else None

    async def list_page(self, where: AgreementFilter, page: PageRequest) -> Page[Agreement]:
        q = self._scoped().order_by(agreements.c.id.desc()).limit(page.limit + 1)
        if where.client_id is not None:
            q = q.where(agreements.c.client_id == where.client_id)
        if where.active is not None:
            q = q.where(agreements.c.active == where.active)
        if page.after is not None:
            q = q.where(agreements.c.id < page.after)
        rows = await self.conn.execute(q)
        return page_of([_to_agreement(r._mapping) for r in rows], page.limit)

    async def subtype_counts(self) -> list[SubtypeCount]:
        type_names = func.array_agg(agreements.c.type_name.distinct()).filter(agreements.c.type_name.is_not(None))
        q = (
            select(agreements.c.subtype, type_names, func.count())
            .where(agreements.c.tenant_id == self.tenant_id)
            .group_by(agreements.c.subtype)
        )
        rows = await self.conn.execute(q)
        return [SubtypeCount(subtype, tuple(names or ()), count) for subtype, names, count in rows]


def _to_agreement(r: Any) -> Agreement:
    return Agreement(
        tenant_id=r["tenant_id"],
        id=r["id"],
        client_id=r["client_id"],
        source=r["source"],
        external_id=r["external_id"],
        reference=r["reference"],
        type_name=r["type_name"],
        subtype=r["subtype"],
        start_date=r["start_date"],
        end_date=r["end_date"],
        active=r["active"],
        billing_period=r["billing_period"],
        period_charge=r["period_charge"],
        created_at=r["created_at"],
        updated_at=r["updated_at"],
    )
