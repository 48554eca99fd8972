"""Clients repository. Every query is scoped by tenant here, and again by row-level security below."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import any_, bindparam, select
from sqlalchemy.dialects.postgresql import ARRAY, UUID
from sqlalchemy.ext.asyncio import AsyncConnection

from adapters.db.driver import DriverSelect
from adapters.db.tables import clients
from domain.clients import Address, Client
from domain.pagination import Page, PageRequest, page_of

# What a Client entity holds, in this order (_to_client unpacks by position); the sync's columns are not read.
_COLUMNS = [
    clients.c[name]
    for name in (
        "tenant_id", "id", "name", "billing_email", "address_line1", "address_line2", "address_city",
        "address_state", "address_postal_code", "address_country", "created_at", "updated_at",
    )
]  # fmt: skip


class SqlClientRepository:
    def __init__(self, conn: AsyncConnection, tenant_id: uuid.UUID) -> None:
        self.conn = conn
        self.tenant_id = tenant_id

    def _scoped(self) -> Any:
        return select(*_COLUMNS).where(clients.c.tenant_id == self.tenant_id)

    async def add(self, client: Client) -> None:
        a = client.address
        await self.conn.execute(
            clients.insert().values(
                tenant_id=client.tenant_id,
                id=client.id,
                name=client.name,
                billing_email=client.billing_email,
                address_line1=a.line1,
                address_line2=a.line2,
                address_city=a.city,
                address_state=a.state,
                address_postal_code=a.postal_code,
                address_country=a.country,
                created_at=client.created_at,
                updated_at=client.updated_at,
            )
        )

    async def get(self, client_id: uuid.UUID) -> Client | None:
        row = (await self.conn.execute(self._scoped().where(clients.c.id == client_id))).first()
        return _to_client(row) if row else None

    async def get_many(self, client_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Client]:
        if not client_ids:
            return {}
        rows = await _MANY.fetch(self.conn, {"tenant_id": self.tenant_id, "ids": list(set(client_ids))})
        return {r["id"]: _to_client(r) for r in rows}

    async def list_page(self, page: PageRequest) -> Page[Client]:
        q = self._scoped().order_by(clients.c.id.desc()).limit(page.limit + 1)
        if page.after is not None:
            q = q.where(clients.c.id < page.after)
        rows = await self.conn.execute(q)
        return page_of([_to_client(r) for r in rows], page.limit)


# One prepared statement for any number of ids (an IN list would be a new statement per count); a hot read
# (a GraphQL page's clients), so it runs on the driver (driver.py).
_MANY = DriverSelect(
    select(*_COLUMNS).where(
        clients.c.tenant_id == bindparam("tenant_id"),
        clients.c.id == any_(bindparam("ids", type_=ARRAY(UUID(as_uuid=True)))),
    )
)


def _to_client(r: Any) -> Client:
    """Rows unpack by position, in the order of _COLUMNS (cheaper than a lookup per field by name)."""
    tenant_id, id_, name, email, line1, line2, city, state, postal_code, country, created_at, updated_at = r
    return Client(
        tenant_id, id_, name, email, Address(line1, line2, city, state, postal_code, country), created_at, updated_at
    )
