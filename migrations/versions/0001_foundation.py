"""Foundation: tenants, API clients, signing keys, clients, invoices, outbox, events, idempotency keys.

Tenancy: every tenant-owned table is keyed (tenant_id, id), its foreign keys carry tenant_id, and row-level
security is enabled and forced with one policy on `app.tenant_id`. The application connects as
`arbridge_app` (not owner, not superuser, no BYPASSRLS). A few cross-tenant chores (finding an API client
by its public id, relaying the outbox, purging expired idempotency keys) go through SECURITY DEFINER
functions owned by the NOLOGIN role `arbridge_system`, whose own policies cover just those tables.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

import os

from alembic import op

from migrations.sql import run_script

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

APP = "arbridge_app"
SYSTEM = "arbridge_system"
TENANT_TABLES = [
    "api_clients",
    "clients",
    "invoices",
    "invoice_lines",
    "outbox",
    "events",
    "processed_events",
    "idempotency_keys",
]
TENANT_PREDICATE = "tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid"


_sql = run_script


def _roles() -> None:
    # Roles are cluster-wide: create them once, leave them in place for other databases on the server.
    password = os.environ.get("ARBRIDGE_APP_DB_PASSWORD")
    pw = ""
    if password:
        pw = " PASSWORD " + "'" + password.replace("'", "''") + "'"
    _sql(f"""
    DO $$ BEGIN
      IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{APP}') THEN
        CREATE ROLE {APP} LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE{pw};
      END IF;
      IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{SYSTEM}') THEN
        CREATE ROLE {SYSTEM} NOLOGIN NOSUPERUSER NOBYPASSRLS;
      END IF;
    END $$;
    """)
    if password:
        op.execute(f"ALTER ROLE {APP}{pw}")
    op.execute(f'GRANT CONNECT ON DATABASE "{op.get_bind().engine.url.database}" TO {APP}')
    op.execute(f"GRANT USAGE ON SCHEMA public TO {APP}, {SYSTEM}")


def upgrade() -> None:
    _roles()
    _sql("""
    CREATE TABLE tenants (
        id uuid PRIMARY KEY,
        name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
        timezone text NOT NULL DEFAULT 'UTC',
        created_at timestamptz NOT NULL DEFAULT now()
    );

    CREATE TABLE signing_keys (
        kid text PRIMARY KEY,
        algorithm text NOT NULL,
        private_key_encrypted text NOT NULL,
        public_jwk jsonb NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        retired_at timestamptz
    );

    CREATE TABLE api_clients (
        tenant_id uuid NOT NULL REFERENCES tenants (id),
        id uuid NOT NULL,
        client_id text NOT NULL UNIQUE,
        name text NOT NULL,
        secret_hash text NOT NULL,
        scopes text[] NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        disabled_at timestamptz,
        PRIMARY KEY (tenant_id, id)
    );

    CREATE TABLE clients (
        tenant_id uuid NOT NULL REFERENCES tenants (id),
        id uuid NOT NULL,
        name text NOT NULL,
        billing_email text,
        address_line1 text,
        address_line2 text,
        address_city text,
        address_state text,
        address_postal_code text,
        address_country char(2),
        created_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL,
        PRIMARY KEY (tenant_id, id)
    );

    CREATE TABLE invoices (
        tenant_id uuid NOT NULL,
        id uuid NOT NULL,
        client_id uuid NOT NULL,
        number text NOT NULL,
        currency char(3) NOT NULL,
        issue_date date NOT NULL,
        due_date date NOT NULL,
        subtotal bigint NOT NULL CHECK (subtotal >= 0),
        tax_total bigint NOT NULL CHECK (tax_total >= 0),
        total bigint NOT NULL,
        amount_paid bigint NOT NULL DEFAULT 0,
        status text NOT NULL,
        balance bigint GENERATED ALWAYS AS (CASE WHEN status = 'void' THEN 0 ELSE total - amount_paid END) STORED,
        memo text,
        created_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL,
        voided_at timestamptz,
        PRIMARY KEY (tenant_id, id),
        UNIQUE (tenant_id, number),
        FOREIGN KEY (tenant_id, client_id) REFERENCES clients (tenant_id, id),
        CHECK (total = subtotal + tax_total),
        CHECK (amount_paid BETWEEN 0 AND total),
        -- status is a function of the amounts; the database refuses any row where they disagree
        CHECK (
            (status = 'void' AND voided_at IS NOT NULL)
            OR (status = 'paid' AND amount_paid = total AND voided_at IS NULL)
            OR (status = 'partially_paid' AND amount_paid > 0 AND amount_paid < total AND voided_at IS NULL)
            OR (status = 'open' AND amount_paid = 0 AND total > 0 AND voided_at IS NULL)
        )
    );
    CREATE INDEX invoices_status ON invoices (tenant_id, status, id);
    CREATE INDEX invoices_client ON invoices (tenant_id, client_id, id);
    CREATE INDEX invoices_due ON invoices (tenant_id, due_date);
    CREATE INDEX invoices_updated ON invoices (tenant_id, updated_at);

    CREATE TABLE invoice_lines (
        tenant_id uuid NOT NULL,
        id uuid NOT NULL,
        invoice_id uuid NOT NULL,
        position int NOT NULL,
        description text NOT NULL,
        quantity numeric(14, 4) NOT NULL CHECK (quantity > 0),
        unit_amount bigint NOT NULL CHECK (unit_amount >= 0),
        amount bigint NOT NULL CHECK (amount >= 0),
        tax_amount bigint NOT NULL DEFAULT 0 CHECK (tax_amount >= 0),
        PRIMARY KEY (tenant_id, id),
        UNIQUE (tenant_id, invoice_id, position),
        FOREIGN KEY (tenant_id, invoice_id) REFERENCES invoices (tenant_id, id)
    );

    CREATE TABLE outbox (
        tenant_id uuid NOT NULL,
        id uuid NOT NULL,
        event_type text NOT NULL,
        subject_id uuid NOT NULL,
        payload jsonb NOT NULL,
        occurred_at timestamptz NOT NULL,
        dispatched_at timestamptz,
        PRIMARY KEY (tenant_id, id)
    );
    CREATE INDEX outbox_pending ON outbox (occurred_at) WHERE dispatched_at IS NULL;

    -- The tenant-visible event feed (GET /v1/events), filled by the worker from the outbox.
    CREATE TABLE events (
        tenant_id uuid NOT NULL,
        id uuid NOT NULL,
        event_type text NOT NULL,
        subject_id uuid NOT NULL,
        data jsonb NOT NULL,
        occurred_at timestamptz NOT NULL,
        recorded_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (tenant_id, id)
    );
    CREATE INDEX events_type ON events (tenant_id, event_type, id);

    -- One row per (event, handler) that has run to completion: what makes at-least-once jobs exactly-once.
    CREATE TABLE processed_events (
        tenant_id uuid NOT NULL,
        id uuid NOT NULL,
        handler text NOT NULL,
        processed_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (tenant_id, id, handler)
    );

    CREATE TABLE idempotency_keys (
        tenant_id uuid NOT NULL,
        id uuid NOT NULL,
        key text NOT NULL,
        request_method text NOT NULL,
        request_path text NOT NULL,
        request_hash text NOT NULL,
        response_status int NOT NULL,
        response_body bytea NOT NULL,
        response_content_type text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        expires_at timestamptz NOT NULL,
        PRIMARY KEY (tenant_id, id),
        UNIQUE (tenant_id, key)
    );
    CREATE INDEX idempotency_keys_expiry ON idempotency_keys (expires_at);
    """)

    _sql(f"""
    ALTER TABLE tenants ENABLE ROW LEVEL SECURITY;
    ALTER TABLE tenants FORCE ROW LEVEL SECURITY;
    CREATE POLICY tenant_isolation ON tenants
        USING (id = NULLIF(current_setting('app.tenant_id', true), '')::uuid)
        WITH CHECK (id = NULLIF(current_setting('app.tenant_id', true), '')::uuid);
    GRANT SELECT, INSERT ON tenants TO {APP};
    GRANT SELECT, INSERT, UPDATE ON signing_keys TO {APP};
    """)
    for table in TENANT_TABLES:
        _sql(f"""
        ALTER TABLE {table} ENABLE ROW LEVEL SECURITY;
        ALTER TABLE {table} FORCE ROW LEVEL SECURITY;
        CREATE POLICY tenant_isolation ON {table} USING ({TENANT_PREDICATE}) WITH CHECK ({TENANT_PREDICATE});
        GRANT SELECT, INSERT, UPDATE, DELETE ON {table} TO {APP};
        """)
    _system_functions()


def _system_functions() -> None:
    _sql(f"""
    CREATE POLICY system_lookup ON api_clients FOR SELECT TO {SYSTEM} USING (true);
    GRANT SELECT ON api_clients TO {SYSTEM};
    CREATE POLICY system_relay ON outbox TO {SYSTEM} USING (true) WITH CHECK (true);
    GRANT SELECT, UPDATE ON outbox TO {SYSTEM};
    CREATE POLICY system_purge ON idempotency_keys FOR ALL TO {SYSTEM} USING (true);
    GRANT SELECT, DELETE ON idempotency_keys TO {SYSTEM};

    -- The token endpoint knows only the public client id; the tenant follows from the row found.
    CREATE FUNCTION find_api_client(p_client_id text)
    RETURNS TABLE (tenant_id uuid, client_id text, secret_hash text, scopes text[])
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public AS $$
        SELECT tenant_id, client_id, secret_hash, scopes FROM api_clients
        WHERE client_id = p_client_id AND disabled_at IS NULL
    $$;

    -- Rows stay locked (SKIP LOCKED for other relays) until the caller's transaction ends.
    CREATE FUNCTION outbox_lock_pending(p_limit int)
    RETURNS TABLE (tenant_id uuid, id uuid, event_type text)
    LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = public AS $$
        SELECT tenant_id, id, event_type FROM outbox
        WHERE dispatched_at IS NULL ORDER BY occurred_at, id
        LIMIT p_limit FOR UPDATE SKIP LOCKED
    $$;

    CREATE FUNCTION outbox_mark_dispatched(p_tenant_ids uuid[], p_ids uuid[])
    RETURNS void
    LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = public AS $$
        UPDATE outbox o SET dispatched_at = now()
        FROM unnest(p_tenant_ids, p_ids) AS d(tenant_id, id)
        WHERE o.tenant_id = d.tenant_id AND o.id = d.id
    $$;

    CREATE FUNCTION purge_expired_idempotency_keys()
    RETURNS bigint
    LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = public AS $$
        WITH gone AS (DELETE FROM idempotency_keys WHERE expires_at < now() RETURNING 1)
        SELECT count(*) FROM gone
    $$;

    -- Wake the relay at commit instead of making it poll hard.
    CREATE FUNCTION outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        PERFORM pg_notify('arbridge_outbox', '');
        RETURN NULL;
    END $$;
    CREATE TRIGGER outbox_inserted AFTER INSERT ON outbox
        FOR EACH STATEMENT EXECUTE FUNCTION outbox_notify();
    """)
    for fn in (
        "find_api_client(text)",
        "outbox_lock_pending(int)",
        "outbox_mark_dispatched(uuid[], uuid[])",
        "purge_expired_idempotency_keys()",
    ):
        op.execute(f"ALTER FUNCTION {fn} OWNER TO {SYSTEM}")
        op.execute(f"REVOKE ALL ON FUNCTION {fn} FROM PUBLIC")
        op.execute(f"GRANT EXECUTE ON FUNCTION {fn} TO {APP}")


def downgrade() -> None:
    _sql("""
    DROP FUNCTION IF EXISTS find_api_client(text), outbox_lock_pending(int),
        outbox_mark_dispatched(uuid[], uuid[]), purge_expired_idempotency_keys() CASCADE;
    DROP TABLE IF EXISTS idempotency_keys, processed_events, events, outbox, invoice_lines, invoices,
        clients, api_clients, signing_keys, tenants CASCADE;
    DROP FUNCTION IF EXISTS outbox_notify() CASCADE;
    """)
