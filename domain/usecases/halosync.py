"""HaloPSA sync as the APIs, the CLI, the scheduler and webhooks ask for it.

A sync is requested by writing a queued run and a `sync.requested` event in one transaction; the outbox
carries the event to a worker, which runs the engine (domain/halosync/engine.py). Asking while a run is
queued or running answers that run: two "sync now" clicks never make two syncs.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

from domain.auth import Principal, Scope
from domain.connections import Connection, Provider
from domain.errors import FieldError, NotFound, ValidationFailed
from domain.events import DomainEvent
from domain.halopsa import HaloResource
from domain.halosync.runs import SyncIssue, SyncMode, SyncRun, SyncStatus, SyncTrigger, sync_requested
from domain.halosync.settings import SyncSettings
from domain.ids import new_id
from domain.pagination import Page, PageRequest
from domain.ports import Clock, ConnectionsUnitOfWork

# Halo's webhook events (sandbox/halopsa/webhooks.py) and the record each one names.
WEBHOOK_RESOURCES = {
    "invoice": HaloResource.INVOICES,
    "client": HaloResource.CLIENTS,
    "contract": HaloResource.AGREEMENTS,
    # A payment event names only the payment; Halo also sends `invoice_updated` for its invoice, which is
    # what re-reads the amounts. Payment events themselves are kept as receipts and otherwise ignored.
}


class SyncRuns(Protocol):
    async def add_run(self, run: SyncRun) -> bool:
        """False (nothing added) when a page-reading run is already queued or running."""

    async def load_run(self, run_id: uuid.UUID, *, for_update: bool = False) -> SyncRun | None: ...

    async def active_run(self) -> SyncRun | None: ...

    async def list_runs(self, page: PageRequest) -> Page[SyncRun]: ...

    async def list_issues(self, page: PageRequest, *, open_only: bool = True) -> Page[SyncIssue]: ...

    async def receive_webhook(self, event_id: str, event_type: str, payload: dict[str, Any], now: datetime) -> bool: ...

    async def add_events(self, events: Sequence[DomainEvent]) -> None: ...

    async def refresh_contract_billing(self, subtypes: Sequence[str]) -> None: ...

    async def commit(self) -> None: ...


class NotConnected(NotFound):
    code = "halopsa_not_connected"

    def __init__(self) -> None:
        super().__init__("connection", "halopsa")
        self.message = "HaloPSA is not connected: connect it first (POST /v1/connections/halopsa)."


async def queue_run(
    runs: SyncRuns, tenant_id: uuid.UUID, clock: Clock, mode: SyncMode, trigger: SyncTrigger, **target: Any
) -> SyncRun:
    """Queue a run, or answer the one already queued or running (the database allows one at a time per
    tenant, so two callers racing cannot both queue). Caller commits."""
    run = SyncRun(new_id(), trigger, mode, SyncStatus.QUEUED, clock.now(), target=dict(target))
    if not await runs.add_run(run):
        active = await runs.active_run()
        if active is not None:
            return active
        raise RuntimeError("a sync run is active but could not be read")  # the unique index says otherwise
    await runs.add_events([sync_requested(tenant_id, run)])
    return run


async def clear_full_sync_pending(uow: ConnectionsUnitOfWork) -> None:
    connection = await uow.connections.by_provider(Provider.HALOPSA, for_update=True)
    if connection is not None and connection.settings.get("sync", {}).get("full_sync_pending"):
        sync = {k: v for k, v in connection.settings["sync"].items() if k != "full_sync_pending"}
        connection.settings = {**connection.settings, "sync": sync}
        await uow.connections.save(connection)


async def request_sync(
    runs: SyncRuns, uow: ConnectionsUnitOfWork, principal: Principal, clock: Clock, mode: SyncMode
) -> SyncRun:
    """ "Sync now" (incremental, or full when nothing has synced yet) and "fetch unpaid invoices"."""
    principal.require(Scope.CONNECTIONS_WRITE)
    if mode not in (SyncMode.FULL, SyncMode.INCREMENTAL, SyncMode.UNPAID):
        raise ValidationFailed([FieldError("mode", "must be full, incremental or unpaid")])
    await halo_connection(uow)
    return await queue_run(runs, uow.tenant_id, clock, mode, SyncTrigger.MANUAL)


async def halo_connection(uow: ConnectionsUnitOfWork) -> Connection:
    connection = await uow.connections.by_provider(Provider.HALOPSA)
    if connection is None:
        raise NotConnected
    return connection


async def get_run(runs: SyncRuns, principal: Principal, run_id: uuid.UUID) -> SyncRun:
    principal.require(Scope.INVOICES_READ)
    run = await runs.load_run(run_id)
    if run is None:
        raise NotFound("sync run", run_id)
    return run


async def list_runs(runs: SyncRuns, principal: Principal, page: PageRequest) -> Page[SyncRun]:
    principal.require(Scope.INVOICES_READ)
    return await runs.list_runs(page)


async def list_issues(
    runs: SyncRuns, principal: Principal, page: PageRequest, *, open_only: bool = True
) -> Page[SyncIssue]:
    principal.require(Scope.INVOICES_READ)
    return await runs.list_issues(page, open_only=open_only)


# -- settings -------------------------------------------------------------------------------------------


def settings_of(connection: Connection) -> SyncSettings:
    return SyncSettings.from_json(connection.settings.get("sync"))


async def get_settings(uow: ConnectionsUnitOfWork, principal: Principal) -> SyncSettings:
    principal.require(Scope.INVOICES_READ)
    return settings_of(await halo_connection(uow))


async def update_settings(
    runs: SyncRuns, uow: ConnectionsUnitOfWork, principal: Principal, clock: Clock, wanted: SyncSettings
) -> SyncSettings:
    """Save the MSP's choices; contract-billed flags follow the chosen subtypes at once. Caller commits."""
    principal.require(Scope.CONNECTIONS_WRITE)
    connection = await uow.connections.by_provider(Provider.HALOPSA, for_update=True)
    if connection is None:
        raise NotConnected
    settings = wanted.validated()
    previous = settings_of(connection)
    connection.settings = {**connection.settings, "sync": {**connection.settings.get("sync", {}), **settings.to_json()}}
    connection.updated_at = clock.now()
    await uow.connections.save(connection)
    await runs.refresh_contract_billing(sorted(settings.contract_billed_subtypes))
    if previous.invoice_number_field is not settings.invoice_number_field:
        # Every invoice's number changes: a full sync re-reads them all. When a run is active, the scheduler
        # queues the full sync as soon as it ends (the flag stays until a full run is queued).
        run = await queue_run(runs, uow.tenant_id, clock, SyncMode.FULL, SyncTrigger.MANUAL)
        if run.mode is not SyncMode.FULL:
            connection.settings = {
                **connection.settings,
                "sync": {**connection.settings["sync"], "full_sync_pending": True},
            }
            await uow.connections.save(connection)
    return settings


