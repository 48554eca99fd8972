"""Taking in one page of clients, agreements or payments (invoices: invoice_pages.py): map, compare with what
is stored, write the difference in batches.

A page is mapped and hashed first, outside any transaction (`prepare`): the engine does that while
PostgreSQL runs the previous page's write (`NextPage`, `overlapped`), so our CPU and the database's work
overlap. Each `take_*` then runs inside the page's transaction and returns its counts and issues; the
engine commits.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from domain.halopsa import HaloPage, HaloResource
from domain.halosync import mapping
from domain.halosync.ids import IdSource
from domain.halosync.ports import PAYMENT_SEEN, SyncTransaction
from domain.halosync.records import BadRecord, content_hash
from domain.halosync.runs import Counts, FoundIssue, IssueKind
from domain.halosync.settings import SyncSettings

Raw = dict[str, Any]
T = TypeVar("T")
Meanwhile = Callable[[], None]  # CPU work to do while PostgreSQL runs a page's main statement

_MAPPERS: dict[HaloResource, Callable[[Raw, SyncSettings], Any]] = {
    HaloResource.CLIENTS: lambda raw, _settings: mapping.client_of(raw),
    HaloResource.AGREEMENTS: lambda raw, settings: mapping.agreement_of(raw, settings.currency),
    # The tenant's currency: Halo's `currency_code` is an int whose meaning is not documented.
    HaloResource.INVOICES: lambda raw, settings: mapping.invoice_of(raw, settings, settings.currency),
    HaloResource.PAYMENTS: lambda raw, settings: mapping.payment_of(raw, settings.currency),
}


@dataclass
class Prepared:
    """A page's records mapped and hashed, in Halo's order: per record, the mapped record and its content
    hash, or None and the reason it cannot be taken."""

    raws: list[Raw] = field(default_factory=list)
    mapped: list[Any] = field(default_factory=list)
    digests: list[str] = field(default_factory=list)
    reasons: list[str | None] = field(default_factory=list)


def prepare(resource: HaloResource, records: Sequence[Any], settings: SyncSettings) -> Prepared:
    """Map and hash a page: CPU only, no database."""
    mapper = _MAPPERS[resource]
    prep = Prepared()
    for raw in records:
        if not isinstance(raw, dict):
            continue
        prep.raws.append(raw)
        try:
            record = mapper(raw, settings)
        except BadRecord as exc:
            prep.mapped.append(None)
            prep.digests.append("")
            prep.reasons.append(exc.reason)
            continue
        prep.mapped.append(record)
        prep.digests.append(content_hash(record))
        prep.reasons.append(None)
    return prep


class NextPage:
    """The page after the one being taken: fetched while that one is written, and mapped while PostgreSQL
    runs its main statement (`prepare_now`, the `meanwhile` of the `take_*` functions). Our CPU and the
    database's then work side by side; a page not fetched in time is mapped when it is taken."""

    def __init__(self, fetch: asyncio.Future[HaloPage], resource: HaloResource, settings: SyncSettings) -> None:
        self.fetch, self.resource, self.settings = fetch, resource, settings
        self.prepared: Prepared | None = None

    def prepare_now(self) -> None:
        done = self.fetch.done() and not self.fetch.cancelled() and self.fetch.exception() is None
        if done and self.prepared is None:
            self.prepared = prepare(self.resource, self.fetch.result().records, self.settings)

    async def page(self) -> tuple[HaloPage, Prepared]:
        page = await self.fetch
        return page, self.prepared or prepare(self.resource, page.records, self.settings)


async def overlapped(statement: Awaitable[T], meanwhile: Meanwhile | None) -> T:
    """Await a database call, doing `meanwhile` while PostgreSQL runs it."""
    if meanwhile is None:
        return await statement
    task = asyncio.ensure_future(statement)
    try:
        await asyncio.sleep(0)  # the task sends its statement and waits for the answer
        meanwhile()
    finally:
        result = await task
    return result


def bad_record(resource: HaloResource, raw: Raw, reason: str) -> FoundIssue:
    ident = raw.get("id") if isinstance(raw, dict) else None
    return FoundIssue(IssueKind.BAD_RECORD, resource, str(ident) if ident is not None else None, reason)


def unknown_client(resource: HaloResource, external_id: str, client_external_id: str) -> FoundIssue:
    return FoundIssue(
        IssueKind.UNKNOWN_CLIENT,
        resource,
        external_id,
        f"refers to Halo client {client_external_id}, which the sync has not seen (deleted, or not readable)",
    )


