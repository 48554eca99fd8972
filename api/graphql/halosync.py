"""GraphQL for the HaloPSA sync: the same use cases as REST (domain/usecases/halosync.py).

A sync is queued, not run, by `syncHaloPsa`: a worker picks it up, and `syncRun(id)` shows how far it got.
Every resolver opens its own sync transaction, which is both the unit of work (the HaloPSA connection and
its settings) and the store of runs and issues."""

# strawberry.field(...) with arguments is typed as returning Any; the resolvers themselves are typed.
# mypy: disable-error-code="untyped-decorator"

from __future__ import annotations

import dataclasses
import datetime as dt
from enum import Enum
from typing import Annotated

import strawberry

from adapters.db.halosync import SqlSyncStore, SqlSyncTransaction
from api.graphql.context import Info, forbidden
from api.graphql.inputs import lookup_id
from api.graphql.resolving import page_request, read, validation_error
from api.graphql.types import Connection, ValidationError, connection_of
from api.rest.halosync import webhook_url
from domain import errors
from domain.auth import Forbidden, Scope
from domain.connections import Provider
from domain.halosync import runs as domain
from domain.halosync.settings import InvoiceNumberField as DomainInvoiceNumberField
from domain.halosync.settings import SyncSettings
from domain.usecases import halosync as uc

# -- enums ------------------------------------------------------------------------------------------------


@strawberry.enum(description="What asked for a run.")
class SyncTrigger(Enum):
    CONNECT = "connect"
    SCHEDULE = "schedule"
    MANUAL = "manual"
    WEBHOOK = "webhook"


@strawberry.enum(description="What a run reads.")
class SyncMode(Enum):
    FULL = "full"
    INCREMENTAL = "incremental"
    UNPAID = "unpaid"
    RECORD = "record"


@strawberry.enum(description="The runs a caller may ask for (RECORD runs come from HaloPSA's webhooks).")
class SyncModeInput(Enum):
    FULL = "full"
    INCREMENTAL = "incremental"
    UNPAID = "unpaid"


