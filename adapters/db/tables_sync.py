"""Tables of the HaloPSA sync (migration 0003), on the same metadata as tables.py (which imports this module)."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    Integer,
    Table,
    Text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID

from adapters.db.tables import _ts, metadata

agreements = Table(
    "agreements",
    metadata,
    Column("tenant_id", UUID(as_uuid=True), primary_key=True),
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("client_id", UUID(as_uuid=True), nullable=False),
    Column("source", Text, nullable=False),
    Column("external_id", Text, nullable=False),
    Column("reference", Text),
    Column("type_name", Text),
    Column("subtype", Text, nullable=False),
    Column("start_date", Date),
    Column("end_date", Date),
    Column("active", Boolean, nullable=False),
    Column("billing_period", Integer),
    Column("period_charge", BigInteger, nullable=False),
    Column("content_hash", Text, nullable=False),
    _ts("created_at"),
    _ts("updated_at"),
)

recorded_payments = Table(
    "recorded_payments",
    metadata,
    Column("tenant_id", UUID(as_uuid=True), primary_key=True),
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("invoice_id", UUID(as_uuid=True), nullable=False),
    Column("source", Text, nullable=False),
    Column("external_id", Text, nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("paid_on", Date),
    Column("method", Text),
    Column("content_hash", Text, nullable=False),
    _ts("created_at"),
    _ts("updated_at"),
)

sync_runs = Table(
    "sync_runs",
    metadata,
    Column("tenant_id", UUID(as_uuid=True), primary_key=True),
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("provider", Text, nullable=False),
    Column("trigger", Text, nullable=False),
    Column("mode", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("created", Integer, nullable=False),
    Column("updated", Integer, nullable=False),
    Column("unchanged", Integer, nullable=False),
    Column("failed", Integer, nullable=False),
    Column("issues", Integer, nullable=False),
    Column("checkpoint", JSONB, nullable=False),
    Column("target", JSONB, nullable=False),
    Column("error", Text),
    _ts("requested_at"),
    _ts("started_at", nullable=True),
    _ts("finished_at", nullable=True),
    _ts("heartbeat_at", nullable=True),
)

sync_issues = Table(
    "sync_issues",
    metadata,
    Column("tenant_id", UUID(as_uuid=True), primary_key=True),
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("provider", Text, nullable=False),
    Column("kind", Text, nullable=False),
    Column("resource", Text, nullable=False),
    Column("external_id", Text),
    Column("message", Text, nullable=False),
    Column("run_id", UUID(as_uuid=True), nullable=False),
    Column("occurrences", Integer, nullable=False),
    _ts("first_seen_at"),
    _ts("last_seen_at"),
    _ts("resolved_at", nullable=True),
)

webhook_receipts = Table(
    "webhook_receipts",
    metadata,
    Column("tenant_id", UUID(as_uuid=True), primary_key=True),
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("provider", Text, nullable=False),
    Column("event_id", Text, nullable=False),
    Column("event_type", Text, nullable=False),
    Column("payload", JSONB, nullable=False),
    _ts("received_at"),
)

sync_seen = Table(
    "sync_seen",
    metadata,
    Column("tenant_id", UUID(as_uuid=True), primary_key=True),
    Column("run_id", UUID(as_uuid=True), primary_key=True),
    Column("external_id", Text, primary_key=True),
)
