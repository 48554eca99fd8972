"""REST: /v1/events, the tenant's feed of what happened (filled by the worker from the outbox)."""

from __future__ import annotations

from typing import Annotated

from litestar import get
from litestar.params import Parameter

from adapters.db.uow import SqlUnitOfWork
from api.rest.clients import Cursor, Limit
from api.rest.schemas import EventList, EventOut
from domain.auth import Principal
from domain.pagination import PageRequest
from domain.usecases import events as uc


@get("/v1/events", tags=["events"], summary="List events", description="Newest first. Scope `events:read`.")
async def list_events(
    principal: Principal,
    uow: SqlUnitOfWork,
    limit: Limit = None,
    cursor: Cursor = None,
    type: Annotated[str | None, Parameter(description="Only events of this type, e.g. invoice.created")] = None,
) -> EventList:
    page = await uc.list_events(uow, principal, PageRequest.build(limit, cursor), type)
    return EventList(
        [EventOut(e.id, e.type, e.subject_id, e.data, e.occurred_at) for e in page.items],
        page.has_more,
        page.next_cursor,
    )
