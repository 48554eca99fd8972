"""arq job functions: thin, idempotent, keyed on domain ids."""

from __future__ import annotations

import uuid
from typing import Any

from adapters.db.idempotency import purge_expired
from adapters.db.uow import SqlUnitOfWork
from domain.usecases.events import handle_event as handle_event_use_case


async def handle_event(ctx: dict[str, Any], tenant_id: str, event_id: str) -> list[str]:
    async with SqlUnitOfWork(ctx["engine"], uuid.UUID(tenant_id)) as uow:
        ran = await handle_event_use_case(uow, uuid.UUID(event_id))
        await uow.commit()
    return ran


async def purge_idempotency_keys(ctx: dict[str, Any]) -> int:
    return await purge_expired(ctx["engine"])
