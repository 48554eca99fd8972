"""Domain events: facts recorded in the outbox in the same transaction as the change they describe."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from domain.ids import new_id


@dataclass(frozen=True)
class DomainEvent:
    type: str  # past tense, dotted: "invoice.created"
    tenant_id: uuid.UUID
    subject_id: uuid.UUID  # the object the event is about
    occurred_at: datetime
    data: dict[str, Any]  # JSON-ready snapshot of the subject
    id: uuid.UUID = field(default_factory=new_id)


CLIENT_CREATED = "client.created"
INVOICE_CREATED = "invoice.created"
INVOICE_VOIDED = "invoice.voided"