@strawberry.enum
class SyncStatus(Enum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


@strawberry.enum
class SyncIssueKind(Enum):
    MISSING_NUMBER = "missing_number"
    DUPLICATE_NUMBER = "duplicate_number"
    UNKNOWN_CLIENT = "unknown_client"
    BAD_RECORD = "bad_record"
    INCONSISTENT_PAGING = "inconsistent_paging"


@strawberry.enum(description="The HaloPSA collections a sync reads, in the order a run reads them.")
class HaloResource(Enum):
    CLIENTS = "Client"
    AGREEMENTS = "ClientContract"
    INVOICES = "Invoice"
    PAYMENTS = "InvoicePayment"


@strawberry.enum(description="Which HaloPSA field is the invoice number clients see and pay by.")
class InvoiceNumberField(Enum):
    INVOICE_NUMBER = "invoicenumber"
    ID = "id"


# -- objects ----------------------------------------------------------------------------------------------


@strawberry.type(description="What a run did to the records it read.")
class SyncCounts:
    created: int
    updated: int
    unchanged: int
    failed: int


@strawberry.type(description="Where a run is, or where it resumes: the phase and the last page committed in it.")
class SyncProgress:
    phase: HaloResource
    page_no: int = strawberry.field(description="The last page committed in this phase; 0 when none yet.")
    record_count: int | None = strawberry.field(description="HaloPSA's record count when this phase started.")


@strawberry.type(description="One sync with HaloPSA: queued, running, or finished.")
class SyncRun:
    id: strawberry.ID
    trigger: SyncTrigger
    mode: SyncMode
    status: SyncStatus
    counts: SyncCounts
    issues: int = strawberry.field(description="Issues this run found (listed by `syncIssues`).")
    requested_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    duration_ms: int | None
    error: str | None = strawberry.field(description="Why a FAILED run stopped; what it committed before stays.")
    progress: SyncProgress | None = strawberry.field(description="Null once every phase is done.")

    @staticmethod
    def of(r: domain.SyncRun) -> SyncRun:
        c, cp = r.counts, r.checkpoint
        progress = None
        if cp.phase < len(domain.PHASES):
            phase = HaloResource(domain.PHASES[cp.phase].value)
            progress = SyncProgress(phase=phase, page_no=cp.page_no, record_count=cp.record_count)
        return SyncRun(
            id=strawberry.ID(str(r.id)),
            trigger=SyncTrigger(r.trigger.value),
            mode=SyncMode(r.mode.value),
            status=SyncStatus(r.status.value),
            counts=SyncCounts(created=c.created, updated=c.updated, unchanged=c.unchanged, failed=c.failed),
            issues=r.issues,
            requested_at=r.requested_at,
            started_at=r.started_at,
            finished_at=r.finished_at,
            duration_ms=r.duration_ms,
            error=r.error,
            progress=progress,
        )


@strawberry.type(description="A record a sync could not take as it is; resolved when a later run takes it.")
class SyncIssue:
    id: strawberry.ID
    kind: SyncIssueKind
    resource: HaloResource
    external_id: str | None = strawberry.field(description="The record's id in HaloPSA, when it has one.")
    message: str
    run_id: strawberry.ID = strawberry.field(description="The run that last saw it.")
    first_seen_at: dt.datetime
    last_seen_at: dt.datetime
    resolved_at: dt.datetime | None

    @staticmethod
    def of(i: domain.SyncIssue) -> SyncIssue:
        return SyncIssue(
            id=strawberry.ID(str(i.id)),
            kind=SyncIssueKind(i.kind.value),
            resource=HaloResource(i.resource.value),
            external_id=i.external_id,
            message=i.message,
            run_id=strawberry.ID(str(i.run_id)),
            first_seen_at=i.first_seen_at,
            last_seen_at=i.last_seen_at,
            resolved_at=i.resolved_at,
        )


@strawberry.type(description="What the MSP decides about its HaloPSA sync.")
class HaloSyncSettings:
    invoice_number_field: InvoiceNumberField
    contract_billed_subtypes: list[str] = strawberry.field(
        description="Agreement subtypes whose invoices are billed under contract (eligible for contract autopay)."
    )
    interval_minutes: int = strawberry.field(description="Between scheduled incremental syncs; 0: no schedule.")
    currency: str = strawberry.field(description="For HaloPSA clients that have none.")
    overlap_minutes: int = strawberry.field(description="How far behind the last change incremental syncs re-read.")
    full_sync_every_days: int = strawberry.field(
        description="Scheduled full syncs (which find invoices deleted in HaloPSA) this often; 0: never."
    )

    @staticmethod
    def of(s: SyncSettings) -> HaloSyncSettings:
        return HaloSyncSettings(
            invoice_number_field=InvoiceNumberField(s.invoice_number_field.value),
            contract_billed_subtypes=sorted(s.contract_billed_subtypes),
            interval_minutes=s.interval_minutes,
            currency=s.currency,
            overlap_minutes=s.overlap_minutes,
            full_sync_every_days=s.full_sync_every_days,
        )


@strawberry.type(description="The new webhook secret, shown this once (arbridge keeps only its hash).")
class WebhookSecret:
    secret: str = strawberry.field(description="Set it as the Basic auth password, or header value, in HaloPSA.")
    webhook_url: str = strawberry.field(description="Where HaloPSA's webhook sends its events.")


@strawberry.type(description="HaloPSA is not connected: connect it first (`connectHaloPsa`).")
class NotConnected:
    message: str


@strawberry.input(description="The settings to change; fields left out keep their value.")
class UpdateHaloSyncSettingsInput:
    invoice_number_field: InvoiceNumberField | None = strawberry.field(
        default=None, description="Changing it queues a full sync: every invoice's number changes."
    )
    contract_billed_subtypes: list[str] | None = None
    interval_minutes: int | None = None
    currency: str | None = None
    overlap_minutes: int | None = None
    full_sync_every_days: int | None = None

    def applied_to(self, current: SyncSettings) -> SyncSettings:
        changes: dict[str, object] = {}
        if self.invoice_number_field is not None:
            changes["invoice_number_field"] = DomainInvoiceNumberField(self.invoice_number_field.value)
        if self.contract_billed_subtypes is not None:
            changes["contract_billed_subtypes"] = frozenset(self.contract_billed_subtypes)
        for name in ("interval_minutes", "currency", "overlap_minutes", "full_sync_every_days"):
            if (value := getattr(self, name)) is not None:
                changes[name] = value
        return dataclasses.replace(current, **changes)  # type: ignore[arg-type]


HaloSyncSettingsResult = Annotated[HaloSyncSettings | NotConnected, strawberry.union("HaloSyncSettingsResult")]
SyncHaloPsaResult = Annotated[SyncRun | NotConnected | ValidationError, strawberry.union("SyncHaloPsaResult")]
UpdateHaloSyncSettingsResult = Annotated[
    HaloSyncSettings | NotConnected | ValidationError, strawberry.union("UpdateHaloSyncSettingsResult")
]
RotateHaloWebhookSecretResult = Annotated[
    WebhookSecret | NotConnected, strawberry.union("RotateHaloWebhookSecretResult")
]

_NOT_CONNECTED = "HaloPSA is not connected: connect it first (connectHaloPsa)."


def _not_connected() -> NotConnected:
    return NotConnected(message=_NOT_CONNECTED)


def _transaction(info: Info) -> SqlSyncTransaction:
    services = info.context.services
    return SqlSyncStore(services.engine, info.context.principal.tenant_id, services.ring).transaction()


@strawberry.type
class SyncQuery:
    @strawberry.field(description="HaloPSA sync runs, newest first. Scope invoices:read.")
    async def sync_runs(self, info: Info, first: int = 50, after: str | None = None) -> Connection[SyncRun]:
        async def run() -> Connection[SyncRun]:
            async with _transaction(info) as tx:
                page = await uc.list_runs(tx, info.context.principal, page_request(first, after))
            return connection_of(page, SyncRun.of)

        return await read(run)

    @strawberry.field(description="One sync run, or null when there is none with this id. Scope invoices:read.")
    async def sync_run(self, info: Info, id: strawberry.ID) -> SyncRun | None:
        async def run() -> SyncRun | None:
            try:
                async with _transaction(info) as tx:
                    return SyncRun.of(await uc.get_run(tx, info.context.principal, lookup_id(id)))
            except errors.NotFound:
                return None

        return await read(run)

    @strawberry.field(
        description="What syncs could not take, newest first; open ones only by default. Scope invoices:read."
    )
    async def sync_issues(
        self, info: Info, first: int = 50, after: str | None = None, include_resolved: bool = False
    ) -> Connection[SyncIssue]:
        async def run() -> Connection[SyncIssue]:
            async with _transaction(info) as tx:
                page = await uc.list_issues(
                    tx, info.context.principal, page_request(first, after), open_only=not include_resolved
                )
            return connection_of(page, SyncIssue.of)

        return await read(run)

    @strawberry.field(description="The HaloPSA sync's settings. Scope invoices:read.")
    async def halo_sync_settings(self, info: Info) -> HaloSyncSettingsResult:
        async def run() -> HaloSyncSettingsResult:
            try:
                async with _transaction(info) as tx:
                    return HaloSyncSettings.of(await uc.get_settings(tx, info.context.principal))
            except uc.NotConnected:
                return _not_connected()

        return await read(run)


@strawberry.type
class SyncMutation:
    # Commit is explicit and inside the unit of work, as in Mutation (schema.py).

    @strawberry.mutation(
        description="Queue a HaloPSA sync, or answer the one already queued or running. Scope connections:write."
    )
    async def sync_halo_psa(self, info: Info, mode: SyncModeInput = SyncModeInput.INCREMENTAL) -> SyncHaloPsaResult:
        ctx = info.context
        try:
            async with _transaction(info) as tx:
                run = await uc.request_sync(tx, tx, ctx.principal, ctx.services.clock, domain.SyncMode(mode.value))
                await tx.commit()
        except Forbidden as exc:
            raise forbidden(exc) from exc
        except uc.NotConnected:
            return _not_connected()
        except errors.ValidationFailed as exc:
            return validation_error(exc)
        return SyncRun.of(run)

    @strawberry.mutation(
        description="Change the HaloPSA sync's settings; a new invoice number field queues a full sync. "
        "Scope connections:write."
    )
    async def update_halo_sync_settings(
        self, info: Info, input: UpdateHaloSyncSettingsInput
    ) -> UpdateHaloSyncSettingsResult:
        ctx = info.context
        try:
            async with _transaction(info) as tx:
                # The input is applied to the stored settings, so they are read (and locked) first: the
                # scope is checked before that read, as the use case checks it before its own.
                ctx.principal.require(Scope.CONNECTIONS_WRITE)
                connection = await tx.connections.by_provider(Provider.HALOPSA, for_update=True)
                if connection is None:
                    return _not_connected()
                wanted = input.applied_to(uc.settings_of(connection))
                settings = await uc.update_settings(tx, tx, ctx.principal, ctx.services.clock, wanted)
                await tx.commit()
        except Forbidden as exc:
            raise forbidden(exc) from exc
        except uc.NotConnected:
            return _not_connected()
        except errors.ValidationFailed as exc:
            return validation_error(exc)
        return HaloSyncSettings.of(settings)

    @strawberry.mutation(
        description="A new secret for HaloPSA's webhook; the previous one stops working. Scope connections:write."
    )
    async def rotate_halo_webhook_secret(self, info: Info) -> RotateHaloWebhookSecretResult:
        ctx = info.context
        try:
            async with _transaction(info) as tx:
                secret = await uc.rotate_webhook_secret(tx, ctx.principal, ctx.services.clock)
                await tx.commit()
        except Forbidden as exc:
            raise forbidden(exc) from exc
        except uc.NotConnected:
            return _not_connected()
        return WebhookSecret(secret=secret, webhook_url=webhook_url(ctx.services, ctx.principal.tenant_id))
