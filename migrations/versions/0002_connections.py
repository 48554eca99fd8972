"""Vendor connections and OAuth states.

Tokens and client secrets are stored only encrypted (AES-GCM, key ring in settings). `oauth_states` holds
the single-use `state` of each consent redirect, hashed: the vendor's callback carries the state and no
bearer token, so the tenant is found from the state through the narrow SECURITY DEFINER function
`find_oauth_state`, and everything after that runs under that tenant's row-level security.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from alembic import op

from migrations.sql import run_script

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

APP = "arbridge_app"
SYSTEM = "arbridge_system"
TENANT_PREDICATE = "tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid"


_sql = run_script


def upgrade() -> None:
    _sql("""
    CREATE TABLE connections (
        tenant_id uuid NOT NULL REFERENCES tenants (id),
        id uuid NOT NULL,
        provider text NOT NULL CHECK (provider IN ('halopsa', 'quickbooks', 'xero', 'stripe')),
        kind text NOT NULL CHECK (kind IN ('psa', 'books', 'payments')),
        status text NOT NULL CHECK (status IN ('active', 'choosing_organisation', 'needs_reauth')),
        external_id text,
        display_name text,
        scopes text[] NOT NULL DEFAULT '{}',
        access_token_encrypted text,
        refresh_token_encrypted text,
        access_expires_at timestamptz,
        refresh_expires_at timestamptz,
        secrets_encrypted text,
        organisations jsonb NOT NULL DEFAULT '[]',
        settings jsonb NOT NULL DEFAULT '{}',
        needs_reauth_reason text,
        last_refreshed_at timestamptz,
        created_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL,
        PRIMARY KEY (tenant_id, id),
        -- one PSA, one set of books (QuickBooks or Xero), one payment account per MSP
        UNIQUE (tenant_id, kind)
    );
    CREATE INDEX connections_refresh_due ON connections (refresh_expires_at) WHERE refresh_token_encrypted IS NOT NULL;

    CREATE TABLE oauth_states (
        tenant_id uuid NOT NULL REFERENCES tenants (id),
        id uuid NOT NULL,
        state_hash text NOT NULL UNIQUE,
        provider text NOT NULL,
        code_verifier_encrypted text,
        redirect_uri text NOT NULL,
        created_by text NOT NULL,
        created_at timestamptz NOT NULL,
        expires_at timestamptz NOT NULL,
        consumed_at timestamptz,
        PRIMARY KEY (tenant_id, id)
    );
    CREATE INDEX oauth_states_expiry ON oauth_states (expires_at);
    """)
    for table in ("connections", "oauth_states"):
        _sql(f"""
        ALTER TABLE {table} ENABLE ROW LEVEL SECURITY;
        ALTER TABLE {table} FORCE ROW LEVEL SECURITY;
        CREATE POLICY tenant_isolation ON {table} USING ({TENANT_PREDICATE}) WITH CHECK ({TENANT_PREDICATE});
        GRANT SELECT, INSERT, UPDATE, DELETE ON {table} TO {APP};
        """)
    _sql(f"""
    CREATE POLICY system_lookup ON oauth_states FOR SELECT TO {SYSTEM} USING (true);
    GRANT SELECT ON oauth_states TO {SYSTEM};
    CREATE POLICY system_lookup ON connections FOR SELECT TO {SYSTEM} USING (true);
    GRANT SELECT ON connections TO {SYSTEM};

    -- The vendor's redirect carries only the state: find whose it is (and nothing else).
    CREATE FUNCTION find_oauth_state(p_state_hash text)
    RETURNS TABLE (tenant_id uuid)
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public AS $$
        SELECT tenant_id FROM oauth_states WHERE state_hash = p_state_hash
    $$;

    -- For the periodic job that refreshes idle connections before their refresh tokens die.
    CREATE FUNCTION connections_due_for_refresh(p_refresh_expiring_before timestamptz, p_idle_since timestamptz)
    RETURNS TABLE (tenant_id uuid, id uuid)
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public AS $$
        SELECT tenant_id, id FROM connections
        WHERE status = 'active' AND refresh_token_encrypted IS NOT NULL
          AND (refresh_expires_at < p_refresh_expiring_before OR coalesce(last_refreshed_at, created_at) < p_idle_since)
    $$;
    """)
    for fn in ("find_oauth_state(text)", "connections_due_for_refresh(timestamptz, timestamptz)"):
        op.execute(f"ALTER FUNCTION {fn} OWNER TO {SYSTEM}")
        op.execute(f"REVOKE ALL ON FUNCTION {fn} FROM PUBLIC")
        op.execute(f"GRANT EXECUTE ON FUNCTION {fn} TO {APP}")


def downgrade() -> None:
    _sql("""
    DROP FUNCTION IF EXISTS find_oauth_state(text), connections_due_for_refresh(timestamptz, timestamptz);
    DROP TABLE IF EXISTS oauth_states, connections;
    """)
