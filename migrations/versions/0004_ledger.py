"""The ledger: accounts per tenant and currency, transactions, entries. Double-entry and append-only.

What the database itself guarantees, whoever writes (the app role, the owner, a psql session):
- Entries and transactions are never updated, deleted or truncated: statement-level triggers refuse it for
  every role (the app role is not even granted UPDATE or DELETE). Corrections are reversing transactions.
- Every transaction balances per currency: a deferred constraint trigger checks, at commit, that the entries
  of each transaction touched sum to zero in each currency, and that a new transaction has entries at all.
  It runs as `arbridge_system` (own SELECT policy), so switching `app.tenant_id` before commit cannot hide
  rows from it.
- An entry's currency is its account's (composite foreign key), and its tenant is its transaction's and its
  account's (tenant-carrying foreign keys).
- `ledger_accounts.balance` (debit-positive minor units) is the sum of the account's entries: an AFTER INSERT
  statement trigger adds each insert's totals in the same transaction, locking the accounts in id order first
  so concurrent postings to the same accounts queue instead of deadlocking or losing an update. Nobody else
  may change a balance (a guard trigger lets only that trigger through); `ledger_recomputed_balances()`
  recomputes every balance from the entries for checking.
- One transaction per idempotency key and tenant: a business event recorded twice is recorded once.

`invoice_id` on entries dimensions accounts receivable per invoice. It has no foreign key on purpose: the
ledger is append-only and must not pin invoice rows (a HaloPSA invoice deleted upstream), nor fail a posting
because an invoice has not been synced yet.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26
"""

from migrations.sql import run_script

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

APP = "arbridge_app"
SYSTEM = "arbridge_system"
TENANT_PREDICATE = "tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid"
NEW_TABLES = ("ledger_accounts", "ledger_transactions", "ledger_entries")


