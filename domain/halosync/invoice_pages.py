"""Taking in one page of invoices: compare the mapped page with what is stored, write the difference.

Two statements per page: one read (clients, stored copies, holders of the page's numbers) and one write
(invoices, their lines, their events, the run's seen list, resolved issues). Mapping and hashing were done
before the transaction (`pages.prepare`), while the previous page was being written.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from domain.events import DomainEvent
from domain.halopsa import HaloResource
from domain.halosync.ids import IdSource
from domain.halosync.pages import Meanwhile, Prepared, bad_record, overlapped, unknown_client
from domain.halosync.ports import InvoiceLookup, InvoicePageWrite, InvoiceWrite, StoredInvoice, SyncTransaction
from domain.halosync.records import HaloInvoice
from domain.halosync.runs import Counts, FoundIssue, IssueKind
from domain.halosync.settings import SyncSettings
from domain.invoices import status_for

INVOICE_SYNCED = "invoice.synced"  # created from Halo
INVOICE_VOIDED = "invoice.voided"
INVOICE_DELETED = "invoice.deleted"
INVOICE_AMOUNT_CHANGED = "invoice.amount_changed"
INVOICE_DUE_DATE_CHANGED = "invoice.due_date_changed"
INVOICE_PAYMENT_RECORDED = "invoice.payment_recorded"  # in Halo: a payment or credit; amount_paid went up
INVOICE_PAYMENT_REVERSED = "invoice.payment_reversed"  # amount_paid went down

Mapped = tuple[HaloInvoice, uuid.UUID, str]  # invoice, our client id, content hash


async def take_invoices(
    tx: SyncTransaction,
    prep: Prepared,
    settings: SyncSettings,
    tenant_id: uuid.UUID,
    now: datetime,
    seen_run: uuid.UUID | None,
    meanwhile: Meanwhile | None = None,
) -> tuple[Counts, list[FoundIssue]]:
    """`seen_run`: the run that records which Halo invoices it read (full and unpaid runs find the rest);
    `meanwhile`: CPU work to do while PostgreSQL writes the page."""
    counts, issues = Counts(), list[FoundIssue]()
    invoices = [i for i in prep.mapped if i is not None]
    lookup = await tx.invoice_lookup(
        sorted({i.client_external_id for i in invoices}),
        [i.external_id for i in invoices],
        sorted({i.number for i in invoices if i.number is not None}),
    )
    mapped: list[Mapped] = []
    for raw, invoice, digest, reason in zip(prep.raws, prep.mapped, prep.digests, prep.reasons, strict=True):
        if invoice is None:
            counts.failed += 1
            issues.append(bad_record(HaloResource.INVOICES, raw, reason or "unreadable"))
            continue
        client = lookup.clients.get(invoice.client_external_id)
        if client is None:
            counts.failed += 1
            issues.append(unknown_client(HaloResource.INVOICES, invoice.external_id, invoice.client_external_id))
            continue
        mapped.append((invoice, client, digest))
    numbers = _number_problems(mapped, issues) | _taken(lookup, mapped)
    for ext in await tx.flag_duplicates(sorted(numbers)):
        issues.append(_duplicate(ext))
    ids = IdSource()
    writes: list[InvoiceWrite] = []
    events: list[list[DomainEvent]] = []
    for invoice, client_id, record_hash in mapped:
        problem = "missing" if invoice.number is None else "duplicate" if invoice.number in numbers else None
        if problem == "duplicate":
            issues.append(_duplicate(invoice.external_id))
        digest = record_hash + (problem or "")
        known = lookup.stored.get(invoice.external_id)
        if known is not None and (known.content_hash == digest or _newer(known, invoice)):
            counts.unchanged += 1  # the same, or a page read before a newer copy (a webhook's) was stored
            continue
        write = _invoice_write(invoice, client_id, known, problem, digest, ids)
        writes.append(write)
        events.append(invoice_events(write, known, tenant_id, now, ids))
    seen = [str(r["id"]) for r in prep.raws if isinstance(r.get("id"), int)] if seen_run else []
    clean = [i.external_id for i, _, _ in mapped if i.number is not None and i.number not in numbers]
    page = InvoicePageWrite(writes, [e for found in events for e in found], clean, seen, seen_run)
    written = await overlapped(tx.write_invoice_page(page, now), meanwhile)
    for write in writes:
        if write.id not in written:
            counts.unchanged += 1  # a newer copy was committed between our read and our write
            continue
        counts.created += write.is_new
        counts.updated += not write.is_new
    return counts, issues


def _newer(known: StoredInvoice, invoice: HaloInvoice) -> bool:
    return known.modified_at is not None and known.modified_at > invoice.modified_at


def _taken(lookup: InvoiceLookup, mapped: list[Mapped]) -> set[str]:
    """The page's numbers another invoice already holds: one made in arbridge, or a Halo invoice not on it."""
    numbers = {i.number for i, _, _ in mapped if i.number is not None}
    here = {i.external_id for i, _, _ in mapped}
    return {
        number
        for number, source, external_id in lookup.holders
        if number in numbers and (source != "halopsa" or external_id not in here)
    }


