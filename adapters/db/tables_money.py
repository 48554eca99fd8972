"""Tables of payments, the ledger, refunds, disputes and payouts (migrations 0004-0006), on the same metadata
as tables.py (which imports this module)."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    Integer,
    String,
    Table,
    Text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID

from adapters.db.tables import _ts, metadata

# -- payments (migration 0005) ----------------------------------------------------------------------------

stripe_customers = Table(
    "stripe_customers",
    metadata,
    Column("tenant_id", UUID(as_uuid=True), primary_key=True),
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("client_id", UUID(as_uuid=True), nullable=False),
    Column("stripe_account", Text, nullable=False),
    Column("stripe_customer_id", Text, nullable=False),
    _ts("created_at"),
)

payment_methods = Table(
    "payment_methods",
    metadata,
    Column("tenant_id", UUID(as_uuid=True), primary_key=True),
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("client_id", UUID(as_uuid=True), nullable=False),
    Column("stripe_payment_method_id", Text, nullable=False),
    Column("kind", Text, nullable=False),
    Column("brand", Text),
    Column("funding", Text),
    Column("last4", Text),
    Column("exp_month", Integer),
    Column("exp_year", Integer),
    Column("bank_name", Text),
    Column("is_default", Boolean, nullable=False),
    Column("status", Text, nullable=False),
    _ts("created_at"),
    _ts("updated_at"),
)

payments = Table(
    "payments",
    metadata,
    Column("tenant_id", UUID(as_uuid=True), primary_key=True),
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("client_id", UUID(as_uuid=True), nullable=False),
    Column("method_id", UUID(as_uuid=True)),
    Column("kind", Text, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("surcharge", BigInteger, nullable=False),
    Column("status", Text, nullable=False),
    Column("recovery_point", Text, nullable=False),
    Column("request_key", Text),
    Column("stripe_account", Text, nullable=False),
    Column("stripe_payment_intent_id", Text),
    Column("failure_code", Text),
    Column("decline_code", Text),
    Column("failure_message", Text),
    _ts("created_at"),
    _ts("updated_at"),
)

payment_allocations = Table(
    "payment_allocations",
    metadata,
    Column("tenant_id", UUID(as_uuid=True), primary_key=True),
    Column("payment_id", UUID(as_uuid=True), primary_key=True),
    Column("invoice_id", UUID(as_uuid=True), primary_key=True),
    Column("amount", BigInteger, nullable=False),
)

stripe_events = Table(
    "stripe_events",
    metadata,
    Column("tenant_id", UUID(as_uuid=True), primary_key=True),
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("event_id", Text, nullable=False),
    Column("event_type", Text, nullable=False),
    Column("stripe_account", Text),
    Column("payload", JSONB, nullable=False),
    _ts("received_at"),
)

# The ledger (migrations/versions/0004_ledger.py): append-only entries, balances maintained by the database.
ledger_accounts = Table(
    "ledger_accounts",
    metadata,
    Column("tenant_id", UUID(as_uuid=True), primary_key=True),
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("code", Text, nullable=False),
    Column("name", Text, nullable=False),
    Column("type", Text, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("balance", BigInteger, nullable=False),  # debit-positive, maintained by a trigger from the entries
    _ts("created_at"),
)

ledger_transactions = Table(
    "ledger_transactions",
    metadata,
    Column("tenant_id", UUID(as_uuid=True), primary_key=True),
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("kind", Text, nullable=False),
    Column("idempotency_key", Text, nullable=False),
    Column("reference_type", Text, nullable=False),
    Column("reference_id", UUID(as_uuid=True), nullable=False),
    Column("external_id", Text),
    Column("reverses_id", UUID(as_uuid=True)),
    _ts("occurred_at"),
    _ts("recorded_at"),
)

ledger_entries = Table(
    "ledger_entries",
    metadata,
    Column("tenant_id", UUID(as_uuid=True), primary_key=True),
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("transaction_id", UUID(as_uuid=True), nullable=False),
    Column("account_id", UUID(as_uuid=True), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("amount", BigInteger, nullable=False),  # debit positive, credit negative, never zero
    Column("invoice_id", UUID(as_uuid=True)),
)

# -- refunds, disputes, payouts (migration 0006) ----------------------------------------------------------

refunds = Table(
    "refunds",
    metadata,
    Column("tenant_id", UUID(as_uuid=True), primary_key=True),
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("payment_id", UUID(as_uuid=True), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("surcharge", BigInteger, nullable=False),
    Column("status", Text, nullable=False),
    Column("reason", Text),
    Column("reopen_invoices", Boolean, nullable=False),
    Column("request_key", Text),
    Column("stripe_refund_id", Text),
    Column("failure_reason", Text),
    _ts("created_at"),
    _ts("updated_at"),
)

refund_allocations = Table(
    "refund_allocations",
    metadata,
    Column("tenant_id", UUID(as_uuid=True), primary_key=True),
    Column("refund_id", UUID(as_uuid=True), primary_key=True),
    Column("invoice_id", UUID(as_uuid=True), primary_key=True),
    Column("amount", BigInteger, nullable=False),
)

disputes = Table(
    "disputes",
    metadata,
    Column("tenant_id", UUID(as_uuid=True), primary_key=True),
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("payment_id", UUID(as_uuid=True), nullable=False),
    Column("stripe_dispute_id", Text, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("fee", BigInteger, nullable=False),
    Column("reason", Text),
    Column("status", Text, nullable=False),
    _ts("created_at"),
    _ts("updated_at"),
)

payouts = Table(
    "payouts",
    metadata,
    Column("tenant_id", UUID(as_uuid=True), primary_key=True),
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("stripe_payout_id", Text, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("status", Text, nullable=False),
    Column("arrival_date", Date),
    _ts("created_at"),
    _ts("updated_at"),
)

payout_lines = Table(
    "payout_lines",
    metadata,
    Column("tenant_id", UUID(as_uuid=True), primary_key=True),
    Column("payout_id", UUID(as_uuid=True), primary_key=True),
    Column("balance_transaction_id", Text, primary_key=True),
    Column("kind", Text, nullable=False),
    Column("payment_id", UUID(as_uuid=True)),
    Column("gross", BigInteger, nullable=False),
    Column("fee", BigInteger, nullable=False),
    Column("net", BigInteger, nullable=False),
)