def upgrade() -> None:
    run_script("""
    CREATE TABLE ledger_accounts (
        tenant_id uuid NOT NULL REFERENCES tenants (id),
        id uuid NOT NULL,
        code text NOT NULL CHECK (code ~ '^[a-z][a-z0-9_]{0,62}$'),
        name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
        type text NOT NULL CHECK (type IN ('asset', 'liability', 'equity', 'income', 'expense')),
        currency char(3) NOT NULL,
        balance bigint NOT NULL DEFAULT 0,
        created_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (tenant_id, id),
        UNIQUE (tenant_id, code, currency),
        UNIQUE (tenant_id, id, currency)  -- the target of the entries' currency-carrying foreign key
    );

    CREATE TABLE ledger_transactions (
        tenant_id uuid NOT NULL REFERENCES tenants (id),
        id uuid NOT NULL,
        kind text NOT NULL CHECK (length(kind) BETWEEN 1 AND 50),
        idempotency_key text NOT NULL CHECK (length(idempotency_key) BETWEEN 1 AND 200),
        reference_type text NOT NULL,
        reference_id uuid NOT NULL,
        external_id text,
        reverses_id uuid,
        occurred_at timestamptz NOT NULL,
        recorded_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (tenant_id, id),
        UNIQUE (tenant_id, idempotency_key),
        FOREIGN KEY (tenant_id, reverses_id) REFERENCES ledger_transactions (tenant_id, id)
    );
    CREATE INDEX ledger_transactions_reference ON ledger_transactions (tenant_id, reference_type, reference_id);

    CREATE TABLE ledger_entries (
        tenant_id uuid NOT NULL,
        id uuid NOT NULL,
        transaction_id uuid NOT NULL,
        account_id uuid NOT NULL,
        currency char(3) NOT NULL,
        amount bigint NOT NULL CHECK (amount <> 0),  -- debit positive, credit negative
        invoice_id uuid,
        PRIMARY KEY (tenant_id, id),
        FOREIGN KEY (tenant_id, transaction_id) REFERENCES ledger_transactions (tenant_id, id),
        FOREIGN KEY (tenant_id, account_id, currency) REFERENCES ledger_accounts (tenant_id, id, currency)
    );
    CREATE INDEX ledger_entries_transaction ON ledger_entries (tenant_id, transaction_id);
    CREATE INDEX ledger_entries_account ON ledger_entries (tenant_id, account_id);
    CREATE INDEX ledger_entries_invoice ON ledger_entries (tenant_id, invoice_id) WHERE invoice_id IS NOT NULL;
    """)
    for table in NEW_TABLES:
        run_script(f"""
        ALTER TABLE {table} ENABLE ROW LEVEL SECURITY;
        ALTER TABLE {table} FORCE ROW LEVEL SECURITY;
        CREATE POLICY tenant_isolation ON {table} USING ({TENANT_PREDICATE}) WITH CHECK ({TENANT_PREDICATE});
        """)
    run_script(f"""
    -- Append-only: no UPDATE or DELETE grant, and triggers that refuse them to everyone else too.
    GRANT SELECT, INSERT ON ledger_transactions, ledger_entries TO {APP};
    GRANT SELECT, INSERT, UPDATE ON ledger_accounts TO {APP};  -- balances move only through the posting trigger

    CREATE FUNCTION ledger_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION '% is append-only: % refused (post a reversing transaction instead)', TG_TABLE_NAME, TG_OP
            USING ERRCODE = 'restrict_violation';
    END $$;
    CREATE TRIGGER append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON ledger_entries
        FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change();
    CREATE TRIGGER append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON ledger_transactions
        FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change();
    CREATE TRIGGER append_only BEFORE DELETE OR TRUNCATE ON ledger_accounts
        FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change();

    -- An account starts at zero; its identity never changes; its balance changes only from the posting
    -- trigger below (trigger depth 2), never from a statement of its own.
    CREATE FUNCTION ledger_guard_account() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'INSERT' THEN
            IF NEW.balance <> 0 THEN
                RAISE EXCEPTION 'a ledger account starts with a zero balance' USING ERRCODE = 'check_violation';
            END IF;
        ELSIF (NEW.tenant_id, NEW.id, NEW.code, NEW.currency, NEW.type)
              IS DISTINCT FROM (OLD.tenant_id, OLD.id, OLD.code, OLD.currency, OLD.type) THEN
            RAISE EXCEPTION 'a ledger account''s identity cannot change' USING ERRCODE = 'restrict_violation';
        ELSIF NEW.balance <> OLD.balance AND pg_trigger_depth() < 2 THEN
            RAISE EXCEPTION 'ledger balances are maintained from entries only' USING ERRCODE = 'restrict_violation';
        END IF;
        RETURN NEW;
    END $$;
    CREATE TRIGGER guard BEFORE INSERT OR UPDATE ON ledger_accounts
        FOR EACH ROW EXECUTE FUNCTION ledger_guard_account();

    -- Stored balances: each INSERT's totals per account, added in the same transaction. The accounts are
    -- locked in key order first, so two postings touching the same accounts in another order queue rather
    -- than deadlock; the UPDATE then re-reads the latest balance (READ COMMITTED), so none is lost. NO KEY
    -- UPDATE (the UPDATE's own lock mode) leaves the KEY SHARE locks of the entries' foreign-key checks alone:
    -- FOR UPDATE would conflict with another posting's KEY SHARE on the same account and deadlock.
    CREATE FUNCTION ledger_post_balances() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
        wanted int;
        done int;
    BEGIN
        SELECT count(*) INTO wanted FROM (SELECT DISTINCT tenant_id, account_id FROM posted) d;
        PERFORM 1 FROM ledger_accounts a
            WHERE (a.tenant_id, a.id) IN (SELECT tenant_id, account_id FROM posted)
            ORDER BY a.tenant_id, a.id FOR NO KEY UPDATE;
        UPDATE ledger_accounts a SET balance = a.balance + d.delta
            FROM (SELECT tenant_id, account_id, sum(amount) AS delta FROM posted GROUP BY 1, 2) d
            WHERE a.tenant_id = d.tenant_id AND a.id = d.account_id;
        GET DIAGNOSTICS done = ROW_COUNT;
        IF done <> wanted THEN
            RAISE EXCEPTION 'ledger: % of % account balances updated', done, wanted USING ERRCODE = 'P0001';
        END IF;
        RETURN NULL;
    END $$;
    CREATE TRIGGER post_balances AFTER INSERT ON ledger_entries
        REFERENCING NEW TABLE AS posted FOR EACH STATEMENT EXECUTE FUNCTION ledger_post_balances();

    -- Balanced per currency, at commit. Checked per entry (for entries added to any transaction) and per new
    -- transaction (which must have entries). A few rows per transaction: each check is one index range.
    CREATE FUNCTION ledger_check_balanced(p_tenant uuid, p_transaction uuid) RETURNS void
    LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public AS $$
    DECLARE
        bad record;
    BEGIN
        IF NOT EXISTS (SELECT 1 FROM ledger_entries WHERE tenant_id = p_tenant AND transaction_id = p_transaction)
        THEN
            RAISE EXCEPTION 'ledger transaction % has no entries', p_transaction USING ERRCODE = 'check_violation';
        END IF;
        SELECT currency, sum(amount) AS diff INTO bad FROM ledger_entries
            WHERE tenant_id = p_tenant AND transaction_id = p_transaction
            GROUP BY currency HAVING sum(amount) <> 0 LIMIT 1;
        IF FOUND THEN
            RAISE EXCEPTION 'ledger transaction % is unbalanced: debits minus credits = % %',
                p_transaction, bad.diff, bad.currency USING ERRCODE = 'check_violation';
        END IF;
    END $$;
    CREATE FUNCTION ledger_check_entry() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        PERFORM ledger_check_balanced(NEW.tenant_id, NEW.transaction_id);
        RETURN NULL;
    END $$;
    CREATE FUNCTION ledger_check_transaction() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        PERFORM ledger_check_balanced(NEW.tenant_id, NEW.id);
        RETURN NULL;
    END $$;
    CREATE CONSTRAINT TRIGGER balanced AFTER INSERT ON ledger_entries DEFERRABLE INITIALLY DEFERRED
        FOR EACH ROW EXECUTE FUNCTION ledger_check_entry();
    CREATE CONSTRAINT TRIGGER balanced AFTER INSERT ON ledger_transactions DEFERRABLE INITIALLY DEFERRED
        FOR EACH ROW EXECUTE FUNCTION ledger_check_transaction();

    CREATE POLICY system_check ON ledger_entries FOR SELECT TO {SYSTEM} USING (true);
    GRANT SELECT ON ledger_entries TO {SYSTEM};
    ALTER FUNCTION ledger_check_balanced(uuid, uuid) OWNER TO {SYSTEM};
    REVOKE ALL ON FUNCTION ledger_check_balanced(uuid, uuid) FROM PUBLIC;
    GRANT EXECUTE ON FUNCTION ledger_check_balanced(uuid, uuid) TO {APP};

    -- The check of the stored balances: every account of the current tenant (row-level security applies, the
    -- function runs as its caller), its stored balance and the sum of its entries.
    CREATE FUNCTION ledger_recomputed_balances()
    RETURNS TABLE (account_id uuid, code text, currency char(3), stored bigint, recomputed bigint)
    LANGUAGE sql STABLE AS $$
        SELECT a.id, a.code, a.currency, a.balance,
               coalesce((SELECT sum(e.amount) FROM ledger_entries e
                          WHERE e.tenant_id = a.tenant_id AND e.account_id = a.id), 0)::bigint
        FROM ledger_accounts a
    $$;
    REVOKE ALL ON FUNCTION ledger_recomputed_balances() FROM PUBLIC;
    GRANT EXECUTE ON FUNCTION ledger_recomputed_balances() TO {APP};
    """)


def downgrade() -> None:
    run_script("""
    DROP TABLE IF EXISTS ledger_entries, ledger_transactions, ledger_accounts;
    DROP FUNCTION IF EXISTS ledger_refuse_change(), ledger_guard_account(), ledger_post_balances(),
        ledger_check_balanced(uuid, uuid), ledger_check_entry(), ledger_check_transaction(),
        ledger_recomputed_balances();
    """)