def _taken(prep: Prepared, resource: HaloResource, counts: Counts, issues: list[FoundIssue]) -> list[tuple[Any, str]]:
    """The mapped records with their hashes; each one that could not be mapped is counted and an issue."""
    taken = []
    for raw, record, digest, reason in zip(prep.raws, prep.mapped, prep.digests, prep.reasons, strict=True):
        if record is None:
            counts.failed += 1
            issues.append(bad_record(resource, raw, reason or "unreadable"))
        else:
            taken.append((record, digest))
    return taken


async def take_clients(
    tx: SyncTransaction, prep: Prepared, now: datetime, meanwhile: Meanwhile | None = None
) -> tuple[Counts, list[FoundIssue]]:
    counts, issues = Counts(), list[FoundIssue]()
    mapped = _taken(prep, HaloResource.CLIENTS, counts, issues)
    stored = await tx.refs(HaloResource.CLIENTS, [c.external_id for c, _ in mapped])
    writes = []
    new_id = IdSource()
    for client, digest in mapped:
        known = stored.get(client.external_id)
        if known is not None and known.content_hash == digest:
            counts.unchanged += 1
            continue
        counts.created += known is None
        counts.updated += known is not None
        writes.append((known.id if known else new_id(), client, digest))
    await overlapped(tx.write_clients(writes, now), meanwhile)
    await tx.resolve_issues(HaloResource.CLIENTS, [c.external_id for c, _ in mapped], now)
    return counts, issues


async def take_agreements(
    tx: SyncTransaction, prep: Prepared, now: datetime, meanwhile: Meanwhile | None = None
) -> tuple[Counts, list[FoundIssue]]:
    counts, issues = Counts(), list[FoundIssue]()
    mapped = _taken(prep, HaloResource.AGREEMENTS, counts, issues)
    refs = await tx.refs_of(
        {
            HaloResource.CLIENTS: [a.client_external_id for a, _ in mapped],
            HaloResource.AGREEMENTS: [a.external_id for a, _ in mapped],
        }
    )
    clients, stored = refs[HaloResource.CLIENTS], refs[HaloResource.AGREEMENTS]
    writes, taken = [], []
    new_id = IdSource()
    for agreement, digest in mapped:
        client = clients.get(agreement.client_external_id)
        if client is None:
            counts.failed += 1
            issues.append(unknown_client(HaloResource.AGREEMENTS, agreement.external_id, agreement.client_external_id))
            continue
        taken.append(agreement.external_id)
        known = stored.get(agreement.external_id)
        if known is not None and known.content_hash == digest:
            counts.unchanged += 1
            continue
        counts.created += known is None
        counts.updated += known is not None
        writes.append((known.id if known else new_id(), client.id, agreement, digest))
    await overlapped(tx.write_agreements(writes, now), meanwhile)
    await tx.resolve_issues(HaloResource.AGREEMENTS, taken, now)
    return counts, issues


async def take_payments(
    tx: SyncTransaction, prep: Prepared, now: datetime, seen_run: uuid.UUID | None, meanwhile: Meanwhile | None = None
) -> tuple[Counts, list[FoundIssue]]:
    """`seen_run`: the full run that records which payments it read (those it did not were deleted)."""
    counts, issues = Counts(), list[FoundIssue]()
    mapped = _taken(prep, HaloResource.PAYMENTS, counts, issues)
    refs = await tx.refs_of(
        {
            HaloResource.INVOICES: [p.invoice_external_id for p, _ in mapped],
            HaloResource.PAYMENTS: [p.external_id for p, _ in mapped],
        }
    )
    invoices, stored = refs[HaloResource.INVOICES], refs[HaloResource.PAYMENTS]
    writes = []
    new_id = IdSource()
    for payment, digest in mapped:
        invoice = invoices.get(payment.invoice_external_id)
        if invoice is None:
            counts.failed += 1  # its invoice failed to sync: that invoice's own issue says why
            continue
        known = stored.get(payment.external_id)
        if known is not None and known.content_hash == digest:
            counts.unchanged += 1
            continue
        counts.created += known is None
        counts.updated += known is not None
        writes.append((known.id if known else new_id(), invoice.id, payment, digest))
    seen = [f"{PAYMENT_SEEN}{r['id']}" for r in prep.raws if "id" in r] if seen_run else []
    await overlapped(tx.write_payments(writes, now, seen, seen_run), meanwhile)
    return counts, issues