def _number_problems(mapped: list[Mapped], issues: list[FoundIssue]) -> set[str]:
    """Missing numbers become issues here; numbers used twice within the page are returned."""
    seen: set[str] = set()
    twice: set[str] = set()
    for invoice, _, _ in mapped:
        if invoice.number is None:
            issues.append(
                FoundIssue(
                    IssueKind.MISSING_NUMBER,
                    HaloResource.INVOICES,
                    invoice.external_id,
                    "has no invoice number in Halo; it is kept but not matched to payments until it has one",
                )
            )
        elif invoice.number in seen:
            twice.add(invoice.number)
        else:
            seen.add(invoice.number)
    return twice


def _duplicate(external_id: str) -> FoundIssue:
    return FoundIssue(
        IssueKind.DUPLICATE_NUMBER,
        HaloResource.INVOICES,
        external_id,
        "shares its invoice number with another invoice; neither is matched to payments until one is renumbered",
    )


def _invoice_write(
    invoice: HaloInvoice,
    client_id: uuid.UUID,
    known: StoredInvoice | None,
    problem: str | None,
    digest: str,
    new_id: Callable[[], uuid.UUID],
) -> InvoiceWrite:
    status = "void" if invoice.voided else status_for(invoice.total, invoice.amount_paid).value
    number = invoice.number if invoice.number is not None else f"HALO-{invoice.external_id} (no number)"
    return InvoiceWrite(
        id=known.id if known else new_id(),
        client_id=client_id,
        record=invoice,
        number=number,
        number_issue=problem,
        status=status,
        voided_at=(invoice.modified_at if invoice.voided else None),
        content_hash=digest,
        is_new=known is None,
        renumbered=known is not None and known.number != number,
    )


def snapshot(w: InvoiceWrite) -> dict[str, Any]:
    i = w.record
    return {
        "id": str(w.id),
        "number": w.number,
        "source": "halopsa",
        "external_id": i.external_id,
        "currency": i.currency,
        "status": w.status,
        "total": i.total,
        "tax_total": i.tax_total,  # the ledger books it as sales tax payable, not revenue
        "amount_paid": i.amount_paid,
        "balance": 0 if w.status == "void" else i.total - i.amount_paid,
        "issue_date": i.issue_date.isoformat(),
        "due_date": i.due_date.isoformat(),
    }


def invoice_events(
    w: InvoiceWrite,
    known: StoredInvoice | None,
    tenant_id: uuid.UUID,
    now: datetime,
    new_id: Callable[[], uuid.UUID],
) -> list[DomainEvent]:
    """The facts a subscriber cares about in this change of a Halo invoice."""
    data = snapshot(w)

    def event(kind: str, **extra: Any) -> DomainEvent:
        return DomainEvent(kind, tenant_id, w.id, now, {**data, **extra} if extra else data, new_id())

    if known is None:
        return [event(INVOICE_SYNCED)]
    found = []
    i = w.record
    if w.status == "void" and known.status != "void":
        found.append(event(INVOICE_VOIDED))
    if i.total != known.total:
        found.append(event(INVOICE_AMOUNT_CHANGED, previous_total=known.total))
    if i.due_date != known.due_date:
        found.append(event(INVOICE_DUE_DATE_CHANGED, previous_due_date=known.due_date.isoformat()))
    if i.amount_paid > known.amount_paid:
        found.append(event(INVOICE_PAYMENT_RECORDED, amount=i.amount_paid - known.amount_paid))
    elif i.amount_paid < known.amount_paid:
        found.append(event(INVOICE_PAYMENT_REVERSED, amount=known.amount_paid - i.amount_paid))
    return found


def deleted_event(removed: StoredInvoice, external_id: str, tenant_id: uuid.UUID, now: datetime) -> DomainEvent:
    data = {
        "id": str(removed.id),
        "number": removed.number,
        "source": "halopsa",
        "external_id": external_id,
        "status": "void",
        "total": removed.total,
        "amount_paid": removed.amount_paid,
        "balance": 0,
    }
    return DomainEvent(INVOICE_DELETED, tenant_id, removed.id, now, data)
