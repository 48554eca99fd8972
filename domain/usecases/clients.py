"""Use cases for the MSP's clients."""

from __future__ import annotations

import uuid

from domain.auth import Principal, Scope
from domain.clients import Client, NewClient
from domain.errors import NotFound
from domain.events import CLIENT_CREATED, DomainEvent
from domain.ids import new_id
from domain.pagination import Page, PageRequest
from domain.ports import Clock, UnitOfWork
from domain.snapshots import client_snapshot


async def create_client(uow: UnitOfWork, principal: Principal, clock: Clock, new: NewClient) -> Client:
    principal.require(Scope.CLIENTS_WRITE)
    new = new.validated()
    now = clock.now()
    client = Client(uow.tenant_id, new_id(), new.name, new.billing_email, new.address, now, now)
    await uow.clients.add(client)
    await uow.outbox.add(DomainEvent(CLIENT_CREATED, uow.tenant_id, client.id, now, client_snapshot(client)))
    return client


async def get_client(uow: UnitOfWork, principal: Principal, client_id: uuid.UUID) -> Client:
    principal.require(Scope.CLIENTS_READ)
    client = await uow.clients.get(client_id)
    if client is None:
        raise NotFound("client", client_id)
    return client


async def list_clients(uow: UnitOfWork, principal: Principal, page: PageRequest) -> Page[Client]:
    principal.require(Scope.CLIENTS_READ)
    return await uow.clients.list_page(page)
