"""A sync run: what started it, how far it got (its checkpoint), what it did and what it found wrong."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from domain.events import DomainEvent
from domain.halopsa import HaloResource

SYNC_REQUESTED = "sync.requested"  # carries a run to a worker (through the outbox)


class SyncTrigger(StrEnum):
    CONNECT = "connect"  # the first, full sync after HaloPSA is connected
    SCHEDULE = "schedule"
    MANUAL = "manual"  # "sync now" from an API or the CLI
    WEBHOOK = "webhook"  # Halo told us one record changed


class SyncMode(StrEnum):
    FULL = "full"  # every record; also finds invoices deleted in Halo
    INCREMENTAL = "incremental"  # what changed since the last successful run, with an overlap
    UNPAID = "unpaid"  # every unpaid or part-paid invoice, now (before a collection run, say)
    RECORD = "record"  # one record, re-read by id (webhooks)


class SyncStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"  # every page read and written; issues, if any, are listed
    FAILED = "failed"  # stopped early; what was committed before stays, `error` says why


class IssueKind(StrEnum):
    MISSING_NUMBER = "missing_number"
    DUPLICATE_NUMBER = "duplicate_number"
    UNKNOWN_CLIENT = "unknown_client"
    BAD_RECORD = "bad_record"  # a record we could not take (non-numeric amount, negative quantity, ...)
    INCONSISTENT_PAGING = "inconsistent_paging"  # Halo's record_count moved, or a page repeated


# The phases of a run, in order. Clients come first: agreements and invoices refer to them.
PHASES: tuple[HaloResource, ...] = (
    HaloResource.CLIENTS,
    HaloResource.AGREEMENTS,
    HaloResource.INVOICES,
    HaloResource.PAYMENTS,
)


@dataclass
class Counts:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    failed: int = 0

    def add(self, other: Counts) -> None:
        self.created += other.created
        self.updated += other.updated
        self.unchanged += other.unchanged
        self.failed += other.failed


@dataclass
class Checkpoint:
    """Where a run resumes: the phase, the last page committed in it, and what it had seen so far."""

    phase: int = 0  # index into PHASES
    page_no: int = 0  # last page committed in this phase (0: none yet)
    record_count: int | None = None  # Halo's record_count when this phase started
    # The newest change seen per resource (ISO text; payments: the highest id), the next run's watermarks.
    high_water: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "phase": self.phase,
            "page_no": self.page_no,
            "record_count": self.record_count,
            "high_water": dict(self.high_water),
        }

    @staticmethod
    def from_json(data: dict[str, Any] | None) -> Checkpoint:
        data = data or {}
        return Checkpoint(
            phase=int(data.get("phase", 0)),
            page_no=int(data.get("page_no", 0)),
            record_count=data.get("record_count"),
            high_water=dict(data.get("high_water") or {}),
        )


@dataclass
class SyncRun:
    id: uuid.UUID
    trigger: SyncTrigger
    mode: SyncMode
    status: SyncStatus
    requested_at: datetime
    counts: Counts = field(default_factory=Counts)
    issues: int = 0
    checkpoint: Checkpoint = field(default_factory=Checkpoint)
    started_at: datetime | None = None
    finished_at: datetime | None = None
    error: str | None = None
    # For RECORD runs: which record. For incremental runs: the watermarks they started from.
    target: dict[str, Any] = field(default_factory=dict)

    @property
    def duration_ms(self) -> int | None:
        if self.started_at is None or self.finished_at is None:
            return None
        return int((self.finished_at - self.started_at).total_seconds() * 1000)


@dataclass(frozen=True)
class SyncIssue:
    id: uuid.UUID
    kind: IssueKind
    resource: HaloResource
    external_id: str | None
    message: str
    run_id: uuid.UUID
    first_seen_at: datetime
    last_seen_at: datetime
    resolved_at: datetime | None = None


@dataclass(frozen=True)
class FoundIssue:
    """An issue as the engine finds it, before it is stored (and merged with an open one of the same key)."""

    kind: IssueKind
    resource: HaloResource
    external_id: str | None
    message: str


def sync_requested(tenant_id: uuid.UUID, run: SyncRun, at: datetime | None = None) -> DomainEvent:
    """The event that hands `run` to a worker: when it is queued, and again to continue or resume it."""
    data = {"run_id": str(run.id), "mode": run.mode.value, "trigger": run.trigger.value}
    return DomainEvent(SYNC_REQUESTED, tenant_id, run.id, at or run.requested_at, data)
