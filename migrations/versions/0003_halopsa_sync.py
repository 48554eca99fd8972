"""HaloPSA sync: where each record came from, agreements, payments recorded in Halo, sync runs and issues.

- Clients and invoices gain `source` ('arbridge' or 'halopsa'), `external_id` (Halo's id) and a content
  hash, unique per tenant and source, so a page is written with one upsert.
- Invoice numbers: unique among invoices whose number is sound (`number_issue IS NULL`). A Halo invoice with
  no number or a shared one is kept, flagged, and excluded from payment matching until fixed in Halo.
- Lines may have a zero quantity (Halo's heading and note lines).
- `contract_billed`: the invoice bills an agreement whose subtype the MSP chose as contract-billed.
- `external_modified_at`: Halo's last_modified of the copy held, so that a stale copy never wins.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""

from migrations.sql import run_script

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

APP = "arbridge_app"
SYSTEM = "arbridge_system"
TENANT_PREDICATE = "tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid"
NEW_TABLES = ("agreements", "recorded_payments", "sync_runs", "sync_issues", "webhook_receipts", "sync_seen")


def upgrade() -> None:
    run_script("""
    ALTER TABLE clients
        ADD COLUMN source text NOT NULL DEFAULT 'arbridge' CHECK (source IN ('arbridge', 'halopsa')),
        ADD COLUMN external_id text,
        ADD COLUMN inactive boolean NOT NULL DEFAULT false,
        ADD COLUMN content_hash text,
        ADD CONSTRAINT clients_external UNIQUE (tenant_id, source, external_id);

    CREATE TABLE agreements (
        tenant_id uuid NOT NULL,
        id uuid NOT NULL,
        client_id uuid NOT NULL,
        source text NOT NULL DEFAULT 'halopsa',
        external_id text NOT NULL,
        reference text,
        type_name text,
        subtype text NOT NULL,
        start_date date,
        end_date date,
        active boolean NOT NULL,
        billing_period int,
        period_charge bigint NOT NULL DEFAULT 0,
        content_hash text NOT NULL,
        created_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL,
        PRIMARY KEY (tenant_id, id),
        UNIQUE (tenant_id, source, external_id),
        FOREIGN KEY (tenant_id, client_id) REFERENCES clients (tenant_id, id)
    );
    CREATE INDEX agreements_client ON agreements (tenant_id, client_id);

    ALTER TABLE invoices
        ADD COLUMN source text NOT NULL DEFAULT 'arbridge' CHECK (source IN ('arbridge', 'halopsa')),
        ADD COLUMN external_id text,
        ADD COLUMN content_hash text,
        ADD COLUMN number_issue text CHECK (number_issue IN ('missing', 'duplicate')),
        ADD COLUMN agreement_external_ids text[] NOT NULL DEFAULT '{}',
        ADD COLUMN contract_billed boolean NOT NULL DEFAULT false,
        -- Halo's last_modified of the copy we hold: an older copy (a page read before a webhook's re-read
        -- committed) never overwrites a newer one. 'infinity' once deleted in Halo.
        ADD COLUMN external_modified_at timestamptz,
        ADD CONSTRAINT invoices_external UNIQUE (tenant_id, source, external_id),
        DROP CONSTRAINT invoices_tenant_id_number_key;
    CREATE UNIQUE INDEX invoices_tenant_id_number_key ON invoices (tenant_id, number) WHERE number_issue IS NULL;
    CREATE INDEX invoices_number ON invoices (tenant_id, number);

    ALTER TABLE invoice_lines DROP CONSTRAINT invoice_lines_quantity_check,
        ADD CONSTRAINT invoice_lines_quantity_check CHECK (quantity >= 0);

    -- Payments and credits recorded in Halo (ours, collected through Stripe, come with issue #5).
    CREATE TABLE recorded_payments (
        tenant_id uuid NOT NULL,
        id uuid NOT NULL,
        invoice_id uuid NOT NULL,
        source text NOT NULL DEFAULT 'halopsa',
        external_id text NOT NULL,
        amount bigint NOT NULL,
        paid_on date,
        method text,
        content_hash text NOT NULL,
        created_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL,
        PRIMARY KEY (tenant_id, id),
        UNIQUE (tenant_id, source, external_id),
        FOREIGN KEY (tenant_id, invoice_id) REFERENCES invoices (tenant_id, id)
    );
    CREATE INDEX recorded_payments_invoice ON recorded_payments (tenant_id, invoice_id);

    CREATE TABLE sync_runs (
        tenant_id uuid NOT NULL,
        id uuid NOT NULL,
        provider text NOT NULL DEFAULT 'halopsa',
        trigger text NOT NULL CHECK (trigger IN ('connect', 'schedule', 'manual', 'webhook')),
        mode text NOT NULL CHECK (mode IN ('full', 'incremental', 'unpaid', 'record')),
        status text NOT NULL CHECK (status IN ('queued', 'running', 'succeeded', 'failed')),
        created int NOT NULL DEFAULT 0,
        updated int NOT NULL DEFAULT 0,
        unchanged int NOT NULL DEFAULT 0,
        failed int NOT NULL DEFAULT 0,
        issues int NOT NULL DEFAULT 0,
        checkpoint jsonb NOT NULL DEFAULT '{}',
        target jsonb NOT NULL DEFAULT '{}',
        error text,
        requested_at timestamptz NOT NULL,
        started_at timestamptz,
        finished_at timestamptz,
        -- Written with every page: a running run whose heartbeat stops was cut short (a killed worker, a
        -- Ctrl-C'd CLI); the scheduler hands it to a worker again, which resumes it.
        heartbeat_at timestamptz,
        PRIMARY KEY (tenant_id, id)
    );
    CREATE INDEX sync_runs_recent ON sync_runs (tenant_id, provider, requested_at DESC);
    -- The scheduler asks "when did this tenant last sync?" across tenants.
    -- At most one page-reading run per tenant at a time (record runs, one record each, may overlap).
    CREATE UNIQUE INDEX sync_runs_active ON sync_runs (tenant_id)
        WHERE status IN ('queued', 'running') AND mode <> 'record';

    CREATE TABLE sync_issues (
        tenant_id uuid NOT NULL,
        id uuid NOT NULL,
        provider text NOT NULL DEFAULT 'halopsa',
        kind text NOT NULL,
        resource text NOT NULL,
        external_id text,
        message text NOT NULL,
        run_id uuid NOT NULL,
        occurrences int NOT NULL DEFAULT 1,
        first_seen_at timestamptz NOT NULL,
        last_seen_at timestamptz NOT NULL,
        resolved_at timestamptz,
        PRIMARY KEY (tenant_id, id)
    );
    -- One open issue per problem and record: seen again, it is the same issue, counted.
    CREATE UNIQUE INDEX sync_issues_open ON sync_issues (tenant_id, kind, resource, coalesce(external_id, ''))
        WHERE resolved_at IS NULL;

    -- The Halo invoice ids a full sync has read, page by page: what it did not see was deleted in Halo (once
    -- Halo confirms with a 404). Kept in the database so a resumed run still knows; dropped when the run ends.
    CREATE TABLE sync_seen (
        tenant_id uuid NOT NULL,
        run_id uuid NOT NULL,
        external_id text NOT NULL,
        PRIMARY KEY (tenant_id, run_id, external_id)
    );

    -- Webhook deliveries from Halo, unique by Halo's event id: a redelivery is recognised and dropped.
    CREATE TABLE webhook_receipts (
        tenant_id uuid NOT NULL,
        id uuid NOT NULL,
        provider text NOT NULL,
        event_id text NOT NULL,
        event_type text NOT NULL,
        payload jsonb NOT NULL,
        received_at timestamptz NOT NULL,
        PRIMARY KEY (tenant_id, id),
        UNIQUE (tenant_id, provider, event_id)
    );
    """)
    for table in NEW_TABLES:
        run_script(f"""
        ALTER TABLE {table} ENABLE ROW LEVEL SECURITY;
        ALTER TABLE {table} FORCE ROW LEVEL SECURITY;
        CREATE POLICY tenant_isolation ON {table} USING ({TENANT_PREDICATE}) WITH CHECK ({TENANT_PREDICATE});
        GRANT SELECT, INSERT, UPDATE, DELETE ON {table} TO {APP};
        """)
    run_script(f"""
    -- The scheduler: tenants with HaloPSA connected, their sync interval, and their last run's request time.
    CREATE FUNCTION halopsa_sync_schedule()
    RETURNS TABLE (tenant_id uuid, interval_minutes int, full_every_days int, last_requested_at timestamptz,
                   last_full_at timestamptz, full_pending boolean, busy boolean, stalled_run uuid)
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public AS $$
        SELECT c.tenant_id,
               coalesce((c.settings -> 'sync' ->> 'interval_minutes')::int, 60),
               coalesce((c.settings -> 'sync' ->> 'full_sync_every_days')::int, 7),
               (SELECT max(r.requested_at) FROM sync_runs r
                 WHERE r.tenant_id = c.tenant_id AND r.mode IN ('full', 'incremental')),
               (SELECT max(r.requested_at) FROM sync_runs r
                 WHERE r.tenant_id = c.tenant_id AND r.mode = 'full' AND r.status = 'succeeded'),
               coalesce((c.settings -> 'sync' ->> 'full_sync_pending')::boolean, false),
               EXISTS (SELECT 1 FROM sync_runs r WHERE r.tenant_id = c.tenant_id AND r.status IN ('queued', 'running')
                       AND r.mode <> 'record'),
               (SELECT r.id FROM sync_runs r WHERE r.tenant_id = c.tenant_id AND r.status = 'running'
                  AND coalesce(r.heartbeat_at, r.started_at) < now() - interval '15 minutes' LIMIT 1)
        FROM connections c
        WHERE c.provider = 'halopsa' AND c.status = 'active'
    $$;
    ALTER FUNCTION halopsa_sync_schedule() OWNER TO {SYSTEM};

    -- A first full sync fills a tenant's tables from nothing; plans made while they were empty (the foreign
    -- key checks' among them, cached per connection) turn every insert into a scan until the tables are
    -- analysed. Autovacuum gets there eventually; the sync asks as it goes. Owned by the migrating role (the
    -- tables' owner, which ANALYZE requires); the app role may only call it.
    CREATE FUNCTION analyze_synced_tables() RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
    BEGIN
        ANALYZE clients, agreements, invoices, invoice_lines, recorded_payments;
    END $$;
    REVOKE ALL ON FUNCTION analyze_synced_tables() FROM PUBLIC;
    GRANT EXECUTE ON FUNCTION analyze_synced_tables() TO {APP};
    REVOKE ALL ON FUNCTION halopsa_sync_schedule() FROM PUBLIC;
    GRANT EXECUTE ON FUNCTION halopsa_sync_schedule() TO {APP};
    CREATE POLICY system_schedule ON sync_runs FOR SELECT TO {SYSTEM} USING (true);
    GRANT SELECT ON sync_runs TO {SYSTEM};
    """)


def downgrade() -> None:
    run_script("""
    DROP FUNCTION IF EXISTS halopsa_sync_schedule(), analyze_synced_tables();
    DROP TABLE IF EXISTS sync_seen, webhook_receipts, sync_issues, sync_runs, recorded_payments, agreements;
    DROP INDEX IF EXISTS invoices_tenant_id_number_key, invoices_number;
    DELETE FROM invoice_lines WHERE invoice_id IN (SELECT id FROM invoices WHERE source = 'halopsa');
    DELETE FROM invoices WHERE source = 'halopsa';
    ALTER TABLE invoices DROP CONSTRAINT invoices_external, DROP COLUMN source, DROP COLUMN external_id,
        DROP COLUMN content_hash, DROP COLUMN number_issue, DROP COLUMN agreement_external_ids,
        DROP COLUMN contract_billed, DROP COLUMN external_modified_at, ADD CONSTRAINT invoices_tenant_id_number_key UNIQUE (tenant_id, number);
    DELETE FROM clients WHERE source = 'halopsa';
    ALTER TABLE clients DROP CONSTRAINT clients_external, DROP COLUMN source, DROP COLUMN external_id,
        DROP COLUMN inactive, DROP COLUMN content_hash;
    """)
