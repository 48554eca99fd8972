"""Taking in one page of each resource: map, compare with what is stored, write the difference in batches.

Each function runs inside the page's transaction and returns its counts and issues; the engine commits.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from domain.events import DomainEvent
from domain.halopsa import HaloResource
from domain.halosync import mapping
from domain.halosync.ports import InvoiceWrite, StoredInvoice, SyncTransaction
from domain.halosync.records import BadRecord, HaloInvoice, content_hash
from domain.halosync.runs import Counts, FoundIssue, IssueKind
from domain.halosync.settings import SyncSettings
from domain.ids import new_id
from domain.invoices import status_for

Raw = dict[str, Any]

INVOICE_SYNCED = "invoice.synced"  # created from Halo
INVOICE_VOIDED = "invoice.voided"
INVOICE_DELETED = "invoice.deleted"
INVOICE_AMOUNT_CHANGED = "invoice.amount_changed"
INVOICE_DUE_DATE_CHANGED = "invoice.due_date_changed"
INVOICE_PAYMENT_RECORDED = "invoice.payment_recorded"  # in Halo: a payment or credit; amount_paid went up
INVOICE_PAYMENT_REVERSED = "invoice.payment_reversed"  # amount_paid went down


def _bad(resource: HaloResource, raw: Raw, reason: str) -> FoundIssue:
    ident = raw.get("id") if isinstance(raw, dict) else None
    return FoundIssue(IssueKind.BAD_RECORD, resource, str(ident) if ident is not None else None, reason)


async def take_clients(tx: SyncTransaction, raws: Sequence[Raw], now: datetime) -> tuple[Counts, list[FoundIssue]]:
    counts, issues, mapped = Counts(), [], []
    for raw in raws:
        try:
            mapped.append(mapping.client_of(raw))
        except BadRecord as exc:
            counts.failed += 1
            issues.append(_bad(HaloResource.CLIENTS, raw, exc.reason))
    stored = await tx.refs(HaloResource.CLIENTS, [c.external_id for c in mapped])
    writes = []
    for client in mapped:
        digest, known = content_hash(client), stored.get(client.external_id)
        if known is not None and known.content_hash == digest:
            counts.unchanged += 1
            continue
        counts.created += known is None
        counts.updated += known is not None
        writes.append((known.id if known else new_id(), client, digest))
    await tx.write_clients(writes, now)
    await tx.resolve_issues(HaloResource.CLIENTS, [c.external_id for c in mapped], now)
    return counts, issues


async def take_agreements(
    tx: SyncTransaction, raws: Sequence[Raw], settings: SyncSettings, now: datetime
) -> tuple[Counts, list[FoundIssue]]:
    counts, issues, mapped = Counts(), [], []
    for raw in raws:
        try:
            mapped.append(mapping.agreement_of(raw, settings.currency))
        except BadRecord as exc:
            counts.failed += 1
            issues.append(_bad(HaloResource.AGREEMENTS, raw, exc.reason))
    clients = await tx.refs(HaloResource.CLIENTS, [a.client_external_id for a in mapped])
    stored = await tx.refs(HaloResource.AGREEMENTS, [a.external_id for a in mapped])
    writes, taken = [], []
    for agreement in mapped:
        client = clients.get(agreement.client_external_id)
        if client is None:
            counts.failed += 1
            issues.append(_unknown_client(HaloResource.AGREEMENTS, agreement.external_id, agreement.client_external_id))
            continue
        taken.append(agreement.external_id)
        digest, known = content_hash(agreement), stored.get(agreement.external_id)
        if known is not None and known.content_hash == digest:
            counts.unchanged += 1
            continue
        counts.created += known is None
        counts.updated += known is not None
        writes.append((known.id if known else new_id(), client.id, agreement, digest))
    await tx.write_agreements(writes, now)
    await tx.resolve_issues(HaloResource.AGREEMENTS, taken, now)
    return counts, issues


def _unknown_client(resource: HaloResource, external_id: str, client_external_id: str) -> FoundIssue:
    return FoundIssue(
        IssueKind.UNKNOWN_CLIENT,
        resource,
        external_id,
        f"refers to Halo client {client_external_id}, which the sync has not seen (deleted, or not readable)",
    )


async def take_invoices(
    tx: SyncTransaction, raws: Sequence[Raw], settings: SyncSettings, tenant_id: uuid.UUID, now: datetime
) -> tuple[Counts, list[FoundIssue], list[int]]:
    """Returns counts, issues, and the Halo ids seen (a full sync finds deletions with them)."""
    counts, issues = Counts(), []
    seen = [r["id"] for r in raws if isinstance(r, dict) and isinstance(r.get("id"), int)]
    clients = await tx.refs(HaloResource.CLIENTS, [str(r.get("client_id")) for r in raws if isinstance(r, dict)])
    mapped: list[tuple[HaloInvoice, uuid.UUID]] = []
    for raw in raws:
        client = clients.get(str(raw.get("client_id")))
        try:
            # The tenant's currency: Halo's `currency_code` is an int whose meaning is not documented.
            invoice = mapping.invoice_of(raw, settings, settings.currency)
        except BadRecord as exc:
            counts.failed += 1
            issues.append(_bad(HaloResource.INVOICES, raw, exc.reason))
            continue
        if client is None:
            counts.failed += 1
            issues.append(_unknown_client(HaloResource.INVOICES, invoice.external_id, invoice.client_external_id))
            continue
        mapped.append((invoice, client.id))
    stored = await tx.stored_invoices([i.external_id for i, _ in mapped])
    numbers = _number_problems(mapped, issues)
    numbers |= await tx.taken_numbers([i.number for i, _ in mapped if i.number], [i.external_id for i, _ in mapped])
    for ext in await tx.flag_duplicates(sorted(numbers)):
        issues.append(_duplicate(ext))
    writes: list[InvoiceWrite] = []
    events: list[tuple[InvoiceWrite, list[DomainEvent]]] = []
    new_events: list[DomainEvent] = []
    for invoice, client_id in mapped:
        problem = "missing" if invoice.number is None else "duplicate" if invoice.number in numbers else None
        if problem == "duplicate":
            issues.append(_duplicate(invoice.external_id))
        digest = content_hash(invoice) + (problem or "")
        known = stored.get(invoice.external_id)
        if known is not None and (known.content_hash == digest or _newer(known, invoice)):
            counts.unchanged += 1  # the same, or a page read before a newer copy (a webhook's) was stored
            continue
        write = _invoice_write(invoice, client_id, known, problem, digest, now)
        writes.append(write)
        events.append((write, invoice_events(write, known, tenant_id, now)))
    written = await tx.write_invoices(writes, now)
    for write, found in events:
        if write.id not in written:
            counts.unchanged += 1  # a newer copy was committed between our read and our write
            continue
        counts.created += write.is_new
        counts.updated += not write.is_new
        new_events.extend(found)
    await tx.add_events(new_events)
    clean = [i.external_id for i, _ in mapped if i.number is not None and i.number not in numbers]
    await tx.resolve_issues(HaloResource.INVOICES, clean, now)
    return counts, issues, seen


def _newer(known: StoredInvoice, invoice: HaloInvoice) -> bool:
    return known.modified_at is not None and known.modified_at > invoice.modified_at


def _number_problems(mapped: list[tuple[HaloInvoice, uuid.UUID]], issues: list[FoundIssue]) -> set[str]:
    """Missing numbers become issues here; numbers used twice within the page are returned."""
    seen: set[str] = set()
    twice: set[str] = set()
    for invoice, _ in mapped:
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
    now: datetime,
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
        "amount_paid": i.amount_paid,
        "balance": 0 if w.status == "void" else i.total - i.amount_paid,
        "issue_date": i.issue_date.isoformat(),
        "due_date": i.due_date.isoformat(),
    }


def invoice_events(
    w: InvoiceWrite, known: StoredInvoice | None, tenant_id: uuid.UUID, now: datetime
) -> list[DomainEvent]:
    """The facts a subscriber cares about in this change of a Halo invoice."""
    data = snapshot(w)

    def event(kind: str, **extra: Any) -> DomainEvent:
        return DomainEvent(kind, tenant_id, w.id, now, {**data, **extra})

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


async def take_payments(
    tx: SyncTransaction, raws: Sequence[Raw], settings: SyncSettings, now: datetime
) -> tuple[Counts, list[FoundIssue]]:
    counts, issues, mapped = Counts(), [], []
    for raw in raws:
        try:
            mapped.append(mapping.payment_of(raw, settings.currency))
        except BadRecord as exc:
            counts.failed += 1
            issues.append(_bad(HaloResource.PAYMENTS, raw, exc.reason))
    invoices = await tx.refs(HaloResource.INVOICES, [p.invoice_external_id for p in mapped])
    stored = await tx.refs(HaloResource.PAYMENTS, [p.external_id for p in mapped])
    writes = []
    for payment in mapped:
        invoice = invoices.get(payment.invoice_external_id)
        if invoice is None:
            counts.failed += 1  # its invoice failed to sync: that invoice's own issue says why
            continue
        digest, known = content_hash(payment), stored.get(payment.external_id)
        if known is not None and known.content_hash == digest:
            counts.unchanged += 1
            continue
        counts.created += known is None
        counts.updated += known is not None
        writes.append((known.id if known else new_id(), invoice.id, payment, digest))
    await tx.write_payments(writes, now)
    return counts, issues