# -- webhooks -------------------------------------------------------------------------------------------


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


async def rotate_webhook_secret(uow: ConnectionsUnitOfWork, principal: Principal, clock: Clock) -> str:
    """A new secret for Halo's webhook (Basic auth password or header value); shown once, kept hashed."""
    principal.require(Scope.CONNECTIONS_WRITE)
    connection = await uow.connections.by_provider(Provider.HALOPSA, for_update=True)
    if connection is None:
        raise NotConnected
    secret = "whs_" + secrets.token_urlsafe(32)
    sync = {**connection.settings.get("sync", {}), "webhook_secret_sha256": _digest(secret)}
    connection.settings = {**connection.settings, "sync": sync}
    connection.updated_at = clock.now()
    await uow.connections.save(connection)
    return secret


class WebhookRefused(Exception):
    pass


async def check_webhook_secret(uow: ConnectionsUnitOfWork, presented: str | None) -> None:
    """Raises WebhookRefused unless `presented` is the tenant's current webhook secret (compared in constant
    time, on digests: the secret itself is never stored)."""
    connection = await uow.connections.by_provider(Provider.HALOPSA)
    expected = connection.settings.get("sync", {}).get("webhook_secret_sha256") if connection else None
    if not expected or not presented or not hmac.compare_digest(_digest(presented), expected):
        raise WebhookRefused("unknown webhook secret")


async def accept_webhook(
    runs: SyncRuns, uow: ConnectionsUnitOfWork, clock: Clock, presented: str | None, payload: dict[str, Any]
) -> SyncRun | None:
    """Check the shared secret, keep the delivery once, queue a re-read of the record it names.

    None for a redelivery or an event about something the sync does not copy. Caller commits."""
    await check_webhook_secret(uow, presented)
    event, event_id, entity_id = payload.get("event"), payload.get("id"), payload.get("entity_id")
    valid_id = isinstance(entity_id, int) and not isinstance(entity_id, bool) and 0 < entity_id < 2**63
    if not isinstance(event, str) or not isinstance(event_id, str) or not valid_id:
        raise ValidationFailed([FieldError("body", "expected Halo's webhook payload: id, event, entity_id")])
    if not await runs.receive_webhook(event_id, event, payload, clock.now()):
        return None
    resource = WEBHOOK_RESOURCES.get(event.split("_", 1)[0])
    if resource is None:
        return None
    return await queue_run(
        runs, uow.tenant_id, clock, SyncMode.RECORD, SyncTrigger.WEBHOOK, resource=resource.value, id=entity_id
    )
