"""JSON-ready snapshots of entities, carried in event payloads (what a subscriber sees of the change)."""

from __future__ import annotations

from typing import Any

from domain.clients import Client
from domain.invoices import Invoice


def client_snapshot(c: Client) -> dict[str, Any]:
    a = c.address
    return {
        "id": str(c.id),
        "name": c.name,
        "billing_email": c.billing_email,
        "address": {
            "line1": a.line1,
            "line2": a.line2,
            "city": a.city,
            "state": a.state,
            "postal_code": a.postal_code,
            "country": a.country,
        },
    }


def invoice_snapshot(i: Invoice) -> dict[str, Any]:
    return {
        "id": str(i.id),
        "number": i.number,
        "client_id": str(i.client_id),
        "currency": i.currency,
        "status": i.status.value,
        "total": i.total,
        "tax_total": i.tax_total,  # the ledger books it as sales tax payable, not revenue
        "amount_paid": i.amount_paid,
        "balance": i.balance,
        "issue_date": i.issue_date.isoformat(),
        "due_date": i.due_date.isoformat(),
    }
