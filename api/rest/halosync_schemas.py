"""REST bodies for the HaloPSA sync. The webhook secret is shown once, on issue; it has no other field."""

from __future__ import annotations

import uuid
from datetime import datetime

import msgspec

from domain.errors import FieldError, ValidationFailed
from domain.halosync.runs import PHASES, SyncIssue, SyncMode, SyncRun
from domain.halosync.settings import InvoiceNumberField, SyncSettings


class RequestSyncIn(msgspec.Struct, forbid_unknown_fields=True):
    """`incremental`: what changed since the last sync; `full`: everything (also finds deletions);
    `unpaid`: every unpaid or part-paid invoice, now."""

    mode: str = SyncMode.INCREMENTAL.value

    def sync_mode(self) -> SyncMode:
        allowed = (SyncMode.INCREMENTAL, SyncMode.FULL, SyncMode.UNPAID)
        if self.mode not in {m.value for m in allowed}:
            raise ValidationFailed([FieldError("mode", "must be incremental, full or unpaid")])
        return SyncMode(self.mode)


class CountsOut(msgspec.Struct):
    created: int
    updated: int
    unchanged: int
    failed: int


class ProgressOut(msgspec.Struct):
    """Where the run is (or stopped): the Halo resource being read, the last page committed in it, and
    Halo's record count for it."""

    phase: str | None
    page_no: int
    record_count: int | None


class SyncRunOut(msgspec.Struct):
    id: uuid.UUID
    trigger: str
    mode: str
    status: str
    counts: CountsOut
    issues: int
    requested_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    duration_ms: int | None
    error: str | None
    progress: ProgressOut
    object: str = "halopsa_sync_run"

    @staticmethod
    def of(r: SyncRun) -> SyncRunOut:
        c, cp = r.counts, r.checkpoint
        phase = PHASES[cp.phase].value if 0 <= cp.phase < len(PHASES) else None
        return SyncRunOut(
            id=r.id,
            trigger=r.trigger.value,
            mode=r.mode.value,
            status=r.status.value,
            counts=CountsOut(c.created, c.updated, c.unchanged, c.failed),
            issues=r.issues,
            requested_at=r.requested_at,
            started_at=r.started_at,
            finished_at=r.finished_at,
            duration_ms=r.duration_ms,
            error=r.error,
            progress=ProgressOut(phase, cp.page_no, cp.record_count),
        )


class SyncRunList(msgspec.Struct):
    data: list[SyncRunOut]
    has_more: bool
    next_cursor: str | None
    object: str = "list"


class SyncIssueOut(msgspec.Struct):
    id: uuid.UUID
    kind: str
    resource: str
    external_id: str | None
    message: str
    run_id: uuid.UUID
    first_seen_at: datetime
    last_seen_at: datetime
    resolved_at: datetime | None
    object: str = "halopsa_sync_issue"

    @staticmethod
    def of(i: SyncIssue) -> SyncIssueOut:
        return SyncIssueOut(
            id=i.id,
            kind=i.kind.value,
            resource=i.resource.value,
            external_id=i.external_id,
            message=i.message,
            run_id=i.run_id,
            first_seen_at=i.first_seen_at,
            last_seen_at=i.last_seen_at,
            resolved_at=i.resolved_at,
        )


class SyncIssueList(msgspec.Struct):
    data: list[SyncIssueOut]
    has_more: bool
    next_cursor: str | None
    object: str = "list"


class SyncSettingsOut(msgspec.Struct):
    invoice_number_field: str
    contract_billed_subtypes: list[str]
    interval_minutes: int
    currency: str
    overlap_minutes: int
    full_sync_every_days: int
    object: str = "halopsa_sync_settings"

    @staticmethod
    def of(s: SyncSettings) -> SyncSettingsOut:
        return SyncSettingsOut(
            invoice_number_field=s.invoice_number_field.value,
            contract_billed_subtypes=sorted(s.contract_billed_subtypes),
            interval_minutes=s.interval_minutes,
            currency=s.currency,
            overlap_minutes=s.overlap_minutes,
            full_sync_every_days=s.full_sync_every_days,
        )


class UpdateSyncSettingsIn(msgspec.Struct, forbid_unknown_fields=True):
    """Only the fields sent change. Changing `invoice_number_field` queues a full sync (every number moves);
    `contract_billed_subtypes` re-flags the synced agreements at once; `interval_minutes` 0 stops the schedule;
    `full_sync_every_days` (default 7, 0: never) schedules the full syncs that find invoices deleted in Halo."""

    invoice_number_field: str | None = None
    contract_billed_subtypes: list[str] | None = None
    interval_minutes: int | None = None
    currency: str | None = None
    overlap_minutes: int | None = None
    full_sync_every_days: int | None = None

    def applied_to(self, current: SyncSettings) -> SyncSettings:
        """The current settings with these changes, checked; every field's problem is reported at once."""
        errors: list[FieldError] = []
        number_field = current.invoice_number_field
        if self.invoice_number_field is not None:
            try:
                number_field = InvoiceNumberField(self.invoice_number_field)
            except ValueError:
                allowed = ", ".join(f.value for f in InvoiceNumberField)
                errors.append(FieldError("invoice_number_field", f"must be one of {allowed}"))
        subtypes = current.contract_billed_subtypes
        if self.contract_billed_subtypes is not None:
            subtypes = frozenset(self.contract_billed_subtypes)
        wanted = SyncSettings(
            invoice_number_field=number_field,
            contract_billed_subtypes=subtypes,
            interval_minutes=current.interval_minutes if self.interval_minutes is None else self.interval_minutes,
            currency=current.currency if self.currency is None else self.currency,
            overlap_minutes=current.overlap_minutes if self.overlap_minutes is None else self.overlap_minutes,
            full_sync_every_days=(
                current.full_sync_every_days if self.full_sync_every_days is None else self.full_sync_every_days
            ),
        )
        try:
            wanted = wanted.validated()
        except ValidationFailed as exc:
            errors.extend(exc.errors)
        if errors:
            raise ValidationFailed(errors)
        return wanted


class WebhookSecretOut(msgspec.Struct):
    """Shown once: arbridge keeps only its hash. Issuing another replaces it."""

    secret: str
    webhook_url: str
    how: str
    object: str = "halopsa_webhook_secret"


class WebhookReceivedOut(msgspec.Struct):
    received: bool
    run_id: uuid.UUID | None
