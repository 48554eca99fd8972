"""What the sync engine needs from storage: one transaction per page, batch reads and batch writes."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import date, datetime
from types import TracebackType
from typing import Protocol, Self

from domain.events import DomainEvent
from domain.halopsa import HaloResource
from domain.halosync.records import HaloAgreement, HaloClient, HaloInvoice, HaloPayment
from domain.halosync.runs import FoundIssue, SyncRun

PAYMENT_SEEN = "payment:"  # payments share a run's seen table with invoices, under this prefix


@dataclass(frozen=True)
class StoredInvoice:
    """What the engine compares a fresh Halo invoice with."""

    id: uuid.UUID
    content_hash: str
    number: str
    status: str
    total: int
    amount_paid: int
    due_date: date
    modified_at: datetime | None  # Halo's last_modified of this copy


@dataclass(frozen=True)
class StoredRef:
    id: uuid.UUID
    content_hash: str
    subtype: str | None = None  # agreements only


@dataclass(frozen=True)
class InvoiceWrite:
    id: uuid.UUID
    client_id: uuid.UUID
    record: HaloInvoice
    number: str
    number_issue: str | None  # "missing" | "duplicate": excluded from payment matching
    status: str
    voided_at: datetime | None
    content_hash: str
    is_new: bool
    renumbered: bool = False  # the stored copy has another number (it moves in the unique index)


@dataclass(frozen=True)
class InvoiceLookup:
    """What one read tells a page of invoices about what is stored."""

    clients: dict[str, uuid.UUID]  # Halo client id -> our client id
    stored: dict[str, StoredInvoice]  # Halo invoice id -> the copy held
    # (number, source, Halo id or None) of every invoice holding one of the page's numbers
    holders: list[tuple[str, str, str | None]]


@dataclass(frozen=True)
class InvoicePageWrite:
    """What one page of invoices writes, in one statement."""

    rows: Sequence[InvoiceWrite]
    events: Sequence[DomainEvent]  # about `rows`: those about a row that is not written are dropped with it
    clean: Sequence[str]  # Halo ids taken without a problem: their open issues are over
    seen: Sequence[str] = ()  # Halo ids read, recorded for `seen_run`
    seen_run: uuid.UUID | None = None


class SyncTransaction(Protocol):
    """One page's work for one tenant. Nothing is kept unless `commit` is called."""

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None: ...

    async def commit(self) -> None: ...

    async def load_run(self, run_id: uuid.UUID, *, for_update: bool = False) -> SyncRun | None: ...

    async def save_run(self, run: SyncRun) -> None: ...

    async def last_high_water(self) -> dict[str, str]:
        """The watermarks of the newest successful full or incremental run ({} when there is none)."""

    async def refs(self, resource: HaloResource, external_ids: Sequence[str]) -> dict[str, StoredRef]: ...

    async def refs_of(self, wanted: dict[HaloResource, Sequence[str]]) -> dict[HaloResource, dict[str, StoredRef]]:
        """`refs` of several resources at once (one read)."""

    async def invoice_lookup(
        self, client_ids: Sequence[str], external_ids: Sequence[str], numbers: Sequence[str]
    ) -> InvoiceLookup:
        """Our ids of these Halo clients, the copies held of these Halo invoices, and every invoice (Halo's or
        arbridge's) holding one of these numbers."""

    async def flag_duplicates(self, numbers: Sequence[str]) -> list[str]:
        """Mark the Halo invoices holding these numbers as duplicates; their external ids."""

    async def write_clients(self, rows: Sequence[tuple[uuid.UUID, HaloClient, str]], now: datetime) -> None: ...

    async def write_agreements(
        self, rows: Sequence[tuple[uuid.UUID, uuid.UUID, HaloAgreement, str]], now: datetime
    ) -> None: ...

    async def write_invoice_page(self, page: InvoicePageWrite, now: datetime) -> set[uuid.UUID]:
        """Insert or update the invoices (lines replaced whole), add the events of those written, record
        `seen`, resolve `clean`'s issues; returns the ids written. A row whose stored copy is newer in Halo
        than the one given (a webhook's re-read committed meanwhile) is left alone and not returned; so is
        one another transaction created first (its lines are replaced, its creator emitted its events)."""

    async def write_payments(
        self,
        rows: Sequence[tuple[uuid.UUID, uuid.UUID, HaloPayment, str]],
        now: datetime,
        seen: Sequence[str] = (),
        seen_run: uuid.UUID | None = None,
    ) -> None:
        """(payment id, invoice id, payment, hash): insert or replace; and record `seen` for `seen_run`."""

    async def remove_invoice(self, external_id: str, now: datetime) -> StoredInvoice | None:
        """An invoice deleted in Halo: voided here (history is kept), lines and all. None when unknown."""

    async def mark_seen(self, run_id: uuid.UUID, external_ids: Sequence[str]) -> None:
        """Remember which invoices this run has read (for finding deleted or settled ones at its end)."""

    async def unseen_invoices(self, run_id: uuid.UUID, *, unpaid_only: bool, limit: int) -> list[str]:
        """Live Halo invoices held here that this run has not read, by external id."""

    async def forget_seen(self, run_id: uuid.UUID) -> None: ...

    async def drop_unseen_payments(self, run_id: uuid.UUID) -> None:
        """After a full read of the payments: those held here that it did not read were deleted in Halo."""

    async def replan(self, resource: HaloResource, known_below: int) -> None:
        """Drop the plans cached for this run's statements (made when the tables were smaller), and refresh
        the planner's statistics of the synced tables (see migration 0003) if they know of fewer than
        `known_below` rows in `resource`'s table."""

    async def record_issues(self, issues: Sequence[FoundIssue], run_id: uuid.UUID, now: datetime) -> None: ...

    async def resolve_issues(self, resource: HaloResource, external_ids: Sequence[str], now: datetime) -> None:
        """These records were taken cleanly: their open issues are over."""

    async def settle_duplicates(self, now: datetime) -> None:
        """Clear the duplicate flag (and its issue) on invoices whose number is now unique."""

    async def refresh_contract_billing(self, subtypes: Sequence[str], only: Sequence[str] | None = None) -> None:
        """Re-derive Halo invoices' contract-billed flags from their agreements' subtypes (`only`: these
        external ids)."""

    async def add_events(self, events: Sequence[DomainEvent]) -> None: ...


class SyncStore(Protocol):
    def transaction(self) -> SyncTransaction: ...

    def exclusive(self, run_id: uuid.UUID) -> AbstractAsyncContextManager[bool]:
        """Held while a run is being run: False when another process holds it (the run is in hand)."""
