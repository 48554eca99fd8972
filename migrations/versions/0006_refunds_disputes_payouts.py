"""Refunds, disputes and payouts: what happens to a payment after it succeeded, and how its money reaches the bank.

- `refunds`: one row per refund asked for (an attempt, like a payment: recorded before Stripe is called, keyed
  by the caller's Idempotency-Key), with the surcharge part refunded pro rata and the invoices it reopens.
- `disputes`: a chargeback on a payment, from Stripe's webhooks; while open its amount is held.
- `payouts` and `payout_lines`: each Stripe payout with the balance transactions it carries (charges, refunds,
  fees, disputes): the basis of the bank deposit posted to the books.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25
"""

from migrations.sql import run_script

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

APP = "arbridge_app"
TENANT_PREDICATE = "tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid"
NEW_TABLES = ("refunds", "refund_allocations", "disputes", "payouts", "payout_lines")


def upgrade() -> None:
    run_script("""
    CREATE TABLE refunds (
        tenant_id uuid NOT NULL,
        id uuid NOT NULL,
        payment_id uuid NOT NULL,
        currency char(3) NOT NULL,
        amount bigint NOT NULL CHECK (amount > 0),  -- refunded to the payer, surcharge part included
        surcharge bigint NOT NULL DEFAULT 0 CHECK (surcharge >= 0 AND surcharge <= amount),
        status text NOT NULL CHECK (status IN ('started', 'pending', 'succeeded', 'failed', 'canceled')),
        reason text,
        reopen_invoices boolean NOT NULL DEFAULT true,
        request_key text,
        stripe_refund_id text,
        failure_reason text,
        created_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL,
        PRIMARY KEY (tenant_id, id),
        UNIQUE (tenant_id, request_key),
        UNIQUE (tenant_id, stripe_refund_id),
        FOREIGN KEY (tenant_id, payment_id) REFERENCES payments (tenant_id, id)
    );
    CREATE INDEX refunds_payment ON refunds (tenant_id, payment_id);

    CREATE TABLE refund_allocations (
        tenant_id uuid NOT NULL,
        refund_id uuid NOT NULL,
        invoice_id uuid NOT NULL,
        amount bigint NOT NULL CHECK (amount > 0),
        PRIMARY KEY (tenant_id, refund_id, invoice_id),
        FOREIGN KEY (tenant_id, refund_id) REFERENCES refunds (tenant_id, id),
        FOREIGN KEY (tenant_id, invoice_id) REFERENCES invoices (tenant_id, id)
    );

    CREATE TABLE disputes (
        tenant_id uuid NOT NULL,
        id uuid NOT NULL,
        payment_id uuid NOT NULL,
        stripe_dispute_id text NOT NULL,
        currency char(3) NOT NULL,
        amount bigint NOT NULL CHECK (amount > 0),
        fee bigint NOT NULL DEFAULT 0 CHECK (fee >= 0),
        reason text,
        status text NOT NULL,
        created_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL,
        PRIMARY KEY (tenant_id, id),
        UNIQUE (tenant_id, stripe_dispute_id),
        FOREIGN KEY (tenant_id, payment_id) REFERENCES payments (tenant_id, id)
    );

    CREATE TABLE payouts (
        tenant_id uuid NOT NULL,
        id uuid NOT NULL,
        stripe_payout_id text NOT NULL,
        currency char(3) NOT NULL,
        amount bigint NOT NULL,  -- what reaches the bank
        status text NOT NULL,
        arrival_date date,
        created_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL,
        PRIMARY KEY (tenant_id, id),
        UNIQUE (tenant_id, stripe_payout_id)
    );

    CREATE TABLE payout_lines (
        tenant_id uuid NOT NULL,
        payout_id uuid NOT NULL,
        balance_transaction_id text NOT NULL,
        kind text NOT NULL,  -- Stripe's balance transaction type: charge, payment, refund, adjustment, ...
        payment_id uuid,  -- ours, when the line is one of our payments
        gross bigint NOT NULL,
        fee bigint NOT NULL,
        net bigint NOT NULL,
        PRIMARY KEY (tenant_id, payout_id, balance_transaction_id),
        FOREIGN KEY (tenant_id, payout_id) REFERENCES payouts (tenant_id, id),
        FOREIGN KEY (tenant_id, payment_id) REFERENCES payments (tenant_id, id)
    );
    """)
    for table in NEW_TABLES:
        run_script(f"""
        ALTER TABLE {table} ENABLE ROW LEVEL SECURITY;
        ALTER TABLE {table} FORCE ROW LEVEL SECURITY;
        CREATE POLICY tenant_isolation ON {table} USING ({TENANT_PREDICATE}) WITH CHECK ({TENANT_PREDICATE});
        GRANT SELECT, INSERT, UPDATE, DELETE ON {table} TO {APP};
        """)


def downgrade() -> None:
    run_script("DROP TABLE IF EXISTS payout_lines, payouts, disputes, refund_allocations, refunds;")
