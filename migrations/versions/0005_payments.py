"""Payments: each client's Stripe customer and stored methods, payment attempts and what they pay, and the
inbox of Stripe webhook events.

- A payment row is written (and committed) before Stripe is called; its `recovery_point` says how far the
  attempt got, and Stripe's idempotency key is derived from its id, so a crash between the Stripe call and
  recording its answer is resumed without a second charge (Brandur Leach's recovery points).
- `request_key`: the caller's Idempotency-Key. A retried request finds its attempt and resumes it.
- Allocations say which invoices a payment pays, and how much of each; attempts not yet failed hold their
  amounts against the invoices' balances, so concurrent requests never collect more than is owed.
- `stripe_events` is unique by Stripe's event id: a redelivered webhook is recognised and dropped.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25
"""

from alembic import op

from migrations.sql import run_script

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

APP = "arbridge_app"
SYSTEM = "arbridge_system"
TENANT_PREDICATE = "tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid"
NEW_TABLES = ("stripe_customers", "payment_methods", "payments", "payment_allocations", "stripe_events")


def upgrade() -> None:
    run_script("""
    CREATE TABLE stripe_customers (
        tenant_id uuid NOT NULL,
        id uuid NOT NULL,
        client_id uuid NOT NULL,
        stripe_account text NOT NULL,
        stripe_customer_id text NOT NULL,
        created_at timestamptz NOT NULL,
        PRIMARY KEY (tenant_id, id),
        UNIQUE (tenant_id, client_id, stripe_account),
        FOREIGN KEY (tenant_id, client_id) REFERENCES clients (tenant_id, id)
    );

    CREATE TABLE payment_methods (
        tenant_id uuid NOT NULL,
        id uuid NOT NULL,
        client_id uuid NOT NULL,
        stripe_payment_method_id text NOT NULL,
        kind text NOT NULL CHECK (kind IN ('card', 'us_bank_account')),
        brand text,
        funding text,
        last4 text,
        exp_month int,
        exp_year int,
        bank_name text,
        is_default boolean NOT NULL DEFAULT false,
        status text NOT NULL CHECK (status IN ('active', 'removed')),
        created_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL,
        PRIMARY KEY (tenant_id, id),
        UNIQUE (tenant_id, stripe_payment_method_id),
        FOREIGN KEY (tenant_id, client_id) REFERENCES clients (tenant_id, id)
    );
    CREATE UNIQUE INDEX payment_methods_one_default ON payment_methods (tenant_id, client_id)
        WHERE is_default AND status = 'active';
    CREATE INDEX payment_methods_expiring ON payment_methods (tenant_id, exp_year, exp_month)
        WHERE status = 'active' AND kind = 'card';

    CREATE TABLE payments (
        tenant_id uuid NOT NULL,
        id uuid NOT NULL,
        client_id uuid NOT NULL,
        method_id uuid,
        kind text NOT NULL CHECK (kind IN ('card', 'us_bank_account')),
        currency char(3) NOT NULL,
        amount bigint NOT NULL CHECK (amount > 0),  -- what is charged, surcharge included
        surcharge bigint NOT NULL DEFAULT 0 CHECK (surcharge >= 0 AND surcharge < amount),
        status text NOT NULL CHECK (status IN
            ('started', 'processing', 'requires_action', 'succeeded', 'failed', 'canceled')),
        recovery_point text NOT NULL CHECK (recovery_point IN ('started', 'intent_created', 'finished')),
        request_key text,
        stripe_account text NOT NULL,
        stripe_payment_intent_id text,
        failure_code text,
        decline_code text,
        failure_message text,
        created_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL,
        PRIMARY KEY (tenant_id, id),
        UNIQUE (tenant_id, request_key),
        UNIQUE (tenant_id, stripe_payment_intent_id),
        FOREIGN KEY (tenant_id, client_id) REFERENCES clients (tenant_id, id),
        FOREIGN KEY (tenant_id, method_id) REFERENCES payment_methods (tenant_id, id)
    );
    CREATE INDEX payments_client ON payments (tenant_id, client_id, id);
    CREATE INDEX payments_method_in_flight ON payments (tenant_id, method_id)
        WHERE status IN ('started', 'processing');

    CREATE TABLE payment_allocations (
        tenant_id uuid NOT NULL,
        payment_id uuid NOT NULL,
        invoice_id uuid NOT NULL,
        amount bigint NOT NULL CHECK (amount > 0),
        PRIMARY KEY (tenant_id, payment_id, invoice_id),
        FOREIGN KEY (tenant_id, payment_id) REFERENCES payments (tenant_id, id),
        FOREIGN KEY (tenant_id, invoice_id) REFERENCES invoices (tenant_id, id)
    );
    CREATE INDEX payment_allocations_invoice ON payment_allocations (tenant_id, invoice_id);

    CREATE TABLE stripe_events (
        tenant_id uuid NOT NULL,
        id uuid NOT NULL,
        event_id text NOT NULL,
        event_type text NOT NULL,
        stripe_account text,
        payload jsonb NOT NULL,
        received_at timestamptz NOT NULL,
        PRIMARY KEY (tenant_id, id),
        UNIQUE (tenant_id, event_id)
    );
    """)
    for table in NEW_TABLES:
        run_script(f"""
        ALTER TABLE {table} ENABLE ROW LEVEL SECURITY;
        ALTER TABLE {table} FORCE ROW LEVEL SECURITY;
        CREATE POLICY tenant_isolation ON {table} USING ({TENANT_PREDICATE}) WITH CHECK ({TENANT_PREDICATE});
        GRANT SELECT, INSERT, UPDATE, DELETE ON {table} TO {APP};
        """)
    run_script("""
    -- A Connect webhook names the MSP's Stripe account, not our tenant: find whose it is (and nothing else).
    CREATE FUNCTION find_tenant_by_stripe_account(p_account text)
    RETURNS TABLE (tenant_id uuid)
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public AS $$
        SELECT tenant_id FROM connections WHERE provider = 'stripe' AND external_id = p_account
    $$;
    """)
    fn = "find_tenant_by_stripe_account(text)"
    op.execute(f"ALTER FUNCTION {fn} OWNER TO {SYSTEM}")
    op.execute(f"REVOKE ALL ON FUNCTION {fn} FROM PUBLIC")
    op.execute(f"GRANT EXECUTE ON FUNCTION {fn} TO {APP}")


def downgrade() -> None:
    run_script("""
    DROP FUNCTION IF EXISTS find_tenant_by_stripe_account(text);
    DROP INDEX IF EXISTS connections_one_tenant_per_stripe_account;
    DROP TABLE IF EXISTS stripe_events, payment_allocations, payments, payment_methods, stripe_customers;
    """)
